"""The line-level writing every netlist printer shares, under the walk of backends/base.py
(`NetlistEmitter` derives from `NetlistLines`): comments, sections and provenance comments,
element lines from a dialect's templates, lines wrapped with the dialect's continuation marks,
the saves lines, legal names through the `Namer`, the transient's times, and every
input-dependent value (clamps, select levels, initial states) as a netlist parameter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from denseamc.backends.naming import Namer, provenance
from denseamc.backends.netlist_facts import initial_node_voltages, saved_nets, select_levels
from denseamc.backends.stimulus import Stimulus
from denseamc.backends.units import num
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.loc import Loc

__all__ = ["TRAN_MAX_STEP_DIVISOR", "TRAN_POINTS", "NetlistLines", "natural_key"]

#: Transient output step and maximum internal step, as fractions of the readout time.
TRAN_POINTS = 1000
TRAN_MAX_STEP_DIVISOR = 200
TRAN_MAX_STEP_FRACTION = 1.0 / TRAN_MAX_STEP_DIVISOR
#: Saved vectors per line.
_SAVES_PER_LINE = 8
#: Ports or nodes per line of a subcircuit definition or instance (continued lines after).
_NODES_PER_LINE = 16


def natural_key(text: str) -> tuple[str, ...]:
    """Sort key: digit runs compare as numbers (zero-padded), so sel_x_10 follows sel_x_9."""
    return tuple(t.zfill(12) if t.isdigit() else t for t in re.split(r"(\d+)", text))


class NetlistLines:
    """What a netlist printer writes its lines with; `NetlistEmitter` (backends/base.py) sets
    the state below and walks the circuit."""

    comment_prefix: ClassVar[str] = "*"
    #: A netlist parameter's definition and a reference to it in a value (fields: name, value).
    param_line: ClassVar[str] = ""
    param_ref: ClassVar[str] = "{name}"
    #: A saves line: `save_prefix` then the saved names, each through `save_probe`.
    save_prefix: ClassVar[str] = ""
    save_probe: ClassVar[str] = "{}"
    #: A continued line's prefix and the suffix of the line it continues.
    continued_prefix: ClassVar[str] = "  "
    continues_suffix: ClassVar[str] = ""

    circuit: CircuitIR
    stimulus: Stimulus
    namer: Namer
    loc_comments: bool
    lines: list[str]
    params: list[tuple[str, float]]

    def param(self, name: str, value: float) -> str:
        """Define the netlist parameter `name` (a legal identifier) = `value` and return the
        dialect's reference to it. Every input-dependent value (`input_parameters`) and the
        readout time are parameters, so a designer changes them (or sweeps or alters them) in
        one place, and a testbench runs every test vector by setting them
        (backends/testbench.py)."""
        self.params.append((name, value))
        return self.param_ref.format(name=name)

    def parameter_lines(self) -> list[str]:
        """The parameters section, written after the prologue (before any use)."""
        if not self.params or not self.param_line:
            return []
        head = ["", f"{self.comment_prefix} --- parameters: input values (clamps p_v_clamp_*, "
                    "select levels p_vs_sel_*, initial states p_ic_*), readout time (t_read)"]
        return head + [self.param_line.format(name=n, value=num(v)) for n, v in self.params]

    # -- the input-dependent values as parameters --------------------------------------------------
    def clamp_param(self, source: str) -> str:
        """The parameter of clamp source `source` (IR name): its volts."""
        return f"p_{self.inst('v', source)}"

    def select_param(self, control: str) -> str:
        """The parameter of the source driving select control net `control` (IR name)."""
        return f"p_{self.inst('vs', control)}"

    def ic_param(self, node: str) -> str:
        """The parameter of the initial voltage of node `node` (IR name)."""
        return f"p_ic_{self.net(node)}"

    def input_parameters(self, stimulus: Stimulus) -> list[tuple[str, float]]:
        """Every input-dependent value of `stimulus` as (parameter name, value): select levels,
        clamps, initial states, in the order the netlist defines them. Call it after `format()`
        (the names are then registered with the `Namer`, in the walk's order)."""
        return [*self.source_parameters(stimulus),
                *[(self.ic_param(n), v) for n, v in initial_node_voltages(self.circuit,
                                                                          stimulus)]]

    def source_parameters(self, stimulus: Stimulus) -> list[tuple[str, float]]:
        """The select levels and clamps of `stimulus` (`input_parameters` without the initial
        states): the values of sources."""
        levels = select_levels(self.circuit, stimulus)
        return ([(self.select_param(c), levels[c]) for c in sorted(levels, key=natural_key)]
                + [(self.clamp_param(vs.name), stimulus.source_volts[vs.name])
                   for vs in self.circuit.voltage_sources])

    def initial_states(self) -> list[tuple[str, str]]:
        """(netlist node, the dialect's reference to its parameter p_ic_<node>) of both ends of
        every capacitor cell's C_F; the parameters are defined on the way, at the stimulus's
        values."""
        return [(self.net(n), self.param(self.ic_param(n), v))
                for n, v in initial_node_voltages(self.circuit, self.stimulus)]

    # -- lines and names -----------------------------------------------------------------------
    def net(self, ir_net: str) -> str:
        return self.namer.net(ir_net)

    def inst(self, prefix: str, ir_name: str) -> str:
        return self.namer.inst(prefix, ir_name)

    def wrapped(self, head: str, items: list[str], tail: str) -> list[str]:
        """`head items... tail` over as many lines as `_NODES_PER_LINE` items need, each but
        the last ending in `continues_suffix`, each but the first starting with
        `continued_prefix`."""
        chunks = [" ".join(items[k:k + _NODES_PER_LINE])
                  for k in range(0, len(items), _NODES_PER_LINE)] or [""]
        chunks[0] = f"{head} {chunks[0]}".rstrip()
        chunks[-1] = f"{chunks[-1]}{tail}"
        if len(chunks) == 1:
            return chunks
        return ([chunks[0] + self.continues_suffix]
                + [self.continued_prefix + c + self.continues_suffix for c in chunks[1:-1]]
                + [self.continued_prefix + chunks[-1]])

    def element(self, template: str, name: str, a: str, b: str, value: str = "",
                ctl: str = "") -> None:
        """One element line from one of the dialect's templates."""
        self.lines.append(template.format(name=name, a=a, b=b, ctl=ctl, value=value))

    def comment(self, text: str) -> None:
        """A comment line; `text` is always ours (fixed words, legal names, numbers)."""
        self.lines.append(f"{self.comment_prefix} {text}" if text else self.comment_prefix)

    def section(self, title: str) -> None:
        self.lines.append("")
        self.comment(f"--- {title}")

    def located_all(self, locs: Sequence[Loc]) -> None:
        """One `from file.dam:12,...` comment for several components (each place once)."""
        if self.loc_comments:
            where = ",".join(dict.fromkeys(w for w in map(provenance, locs) if w))
            if where:
                self.comment(f"from {where}")

    def located(self, loc: Loc) -> None:
        """`from file.dam:12` before a component's lines, when provenance comments are on."""
        if self.loc_comments:
            where = provenance(loc)
            if where:
                self.comment(f"from {where}")

    def model_name(self) -> str:
        return self.namer.name(self.circuit.name)

    def tran_times(self) -> tuple[float, float, float]:
        """(print step, stop time, maximum internal step) in seconds."""
        t = self.circuit.readout_time_s
        return t / TRAN_POINTS, t, t * TRAN_MAX_STEP_FRACTION

    def write_saves(self, extra: Sequence[str] = ()) -> None:
        """The saves lines: every saved net (`saved_nets`), then `extra` (IR names)."""
        names = [self.net(n) for n in [*saved_nets(self.circuit), *extra]]
        for k in range(0, len(names), _SAVES_PER_LINE):
            chunk = names[k:k + _SAVES_PER_LINE]
            self.lines.append(self.save_prefix + " ".join(map(self.save_probe.format, chunk)))
