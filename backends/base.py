"""The one walk over a circuit that every netlist printer shares; dialects only format lines.

A printer is built from a lowered `CircuitIR`, a `Stimulus` (the input values to print) and a
`Namer` (the only source of identifiers). `NetlistEmitter.format()` walks the circuit once, in a
fixed order (header, the dialect's prologue, cells, activations, crossbars, selected crossbars,
resistors, bias currents, clamps, the dialect's epilogue). For every element the walk first
legalises its names and formats its numbers, then hands them to the dialect:

* passive elements and sources are one line each: a resistor from the dialect's
  `resistor_line`, the others filled from its templates (`isource_line`, `vsource_line`,
  `switch_line`; fields `name`, `a`, `b`, `ctl`, `value`, all legal text; a switch's `value` is
  its threshold);
* every crossbar and selected crossbar is a subcircuit (the dialect's `subckt_lines`),
  instantiated once (`subckt_instance`); its definition goes inline or into an include file
  per crossbar (`includes`, `place_subckt`), so each device is written once per dialect. A
  plain crossbar's devices have local names (ports row_*, col_*; `crossbar_devices`) and are
  formatted in bulk, without the `Namer`;
* every layer's integrator cells are one subcircuit `cells_<layer>` (ports `cell_ports`, then
  ref, vdd, vss) and every activation block one subcircuit `act_<layer>` (`activation_ports`,
  then ref, vdd, vss), defined inline and instantiated once on the top-level nets (their names
  do not change, so initial conditions and saves name them); each dialect writes the bodies,
  `cell_lines` per cell with its own values and `activation_lines`;
* the energy probe's expression (`energy_probe_terms`) is the same for every dialect, over the
  dialect's voltage probes;
* `write_prologue` and `write_epilogue` add what comes before and after the components.

Names are registered with the `Namer` in the walk's order, so a file set that shares one `Namer`
(backends/emit.py) gets the same identifiers whichever printer asks first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, TypeVar

import numpy as np
from denseamc.backends.circuit_energy import selected_energy
from denseamc.backends.naming import Namer, provenance
from denseamc.backends.stimulus import Stimulus, default_stimulus
from denseamc.backends.units import join_fields, num, num_texts
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import (
    Activation,
    CircuitIR,
    Crossbar,
    IntegratorCell,
    SelectedCrossbar,
    net,
)
from denseamc.ir.hardware import KEYS
from denseamc.ir.lagrangians import Softmax
from denseamc.ir.loc import Loc, Located
from numpy.typing import NDArray

__all__ = [
    "ENERGY_PROBE_MAX_DEVICES",
    "IDEAL_OPAMP_A0",
    "INCLUDE_DIR",
    "TRAN_MAX_STEP_DIVISOR",
    "TRAN_POINTS",
    "DeviceValues",
    "NetlistEmitter",
    "activation_ports",
    "cell_initial_voltages",
    "cell_ports",
    "cell_tag",
    "crossbar_devices",
    "crossbar_ports",
    "device_values",
    "energy_probe_terms",
    "initial_node_voltages",
    "opamp_settings",
    "rail_errors",
    "saved_nets",
    "select_control_net",
    "select_levels",
    "switch_ohms",
    "unwritable",
    "wired_crossbar_devices",
]


def switch_ohms(circuit: CircuitIR) -> tuple[float, float]:
    """(r_on, r_off) of the selected crossbars' switches (the hardware keys `r_on`, `r_off`):
    every dialect writes one switch model, so the crossbars must agree."""
    ohms = {(sx.r_on, sx.r_off) for sx in circuit.selected_crossbars}
    if len(ohms) != 1:
        raise InternalCompilerError(f"one switch model per netlist, got (r_on, r_off) {ohms}")
    return ohms.pop()


#: `amplifier: ideal` in the netlists: every op-amp is still a `dam_opamp` instance, with this
#: open-loop gain, no pole (gbw = 0), no slew limit and no rails (sat = 0). A summing node then
#: sits at -V(out)/a0 instead of 0 V: a relative error of (1 + fan-in) / a0 on a cell's output,
#: 1e-5 for a fan-in of 99 (a0 = 1e6 left 2e-4 v_unit on hamming74). Not higher: ngspice's
#: Newton test on the gain node (reltol x V(p)) needs the input resolved to about
#: 1e-6 x 0.1 V / a0, which at a0 = 1e8 is 1e-15 V, the floor of double precision on sub-volt
#: nodes; the parity8 testbench then stopped ("Timestep too small") on single vectors at
#: knife-edge settings (vector 32 at r_on = 250 ohm, vector 44 at 1 kohm), and at 1e7 ran all.
IDEAL_OPAMP_A0 = 1e7
#: Transient output step and maximum internal step, as fractions of the readout time.
TRAN_POINTS = 1000
TRAN_MAX_STEP_DIVISOR = 200
TRAN_MAX_STEP_FRACTION = 1.0 / TRAN_MAX_STEP_DIVISOR
C = TypeVar("C", bound=Located)
#: Saved vectors per line.
_SAVES_PER_LINE = 8
#: Ports or nodes per line of a subcircuit definition or instance (continued lines after).
_NODES_PER_LINE = 16
#: The folder of the crossbar include files, relative to the top-level netlist including them.
INCLUDE_DIR = "crossbars"
#: How an emitter places each crossbar's subcircuit (`NetlistEmitter` `includes`).
INCLUDE_MODES = ("inline", "write", "refer")


def opamp_settings(circuit: CircuitIR) -> dict[str, float]:
    """The `dam_opamp` parameters every op-amp of `circuit` shares, in SI units (a cell's input
    offset `v_os` is its own): a0, gbw (Hz, 0 = no pole), slew_rate (V/s), r_out (ohm) and sat (1 =
    soft saturation at the supply ports, 0 = none). Ideal amplifiers: `IDEAL_OPAMP_A0`."""
    amp = circuit.amplifier
    r_out = float(circuit.meta.get("r_out", float(KEYS["r_out"].default or 0.0)))
    if amp.ideal:
        return {"a0": IDEAL_OPAMP_A0, "gbw": 0.0, "slew_rate": amp.slew_v_per_s,
                "r_out": r_out, "sat": 0}
    return {"a0": amp.a0, "gbw": amp.gbw_hz, "slew_rate": amp.slew_v_per_s, "r_out": r_out,
            "sat": 1}


def cell_initial_voltages(circuit: CircuitIR, cell: IntegratorCell, v0: float
                          ) -> tuple[float, float]:
    """(V(out), V(sum)) that start capacitor cell `cell` at output `v0`, as its `dam_opamp`
    holds them: the op-amp's internal gain node sits at p0 = v0 (no rails) or
    v0 / (1 - (v0 / v_rail)^8)^(1/8) (the inverse of its soft rails), so its input is p0 / a0
    and V(sum) = v_os - p0 / a0.
    Forcing both ends of C_F (and not an internal node) works for any op-amp subcircuit."""
    op = opamp_settings(circuit)
    p0 = v0
    if op["sat"]:
        rail = circuit.amplifier.v_rail
        u = max(-0.999, min(0.999, v0 / rail))
        p0 = v0 / (1 - u**8) ** 0.125
    return v0, cell.v_offset - p0 / op["a0"]


def rail_errors(act: Activation, i: int) -> tuple[float, float, float, float]:
    """(gain_p, offset_p, gain_n, offset_n) of neuron `i` of `act`: its realised out_p and out_n
    rails are gain * (+-v_unit g) + offset (volts); (1, 0, 1, 0) when nominal."""
    n = len(act.in_nets)
    g, o = act.rail_gain, act.rail_offset
    return ((g[i] if g else 1.0), (o[i] if o else 0.0),
            (g[n + i] if g else 1.0), (o[n + i] if o else 0.0))


def cell_tag(cell: IntegratorCell) -> str:
    """The suffix of a cell's local names in its layer's subcircuit: the neuron index, or
    inv_<index> for the differential scheme's inverter."""
    return f"inv_{cell.index}" if cell.role == "inverter" else str(cell.index)


