"""Read a model simulation out: decoded outputs and the energy, from layer states.

Both work on states (layer -> (B, n)) from any backend, so the circuit and netlist backends use
them too. E = sum legendre(x) + sum coef g_a^T W g_b + sum coef w.g.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from denseamc.backends.inputs import as_batch, check_select, model_select_tables
from denseamc.ir import BiasTerm, BilinearTerm, LegendreTerm, ModelGraph
from numpy.typing import NDArray

Array = NDArray[np.float64]


def decode_outputs(graph: ModelGraph, states: Mapping[str, Array]) -> dict[str, Array]:
    """Decode every output from layer states (B, n): sign(g[idx]) (numpy sign, so 0 -> 0),
    value g[idx], or argmax(decoder @ g[idx] + offset) as a (B, 1) float array."""
    out: dict[str, Array] = {}
    acts: dict[str, Array] = {}
    for o in graph.outputs():
        if o.layer not in acts:
            acts[o.layer] = graph.layer(o.layer).lagrangian.activation(
                np.asarray(states[o.layer], dtype=np.float64))
        g = acts[o.layer]
        out[o.name] = o.decode(g[:, list(o.indices)] if o.indices else g)
    return out


def energy(
    graph: ModelGraph,
    states: Mapping[str, Array],
    selects: Mapping[str, object] | None = None,
) -> Array:
    """E per batch element, shape (B,): sum of legendre(x) + coef g_a^T W g_b + coef w.g.

    `selects` holds the values of the model's select inputs (those its weights need)."""
    acts = {name: graph.layer(name).lagrangian.activation(np.asarray(x, dtype=np.float64))
            for name, x in states.items()}
    batch = next(iter(states.values())).shape[0] if states else 1
    total = np.zeros(batch)
    tables = model_select_tables(graph)
    sel = {i.name: check_select(i, as_batch(selects[i.name]), tables.get(i.name, ()))
           for i in graph.inputs() if i.mode == "select" and selects and i.name in selects}
    for term in graph.terms():
        if isinstance(term, LegendreTerm):
            total += graph.layer(term.layer).lagrangian.legendre(
                np.asarray(states[term.layer], dtype=np.float64))
        elif isinstance(term, BilinearTerm):
            w = graph.weights(term.weights).resolve(sel)
            ga, gb = acts[term.a], acts[term.b]
            if w.ndim == 3:
                total += term.coef * np.einsum("bi,bij,bj->b", ga, w, gb)
            else:
                total += term.coef * np.einsum("bi,bi->b", ga @ w, gb)
        elif isinstance(term, BiasTerm):
            w = graph.weights(term.weights).resolve(sel)
            total += term.coef * np.einsum("...i,bi->b", w, acts[term.layer])
    return total
