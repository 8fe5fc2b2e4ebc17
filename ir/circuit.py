"""The circuit IR: a DenseAM lowered to op-amp cells, activation blocks, crossbars and sources.

This is what every circuit backend consumes (the numpy circuit simulator, SPICE, Verilog-A). It
knows nothing of energies: only nets, devices and their values. All values are SI: ohm, F, S, V,
A, s. Every component keeps the `.dam` span(s) it came from in `loc` (ir/loc.py) and renders it
with `source_line` ("file.dam:12", or "file.dam:12,file.dam:14" for a fused component).

Nets and naming (one convention, `net(layer, kind, i)` = f"{layer}_{kind}_{i}"; layer names are
`.dam` identifiers, kinds contain no underscore, so a name parses back from the right):

    {L}_sum_{i}   summing node (virtual ground) of neuron i's integrator cell
    {L}_x_{i}     cell output, V = -v_unit * x_i (the state, INVERTED); for a clamped neuron, the
                  clamp's voltage source drives this net instead of a cell
    {L}_gp_{i}    activation output, V = +v_unit * g_i
    {L}_gn_{i}    inverted activation output, V = -v_unit * g_i (dual_rail scheme only, and only
                  for layers that drive a negative weight); for identity layers it IS {L}_x_{i}
    {L}_sumn_{i}  differential scheme: the negative summing node of neuron i (virtual ground of
                  a unity current inverter whose output is {L}_inv_{i})
    {L}_inv_{i}   differential scheme: that inverter's output, tied to {L}_sum_{i} by R_F
    0             ground (the signal reference; with a single supply, the mid-rail reference)

Sign conventions (derived once, used everywhere):

    A cell is an inverting leaky integrator: R_F || C_F from `sum` to `out`, virtual ground at
    `sum`. With I_in the total current INTO the summing node,
        C_F dV_out/dt = -V_out / R_F - I_in
    and with V_out = -v_unit x:
        R_F C_F dx/dt = -x + R_F I_in / v_unit
    so `tau_model * tau_unit = R_F * C_F`, a drive term `w * g_j` is a conductance
    G = |w| / R_F from the net carrying +v_unit g_j (w > 0) or -v_unit g_j (w < 0, dual_rail),
    and a bias term `b` is a current I = b * v_unit / R_F into the summing node.
    C_F = 0 is an adiabatic (tau = 0) summing stage: V_out = -R_F I_in.

Invariants (checked by `ir.circuit_verify.verify`):

1. Every value is finite; r_f > 0, c_f >= 0, conductances >= 0.
2. Every crossbar conductance is 0 (no device) or inside [g_min, g_max] (with a relative slack of
   1e-9); with `levels > 0` it is one of the `levels` evenly spaced values in that window.
3. Every net is driven by exactly one thing (a cell output, an activation output, a voltage
   source), except summing nodes, which belong to exactly one cell; crossbar rows, activation
   inputs and readout nets are driven nets; crossbar columns, current sources and resistor
   ends into a summing node are summing nodes of existing cells.
4. Names are unique; all component tuples are in a deterministic order: layer declaration order,
   then neuron index; crossbars in energy-term order (pos before neg).
5. Arrays are read-only float64; a `Crossbar.conductance` has shape (len(row_nets), len(col_nets));
   a `SelectedCrossbar.table` has shape (n_options, n_other) with n_other the length of the
   unselected axis.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from denseamc.ir.diagnostics import Diagnostic
from denseamc.ir.lagrangians import Lagrangian, lagrangian_of
from denseamc.ir.loc import Loc, Located
from denseamc.ir.model import Array, InputOp, OutputOp, TestBlock, frozen_array
from denseamc.ir.scaling import AmplifierModel, Scaling, Scheme
from denseamc.ir.switches import switch_effective
from numpy.typing import NDArray

Polarity = Literal["pos", "neg"]

REALISED = {"dump": "unless_default"}  # a realised value's field: dumped only when not ideal

#: Net kinds, see the module docstring.
NET_KINDS = ("sum", "x", "gp", "gn", "sumn", "inv")


def net(layer: str, kind: str, index: int) -> str:
    """The name of net `kind` of neuron `index` of `layer` (see the module docstring)."""
    return f"{layer}_{kind}_{index}"


def parse_net(name: str) -> tuple[str, str, int]:
    """Invert `net`: (layer, kind, index). Raises ValueError on ground or a foreign name."""
    layer, kind, index = name.rsplit("_", 2)
    if kind not in NET_KINDS:
        raise ValueError(f"not a denseamc net name: {name!r}")
    return layer, kind, int(index)


# ------------------------------------------------------------------------------------------------
# Components
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class IntegratorCell(Located):
    """An op-amp inverting leaky integrator: R_F || C_F from `sum_net` to `out_net`.

    Node equation (ideal amplifier, `sum_net` a virtual ground, I_in the current into it):
        c_f dV(out)/dt = -V(out)/r_f - I_in          (c_f = 0: V(out) = -r_f I_in)
    role "neuron": V(out) = -v_unit x of neuron `index` of `layer`; it starts at `v0` unless
    `init` is "settled" (start at the target computed from the other layers' initial outputs, in
    hardware a reset phase with this cell's capacitor bypassed) or an `InitialCondition` sets it.
    role "inverter": the differential scheme's unity current inverter (c_f = 0), whose output is
    tied back to the neuron's summing node through a `Resistor` of r_f, injecting -I(sumn).
    """

    name: str
    layer: str
    index: int
    sum_net: str
    out_net: str
    r_f: float
    c_f: float
    v0: float = 0.0
    init: Literal["zero", "settled"] = "zero"
    role: Literal["neuron", "inverter"] = "neuron"
    v_offset: float = field(default=0.0, metadata=REALISED)  # amplifier input offset (V)
    loc: Loc = None

    @property
    def tau_s(self) -> float:
        """The cell's time constant R_F C_F in seconds (0 for a summing stage)."""
        return self.r_f * self.c_f


@dataclass(frozen=True, slots=True, eq=False)
class Activation(Located):
    """The activation amplifiers of one layer: g = dL/dx from the cells' (inverted) outputs.

    Reads V(in_nets[i]) = -v_unit x_i, drives V(out_p_nets[i]) = +v_unit g_i and, when present,
    V(out_n_nets[i]) = -v_unit g_i. One block per layer, because softmax couples its neurons.
    Circuit realisations (the behavioural level is the ideal function; `transfer` below):

    - identity: g = x. out_n is the cell output itself (a wire, no device); out_p is a unity
      inverting amplifier. 1 op-amp per neuron.
    - tanh(gain): a bipolar/subthreshold differential pair (output current I_tail tanh(V/2U_T))
      with input attenuation setting `gain`, and a transimpedance stage scaled to v_unit; the
      inverted rail swaps the pair's outputs. 1 amplifier per rail per neuron.
    - sigmoid(gain): the same differential pair read single-ended (one collector current is
      I_tail sigmoid(V/U_T)). 1 amplifier per rail per neuron.
    - relu: a precision (super-diode) rectifier; its natural output is -v_unit relu(x) = min(V_in,
      0), the out_p rail is an inverter. 1 amplifier per rail per neuron.
    - rectpoly(n): precision rectifier followed by a translinear power-law cell (x^(n-1) as
      exp((n-1) log x)). 1 amplifier per rail per neuron.
    - softmax(beta): per neuron a log-domain exponentiator (subthreshold/bipolar exp(beta x)),
      then a translinear normaliser that divides every current by their sum (Gilbert's
      normaliser); the common mode of x cancels in the ratio, so only differences matter, and
      the sum current sets the scale. 1 amplifier per rail per neuron + 1 normaliser per layer.
    """

    name: str
    layer: str
    kind: str
    param: float | None
    in_nets: tuple[str, ...]
    out_p_nets: tuple[str, ...]
    out_n_nets: tuple[str, ...]
    v_unit: float
    rail_gain: tuple[float, ...] = field(default=(), metadata=REALISED)  # out_p, then out_n
    rail_offset: tuple[float, ...] = field(default=(), metadata=REALISED)  # volts, the same
    loc: Loc = None

    @property
    def lagrangian(self) -> Lagrangian:
        return lagrangian_of(self.kind, self.param)

    def transfer(self, v_in: Array) -> Array:
        """+v_unit g(x) from V(in) = -v_unit x; last axis = the layer's neurons."""
        x = -np.asarray(v_in, dtype=np.float64) / self.v_unit
        return self.v_unit * self.lagrangian.activation(x)

    @property
    def amplifiers(self) -> int:
        """Op-amp-equivalent stages this block needs (see the realisations above)."""
        inputs = set(self.in_nets)
        own_n = sum(1 for n in self.out_n_nets if n not in inputs)
        # a coupled activation (softmax) adds one normaliser per layer
        return len(self.out_p_nets) + own_n + (0 if self.lagrangian.elementwise else 1)


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


@dataclass(frozen=True, slots=True, eq=False)
class Resistor(Located):
    """One resistor between two nets (the differential scheme's inverter tie-back)."""

    name: str
    net_a: str
    net_b: str
    ohms: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class CurrentSource(Located):
    """A constant current `amps` INTO `net` (a summing node) from ground: a bias term."""

    name: str
    net: str
    amps: float
    layer: str = ""
    index: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class VoltageSource(Located):
    """Holds `net` at `volts + gain_v * inputs[input][index]`: a clamped neuron (gain_v = -v_unit).

    The clamped neuron has no integrator cell; its activation still runs from this net.
    """

    name: str
    net: str
    volts: float
    input: str
    index: int
    gain_v: float
    layer: str = ""
    neuron: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class InitialCondition(Located):
    """At t = 0, the cell driving `net` starts at `gain_v * inputs[input][index]` volts."""

    name: str
    net: str
    input: str
    index: int
    gain_v: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class Readout(Located):
    """Where output `op.name` is read: `nets` carry +v_unit g of `op.layer` at `op.indices`
    (every neuron for argmax); decoding is the abstract op's rule applied to V / v_unit."""

    name: str
    op: OutputOp
    nets: tuple[str, ...]
    loc: Loc = None


Component = (
    IntegratorCell
    | Activation
    | Crossbar
    | SelectedCrossbar
    | Resistor
    | CurrentSource
    | VoltageSource
    | InitialCondition
    | Readout
)


# ------------------------------------------------------------------------------------------------
# The container (its amplifier model and scaling are in ir/scaling.py)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CircuitLayer:
    """What the circuit remembers of an abstract layer (for decoding, reports and checks)."""

    name: str
    size: int
    lagrangian: Lagrangian
    tau: float
    init: Literal["zero", "settled"]
    clamped: tuple[int, ...] = ()
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class WeightMapping:
    """How one crossbar's weights survived the device window (model units, coef included).

    lost: |G| < g_min rounded to 0 (no device); raised: rounded up to g_min; clipped: |G| > g_max
    cut to g_max; quantised: moved to the nearest level. Errors are |w_realised - w| over the
    whole array (selected tables: over all their options).
    """

    crossbar: str
    weights: str
    entries: int
    devices: int
    lost: int
    raised: int
    clipped: int
    max_abs_error: float
    rms_error: float
    max_abs_weight: float
    loc: Loc = None


@dataclass(frozen=True, eq=False)
class CircuitIR:
    """A whole lowered circuit. Component tuples are in deterministic order (invariant 4)."""

    name: str
    layers: tuple[CircuitLayer, ...]
    cells: tuple[IntegratorCell, ...]
    activations: tuple[Activation, ...]
    crossbars: tuple[Crossbar, ...]
    selected_crossbars: tuple[SelectedCrossbar, ...]
    resistors: tuple[Resistor, ...]
    current_sources: tuple[CurrentSource, ...]
    voltage_sources: tuple[VoltageSource, ...]
    initial_conditions: tuple[InitialCondition, ...]
    readouts: tuple[Readout, ...]
    inputs: tuple[InputOp, ...]
    amplifier: AmplifierModel
    scaling: Scaling
    readout_t: float
    readout_time_s: float
    mappings: tuple[WeightMapping, ...] = ()
    tests: tuple[TestBlock, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    source_name: str = ""
    meta: Mapping[str, float] = field(default_factory=dict)
    draw: tuple[int, int] | None = None  # (seed, draw) if realised: exempt from invariant 2

    def components(self) -> Iterator[Component]:
        """Every component, kind by kind, in a fixed order."""
        yield from self.cells
        yield from self.activations
        yield from self.crossbars
        yield from self.selected_crossbars
        yield from self.resistors
        yield from self.current_sources
        yield from self.voltage_sources
        yield from self.initial_conditions
        yield from self.readouts

    @property
    def arrays(self) -> tuple[CrossbarBase, ...]:
        """Every crossbar: the fixed ones, then the selected ones."""
        return (*self.crossbars, *self.selected_crossbars)

    def layer(self, name: str) -> CircuitLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """Component instances by kind, plus devices (conductances) and op-amps."""
        c = Counter(type(x).__name__ for x in self.components())
        out = {k: c.get(k, 0) for k in sorted(_KIND_NAMES)}
        out["conductance_devices"] = sum(x.devices for x in self.arrays)
        out["analog_switches"] = sum(
            x.n_options * len(x.lines) for x in self.selected_crossbars
        )
        out["capacitors"] = sum(1 for x in self.cells if x.c_f > 0)
        out["opamps"] = len(self.cells) + sum(a.amplifiers for a in self.activations)
        return out


_KIND_NAMES = (
    "IntegratorCell", "Activation", "Crossbar", "SelectedCrossbar", "Resistor", "CurrentSource",
    "VoltageSource", "InitialCondition", "Readout",
)


def read_only(a: object) -> Array:
    """Alias of `frozen_array` for circuit arrays."""
    return frozen_array(a)
