"""The circuit IR's resistive arrays: one base (`CrossbarBase`) and its two kinds, a fixed
`Crossbar` (a conductance matrix) and a `SelectedCrossbar` (lines chosen by a `select` input
through analog switches, whose algebra is in ir/switches.py).

The nets, sign conventions and invariants they obey are the circuit IR's (ir/circuit.py's
module docstring); `CircuitIR.arrays` lists every crossbar of a circuit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from denseamc.ir.loc import REALISED, Loc, Located
from denseamc.ir.model import Array
from denseamc.ir.scaling import Scheme
from denseamc.ir.switches import switch_effective
from numpy.typing import NDArray

Polarity = Literal["pos", "neg"]


@dataclass(frozen=True, slots=True, eq=False)
class CrossbarBase(Located):
    """A resistive array realising one sign of one drive `coef * (W or W^T) @ g(source)`.

    Every device sits between a row net (a driven net, `row_nets[r]`) and a column net (a
    summing node, `col_nets[c]`); Kirchhoff sums the currents. `row_index` and `col_index` are
    the neuron indices of `source` and `target` that the rows and columns are.
    polarity "pos": rows carry +v_unit g, columns are the cells' `sum` nodes.
    polarity "neg": dual_rail, rows carry -v_unit g; differential, columns are `sumn` nodes.
    W (coef included) is recovered as G * r_f(target), with the polarity's `sign`.
    The two kinds, `Crossbar` and `SelectedCrossbar`, differ in how G is given.
    """

    #: The kind's name in messages and netlist comments.
    title: ClassVar[str] = "crossbar"

    name: str
    weights: str
    source: str
    target: str
    transpose: bool
    polarity: Polarity
    scheme: Scheme
    row_nets: tuple[str, ...]
    col_nets: tuple[str, ...]
    row_index: tuple[int, ...]
    col_index: tuple[int, ...]
    r_wire: float = field(default=0.0, kw_only=True, metadata=REALISED)  # ohm per cell segment
    loc: Loc = field(default=None, kw_only=True)

    @property
    def sign(self) -> float:
        """+1 for "pos", -1 for "neg": the sign of the weights this array realises."""
        return 1.0 if self.polarity == "pos" else -1.0

    @property
    def devices(self) -> int:
        """Programmed devices."""
        raise NotImplementedError

    @property
    def programmed(self) -> Array:
        """Every conductance value to program (siemens), for the device-window checks."""
        raise NotImplementedError

    def shape_problem(self) -> str | None:
        """Why the conductances' shape does not match the nets (invariant 5), or None."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, eq=False)
class Crossbar(CrossbarBase):
    """A fixed crossbar: every nonzero `conductance[r, c]` (siemens) is one device."""

    conductance: Array

    @property
    def devices(self) -> int:
        return int(np.count_nonzero(self.conductance))

    @property
    def programmed(self) -> Array:
        return self.conductance

    def shape_problem(self) -> str | None:
        rows, cols = len(self.row_nets), len(self.col_nets)
        if self.conductance.shape == (rows, cols):
            return None
        return (f"conductance shape {self.conductance.shape} does not match {rows} rows x "
                f"{cols} columns")


@dataclass(frozen=True, slots=True, eq=False)
class SelectedCrossbar(CrossbarBase):
    """A crossbar whose lines are chosen by a `select` input through analog switches.

    For weights `TABLE[INPUT]` (row j of W is TABLE[input[j]]): each selected line (a row when
    `axis` is "rows", a column when "cols") has `n_options` candidate conductance vectors,
    `table[k]` (siemens, over the other axis, already restricted to the crossbar's nets), and
    an analog multiplexer controlled by `select[lines[l]]` connects one of them. In the W^T
    direction (driver j of W's rows drives every column) the rows are selected; in the W
    direction (summing node j collects W's row j) the columns are.
    """

    title: ClassVar[str] = "selected crossbar"
    #: The circuit dump prints these first (its field order predates the shared base).
    dump_first: ClassVar[tuple[str, ...]] = ("weights", "select", "axis")

    select: str
    axis: Literal["rows", "cols"]
    lines: tuple[int, ...]
    table: Array
    #: Realised devices (n_lines, n_options, n_other): each line's own table (None: `table`).
    line_tables: Array | None = field(default=None, kw_only=True, metadata=REALISED)
    #: Each switch's on and off resistance (ohm), in series with its option's devices
    #: (`backends/ir_drop.switched`); 0 and inf are an ideal switch. Lowering programs `table`
    #: to compensate them (`switch_compensated`): `effective` is what the lines realise.
    r_on: float = field(default=0.0, kw_only=True)
    r_off: float = field(default=math.inf, kw_only=True)

    @property
    def line_nets(self) -> tuple[str, ...]:
        """The nets of the selected lines, in `lines` order."""
        return self.row_nets if self.axis == "rows" else self.col_nets

    @property
    def other_nets(self) -> tuple[str, ...]:
        """The nets of the other axis (the columns of `table`)."""
        return self.col_nets if self.axis == "rows" else self.row_nets

    @property
    def n_options(self) -> int:
        return int(self.table.shape[0])

    @property
    def devices(self) -> int:
        """Programmed devices: every nonzero table entry, once per selected line."""
        return int(np.count_nonzero(self.table)) * len(self.lines)

    @property
    def programmed(self) -> Array:
        return self.table

    def shape_problem(self) -> str | None:
        t = self.table
        if t.ndim == 2 and t.shape[1] == len(self.other_nets) and len(self.lines) == len(
                self.line_nets):
            return None
        return f"table shape {t.shape} does not match"

    @property
    def effective(self) -> Array:
        """(n_options, n_other): row k is what a line realises with option k connected
        (`switch_effective` of the nominal `table`, not of a draw's `line_tables`): the
        lowering's target conductances, up to levels and clipping."""
        return switch_effective(self.table, self.r_on, self.r_off)

    def conductance(self, select_values: NDArray[np.int64]) -> Array:
        """The connected conductances, shape (batch, rows, cols), for select values (batch, n)."""
        sel = np.asarray(select_values, dtype=np.int64)[:, list(self.lines)]
        lt, at = self.line_tables, range(sel.shape[1])  # realised: each line its own table
        g = self.table[sel] if lt is None else lt[at, sel]  # (batch, n_lines, n_other)
        return g if self.axis == "rows" else np.swapaxes(g, 1, 2)


__all__ = ["Crossbar", "CrossbarBase", "Polarity", "SelectedCrossbar"]