def cell_ports(cells: Sequence[IntegratorCell]) -> dict[str, str]:
    """IR net -> port of a layer's cell subcircuit: each neuron cell's summing node sum_<i> and
    output x_<i>, each inverter's inv_sum_<i> and inv_out_<i> (a net shared by two cells is one
    port, named by the first); summing nodes first, then outputs."""
    ports: dict[str, str] = {}
    for end in ("sum", "out"):
        for cell in cells:
            ir_net = cell.sum_net if end == "sum" else cell.out_net
            inv = cell.role == "inverter"
            name = (f"inv_{end}_{cell.index}" if inv
                    else f"{'sum' if end == 'sum' else 'x'}_{cell.index}")
            ports.setdefault(ir_net, name)
    return ports


def activation_ports(act: Activation) -> dict[str, str]:
    """IR net -> port of an activation block's subcircuit: in_<i> (the cell outputs it reads),
    out_p_<i>, out_n_<i> (its own inverted rails only: identity's is the cell output itself)
    and, for a coupled kind (softmax), the normaliser's common node s."""
    ports = {n: f"in_{i}" for i, n in enumerate(act.in_nets)}
    ports.update({n: f"out_p_{i}" for i, n in enumerate(act.out_p_nets)})
    for i, n in enumerate(act.out_n_nets):
        ports.setdefault(n, f"out_n_{i}")
    if not act.lagrangian.elementwise:
        ports[f"{act.name}_s"] = "s"
    return ports


def select_control_net(select: str, element: int, option: int) -> str:
    """IR-style name of the control net of switch `option` of element `element` of `select`."""
    return f"sel_{select}_{element}_{option}"


def select_levels(circuit: CircuitIR, stimulus: Stimulus) -> dict[str, float]:
    """IR control net -> volts of every select switch's control for `stimulus`: vdd (v_rail)
    closes switch k of element j when select[j] == k, 0 V opens it (a one-hot decoder)."""
    out: dict[str, float] = {}
    for sx in circuit.selected_crossbars:
        try:
            sel = stimulus.selects[sx.select]
        except KeyError:
            raise InternalCompilerError(f"no select values for {sx.name}") from None
        for j in sx.lines:
            for k in range(sx.n_options):
                out[select_control_net(sx.select, j, k)] = (
                    circuit.amplifier.v_rail if sel[j] == k else 0.0)
    return out


