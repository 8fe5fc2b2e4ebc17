"""What every netlist backend shares: input values, initial states, the energy (the output set is
backends/emit.py).

A netlist is printed for one set of input values (a `Stimulus`): clamp voltages become source
values, `init` inputs and `init=settled` layers become initial cell voltages, and `select` inputs
become the DC levels of the analog-switch controls. `stimuli` resolves a batch of inputs into one
`Stimulus` per batch element; `default_stimulus` is what the files written by `denseamc MODEL.dam
-o OUT/` use (the first vector of the first test block, or zeros when the model has no tests).

Initial states (`initial_cell_voltages`), computed in Python from the circuit IR, in the order the
behavioural simulator uses:

1. every capacitor cell starts at its `v0` (0 V), clamped nets at their clamp voltage, and `init`
   inputs set their cells (V = -v_unit x);
2. summing stages (C_F = 0 cells, including the differential scheme's inverters) are solved for
   these values (fixed-point sweeps: V_out = -R_F I_in with every summing node at 0 V);
3. each `init=settled` layer, in declaration order, sets its cells to their targets -R_F I_in
   evaluated at the current voltages (a later layer sees the earlier layers' settled values),
   then its `init` inputs override, then the summing stages are re-solved.

The energy (`circuit_energy`, and the SPICE probe built from `energy_coefficients`) is computed
from node voltages in model units, E = sum legendre(x) + E_bilinear + E_bias, where the
interaction part is read back from the realised conductances rather than from the model:

    drive into neuron p from neuron q:  M[p, q] = +-R_F(p) G   (the crossbar's polarity sign)
    E_bilinear = -sum_{p<q} M~[p, q] g_p g_q - 1/2 sum_p M~[p, p] g_p^2
    E_bias     = -sum_p b_p g_p,   b_p = I_p R_F(p) / v_unit

M~ is M completed by symmetry (the coupling of a gradient system is symmetric; a clamped neuron
has no column of its own, so its entries come from the other direction). Pairs of neurons that
are both clamped have no device in either direction: their term is a constant and is left out,
so E matches the model energy up to that constant (zero when no two clamped neurons interact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import CircuitIR, IntegratorCell, net
from numpy.typing import NDArray

Array = NDArray[np.float64]
NeuronKey = tuple[int, int]  # (layer position in circuit.layers, neuron index)

__all__ = [
    "Stimulus",
    "activation_voltages",
    "circuit_energy",
    "default_stimulus",
    "energy_coefficients",
    "initial_cell_voltages",
    "stimuli",
]

_FP_MAXITER = 500
_FP_TOL = 1e-13


@dataclass(frozen=True)
class Stimulus:
    """The input-dependent values of one netlist (one batch element).

    source_volts: voltage source name -> volts (clamps). cell_v0: cell name -> initial output
    volts, for every capacitor cell. selects: select input name -> integer values. origin: how
    the values were chosen, in our own words (printed in netlist headers; never user text).
    """

    source_volts: dict[str, float]
    cell_v0: dict[str, float]
    selects: dict[str, tuple[int, ...]] = field(default_factory=dict)
    origin: str = "given input values"


def dynamic_cells(circuit: CircuitIR) -> list[IntegratorCell]:
    """Cells with a capacitor (the state-holding ones), in circuit order."""
    return [c for c in circuit.cells if c.c_f > 0]


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------


def _check_inputs(circuit: CircuitIR, inputs: Mapping[str, object]) -> tuple[dict[str, Array], int]:
    arrays: dict[str, Array] = {}
    batch: int | None = None
    for inp in circuit.inputs:
        if inp.name not in inputs:
            raise DenseAMCError(error(f"no values given for input '{inp.name}'", inp.loc))
        a = np.asarray(inputs[inp.name], dtype=np.float64)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != inp.size:
            raise DenseAMCError(error(
                f"input '{inp.name}' takes {inp.size} values per vector, got shape "
                f"{list(a.shape)}", inp.loc))
        if not np.all(np.isfinite(a)):
            raise DenseAMCError(error(f"input '{inp.name}' has non-finite values", inp.loc))
        if batch is not None and a.shape[0] != batch:
            raise DenseAMCError(error(
                f"input '{inp.name}' has {a.shape[0]} vectors, the others {batch}", inp.loc))
        batch = a.shape[0]
        if inp.mode == "select":
            ints = np.rint(a)
            if np.any(np.abs(a - ints) > 1e-9):
                raise DenseAMCError(error(f"select input '{inp.name}' needs integers", inp.loc))
            for sx in circuit.selected_crossbars:
                if sx.select == inp.name and ints.size and (
                        ints.min() < 0 or ints.max() >= sx.n_options):
                    raise DenseAMCError(error(
                        f"select input '{inp.name}' must be in 0..{sx.n_options - 1}", inp.loc))
            a = ints
        arrays[inp.name] = a
    return arrays, (batch if batch is not None else 1)


def _select_ints(circuit: CircuitIR, arrays: Mapping[str, Array]) -> dict[str, NDArray[np.int64]]:
    return {i.name: np.asarray(arrays[i.name], dtype=np.int64) for i in circuit.inputs
            if i.mode == "select"}


def stimuli(circuit: CircuitIR, inputs: Mapping[str, object],
            origin: str = "given input values") -> list[Stimulus]:
    """One `Stimulus` per batch element of `inputs` (input name -> (B, size) values)."""
    arrays, batch = _check_inputs(circuit, inputs)
    v0 = initial_cell_voltages(circuit, arrays, batch)
    sel = _select_ints(circuit, arrays)
    out = []
    for b in range(batch):
        volts = {vs.name: float(vs.volts + vs.gain_v * arrays[vs.input][b, vs.index])
                 for vs in circuit.voltage_sources}
        out.append(Stimulus(
            source_volts=volts,
            cell_v0={name: float(v[b]) for name, v in v0.items()},
            selects={k: tuple(int(x) for x in v[b]) for k, v in sel.items()},
            origin=origin if batch == 1 else f"{origin}, batch element {b}",
        ))
    return out


def default_stimulus(circuit: CircuitIR) -> Stimulus:
    """The first test vector's inputs, or zeros (selects 0) when the model has no tests."""
    for block in circuit.tests:
        if block.vectors:
            vec = block.vectors[0]
            if all(i.name in vec.inputs for i in circuit.inputs):
                inputs = {i.name: np.asarray(vec.inputs[i.name], dtype=np.float64)[None, :]
                          for i in circuit.inputs}
                return stimuli(circuit, inputs, "the first vector of the first test block")[0]
    zeros = {i.name: np.zeros((1, i.size)) for i in circuit.inputs}
    return stimuli(circuit, zeros, "all inputs zero (the model has no test vectors)")[0]


