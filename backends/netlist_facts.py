"""What every netlist dialect reads off a lowered circuit, the same in each: the op-amps'
`dam_opamp` settings (`opamp_settings`, ideal amplifiers: `IDEAL_OPAMP_A0`), the select switches'
ohms and control levels, a cell's and an activation block's subcircuit ports, the capacitor cells'
initial voltages, the saved nets, an activation's realised rail errors, and the non-idealities of a
realised draw no netlist writes yet (`unwritable`). Printing them is the dialects' and the shared
walk's (backends/base.py)."""

from __future__ import annotations

from collections.abc import Sequence

from denseamc.backends.stimulus import Stimulus
from denseamc.ir import InternalCompilerError
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell, net
from denseamc.ir.hardware import KEYS

__all__ = [
    "IDEAL_OPAMP_A0",
    "activation_ports",
    "cell_initial_voltages",
    "cell_ports",
    "cell_tag",
    "initial_node_voltages",
    "opamp_settings",
    "rail_errors",
    "saved_nets",
    "select_control_net",
    "select_levels",
    "switch_ohms",
    "unwritable",
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


def unwritable(circuit: CircuitIR) -> list[str]:
    """The non-idealities of a realised `circuit` the netlists do not write yet (their hardware
    keys, with why), empty when every netlist can carry the draw exactly."""
    out: list[str] = []
    if any(sx.r_wire > 0 for sx in circuit.selected_crossbars):
        out.append("r_wire on a selected crossbar (wires through analog switches)")
    return out