def initial_node_voltages(circuit: CircuitIR, stimulus: Stimulus) -> list[tuple[str, float]]:
    """(IR net, volts) of both ends of every capacitor cell's C_F at t = 0 for `stimulus`
    (`cell_initial_voltages`): output, then summing node, cell by cell."""
    out: list[tuple[str, float]] = []
    for cell in circuit.cells:
        if cell.c_f > 0:
            try:
                v0 = stimulus.cell_v0[cell.name]
            except KeyError:
                raise InternalCompilerError(f"no initial value for cell {cell.name}") from None
            v_out, v_sum = cell_initial_voltages(circuit, cell, v0)
            out += [(cell.out_net, v_out), (cell.sum_net, v_sum)]
    return out


def saved_nets(circuit: CircuitIR) -> list[str]:
    """Every layer's x, gp and own gn nets (IR names), in circuit order; with non-ideal
    amplifiers also every summing node (ideal ones are held at exactly 0 V)."""
    out: list[str] = []
    for layer in circuit.layers:
        out += [net(layer.name, "x", i) for i in range(layer.size)]
    for act in circuit.activations:
        out += list(act.out_p_nets)
        inputs = set(act.in_nets)
        out += [n for n in act.out_n_nets if n not in inputs]
    if not circuit.amplifier.ideal:
        out += [c.sum_net for c in circuit.cells]
    return out


@dataclass(frozen=True)
class DeviceValues:
    """A crossbar's devices, one per conductance > 0, row-major, formatted once for every
    dialect and the conductance tables: device k is at row `rows[k]`, column `cols[k]`; its
    conductance's text (siemens) is `siemens[k]` and its resistance's (ohm = 1/G) `ohms[k]`
    (`units.num_texts`, ASCII byte strings). `conductance` is the crossbar's matrix they were
    made from (so another crossbar with the same or the transposed matrix can reuse them)."""

    conductance: NDArray[np.float64]
    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    siemens: NDArray[np.bytes_]
    ohms: NDArray[np.bytes_]


def device_values(xb: Crossbar, earlier: Iterable[DeviceValues] = ()) -> DeviceValues:
    """`xb`'s `DeviceValues`, vectorised. When one of `earlier` was made from the same matrix or
    its transpose (a symmetric interaction h @ W @ v lowers to crossbars W and W^T), its texts
    are reused: every distinct device value is formatted once."""
    g = np.asarray(xb.conductance, dtype=np.float64)
    rr, cc = np.nonzero(g > 0)
    for other in earlier:
        if other.conductance.shape == g.shape and np.array_equal(other.conductance, g):
            return DeviceValues(g, rr, cc, other.siemens, other.ohms)
        if other.conductance.shape == g.shape[::-1] and np.array_equal(other.conductance.T, g):
            # device (r, c) here is the other's device (c, r): its position in their order
            position = np.zeros(other.conductance.shape, dtype=np.intp)
            position[other.rows, other.cols] = np.arange(len(other.rows))
            k = position[cc, rr]
            return DeviceValues(g, rr, cc, other.siemens[k], other.ohms[k])
    values = g[rr, cc]
    with np.errstate(divide="ignore", over="ignore"):
        ohms = 1.0 / values
    if not np.isfinite(ohms).all():
        raise InternalCompilerError(f"crossbar {xb.name}: a conductance too small to invert")
    return DeviceValues(g, rr, cc, num_texts(values), num_texts(ohms))


#: Placeholders for a device line's row index, column index and resistance in a dialect's
#: resistor template (`crossbar_devices`); no template contains them.
_ROW, _COL, _OHMS = "\x01", "\x02", "\x03"


#: Where a crossbar subcircuit's devices go among its lines (`NetlistEmitter.crossbar_subckt`).
_BODY = "\x00devices"


def crossbar_devices(xb: Crossbar, resistor_line: str, values: DeviceValues | None = None, *,
                     head: str = "", tail: str = "") -> str:
    """`head`, then the body of `xb`'s subcircuit, a newline and `tail`: one resistor R = 1/G per
    nonzero conductance from port row_r to port col_c, named r_<r>_<c>, row-major, one line
    each (no line when there is no device).

    `resistor_line` is the dialect's resistor template (positional fields name, a, b, ohms);
    `values` the crossbar's `device_values` when another dialect already formatted them.
    Every name is local to the subcircuit, so nothing per device goes through the `Namer`:
    the template, filled with placeholders, splits into fixed text and per-device fields (row
    index, column index, resistance), which `join_fields` concatenates for every device at
    once, between `head` and `tail` (the fast path of a million-weight model).
    """
    v = values if values is not None else device_values(xb)
    if not len(v.rows):
        return f"{head}\n{tail}"
    n_rows, n_cols = v.conductance.shape
    index_text = np.array([str(k) for k in range(max(n_rows, n_cols))], dtype="S")
    per_device = {_ROW: index_text[v.rows], _COL: index_text[v.cols], _OHMS: v.ohms}
    line = resistor_line.format(f"r_{_ROW}_{_COL}", f"row_{_ROW}", f"col_{_COL}", _OHMS)
    pieces = re.split(f"([{_ROW}{_COL}{_OHMS}])", line + "\n")
    columns = [per_device[p] if p in per_device else p.encode("ascii") for p in pieces if p]
    return join_fields(columns, head=head, tail=tail)