# ------------------------------------------------------------------------------------------------
# static evaluation (ideal amplifiers: every summing node at 0 V)
# ------------------------------------------------------------------------------------------------


def activation_voltages(circuit: CircuitIR, volts: dict[str, Array]) -> None:
    """Add every activation output (gp and own gn rails) to `volts`, from the x nets in it."""
    for act in circuit.activations:
        vin = np.stack([volts[n] for n in act.in_nets], axis=-1)
        gp = act.transfer(vin)
        for i, n in enumerate(act.out_p_nets):
            volts[n] = gp[..., i]
        for i, n in enumerate(act.out_n_nets):
            if n not in act.in_nets:
                volts[n] = -gp[..., i]


def summing_currents(circuit: CircuitIR, volts: Mapping[str, Array],
                     selects: Mapping[str, NDArray[np.int64]], batch: int) -> dict[str, Array]:
    """Current into every summing node (held at 0 V) from crossbars, biases and resistors."""
    cur: dict[str, Array] = {c.sum_net: np.zeros(batch) for c in circuit.cells}
    for xb in circuit.crossbars:
        rows = np.stack([volts[n] for n in xb.row_nets], axis=-1)  # (B, rows)
        i = rows @ xb.conductance
        for c, n in enumerate(xb.col_nets):
            cur[n] = cur[n] + i[:, c]
    for sx in circuit.selected_crossbars:
        g = sx.conductance(selects[sx.select])  # (B, rows, cols)
        rows = np.stack([volts[n] for n in sx.row_nets], axis=-1)
        i = np.einsum("br,brc->bc", rows, g)
        for c, n in enumerate(sx.col_nets):
            cur[n] = cur[n] + i[:, c]
    for cs in circuit.current_sources:
        cur[cs.net] = cur[cs.net] + cs.amps
    for r in circuit.resistors:
        for here, there in ((r.net_a, r.net_b), (r.net_b, r.net_a)):
            if here in cur:
                v_there = np.zeros(batch) if there in cur else volts[there]
                cur[here] = cur[here] + v_there / r.ohms
    return cur


