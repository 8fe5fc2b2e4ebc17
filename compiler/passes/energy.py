"""Energy analysis: check the declared energy has the supported form and derive the dynamics.

Contract. Input: an elaborated `ModelGraph`. Output: `graph.dynamics` filled with one
`LayerDynamics` per layer, `drive` edges between layers, and a list of warnings. Errors (raised
together as one `DenseAMCError`): a layer without its `legendre` term or with two, a non-convex
Lagrangian, a bilinear term whose weights are not [|a|, |b|], a bias whose length is not |layer|.

The dynamics are the gradient flow in activation coordinates, tau_x dx/dt = -dE/dg(x). With the
energy convention of `ir/model.py` (E += coef * g_a^T W g_b and E += coef * w^T g):

    -dE/dg_a = -coef * W g_b        -dE/dg_b = -coef * W^T g_a        -dE/dg = -coef * w

and d legendre(x)/dg(x) = x, which gives the leak `- x`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from denseamc.ir import (
    BiasDrive,
    BiasTerm,
    BilinearTerm,
    DenseAMCError,
    Diagnostic,
    Drive,
    LayerDynamics,
    LegendreTerm,
    ModelGraph,
    error,
    warning,
)
from denseamc.ir.model import Array, LayerOp, WeightsOp
from denseamc.ir.span import Span


@dataclass(frozen=True)
class AnalyzeEnergy:
    """Check the energy's form and convexity, warn on unboundedness, derive the dynamics."""

    name: ClassVar[str] = "analyze-energy"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, graph: ModelGraph, /) -> list[Diagnostic]:
        errors = check_form(graph)
        if errors:
            raise DenseAMCError(errors)
        derive_dynamics(graph)
        return check_bounded(graph) + check_clamps(graph)


def check_form(graph: ModelGraph) -> list[Diagnostic]:
    """Return every violation of the supported energy form."""
    diags: list[Diagnostic] = []
    legendres: dict[str, list[LegendreTerm]] = defaultdict(list)
    for term in graph.terms():
        if isinstance(term, LegendreTerm):
            legendres[term.layer].append(term)
        elif isinstance(term, BilinearTerm):
            want = (graph.layer(term.a).size, graph.layer(term.b).size)
            got = graph.weights(term.weights).shape
            if got != want:
                diags.append(error(
                    f"weights '{term.weights}' are {list(got)} but {term.a} @ {term.weights} @ "
                    f"{term.b} needs [{want[0]}, {want[1]}] (|{term.a}|, |{term.b}|)",
                    term.loc,
                ))
        elif isinstance(term, BiasTerm):
            size = graph.layer(term.layer).size
            got = graph.weights(term.weights).shape
            if got != (size,):
                diags.append(error(
                    f"bias '{term.weights}' has shape {list(got)} but layer '{term.layer}' "
                    f"has {size} neurons",
                    term.loc,
                ))
    for layer in graph.layers():
        problem = layer.lagrangian.convexity_problem()
        if problem:
            diags.append(error(f"layer '{layer.name}': {problem}", layer.loc))
        if layer.tau < 0 or not np.isfinite(layer.tau):
            diags.append(error(f"layer '{layer.name}' has tau = {layer.tau!r}; need tau >= 0",
                               layer.loc))
        found = legendres.get(layer.name, [])
        if not found:
            diags.append(error(
                f"the energy has no legendre({layer.name}) term; every layer needs exactly one",
                layer.loc,
                f"add '+ legendre({layer.name})' to the energy statement",
            ))
        for extra in found[1:]:
            diags.append(error(f"legendre({layer.name}) appears more than once", extra.loc))
    return diags


def derive_dynamics(graph: ModelGraph) -> None:
    """Fill `graph.dynamics` with -dE/dg for each layer and add the `drive` edges."""
    drives: dict[str, list[Drive]] = defaultdict(list)
    biases: dict[str, list[BiasDrive]] = defaultdict(list)
    for term in graph.terms():
        if isinstance(term, BilinearTerm):
            drives[term.a].append(Drive(term.b, term.weights, -term.coef, False, term.loc))
            drives[term.b].append(Drive(term.a, term.weights, -term.coef, True, term.loc))
        elif isinstance(term, BiasTerm):
            biases[term.layer].append(BiasDrive(term.weights, -term.coef, term.loc))
    graph.dynamics = {
        layer.name: LayerDynamics(
            layer.name, layer.tau, tuple(drives[layer.name]), tuple(biases[layer.name])
        )
        for layer in graph.layers()
    }
    for target, ds in drives.items():
        for d in ds:
            if d.source not in graph.drive_sources(target):
                graph.add_drive_edge(d.source, target)


