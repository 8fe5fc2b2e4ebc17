"""Build small ModelGraphs by hand for the simulator tests (no .dam front end needed).

`fill_dynamics` derives `graph.dynamics` straight from the energy convention of ir/model.py,
independently of compiler/passes/energy.py: a bilinear term E += coef * g_a^T W g_b drives a with
-coef * W g_b and b with -coef * W^T g_a; a bias E += coef * w.g drives its layer with -coef * w.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from denseamc.ir import (
    BiasDrive,
    BiasTerm,
    BilinearTerm,
    Drive,
    InputOp,
    Lagrangian,
    LayerDynamics,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    OutputOp,
    WeightsOp,
    frozen_array,
)


def fill_dynamics(graph: ModelGraph) -> ModelGraph:
    drives: dict[str, list[Drive]] = {lay.name: [] for lay in graph.layers()}
    biases: dict[str, list[BiasDrive]] = {lay.name: [] for lay in graph.layers()}
    for term in graph.terms():
        if isinstance(term, BilinearTerm):
            drives[term.a].append(Drive(term.b, term.weights, -term.coef, False))
            drives[term.b].append(Drive(term.a, term.weights, -term.coef, True))
        elif isinstance(term, BiasTerm):
            biases[term.layer].append(BiasDrive(term.weights, -term.coef))
    graph.dynamics = {
        lay.name: LayerDynamics(lay.name, lay.tau, tuple(drives[lay.name]),
                                tuple(biases[lay.name]))
        for lay in graph.layers()
    }
    return graph


@dataclass
class Spec:
    """A declarative model: layers, bilinear terms, biases, inputs, outputs."""

    layers: list[tuple[str, int, Lagrangian, float, str]] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    selected: dict[str, tuple[np.ndarray, str]] = field(default_factory=dict)
    bilinear: list[tuple[float, str, str, str]] = field(default_factory=list)
    bias: list[tuple[float, str, str]] = field(default_factory=list)
    inputs: list[tuple[str, int, str, str | None, Sequence[int]]] = field(default_factory=list)
    outputs: list[OutputOp] = field(default_factory=list)
    readout_t: float = 1.0


def build(spec: Spec, name: str = "m") -> ModelGraph:
    g = ModelGraph(name, readout_t=spec.readout_t)
    for lname, n, lag, tau, init in spec.layers:
        g.add(LayerOp(lname, n, lag, tau, "settled" if init == "settled" else "zero"))
    for iname, size, mode, layer, idx in spec.inputs:
        g.add(InputOp(iname, size, mode, layer, tuple(idx)))  # type: ignore[arg-type]
    for wname, w in spec.weights.items():
        arr = frozen_array(w)
        g.add(WeightsOp(wname, arr.shape, value=arr))
    for wname, (table, sel) in spec.selected.items():
        t = frozen_array(table)
        rows = g.input(sel).size
        g.add(WeightsOp(wname, (rows, *t.shape[1:]), table=t, select=sel))
    for lname, *_ in spec.layers:
        g.add(LegendreTerm(lname))
    for coef, a, w, b in spec.bilinear:
        g.add(BilinearTerm(coef, a, w, b))
    for coef, w, layer in spec.bias:
        g.add(BiasTerm(coef, w, layer))
    for o in spec.outputs:
        g.add(o)
    return fill_dynamics(g)


def hopfield(
    n_v: int,
    n_h: int,
    *,
    beta: float = 2.0,
    tau_v: float = 1.0,
    tau_h: float = 0.1,
    seed: int = 0,
    hidden: Lagrangian | None = None,
    visible: Lagrangian | None = None,
    init: str = "init",
    readout_t: float = 1.0,
) -> ModelGraph:
    """Two-layer DenseAM: E = legendre(v) + legendre(h) - h @ xi @ v, memories +-1/sqrt(n_v)."""
    rng = np.random.default_rng(seed)
    xi = rng.choice([-1.0, 1.0], size=(n_h, n_v)) / np.sqrt(n_v)
    spec = Spec(
        layers=[("v", n_v, visible or Lagrangian("identity"), tau_v, "zero"),
                ("h", n_h, hidden or Lagrangian("softmax", beta), tau_h, "zero")],
        weights={"xi": xi},
        bilinear=[(-1.0, "h", "xi", "v")],
        inputs=[("cue", n_v, init, "v", range(n_v))],
        outputs=[OutputOp("y", n_v, "sign", "v", tuple(range(n_v)))],
        readout_t=readout_t,
    )
    return build(spec)


LAGRANGIANS = {
    "identity": Lagrangian("identity"),
    "tanh": Lagrangian("tanh", 1.5),
    "sigmoid": Lagrangian("sigmoid", 2.0),
    "relu": Lagrangian("relu"),
    "softmax": Lagrangian("softmax", 2.0),
    "rectpoly3": Lagrangian("rectpoly", 3.0),
}


def random_model(
    rng: np.random.Generator,
    *,
    n_layers: int = 3,
    max_size: int = 5,
    kinds: Sequence[str] = tuple(LAGRANGIANS),
    convex_bounded: bool = True,
    taus: Sequence[float] = (1.0, 0.3, 0.05),
    bias_prob: float = 0.5,
    coupling: float = 0.5,
    clamp_prob: float = 0.0,
    clamp_softmax: bool = False,
) -> tuple[ModelGraph, dict[str, np.ndarray]]:
    """A random small model and a matching batch of random inputs (batch size 4).

    Layers alternate between the given Lagrangian kinds; every adjacent pair is coupled by a
    random bilinear term. With `convex_bounded` the unbounded pairs (identity/relu/rectpoly with
    each other) are kept weak (spectral norm < 0.5) so that E stays bounded below.

    Clamps go on elementwise layers only unless `clamp_softmax`: clamping some neurons of a
    softmax layer breaks energy descent (the clamped neurons' activations still move, and they are
    not at equilibrium), so the energy-descent property test must avoid it.
    """
    layers = []
    names = []
    for i in range(n_layers):
        kind = kinds[int(rng.integers(len(kinds)))]
        n = int(rng.integers(1, max_size + 1)) if kind != "softmax" else int(
            rng.integers(2, max_size + 1))
        tau = float(taus[int(rng.integers(len(taus)))])
        name = f"l{i}"
        names.append(name)
        layers.append((name, n, LAGRANGIANS[kind], tau, "zero"))
    spec = Spec(layers=layers)
    for i in range(n_layers - 1):
        a, b = layers[i], layers[i + 1]
        w = rng.normal(size=(a[1], b[1]))
        w *= coupling / max(1e-9, np.linalg.norm(w, 2))
        spec.weights[f"w{i}"] = w
        spec.bilinear.append((-1.0, a[0], f"w{i}", b[0]))
    for i, (name, n, *_rest) in enumerate(layers):
        if rng.random() < bias_prob:
            spec.weights[f"b{i}"] = rng.normal(size=n) * 0.5
            spec.bias.append((-1.0, f"b{i}", name))
    # every layer gets an init input over all its neurons (possibly a clamp on the first neuron)
    for name, n, *_rest in layers:
        soft = spec.layers[[x[0] for x in spec.layers].index(name)][2].kind == "softmax"
        if clamp_prob and n > 1 and rng.random() < clamp_prob and (clamp_softmax or not soft):
            spec.inputs.append((f"c_{name}", 1, "clamp", name, [0]))
            spec.inputs.append((f"i_{name}", n - 1, "init", name, range(1, n)))
        else:
            spec.inputs.append((f"i_{name}", n, "init", name, range(n)))
    g = build(spec)
    batch = 4
    inputs = {i.name: rng.normal(size=(batch, i.size)) for i in g.inputs()}
    return g, inputs