def _solve_summing_stages(circuit: CircuitIR, volts: dict[str, Array],
                          selects: Mapping[str, NDArray[np.int64]], batch: int) -> None:
    stages = [c for c in circuit.cells if c.c_f == 0]
    for c in stages:
        volts.setdefault(c.out_net, np.zeros(batch))
    for _ in range(_FP_MAXITER if stages else 1):
        activation_voltages(circuit, volts)
        if not stages:
            return
        cur = summing_currents(circuit, volts, selects, batch)
        change, big = 0.0, 1e-30
        for c in stages:
            new = -c.r_f * cur[c.sum_net]
            change = max(change, float(np.max(np.abs(new - volts[c.out_net]), initial=0.0)))
            big = max(big, float(np.max(np.abs(new), initial=0.0)))
            volts[c.out_net] = new
        if change <= _FP_TOL * max(big, circuit.scaling.v_unit):
            activation_voltages(circuit, volts)
            return
    raise DenseAMCError(error(
        "the summing stages (tau = 0 layers) of the circuit drive each other in a cycle and "
        f"their initial values did not converge in {_FP_MAXITER} sweeps"))


def initial_cell_voltages(circuit: CircuitIR, inputs: Mapping[str, Array],
                          batch: int) -> dict[str, Array]:
    """Initial output voltage (B,) of every capacitor cell (see the module docstring)."""
    sel = _select_ints(circuit, inputs)
    volts: dict[str, Array] = {}
    for vs in circuit.voltage_sources:
        volts[vs.net] = vs.volts + vs.gain_v * np.asarray(inputs[vs.input])[:, vs.index]
    dyn = dynamic_cells(circuit)
    for c in dyn:
        volts[c.out_net] = np.full(batch, float(c.v0))

    def apply_ics(layer: str | None) -> None:
        for ic in circuit.initial_conditions:
            cell = next((c for c in dyn if c.out_net == ic.net), None)
            if cell is None or (layer is not None and cell.layer != layer):
                continue
            volts[ic.net] = ic.gain_v * np.asarray(inputs[ic.input])[:, ic.index]

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
            volts[c.out_net] = -c.r_f * cur[c.sum_net]
        apply_ics(layer.name)
        _solve_summing_stages(circuit, volts, sel, batch)
    return {c.name: volts[c.out_net] for c in dyn}


# ------------------------------------------------------------------------------------------------
# energy
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyCoefficients:
    """E_interaction = sum pair * g_p g_q + sum bias * g_p, in model units (one batch element).

    pairs: ((p, q), coefficient) with p <= q (p == q: the g_p^2 coefficient); bias: (p, coef).
    Neuron keys are (layer position, index); g is V(gp net) / v_unit.
    """

    pairs: tuple[tuple[tuple[NeuronKey, NeuronKey], float], ...]
    bias: tuple[tuple[NeuronKey, float], ...]