def check_clamps(graph: ModelGraph) -> list[Diagnostic]:
    """Warn where a clamp breaks the descent guarantee.

    Descent needs every clamped neuron's activation to stay fixed. Elementwise activations do;
    a softmax couples its neurons, so the activations of clamped neurons still move when the
    free ones do, and E may rise.
    """
    diags = []
    for inp in graph.inputs():
        if inp.mode != "clamp" or inp.layer is None:
            continue
        layer = graph.layer(inp.layer)
        if not layer.lagrangian.elementwise and len(inp.indices) < layer.size:
            diags.append(warning(
                f"clamping part of softmax layer '{layer.name}' breaks the energy-descent "
                "guarantee: the clamped neurons' activations still move with the free ones",
                inp.loc,
                "clamp the whole layer, or clamp a layer with an elementwise activation",
            ))
    return diags


def check_bounded(graph: ModelGraph) -> list[Diagnostic]:
    """Warn where E may be unbounded below, with the reason.

    Bounded activations (tanh, sigmoid, softmax) cannot make E unbounded. Identity and ReLU
    layers have legendre = |g|^2/2, so on those layers E restricted to the couplings among them is
    the quadratic form g^T (I + M) g / 2, M the symmetric coupling matrix: bounded when I + M is
    positive definite (for ReLU layers, g >= 0 makes this sufficient, not necessary). A rectpoly
    layer with n > 2 coupled to an unbounded layer grows faster than that layer's legendre.
    """
    unbounded = [lay for lay in graph.layers() if not lay.lagrangian.bounded]
    quadratic = [lay for lay in unbounded if lay.lagrangian.quadratic]
    names = {lay.name for lay in unbounded}
    diags: list[Diagnostic] = []
    for term in graph.terms():
        if not isinstance(term, BilinearTerm) or term.a not in names or term.b not in names:
            continue
        for side in (term.a, term.b):
            lag = graph.layer(side).lagrangian
            if lag.superquadratic:
                diags.append(warning(
                    f"the energy may be unbounded below: rectpoly layer '{side}' (n = "
                    f"{lag.param!r} > 2) is coupled to an unbounded layer by '{term.weights}'",
                    term.loc,
                    "its interaction grows faster than the other layer's legendre term",
                ))
    lam, loc, selected = _quadratic_min_eigenvalue(graph, quadratic)
    if lam is not None and lam <= 1e-9:
        what = "a bound on the largest singular value" if selected else "the coupling"
        diags.append(warning(
            "the energy may be unbounded below: among the identity/relu layers "
            f"({', '.join(lay.name for lay in quadratic)}) {what} makes I + M indefinite "
            f"(smallest eigenvalue {lam:.4g})",
            loc,
            "for one bilinear block this means the largest singular value of its weights is "
            ">= 1; scale the weights below 1",
        ))
    return diags


def _quadratic_min_eigenvalue(
    graph: ModelGraph, quadratic: Sequence[LayerOp]
) -> tuple[float | None, Span | None, bool]:
    """Smallest eigenvalue of I + M over the quadratic layers (None if they are uncoupled)."""
    offsets: dict[str, int] = {}
    total = 0
    for lay in quadratic:
        offsets[lay.name] = total
        total += lay.size
    m = np.zeros((total, total))
    loc: Span | None = None
    coupled, selected = False, False
    for term in graph.terms():
        if not isinstance(term, BilinearTerm):
            continue
        if term.a not in offsets or term.b not in offsets:
            continue
        w_op = graph.weights(term.weights)
        w = _worst_case_matrix(w_op)
        selected = selected or w_op.is_selected
        ia, ib = offsets[term.a], offsets[term.b]
        block = np.zeros((total, total))
        block[ia:ia + w.shape[0], ib:ib + w.shape[1]] = term.coef * w
        m += block + block.T
        loc = loc or term.loc
        coupled = True
    if not coupled:
        return None, None, False
    return float(np.linalg.eigvalsh(np.eye(total) + m).min()), loc, selected


def _worst_case_matrix(w_op: WeightsOp) -> Array:
    """The weights, or for selected rows (chosen at run time) a matrix with a spectral norm no
    smaller than any choice's: sqrt(rows) * the largest table row norm, on the diagonal."""
    table = w_op.table
    if not w_op.is_selected or table is None:
        return np.asarray(w_op.value, dtype=np.float64)
    rows = w_op.shape[0]
    norm = np.sqrt(rows) * np.linalg.norm(table.reshape(len(table), -1), axis=1).max()
    w = np.zeros(w_op.shape)
    k = min(w.shape)
    w[np.arange(k), np.arange(k)] = norm
    return w
