"""The static (DC) solve of a lowered circuit with ideal amplifiers: its state at t = 0.

With ideal amplifiers every summing node sits at 0 V, so a cell's target output is -R_F I_in,
where I_in is the current the crossbars, resistors and current sources drive into its summing
node (`summing_currents`) from the driven nets' voltages. Initial output voltages
(`initial_cell_voltages`), in the order the model simulator uses:

1. every capacitor cell starts at its `v0` (0 V), clamped nets at their clamp voltage, and `init`
   inputs set their cells (V = -v_unit x);
2. summing stages (C_F = 0 cells, including the differential scheme's inverters) are solved for
   these values by `fixed_point` sweeps (V_out = -R_F I_in);
3. each `init=settled` layer, in declaration order, sets its cells to their targets -R_F I_in
   evaluated at the current voltages (a later layer sees the earlier layers' settled values),
   then its `init` inputs override, then the summing stages are re-solved.

Voltages are kept per net name, (B,) arrays for a batch of B input vectors.

A realised circuit (compiler/passes/realise.py) is solved with its realised values: crossbars
through their exact terminal map with wire resistance (`ir_drop`), activation rails with their
gains and offsets, and each summing node held at its amplifier's offset v_os, so a cell's target
is V_out = v_os - R_F I_in with I_in the current the node really receives there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from denseamc.backends.inputs import InputBatch
from denseamc.backends.ir_drop import crossbar_map, selected_map
from denseamc.backends.sim.fixed_point import MAXITER, fixed_point
from denseamc.ir import DenseAMCError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell
from numpy.typing import NDArray

Array = NDArray[np.float64]


def dynamic_cells(circuit: CircuitIR) -> list[IntegratorCell]:
    """Cells with a capacitor (the state-holding ones), in circuit order."""
    return [c for c in circuit.cells if c.c_f > 0]


def activation_rails(act: Activation, v_in: Array) -> tuple[Array, Array]:
    """(V(out_p), V(out_n)) of every neuron of `act`, its realised gains and offsets included
    (`rail_gain` and `rail_offset` hold the out_p rail's n values, then the out_n rail's; an
    identity layer's out_n is returned too, though it is the input net, a wire)."""
    gp = act.transfer(v_in)
    n = gp.shape[-1]
    return (_gained(gp, act.rail_gain[:n], act.rail_offset[:n]),
            _gained(-gp, act.rail_gain[n:], act.rail_offset[n:]))


def _gained(v: Array, gain: tuple[float, ...], offset: tuple[float, ...]) -> Array:
    """gain * v + offset over the last axis; empty tuples are the ideal 1 and 0."""
    v = v * np.asarray(gain) if gain else v
    return v + np.asarray(offset) if offset else v


def activation_voltages(circuit: CircuitIR, volts: dict[str, Array]) -> None:
    """Add every activation output (gp and own gn rails) to `volts`, from the x nets in it."""
    for act in circuit.activations:
        vin = np.stack([volts[n] for n in act.in_nets], axis=-1)
        vp, vn = activation_rails(act, vin)
        for i, n in enumerate(act.out_p_nets):
            volts[n] = vp[..., i]
        inputs = set(act.in_nets)  # a set: `in` on the tuple is quadratic in the layer size
        for i, n in enumerate(act.out_n_nets):
            if n not in inputs:
                volts[n] = vn[..., i]


def summing_currents(circuit: CircuitIR, volts: Mapping[str, Array],
                     selects: Mapping[str, NDArray[np.int64]], batch: int) -> dict[str, Array]:
    """Current into every summing node (held at its amplifier's offset, 0 V when ideal) from
    crossbars, biases and resistors."""
    cur: dict[str, Array] = {c.sum_net: np.zeros(batch) for c in circuit.cells}
    v_os = {c.sum_net: c.v_offset for c in circuit.cells}
    offsets = any(v_os.values())
    for xb in circuit.crossbars:
        rows = np.stack([volts[n] for n in xb.row_nets], axis=-1)  # (B, rows)
        g_eff, w = crossbar_map(xb)
        i = rows @ g_eff
        if offsets:
            i = i - _held(g_eff[None], w, np.array([v_os[n] for n in xb.col_nets]))
        for c, n in enumerate(xb.col_nets):
            cur[n] = cur[n] + i[:, c]
    for sx in circuit.selected_crossbars:
        g, wb = selected_map(sx, selects[sx.select])  # (B, rows, cols)
        rows = np.stack([volts[n] for n in sx.row_nets], axis=-1)
        i = np.einsum("br,brc->bc", rows, g)
        if offsets:
            i = i - _held(g, wb, np.array([v_os[n] for n in sx.col_nets]))
        for c, n in enumerate(sx.col_nets):
            cur[n] = cur[n] + i[:, c]
    for cs in circuit.current_sources:
        cur[cs.net] = cur[cs.net] + cs.amps
    for r in circuit.resistors:
        for here, there in ((r.net_a, r.net_b), (r.net_b, r.net_a)):
            if here in cur:
                v_there = np.full(batch, v_os[there]) if there in cur else volts[there]
                cur[here] = cur[here] + (v_there - v_os[here]) / r.ohms
    return cur


def _target(cell: IntegratorCell, i_in: Array) -> Array:
    """A cell's settled output for the current into its summing node: v_os - R_F I_in."""
    out: Array = -cell.r_f * i_in
    return out + cell.v_offset if cell.v_offset else out


def _held(g: Array, w: Array | None, v_cols: Array) -> Array:
    """Current an array draws from its columns held at v_cols: colsum(G_eff) v + W v, with g
    (1 or B, rows, cols) and w None, (cols, cols) or (B, cols, cols)."""
    out: Array = g.sum(axis=1) * v_cols
    if w is not None:
        out = out + np.einsum("...ij,j->...i", w, v_cols)
    return out


def _solve_summing_stages(circuit: CircuitIR, volts: dict[str, Array],
                          selects: Mapping[str, NDArray[np.int64]], batch: int) -> None:
    stages = [c for c in circuit.cells if c.c_f == 0]
    for c in stages:
        volts.setdefault(c.out_net, np.zeros(batch))
    activation_voltages(circuit, volts)
    if not stages:
        return

    def sweep() -> tuple[float, float]:
        cur = summing_currents(circuit, volts, selects, batch)
        change = big = 0.0
        for c in stages:
            new = _target(c, cur[c.sum_net])
            change = max(change, float(np.max(np.abs(new - volts[c.out_net]), initial=0.0)))
            big = max(big, float(np.max(np.abs(new), initial=0.0)))
            volts[c.out_net] = new
        activation_voltages(circuit, volts)
        return change, big

    if not fixed_point(sweep, scale=circuit.scaling.v_unit):
        raise DenseAMCError(error(
            "the summing stages (tau = 0 layers) of the circuit drive each other in a cycle and "
            f"their initial values did not converge in {MAXITER} sweeps"))


def initial_cell_voltages(circuit: CircuitIR, inputs: InputBatch) -> dict[str, Array]:
    """Initial output voltage (B,) of every capacitor cell (see the module docstring)."""
    batch, arrays, sel = inputs.batch, inputs.arrays, inputs.selects
    volts: dict[str, Array] = {}
    for vs in circuit.voltage_sources:
        volts[vs.net] = vs.volts + vs.gain_v * arrays[vs.input][:, vs.index]
    dyn = dynamic_cells(circuit)
    for c in dyn:
        volts[c.out_net] = np.full(batch, float(c.v0))

    def apply_ics(layer: str | None) -> None:
        for ic in circuit.initial_conditions:
            cell = next((c for c in dyn if c.out_net == ic.net), None)
            if cell is None or (layer is not None and cell.layer != layer):
                continue
            volts[ic.net] = ic.gain_v * arrays[ic.input][:, ic.index]

    apply_ics(None)
    _solve_summing_stages(circuit, volts, sel, batch)
    for layer in circuit.layers:
        if layer.init != "settled":
            continue
        cells = [c for c in dyn if c.layer == layer.name]
        if not cells:
            continue
        cur = summing_currents(circuit, volts, sel, batch)
        for c in cells:
            volts[c.out_net] = _target(c, cur[c.sum_net])
        apply_ics(layer.name)
        _solve_summing_stages(circuit, volts, sel, batch)
    return {c.name: volts[c.out_net] for c in dyn}