def energy_coefficients(circuit: CircuitIR,
                        selects: Mapping[str, Sequence[int]] | None = None) -> EnergyCoefficients:
    """Read the interaction energy back from the realised conductances (module docstring)."""
    pos = {layer.name: k for k, layer in enumerate(circuit.layers)}
    # Every neuron gets a flat index (layer offset + index; ordered as the (layer, index) keys).
    offset = np.cumsum([0] + [layer.size for layer in circuit.layers]).tolist()
    n_all = max(int(offset[-1]), 1)
    keys: list[Array] = []
    values: list[Array] = []

    def add(target: str, t: Array, source: str, s: Array, value: Array) -> None:
        keys.append((offset[pos[target]] + t) * n_all + offset[pos[source]] + s)
        values.append(value)

    s = circuit.scaling
    for xb in circuit.crossbars:
        sign = 1.0 if xb.polarity == "pos" else -1.0
        r_f = s.r_f_of(xb.target)
        rr, cc = np.nonzero(xb.conductance)
        add(xb.target, np.asarray(xb.col_index, dtype=np.int64)[cc], xb.source,
            np.asarray(xb.row_index, dtype=np.int64)[rr],
            sign * r_f * np.asarray(xb.conductance, dtype=np.float64)[rr, cc])
    for sx in circuit.selected_crossbars:
        if selects is None or sx.select not in selects:
            raise InternalCompilerError(f"energy of {sx.name} needs select input {sx.select!r}")
        g = sx.conductance(np.asarray(selects[sx.select], dtype=np.int64)[None, :])[0]
        sign = 1.0 if sx.polarity == "pos" else -1.0
        r_f = s.r_f_of(sx.target)
        rr, cc = np.nonzero(g)
        add(sx.target, np.asarray(sx.col_index, dtype=np.int64)[cc], sx.source,
            np.asarray(sx.row_index, dtype=np.int64)[rr],
            sign * r_f * np.asarray(g, dtype=np.float64)[rr, cc])

    # drive[(target, source)]: 0.0 plus each term in the order above (ufunc.at adds in order)
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    drive_keys, inverse = np.unique(all_keys, return_inverse=True)
    drive = np.zeros(len(drive_keys))
    if keys:
        np.add.at(drive, inverse.ravel(), np.concatenate(values))
    p, q = np.divmod(drive_keys, n_all)
    # a self-coupling: -m / 2; a pair: minus the mean of the one or two directions present
    diag = p == q
    lo, hi = np.minimum(p, q)[~diag], np.maximum(p, q)[~diag]
    pair_keys, pair_inv = np.unique(lo * n_all + hi, return_inverse=True)
    sums = np.zeros(len(pair_keys))
    np.add.at(sums, pair_inv.ravel(), drive[~diag])
    counts = np.bincount(pair_inv.ravel(), minlength=len(pair_keys))
    flat = np.concatenate([drive_keys[diag], pair_keys])
    coef = np.concatenate([-0.5 * drive[diag], -sums / counts])
    order = np.argsort(flat, kind="stable")
    a, b = np.divmod(flat[order], n_all)
    layer_of = np.repeat(np.arange(len(circuit.layers)), np.diff(offset))
    index_of = np.arange(int(offset[-1])) - np.repeat(np.asarray(offset[:-1]), np.diff(offset))
    pairs_sorted = tuple(zip(
        zip(zip(layer_of[a].tolist(), index_of[a].tolist(), strict=True),
            zip(layer_of[b].tolist(), index_of[b].tolist(), strict=True), strict=True),
        coef[order].tolist(), strict=True))
    bias: dict[NeuronKey, float] = {}
    for cs in circuit.current_sources:
        key = (pos[cs.layer], cs.index)
        bias[key] = bias.get(key, 0.0) - cs.amps * s.r_f_of(cs.layer) / s.v_unit
    return EnergyCoefficients(pairs_sorted, tuple(sorted(bias.items())))


def circuit_energy(circuit: CircuitIR, volts: Mapping[str, Array],
                   selects: Mapping[str, Sequence[int]] | None = None) -> Array:
    """E in model units from node voltages (arrays of any common shape) of one batch element.

    `volts` must hold every layer's x and gp nets; the softmax log-sum-exp is evaluated exactly
    (max-referenced) from the states, as the behavioural simulator does.
    """
    vu = circuit.scaling.v_unit
    total: Array | None = None
    g: dict[NeuronKey, Array] = {}
    for k, layer in enumerate(circuit.layers):
        x = np.stack([-np.asarray(volts[net(layer.name, "x", i)], dtype=np.float64) / vu
                      for i in range(layer.size)], axis=-1)
        e = layer.lagrangian.legendre(x)
        total = e if total is None else total + e
        for i in range(layer.size):
            g[(k, i)] = np.asarray(volts[net(layer.name, "gp", i)], dtype=np.float64) / vu
    if total is None:
        raise InternalCompilerError("circuit_energy: the circuit has no layers")
    coef = energy_coefficients(circuit, selects)
    for (p, q), c in coef.pairs:
        total = total + c * g[p] * g[q]
    for p, c in coef.bias:
        total = total + c * g[p]
    return np.asarray(total, dtype=np.float64)