def wired_crossbar_devices(xb: Crossbar, resistor_line: str) -> str:
    """The body of `xb`'s subcircuit with wire resistance `r_wire` (names local, as in
    `crossbar_devices`).

    The network backends/ir_drop.py solves: device r_<r>_<c> between row-wire node wa_<r>_<c>
    and column-wire node wb_<r>_<c>; a segment of r_wire (rwa_<r>_<c>) from port row_r to
    wa_<r>_0 and from wa_<r>_<c> to wa_<r>_<c+1>; one (rwb_<r>_<c>) from wb_<r>_<c> to
    wb_<r+1>_<c> and from wb_<R-1>_<c> to port col_c. Per row: its segments, then its devices;
    then the column segments.
    """
    g = np.asarray(xb.conductance, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        if not np.isfinite(1.0 / g[g > 0]).all():
            raise InternalCompilerError(f"crossbar {xb.name}: a conductance too small to invert")
    n_rows, n_cols = g.shape
    wire = num(xb.r_wire)
    out: list[str] = []
    line = resistor_line.format
    for r in range(n_rows):
        for c in range(n_cols):
            out.append(line(f"rwa_{r}_{c}", f"row_{r}" if c == 0 else f"wa_{r}_{c - 1}",
                            f"wa_{r}_{c}", wire))
        for c in np.flatnonzero(g[r] > 0).tolist():
            out.append(line(f"r_{r}_{c}", f"wa_{r}_{c}", f"wb_{r}_{c}", num(1.0 / g[r, c])))
    for c in range(n_cols):
        for r in range(n_rows):
            out.append(line(f"rwb_{r}_{c}", f"wb_{r}_{c}",
                            f"wb_{r + 1}_{c}" if r + 1 < n_rows else f"col_{c}", wire))
    return "\n".join(out)


def crossbar_ports(xb: Crossbar) -> list[str]:
    """The formal ports of `xb`'s subcircuit: row_0 .. row_{R-1}, then col_0 .. col_{C-1}."""
    n_rows, n_cols = np.shape(xb.conductance)
    return [f"row_{r}" for r in range(n_rows)] + [f"col_{c}" for c in range(n_cols)]


def unwritable(circuit: CircuitIR) -> list[str]:
    """The non-idealities of a realised `circuit` the netlists do not write yet (their hardware
    keys, with why), empty when every netlist can carry the draw exactly."""
    out: list[str] = []
    if any(sx.r_wire > 0 for sx in circuit.selected_crossbars):
        out.append("r_wire on a selected crossbar (wires through analog switches)")
    return out


#: Above this many crossbar devices the energy probe (one term per device pair) is left out of
#: every dialect: an expression of millions of terms costs the simulator more than the rest of
#: the circuit, and `check` evaluates E from the saved node voltages in numpy anyway.
ENERGY_PROBE_MAX_DEVICES = 20_000


def _no_block() -> tuple[str, str]:
    raise InternalCompilerError("only a softmax layer has a normaliser block")


def energy_probe_terms(circuit: CircuitIR, probe: Callable[[str], str]
                       ) -> list[tuple[float, str]]:
    """(coefficient, factor expression) whose sum is E(t) in model units, the same in every
    dialect: `probe` turns an IR net into the dialect's voltage expression (`v(net)` in SPICE,
    `V(in_3)` in a Verilog-A module); the functions are those SPICE B-sources and Verilog-A
    share (ln, exp, cosh, pow, max).

    Per layer the Legendre term (`spice_legendre` of its Lagrangian; softmax: sum x_i g_i +
    V(s)/v_unit - ln(N)/beta, the log-sum-exp read from the normaliser's common node s), then
    the interaction and bias energy read back from the realised conductances. A selected
    crossbar's part follows the switch controls (`circuit_energy.selected_energy`): the pairs of
    the all-option-0 selection, plus per element j and option k >= 1 what that option changes,
    times V(sel_<input>_<j>_<k>)/vdd (1 when the switch is closed, 0 when open), so the probe
    is right whatever drives the controls. Pairs of clamped neurons (a constant) are left out.
    """
    vu = circuit.scaling.v_unit
    terms: list[tuple[float, str]] = []
    acts = {a.layer: a for a in circuit.activations}
    for layer in circuit.layers:
        xs = [probe(net(layer.name, "x", i)) for i in range(layer.size)]
        gs = [probe(net(layer.name, "gp", i)) for i in range(layer.size)]
        if isinstance(layer.lagrangian, Softmax):
            # L* = sum x_i g_i - L with L = ln(sum_j exp(beta x_j))/beta
            # = ln(N)/beta - V(s)/v_unit, read from the normaliser's common node
            s = probe(f"{acts[layer.name].name}_s")
            terms += [(-1.0 / vu**2, f"{x}*{g}") for x, g in zip(xs, gs, strict=True)]
            terms += [(1.0 / vu, s), (-math.log(layer.size) / layer.lagrangian.p, "1.0")]
            continue
        terms += layer.lagrangian.spice_legendre(xs, gs, vu, num, _no_block)
    gp = {(k, i): probe(net(layer.name, "gp", i))
          for k, layer in enumerate(circuit.layers) for i in range(layer.size)}
    sel = selected_energy(circuit)
    for (a, b), w in sel.base.pairs:
        terms.append((w / vu**2, f"{gp[a]}*{gp[b]}"))
    for a, w in sel.base.bias:
        terms.append((w / vu, gp[a]))
    on = 1.0 / circuit.amplifier.v_rail  # a closed switch's control sits at vdd
    for (select, j, k), pairs in sel.options.items():
        ctl = probe(select_control_net(select, j, k))
        terms += [(w * on / vu**2, f"{gp[a]}*{gp[b]}*{ctl}") for (a, b), w in pairs]
    return terms


def _natural(text: str) -> tuple[str, ...]:
    """Sort key: digit runs compare as numbers (zero-padded), so sel_x_10 follows sel_x_9."""
    return tuple(t.zfill(12) if t.isdigit() else t for t in re.split(r"(\d+)", text))


class NetlistEmitter:
    """The shared walk (module docstring); a dialect sets the templates and writes its parts."""

    dialect: ClassVar[str] = ""
    comment_prefix: ClassVar[str] = "*"
    #: One-line element templates (fields: name, a, b, ctl, value).
    isource_line: ClassVar[str] = ""
    #: A resistor line (positional fields: name, a, b, ohms).
    resistor_line: ClassVar[str] = ""
    vsource_line: ClassVar[str] = ""
    switch_line: ClassVar[str] = ""
    #: The element prefix of a switch instance (ngspice decides a line's element by it).
    switch_prefix: ClassVar[str] = "s"
    #: A netlist parameter's definition and a reference to it in a value (fields: name, value).
    param_line: ClassVar[str] = ""
    param_ref: ClassVar[str] = "{name}"
    #: A saves line: `save_prefix` then the saved names, each through `save_probe`.
    save_prefix: ClassVar[str] = ""
    save_probe: ClassVar[str] = "{}"
    #: Section titles that differ between dialects.
    cells_title: ClassVar[str] = ""
    activations_title: ClassVar[str] = ""
    isources_title: ClassVar[str] = "bias currents into the summing nodes"
    #: Subcircuits: the include line (field path), the include files' extension, a
    #: continued line's prefix and the suffix of the line it continues.
    include_line: ClassVar[str] = ""
    include_ext: ClassVar[str] = ""
    continued_prefix: ClassVar[str] = "  "
    continues_suffix: ClassVar[str] = ""

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 namer: Namer | None = None, loc_comments: bool = True,
                 energy_probe: bool = True, includes: str = "inline",
                 device_values: dict[str, DeviceValues] | None = None) -> None:
        """`energy_probe`: drive the net `energy` with E(t) (`energy_probe_terms`; left out,
        with a comment, above `ENERGY_PROBE_MAX_DEVICES`). `includes`: where each crossbar's
        subcircuit goes: "inline" in the netlist itself (one self-contained text, what the
        runners simulate), "write" in an include file
        (`include_files`, path relative to the netlist: crossbars/<subckt><include_ext>) that
        the netlist includes, "refer" the same include line without building the file (it is
        another emitter's: Spectre and VACASK share theirs). `device_values`: crossbar name ->
        its formatted devices, shared by the emitters of one file set (filled on first use)."""
        if includes not in INCLUDE_MODES:
            raise InternalCompilerError(f"unknown include mode {includes!r}")
        self.circuit = circuit
        self.stimulus = stimulus if stimulus is not None else default_stimulus(circuit)
        self.namer = namer if namer is not None else Namer()
        self.loc_comments = loc_comments
        self.probe_omitted = energy_probe and (circuit.counts()["conductance_devices"]
                                               > ENERGY_PROBE_MAX_DEVICES)
        self.energy_probe = energy_probe and not self.probe_omitted
        self.includes = includes
        self.device_values = device_values if device_values is not None else {}
        self.lines: list[str] = []
        #: include path (relative to the netlist) -> text, filled by `format()`
        self.include_files: dict[str, str] = {}

    # -- entry point ------------------------------------------------------------------------------
    def format(self) -> str:
        """The whole netlist as text (ends with a newline).

        A realised circuit whose draw has something no netlist writes yet is refused
        (`unwritable`): a netlist without it would silently simulate another circuit.
        """
        missing = unwritable(self.circuit)
        if missing:
            seed, draw = self.circuit.draw or (0, 0)
            raise DenseAMCError(error(
                f"netlists of a realised draw (draw {draw} of seed {seed}) do not write "
                f"{'; '.join(missing)} yet: set them to 0 to write the draw's netlists"))
        self.lines = []
        self.include_files = {}
        self.params: list[tuple[str, float]] = []
        self.write_header()
        self.write_prologue()
        params_at = len(self.lines)
        for write in (self.write_supplies,
                      self.write_cells, self.write_activations, self.write_crossbars,
                      self.write_selected_crossbars, self.write_resistors,
                      self.write_current_sources, self.write_voltage_sources):
            write()
        self.write_epilogue()
        self.lines[params_at:params_at] = self.parameter_lines()
        return "\n".join(self.lines) + "\n"

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
        return ([(self.select_param(c), levels[c]) for c in sorted(levels, key=_natural)]
                + [(self.clamp_param(vs.name), stimulus.source_volts[vs.name])
                   for vs in self.circuit.voltage_sources])

    def initial_states(self) -> list[tuple[str, str]]:
        """(netlist node, the dialect's reference to its parameter p_ic_<node>) of both ends of
        every capacitor cell's C_F; the parameters are defined on the way, at the stimulus's
        values."""
        return [(self.net(n), self.param(self.ic_param(n), v))
                for n, v in initial_node_voltages(self.circuit, self.stimulus)]

    # -- dialect parts --------------------------------------------------------------------------
    def write_header_details(self) -> None:
        """Dialect-specific header lines (none by default)."""

    def write_prologue(self) -> None:
        """What comes between the header and the components."""

    def format_resistor(self, name: str, a: str, b: str, ohms: str) -> str:
        """One resistor line."""
        return self.resistor_line.format(name, a, b, ohms)

    def subckt_lines(self, name: str, ports: list[str], body: str) -> list[str]:
        """A subcircuit definition: `name` with `ports`, then `body` (lines), then its end."""
        raise NotImplementedError

    def subckt_instance(self, inst: str, nodes: list[str], subckt: str) -> list[str]:
        """The lines of instance `inst` of subcircuit `subckt` on `nodes`."""
        raise NotImplementedError

    def cell_lines(self, cell: IntegratorCell, s: str, out: str) -> list[str]:
        """The lines of `cell` inside its layer's subcircuit: op-amp, R_F, C_F between the
        local nets `s` (summing node) and `out`, in+ on `ref`, supplies `vdd`, `vss`."""
        raise NotImplementedError

    def activation_lines(self, act: Activation, ports: dict[str, str]) -> list[str]:
        """The body of `act`'s subcircuit; `ports` maps each IR net it connects to its port
        (`activation_ports`); the reference is the port `ref`."""
        raise NotImplementedError

    def write_switch_model(self) -> None:
        """What the selected crossbars' switches need before the first of them (none)."""

    def switch_value(self) -> str:
        """`switch_line`'s value: the control threshold (V); a dialect whose switch instances
        carry r_on and r_off adds them."""
        return num(self.switch_threshold())

    def write_epilogue(self) -> None:
        """What comes after the components: the analysis."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------
    def switch_threshold(self) -> float:
        """The select switches' control threshold: half way between off (0 V) and on (vdd)."""
        return self.circuit.amplifier.v_rail / 2

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

    # -- the walk -------------------------------------------------------------------------------
    def write_header(self) -> None:
        """The header every netlist starts with: what it is, its units, its input values."""
        c, s = self.circuit, self.circuit.scaling
        self.comment(f"denseamc {self.dialect} netlist for model {self.model_name()}")
        self.comment("generated by denseamc: every name is generated, every value in SI units")
        self.comment(f"v_unit = {num(s.v_unit)} V per model unit: V(L_x_i) = -v_unit x_i, "
                     "V(L_gp_i) = +v_unit g_i")
        self.comment(f"tau_unit = {num(s.tau_unit_s)} s per model time unit, readout at "
                     f"t = {num(c.readout_t)} = {num(c.readout_time_s)} s")
        if c.draw is not None:
            self.comment(f"realised circuit: Monte Carlo draw {c.draw[1]} of seed {c.draw[0]} "
                         "(device values of that draw, not the nominal ones)")
        self.write_header_details()
        self.comment(f"input values (clamps, initial states, select levels): "
                     f"{self.stimulus.origin}")

    def components(self, title: str, components: Sequence[C]) -> Iterator[C]:
        """Each of `components` after its provenance comment, under a section `title` (no
        section when there are none)."""
        if components:
            self.section(title)
        for comp in components:
            self.located(comp.loc)
            yield comp

    def write_supplies(self) -> None:
        """The op-amps' supply rails vdd = +v_rail and vss = -v_rail around the reference (0)."""
        if not self.circuit.cells and not self.circuit.activations:
            return
        self.section("op-amp supplies: vdd and vss around the reference 0")
        rail = self.circuit.amplifier.v_rail
        self.element(self.vsource_line, self.inst("v", "vdd"), self.net("vdd"), "0", num(rail))
        self.element(self.vsource_line, self.inst("v", "vss"), self.net("vss"), "0", num(-rail))

    def write_cells(self) -> None:
        """Per layer: one subcircuit of its integrator cells (neurons, and the differential
        scheme's inverters), defined here and instantiated once on the layer's top-level nets.
        Ports: every cell's summing node and output (`cell_ports`), then ref (the op-amps' in+,
        the reference 0), vdd and vss; each cell inside is the dialect's `cell_lines` with its
        own values (R_F, C_F, a draw's op-amp offset). Initial states stay on the top-level
        nets (`initial_states`)."""
        by_layer: dict[str, list[IntegratorCell]] = {}
        for cell in self.circuit.cells:
            by_layer.setdefault(cell.layer, []).append(cell)
        if by_layer:
            self.section(self.cells_title)
        for layer, cells in by_layer.items():
            subckt = self.namer.name(f"cells_{layer}")
            self.lines.append("")
            self.comment(f"layer {self.namer.name(layer)}, cells: {len(cells)}, subcircuit "
                         f"{subckt} (ports: summing nodes, outputs, ref, vdd, vss)")
            self.located_all([c.loc for c in cells])
            ports = cell_ports(cells)
            body: list[str] = []
            for cell in cells:
                body += self.cell_lines(cell, ports[cell.sum_net], ports[cell.out_net])
            self.lines += self.subckt_lines(subckt, [*ports.values(), "ref", "vdd", "vss"],
                                            "\n".join(body))
            nodes = [self.net(n) for n in ports] + ["0", self.net("vdd"), self.net("vss")]
            self.lines += self.subckt_instance(self.inst("x", f"cells_{layer}"), nodes, subckt)

    def write_activations(self) -> None:
        """Per activation block: one subcircuit, defined here and instantiated once. Ports: its
        inputs (in_i, the cell outputs), its rails (out_p_i, and out_n_i where the block drives
        its own), a coupled block's common node s (read by the energy probe), then ref, vdd and
        vss (`activation_ports`); the body is the dialect's `activation_lines`."""
        self.section(self.activations_title)
        for act in self.circuit.activations:
            subckt = self.namer.name(f"act_{act.layer}")
            self.lines.append("")
            ports = activation_ports(act)
            kinds = dict.fromkeys(re.sub(r"_\d+$", "_*", p) for p in ports.values())
            self.comment(f"block {self.namer.name(act.name)}, {act.lagrangian.kind}, neurons: "
                         f"{len(act.in_nets)}, subcircuit {subckt} (ports: "
                         f"{', '.join([*kinds, 'ref', 'vdd', 'vss'])})")
            self.located(act.loc)
            body = self.activation_lines(act, ports)
            self.lines += self.subckt_lines(subckt, [*ports.values(), "ref", "vdd", "vss"],
                                            "\n".join(body))
            nodes = [self.net(n) for n in ports] + ["0", self.net("vdd"), self.net("vss")]
            self.lines += self.subckt_instance(self.inst("x", act.name), nodes, subckt)

    def write_crossbars(self) -> None:
        """Per crossbar: its subcircuit (ports row_*, col_*; `crossbar_subckt`), inline or in an
        include file (`place_subckt`), and one instance of it on the crossbar's row and column
        nets."""
        for xb in self.circuit.crossbars:
            rows, cols = xb.conductance.shape
            subckt = self.namer.name(f"xb_{xb.name}")
            self.section(f"crossbar {self.namer.name(xb.name)}: {rows} x {cols}, "
                         f"{xb.devices} devices, polarity {xb.polarity}: subcircuit {subckt}")
            self.located(xb.loc)
            self.place_subckt(subckt, partial(self.crossbar_subckt, xb, subckt))
            nodes = [self.net(n) for n in (*xb.row_nets, *xb.col_nets)]
            self.lines += self.subckt_instance(self.inst("x", xb.name), nodes, subckt)

    def place_subckt(self, subckt: str, definition: Callable[..., list[str]]) -> None:
        """Subcircuit `subckt`'s definition (built by `definition` only when needed) inline, or
        in the include file crossbars/<subckt><include_ext> with an include line here
        (`includes`). `definition()`: its lines; `definition(end="\\n")`: the same with the
        last line ending in a newline, as a file's does (a plain crossbar's definition is one
        string, so the file's text is that string, not a copy of it)."""
        if self.includes == "inline":
            self.lines += definition()
            return
        path = f"{INCLUDE_DIR}/{subckt}{self.include_ext}"
        self.comment(f"its devices: {path} (replace that file to reprogram the weights)")
        self.lines.append(self.include_line.format(path=path))
        if self.includes == "write":
            self.include_files[path] = "\n".join(definition(end="\n"))

    def crossbar_subckt(self, xb: Crossbar, subckt: str, *, end: str = "") -> list[str]:
        """`xb`'s subcircuit `subckt`, ending in `end`: what it is, then its definition (ports
        `crossbar_ports`, devices `crossbar_devices` or, with wire resistance,
        `wired_crossbar_devices`). Without wire resistance it is one string (one list item),
        built with the devices in one go."""
        rows, cols = xb.conductance.shape
        head = [f"{self.comment_prefix} crossbar subcircuit {subckt}: {rows} x {cols}, "
                f"{xb.devices} devices (resistance in ohm = 1/conductance)",
                f"{self.comment_prefix} ports row_0 .. row_{rows - 1} (the rows, driven), "
                f"col_0 .. col_{cols - 1} (the columns, to the summing nodes)"]
        if xb.r_wire > 0:
            head.append(f"{self.comment_prefix} wire resistance {num(xb.r_wire)} ohm per cell "
                        "segment: rows driven at their first column, columns read at their "
                        "last row")
            lines = head + self.subckt_lines(subckt, crossbar_ports(xb),
                                             wired_crossbar_devices(xb, self.resistor_line))
            return [*lines[:-1], lines[-1] + end]
        values = self.device_values.get(xb.name)
        if values is None:
            values = device_values(xb, self.device_values.values())
            self.device_values[xb.name] = values
        lines = head + self.subckt_lines(subckt, crossbar_ports(xb), _BODY)
        at = lines.index(_BODY)
        return [crossbar_devices(xb, self.resistor_line, values,
                                 head="".join(line + "\n" for line in lines[:at]),
                                 tail="\n".join(lines[at + 1:]) + end)]

    def write_selected_crossbars(self) -> None:
        if not self.circuit.selected_crossbars:
            return
        self.write_switch_model()
        for sx in self.circuit.selected_crossbars:
            subckt = self.namer.name(f"xb_{sx.name}")
            self.section(f"selected crossbar {self.namer.name(sx.name)}: {sx.n_options} options "
                         f"x {len(sx.lines)} selected {sx.axis}, polarity {sx.polarity}: "
                         f"subcircuit {subckt}")
            self.located(sx.loc)
            # its switches and devices, written by the walk, become the subcircuit's body; its
            # ports are the nets they share with the rest (lines, others, switch controls)
            start = len(self.lines)
            self._write_selected(sx)
            body = self.lines[start:]
            del self.lines[start:]
            ctls = [select_control_net(sx.select, j, k) for j in sx.lines
                    for k in range(sx.n_options)]
            nodes = [n for n in dict.fromkeys(self.net(n) for n in
                                              (*sx.line_nets, *sx.other_nets, *ctls)) if n != "0"]
            self.place_subckt(subckt, partial(self.selected_subckt, subckt, nodes, body))
            self.lines += self.subckt_instance(self.inst("x", sx.name), nodes, subckt)
        self.section("switch controls: vdd closes switch k of element j when select[j] == k")
        levels = select_levels(self.circuit, self.stimulus)
        for ctl in sorted(levels, key=_natural):
            self.element(self.vsource_line, self.inst("vs", ctl), self.net(ctl), "0",
                         self.param(self.select_param(ctl), levels[ctl]))

    def selected_subckt(self, subckt: str, ports: list[str], body: list[str], *,
                        end: str = "") -> list[str]:
        """A selected crossbar's subcircuit `subckt`: what it is, then its definition, the last
        line ending in `end`."""
        lines = [f"{self.comment_prefix} selected crossbar subcircuit {subckt}: analog switches "
                 "and option devices (resistance in ohm = 1/conductance)",
                 f"{self.comment_prefix} ports: the selected lines, the other nets, the switch "
                 "controls (named as the nets they connect to)",
                 *self.subckt_lines(subckt, ports, "\n".join(body))]
        return [*lines[:-1], lines[-1] + end]

    def _write_selected(self, sx: SelectedCrossbar) -> None:
        """The switches and option devices of one selected crossbar (the same for every
        input: the select levels are the control sources' values)."""
        line_nets = [self.net(n) for n in sx.line_nets]
        for li, (line_net, j) in enumerate(zip(line_nets, sx.lines, strict=True)):
            for k in range(sx.n_options):
                ctl = select_control_net(sx.select, j, k)
                node = self.net(f"{sx.name}_l{li}_o{k}")
                ctl_net = self.net(ctl)
                self.element(self.switch_line,
                             self.inst(self.switch_prefix, f"{sx.name}_{li}_{k}"), line_net,
                             node, ctl=ctl_net, value=self.switch_value())
                others = [self.net(n) for n in sx.other_nets]
                table = sx.table if sx.line_tables is None else sx.line_tables[li]
                for o, other in enumerate(others):
                    g = float(table[k, o])
                    if g > 0:
                        self.lines.append(self.format_resistor(
                            self.inst("r", f"{sx.name}_{li}_{k}_{o}"), node, other, num(1.0 / g)))

    def write_resistors(self) -> None:
        for r in self.components("resistors", self.circuit.resistors):
            self.lines.append(self.format_resistor(self.inst("r", r.name), self.net(r.net_a),
                                                   self.net(r.net_b), num(r.ohms)))

    def write_current_sources(self) -> None:
        for cs in self.components(self.isources_title, self.circuit.current_sources):
            # the current flows from the first node through the source into the second
            self.element(self.isource_line, self.inst("i", cs.name), "0", self.net(cs.net),
                         num(cs.amps))

    def write_voltage_sources(self) -> None:
        for vs in self.components("clamps: V = -v_unit * input", self.circuit.voltage_sources):
            self.element(self.vsource_line, self.inst("v", vs.name), self.net(vs.net), "0",
                         self.param(self.clamp_param(vs.name),
                                    self.stimulus.source_volts[vs.name]))
