"""The model's dynamics linearised at a state: the slowest rate, from which latency follows.

J = d/dx [(target(x) - x) / tau] over the free neurons of the layers with tau > 0 (tau = 0
layers solved algebraically at each x, clamped neurons held), by central differences. The
slowest rate is r = min(-Re eig J), per model time unit; settling to `SETTLE_EPS` takes
ln(1 / SETTLE_EPS) / r model time units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from denseamc.ir import ModelGraph

# shared: settle — the settle tolerance the simulators' settle time also uses.
SETTLE_EPS = 1e-3


def _weights(graph: ModelGraph, name: str, selects: Mapping[str, Any]) -> np.ndarray:
    w = graph.weights(name)
    if not w.is_selected or w.select is None:
        return np.asarray(w.value)
    sel = {w.select: np.asarray(selects[w.select], dtype=np.int64)[None, :]}
    out: np.ndarray = np.asarray(w.resolve(sel))[0]
    return out


# shared: model RHS — the simulators compute the same drive targets.
def _targets(graph: ModelGraph, x: dict[str, np.ndarray], selects: Mapping[str, Any]
             ) -> dict[str, np.ndarray]:
    acts = {lay.name: lay.lagrangian.activation(x[lay.name]) for lay in graph.layers()}
    out = {}
    for lay in graph.layers():
        dyn = graph.dynamics[lay.name]
        tot = np.zeros(lay.size)
        for d in dyn.drives:
            w = _weights(graph, d.weights, selects)
            tot += d.coef * ((w.T if d.transpose else w) @ acts[d.source])
        for b in dyn.biases:
            tot += b.coef * _weights(graph, b.weights, selects)
        out[lay.name] = tot
    return out


def slowest_rate(graph: ModelGraph, final: Mapping[str, np.ndarray],
                 selects: Mapping[str, Any], clamped: Mapping[str, Sequence[int]]) -> float:
    """min(-Re eig J) of the linearised model dynamics at state `final` (one vector), 1/model-t."""
    layers = list(graph.layers())
    dyn = [lay for lay in layers if lay.tau > 0]
    free = [(lay, i) for lay in dyn for i in range(lay.size) if i not in set(clamped[lay.name])]
    if not free:
        return math.inf

    def f(x: dict[str, np.ndarray]) -> np.ndarray:
        x = {k: v.copy() for k, v in x.items()}
        adi = [lay for lay in layers if lay.tau == 0]
        # shared: fixed-point solve — the tau = 0 layers, as the simulators settle them.
        for _ in range(200 if adi else 0):
            t = _targets(graph, x, selects)
            change = max(float(np.max(np.abs(t[a.name] - x[a.name]), initial=0)) for a in adi)
            for a in adi:
                x[a.name] = t[a.name]
            if change < 1e-13:
                break
        t = _targets(graph, x, selects)
        return np.array([(t[lay.name][i] - x[lay.name][i]) / lay.tau for lay, i in free])

    base = {k: np.asarray(v, dtype=np.float64).copy() for k, v in final.items()}
    jac = np.zeros((len(free), len(free)))
    for col, (lay, i) in enumerate(free):
        h = 1e-6 * max(1.0, abs(base[lay.name][i]))
        xp = {k: v.copy() for k, v in base.items()}
        xm = {k: v.copy() for k, v in base.items()}
        xp[lay.name][i] += h
        xm[lay.name][i] -= h
        jac[:, col] = (f(xp) - f(xm)) / (2 * h)
    return float(np.min(-np.linalg.eigvals(jac).real))
