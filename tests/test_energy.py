"""Energy analysis: the derived dynamics are -dE/dg, and malformed energies are located errors."""

from __future__ import annotations

import numpy as np
import pytest
from denseamc.compiler.passes.energy import AnalyzeEnergy
from denseamc.ir import (
    BiasTerm,
    BilinearTerm,
    DenseAMCError,
    Lagrangian,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    Severity,
    WeightsOp,
    frozen_array,
)


def two_layer(w: np.ndarray, hidden: str = "softmax", param: float | None = 1.0,
              coef: float = -1.0) -> ModelGraph:
    g = ModelGraph("t")
    n_h, n_v = w.shape
    g.add(LayerOp("v", n_v, Lagrangian("identity"), tau=1.0))
    g.add(LayerOp("h", n_h, Lagrangian(hidden, param), tau=0.1))
    g.add(WeightsOp("w", w.shape, value=frozen_array(w)))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("h"))
    g.add(BilinearTerm(coef, "h", "w", "v"))
    return g


def drive(graph: ModelGraph, layer: str, acts: dict[str, np.ndarray]) -> np.ndarray:
    d = graph.dynamics[layer]
    total = np.zeros(graph.layer(layer).size)
    for dr in d.drives:
        w = graph.weights(dr.weights).resolve()
        total += dr.coef * ((w.T if dr.transpose else w) @ acts[dr.source])
    for b in d.biases:
        total += b.coef * graph.weights(b.weights).resolve()
    return total


def interaction_energy(graph: ModelGraph, acts: dict[str, np.ndarray]) -> float:
    e = 0.0
    for t in graph.terms():
        if isinstance(t, BilinearTerm):
            e += t.coef * acts[t.a] @ graph.weights(t.weights).resolve() @ acts[t.b]
        elif isinstance(t, BiasTerm):
            e += t.coef * graph.weights(t.weights).resolve() @ acts[t.layer]
    return float(e)


def test_drives_are_minus_energy_gradient_in_activation_coordinates() -> None:
    rng = np.random.default_rng(1)
    g = ModelGraph("t")
    g.add(LayerOp("a", 3, Lagrangian("identity")))
    g.add(LayerOp("b", 4, Lagrangian("tanh", 2.0)))
    for name, shape in [("w", (3, 4)), ("s", (3, 3)), ("c", (4,))]:
        g.add(WeightsOp(name, shape, value=frozen_array(rng.normal(size=shape))))
    g.add(LegendreTerm("a"))
    g.add(LegendreTerm("b"))
    g.add(BilinearTerm(-0.7, "a", "w", "b"))
    g.add(BilinearTerm(0.3, "a", "s", "a"))
    g.add(BiasTerm(-2.0, "c", "b"))
    AnalyzeEnergy().run(g)
    acts = {"a": rng.normal(size=3), "b": rng.normal(size=4)}
    eps = 1e-6
    for layer in ("a", "b"):
        grad = np.zeros_like(acts[layer])
        for i in range(len(grad)):
            up = {k: v.copy() for k, v in acts.items()}
            dn = {k: v.copy() for k, v in acts.items()}
            up[layer][i] += eps
            dn[layer][i] -= eps
            grad[i] = (interaction_energy(g, up) - interaction_energy(g, dn)) / (2 * eps)
        # E is at most quadratic in each g, so central differences are exact up to rounding,
        # ~1e-16 |E| / eps (measured 9e-10)
        np.testing.assert_allclose(drive(g, layer, acts), -grad, atol=1e-8)
    assert g.drive_sources("b") == ["a"]
    assert g.drive_sources("a") == ["a", "b"]


def test_missing_legendre_is_an_error() -> None:
    g = two_layer(np.ones((2, 3)))
    g2 = ModelGraph("t")
    for op in [g.layer("v"), g.layer("h"), g.weights("w"), LegendreTerm("v"),
               BilinearTerm(-1.0, "h", "w", "v")]:
        g2.add(op)
    with pytest.raises(DenseAMCError, match=r"no legendre\(h\) term"):
        AnalyzeEnergy().run(g2)


def test_duplicate_legendre_and_shape_mismatch_are_all_reported() -> None:
    g = ModelGraph("t")
    g.add(LayerOp("v", 3, Lagrangian("identity")))
    g.add(LayerOp("h", 2, Lagrangian("relu")))
    g.add(WeightsOp("w", (3, 2), value=frozen_array(np.ones((3, 2)))))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("h"))
    g.add(BilinearTerm(-1.0, "h", "w", "v"))
    with pytest.raises(DenseAMCError) as info:
        AnalyzeEnergy().run(g)
    messages = [d.message for d in info.value.diagnostics]
    assert any("legendre(v) appears more than once" in m for m in messages)
    assert any("needs [2, 3]" in m for m in messages)


def test_nonconvex_lagrangian_is_an_error() -> None:
    g = two_layer(np.ones((2, 3)), hidden="tanh", param=-1.0)
    with pytest.raises(DenseAMCError, match="gain > 0"):
        AnalyzeEnergy().run(g)


@pytest.mark.parametrize("scale, warns", [(0.9, False), (1.1, True)])
def test_relu_block_unbounded_warning_follows_largest_singular_value(scale: float,
                                                                     warns: bool) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 4))
    w *= scale / np.linalg.svd(w, compute_uv=False)[0]
    diags = AnalyzeEnergy().run(two_layer(w, hidden="relu", param=None))
    unbounded = [d for d in diags if "unbounded" in d.message]
    assert bool(unbounded) is warns
    assert all(d.severity is Severity.WARNING for d in diags)


def test_softmax_block_is_never_flagged_unbounded() -> None:
    assert AnalyzeEnergy().run(two_layer(100 * np.ones((3, 2)))) == []


def test_rectpoly_above_two_on_identity_layer_warns() -> None:
    diags = AnalyzeEnergy().run(two_layer(0.01 * np.ones((3, 2)), hidden="rectpoly", param=3.0))
    assert any("rectpoly layer 'h'" in d.message for d in diags)


def test_partial_clamp_of_softmax_layer_warns() -> None:
    from denseamc.ir import InputOp

    g = two_layer(np.ones((3, 2)))
    g.add(InputOp("x", 1, "clamp", "h", (0,)))
    diags = AnalyzeEnergy().run(g)
    assert any("clamping part of softmax layer 'h'" in d.message for d in diags)
