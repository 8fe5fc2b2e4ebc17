"""The model's dynamics linearised at a state: the slowest rate, from which latency follows.

J = d/dx [(target(x) - x) / tau] over the free neurons of the layers with tau > 0 (tau = 0
layers solved algebraically at each x, clamped neurons held), exactly, from each Lagrangian's
`jacobian`. The slowest rate is r = min(-Re eig J), per model time unit; settling to
`SETTLE_TOL` (the simulators' settle band) takes ln(1 / SETTLE_TOL) / r model time units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from denseamc.ir import ModelGraph


def _weights(graph: ModelGraph, name: str, selects: Mapping[str, Any]) -> np.ndarray:
    w = graph.weights(name)
    if not w.is_selected or w.select is None:
        return np.asarray(w.value)
    sel = {w.select: np.asarray(selects[w.select], dtype=np.int64)[None, :]}
    out: np.ndarray = np.asarray(w.resolve(sel))[0]
    return out


def _coupling(graph: ModelGraph, x: Mapping[str, np.ndarray], selects: Mapping[str, Any],
              offsets: Mapping[str, int], n: int) -> np.ndarray:
    """M = d target / dx over every neuron (layers stacked in declaration order): the drive
    weights times each source's activation Jacobian `Lagrangian.jacobian`."""
    m = np.zeros((n, n))
    for lay in graph.layers():
        rows = slice(offsets[lay.name], offsets[lay.name] + lay.size)
        for d in graph.dynamics[lay.name].drives:
            src = graph.layer(d.source)
            w = _weights(graph, d.weights, selects)
            jac = src.lagrangian.jacobian(np.asarray(x[src.name], dtype=np.float64))
            cols = slice(offsets[src.name], offsets[src.name] + src.size)
            m[rows, cols] += d.coef * ((w.T if d.transpose else w) @ jac)
    return m


def slowest_rate(graph: ModelGraph, final: Mapping[str, np.ndarray],
                 selects: Mapping[str, Any], clamped: Mapping[str, Sequence[int]]) -> float:
    """min(-Re eig J) of the linearised model dynamics at state `final` (one vector), 1/model-t.

    With M = d target / dx, the tau = 0 neurons a follow the others d (dx_a = (I - M_aa)^-1
    M_ad dx_d, the derivative of their fixed point), so over the free neurons f of the tau > 0
    layers J = diag(1 / tau) (M_fd + M_fa (I - M_aa)^-1 M_ad - I_fd), restricted to columns f.
    """
    layers = list(graph.layers())
    offsets, n = {}, 0
    for lay in layers:
        offsets[lay.name] = n
        n += lay.size
    free = [offsets[lay.name] + i for lay in layers if lay.tau > 0
            for i in range(lay.size) if i not in set(clamped[lay.name])]
    if not free:
        return math.inf
    tau = np.array([lay.tau for lay in layers for _ in range(lay.size)])
    adi = [k for k in range(n) if tau[k] == 0]
    m = _coupling(graph, final, selects, offsets, n)
    total = m[np.ix_(free, free)] - np.eye(len(free))
    if adi:
        follow = np.linalg.solve(np.eye(len(adi)) - m[np.ix_(adi, adi)], m[np.ix_(adi, free)])
        total += m[np.ix_(free, adi)] @ follow
    jac = total / tau[free][:, None]
    return float(np.min(-np.linalg.eigvals(jac).real))
