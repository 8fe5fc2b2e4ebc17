"""The energy of a lowered circuit, read back from its node voltages and conductances.

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

A realised circuit (compiler/passes/realise.py) is read with its realised devices, through each
array's exact terminal map when wires have resistance (`ir_drop`: G_eff instead of G). Its
forward and transposed arrays differ, so M is not symmetric; a pair's coefficient is the mean of
the two directions, the energy of the coupling's symmetric part (the antisymmetric part does no
work on a gradient flow and has no energy). Amplifier offsets, C_F mismatch and activation gain
and offset errors are not in this energy: it is the nominal Lagrangians' energy of the realised
couplings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from denseamc.backends.ir_drop import crossbar_map, selected_map
from denseamc.ir import InternalCompilerError
from denseamc.ir.circuit import CircuitIR, net
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]
NeuronKey = tuple[int, int]  # (layer position in circuit.layers, neuron index)


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
    keys: list[IntArray] = []
    values: list[Array] = []

    def add(target: str, t: IntArray, source: str, s: IntArray, value: Array) -> None:
        keys.append((offset[pos[target]] + t) * n_all + offset[pos[source]] + s)
        values.append(value)

    s = circuit.scaling
    for xb in circuit.crossbars:
        sign = 1.0 if xb.polarity == "pos" else -1.0
        r_f = s.r_f_of(xb.target)
        g_eff = np.asarray(crossbar_map(xb)[0], dtype=np.float64)
        rr, cc = np.nonzero(g_eff)
        add(xb.target, np.asarray(xb.col_index, dtype=np.int64)[cc], xb.source,
            np.asarray(xb.row_index, dtype=np.int64)[rr], sign * r_f * g_eff[rr, cc])
    for sx in circuit.selected_crossbars:
        if selects is None or sx.select not in selects:
            raise InternalCompilerError(f"energy of {sx.name} needs select input {sx.select!r}")
        g = selected_map(sx, np.asarray(selects[sx.select], dtype=np.int64)[None, :])[0][0]
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


@dataclass(frozen=True)
class SelectedEnergy:
    """The interaction energy as a function of the select levels, for a probe that reads them:

        E_interaction = base + sum over (select, element j, option k) of
                        on(select, j, k) * options[(select, j, k)]

    `base` is `energy_coefficients` with every select element on option 0; `options[(s, j,
    k)]` (k >= 1) is what switching element j of select input s from option 0 to option k adds
    (pairs only, zero entries left out), and on(s, j, k) is 1 when switch k of element j is
    closed. Exact whenever each selected line's devices depend on its own element only (they
    do: one star per line, `ir_drop.switched`) and a pair's set of coupling directions does
    not change with the selection (finite r_off keeps every option's devices in the map).
    """

    base: EnergyCoefficients
    options: dict[tuple[str, int, int], tuple[tuple[tuple[NeuronKey, NeuronKey], float], ...]]


def selected_energy(circuit: CircuitIR) -> SelectedEnergy:
    """`SelectedEnergy` of `circuit`: one `energy_coefficients` per (element, option >= 1),
    each against the all-zero selection."""
    elements: dict[str, int] = {}
    n_options: dict[str, int] = {}
    for sx in circuit.selected_crossbars:
        elements[sx.select] = max(elements.get(sx.select, 0), max(sx.lines) + 1)
        n_options[sx.select] = max(n_options.get(sx.select, 0), sx.n_options)
    zero = {s: [0] * n for s, n in elements.items()}
    base = energy_coefficients(circuit, zero)
    base_pairs = dict(base.pairs)
    options: dict[tuple[str, int, int], tuple[tuple[tuple[NeuronKey, NeuronKey], float], ...]]
    options = {}
    for s in sorted(elements):
        for j in range(elements[s]):
            for k in range(1, n_options[s]):
                sel = {**zero, s: [k if e == j else 0 for e in range(elements[s])]}
                pairs = dict(energy_coefficients(circuit, sel).pairs)
                delta = tuple((key, pairs.get(key, 0.0) - base_pairs.get(key, 0.0))
                              for key in sorted(set(pairs) | set(base_pairs)))
                options[(s, j, k)] = tuple((key, d) for key, d in delta if d != 0.0)
    return SelectedEnergy(base, options)
