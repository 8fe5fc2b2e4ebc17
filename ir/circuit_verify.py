"""The circuit verifier: `verify(circuit)` checks the invariants listed in ir/circuit.py.

Each invariant is one small check returning its diagnostics; `verify` runs them in a fixed order
and returns every violation (empty when the circuit is sound). A violation is a compiler bug.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.crossbars import SelectedCrossbar
from denseamc.ir.diagnostics import Diagnostic, error
from denseamc.ir.loc import Loc, first_span
from denseamc.ir.model import Array
from denseamc.ir.scaling import Scaling

__all__ = ["check_conductances", "verify"]


def _finite(*values: float) -> bool:
    return all(np.isfinite(v) for v in values)


def _bad(msg: str, loc: Loc = None) -> Diagnostic:
    return error(msg, first_span(loc))


class _Nets:
    """Who drives what (invariant 3): driven nets and summing nodes, with their counts.

    With `complete` False (a circuit still being lowered) a net nobody drives yet is no error:
    a crossbar row waits for the activation rail a later pass adds, a clamped neuron's net for
    its source. Every other invariant holds after every pass.
    """

    def __init__(self, circuit: CircuitIR, complete: bool) -> None:
        self.complete = complete
        self.drivers: Counter[str] = Counter()
        self.sums: Counter[str] = Counter()
        for cell in circuit.cells:
            self.drivers[cell.out_net] += 1
            self.sums[cell.sum_net] += 1
        for src in circuit.voltage_sources:
            self.drivers[src.net] += 1
        for act in circuit.activations:
            self.drivers.update(act.out_p_nets)
            inputs = set(act.in_nets)  # (a tuple's `in` made this quadratic in the layer size)
            self.drivers.update(n for n in act.out_n_nets if n not in inputs)

    def driven(self, nets: Iterable[str], who: str, loc: Loc) -> list[Diagnostic]:
        return [_bad(f"{who}: net {n!r} is not driven by anything", loc)
                for n in nets if self.complete and n not in self.drivers]

    def summing(self, nets: Iterable[str], who: str, loc: Loc) -> list[Diagnostic]:
        return [_bad(f"{who}: net {n!r} is not the summing node of a cell", loc)
                for n in nets if self.complete and n not in self.sums]

    def floating(self, nets: Iterable[str], who: str, loc: Loc) -> list[Diagnostic]:
        return [_bad(f"{who}: net {n!r} is floating", loc) for n in nets
                if self.complete and n not in self.drivers and n not in self.sums]


def _allowed_levels(s: Scaling) -> Array | None:
    if s.levels <= 0:
        return None
    if s.levels == 1:
        return np.array([s.g_max])
    return np.linspace(s.g_min, s.g_max, s.levels)


def check_conductances(g: Array, s: Scaling, what: str, loc: Loc) -> list[Diagnostic]:
    """Invariant 2 for one array: finite, >= 0, and 0 or inside the window / on a level."""
    if not np.all(np.isfinite(g)):
        return [_bad(f"{what}: non-finite conductance", loc)]
    out: list[Diagnostic] = []
    nz = g[g != 0]
    slack = 1e-9 * s.g_max
    if np.any(nz < 0):
        out.append(_bad(f"{what}: negative conductance {float(nz.min())!r} S", loc))
    bad = nz[(nz < s.g_min - slack) | (nz > s.g_max + slack)]
    if bad.size:
        out.append(_bad(f"{what}: {bad.size} conductance(s) outside [{s.g_min!r}, {s.g_max!r}] "
                        f"S, e.g. {float(bad[0])!r} S", loc))
    lv = _allowed_levels(s)
    if lv is not None and nz.size:
        dist = np.min(np.abs(nz[:, None] - lv[None, :]), axis=1)
        if np.any(dist > slack):
            out.append(_bad(f"{what}: conductance off the {s.levels} programmable levels", loc))
    return out


def _names(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    names = Counter(x.name for x in c.components())
    return [_bad(f"circuit component name {n!r} used {k} times")
            for n, k in sorted(names.items()) if k > 1]


def _scaling(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    s = c.scaling
    if (_finite(s.v_unit, s.tau_unit_s, s.g_min, s.g_max) and s.v_unit > 0
            and s.tau_unit_s > 0 and 0 <= s.g_min < s.g_max):
        return []
    return [_bad(f"bad scaling {s!r}")]


def _values(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out = [_bad(f"cell {x.name}: bad R_F={x.r_f!r} / C_F={x.c_f!r} / v0={x.v0!r} / "
                f"v_offset={x.v_offset!r}", x.loc)
           for x in c.cells
           if not (_finite(x.r_f, x.c_f, x.v0, x.v_offset) and x.r_f > 0 and x.c_f >= 0)]
    out += [_bad(f"voltage source {x.name}: non-finite value", x.loc)
            for x in c.voltage_sources if not _finite(x.volts, x.gain_v)]
    out += [_bad(f"activation {a.name}: rail widths differ from its inputs", a.loc)
            for a in c.activations
            if not (len(a.out_p_nets) == len(a.in_nets)
                    and (not a.out_n_nets or len(a.out_n_nets) == len(a.in_nets)))]
    out += [_bad(f"activation {a.name}: realised gains / offsets must be finite, two per neuron",
                 a.loc)
            for a in c.activations
            if not all(not t or (len(t) == 2 * len(a.in_nets) and _finite(*t))
                       for t in (a.rail_gain, a.rail_offset))]
    return out


def _drivers(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out = [_bad(f"net {n!r} is driven by {k} components")
           for n, k in sorted(nets.drivers.items()) if k > 1]
    for n, k in sorted(nets.sums.items()):
        if k > 1:
            out.append(_bad(f"summing node {n!r} belongs to {k} cells"))
        if n in nets.drivers:
            out.append(_bad(f"summing node {n!r} is also a driven net"))
    return out


def _activation_inputs(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    return [d for a in c.activations for d in nets.driven(a.in_nets, f"activation {a.name}", a.loc)]


def _crossbar_wiring(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for xb in c.arrays:
        out += nets.driven(xb.row_nets, f"crossbar {xb.name}", xb.loc)
        out += nets.summing(xb.col_nets, f"crossbar {xb.name}", xb.loc)
        if len(xb.row_index) != len(xb.row_nets) or len(xb.col_index) != len(xb.col_nets):
            out.append(_bad(f"crossbar {xb.name}: index tuples do not match its nets", xb.loc))
    return out


def _crossbar_devices(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for xb in c.arrays:
        problem = xb.shape_problem()
        if problem is not None:
            out.append(_bad(f"{xb.title} {xb.name}: {problem}", xb.loc))
        what = f"{xb.title} {xb.name}"
        if isinstance(xb, SelectedCrossbar) and xb.line_tables is not None and (
                xb.line_tables.shape != (len(xb.lines), *xb.table.shape)):
            out.append(_bad(f"{what}: line_tables shape {xb.line_tables.shape} does not match",
                            xb.loc))
        if isinstance(xb, SelectedCrossbar) and not (0 <= xb.r_on < xb.r_off):
            out.append(_bad(f"{what}: switch r_on {xb.r_on!r} must be >= 0 and below r_off "
                            f"{xb.r_off!r}", xb.loc))
        if c.draw is None:
            out += check_conductances(xb.programmed, c.scaling, what, xb.loc)
        elif not (np.all(np.isfinite(xb.programmed)) and np.all(xb.programmed >= 0)):
            out.append(_bad(f"{what}: realised conductances must be finite and >= 0", xb.loc))
        if not (_finite(xb.r_wire) and xb.r_wire >= 0):
            out.append(_bad(f"{what}: bad wire resistance {xb.r_wire!r}", xb.loc))
    return out


def _resistors(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for r in c.resistors:
        if not (_finite(r.ohms) and r.ohms > 0):
            out.append(_bad(f"resistor {r.name}: bad value {r.ohms!r}", r.loc))
        out += nets.floating((r.net_a, r.net_b), f"resistor {r.name}", r.loc)
    return out


def _current_sources(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for cs in c.current_sources:
        if not _finite(cs.amps):
            out.append(_bad(f"current source {cs.name}: non-finite value", cs.loc))
        out += nets.summing([cs.net], f"current source {cs.name}", cs.loc)
    return out


def _initial_conditions(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    outs = {cell.out_net for cell in c.cells}
    return [_bad(f"initial condition {ic.name}: no cell drives {ic.net!r}", ic.loc)
            for ic in c.initial_conditions if ic.net not in outs]


def _readouts(c: CircuitIR, nets: _Nets) -> list[Diagnostic]:
    out = [d for ro in c.readouts for d in nets.driven(ro.nets, f"readout {ro.name}", ro.loc)]
    if not (_finite(c.readout_time_s) and c.readout_time_s > 0):
        out.append(_bad(f"readout time {c.readout_time_s!r} s is not positive"))
    return out


#: The checks, in the order their diagnostics are reported.
_CHECKS: tuple[Callable[[CircuitIR, _Nets], list[Diagnostic]], ...] = (
    _names, _scaling, _values, _drivers, _activation_inputs, _crossbar_wiring,
    _crossbar_devices, _resistors, _current_sources, _initial_conditions, _readouts,
)


def verify(circuit: CircuitIR, *, complete: bool = True) -> list[Diagnostic]:
    """Check the invariants of ir/circuit.py; return every violation (empty when sound).
    `complete=False` checks a circuit still being lowered (see `_Nets`)."""
    nets = _Nets(circuit, complete)
    return [d for check in _CHECKS for d in check(circuit, nets)]
