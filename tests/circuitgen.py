"""Hand-built models for the lowering and circuit tests (no parser needed), and a reference ODE.

`xor_graph`, `hamming_graph` and `parity_like_graph` mirror the normative programs; `random_graph`
builds a small model from a seed (for hypothesis). Every builder runs the energy analysis, so
`graph.dynamics` is filled. `reference_simulate` integrates the model ODE directly with scipy, as
an oracle independent of backends/sim/.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from denseamc.compiler.passes.energy import AnalyzeEnergy
from denseamc.ir import (
    BiasTerm,
    BilinearTerm,
    HardwareSetting,
    InputOp,
    Lagrangian,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    OutputOp,
    SourceFile,
    Span,
    TestBlock,
    TestVector,
    WeightsOp,
    frozen_array,
)
from denseamc.ir.circuit import CircuitIR, read_only
from denseamc.ir.lagrangians import BOUNDED
from scipy.integrate import solve_ivp

SRC = SourceFile("gen.dam", "\n".join(f"line {i}" for i in range(1, 60)) + "\n")


def at(line: int) -> Span:
    """A span at the start of a line of the fake source file."""
    start = SRC._line_starts[line - 1]
    return Span(SRC, start, start + 4)


def finish(g: ModelGraph) -> ModelGraph:
    AnalyzeEnergy().run(g)
    return g


def xor_graph(hardware: Mapping[str, object] | None = None) -> ModelGraph:
    g = ModelGraph("xor", readout_t=1.0, source_name="gen.dam")
    xi = np.array([[-1, -1, -1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]], dtype=float)
    g.add(LayerOp("v", 3, Lagrangian("identity"), tau=0.1, loc=at(3)))
    g.add(LayerOp("h", 4, Lagrangian("softmax", 2.0), tau=0.01, loc=at(4)))
    g.add(WeightsOp("xi", (4, 3), value=frozen_array(xi), loc=at(5)))
    g.add(LegendreTerm("v", loc=at(6)))
    g.add(LegendreTerm("h", loc=at(6)))
    g.add(BilinearTerm(-1.0, "h", "xi", "v", loc=at(6)))
    g.add(InputOp("x", 2, "clamp", "v", (0, 1), loc=at(7)))
    g.add(OutputOp("y", 1, "sign", "v", (2,), loc=at(8)))
    rows = [([-1, -1], [-1]), ([-1, 1], [1]), ([1, -1], [1]), ([1, 1], [-1])]
    g.tests.append(TestBlock("truth table", tuple(
        TestVector({"x": frozen_array(a)}, {"y": frozen_array(b)}) for a, b in rows)))
    for k, v in (hardware or {}).items():
        g.hardware[k] = HardwareSetting(k, v, at(9))  # type: ignore[arg-type]
    return finish(g)


def hamming_codewords() -> np.ndarray:
    gen = np.array([[1, 0, 0, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1],
                    [0, 0, 1, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1]])
    words = [(np.array(d) @ gen) % 2 for d in itertools.product([0, 1], repeat=4)]
    return 2.0 * np.array(words) - 1.0


def hamming_graph() -> ModelGraph:
    g = ModelGraph("hamming74", readout_t=2.0)
    g.add(LayerOp("v", 7, Lagrangian("identity"), tau=0.1, loc=at(3)))
    g.add(LayerOp("h", 16, Lagrangian("softmax", 1.0), tau=0.01, loc=at(4)))
    g.add(WeightsOp("code", (16, 7), value=frozen_array(hamming_codewords()), loc=at(5)))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("h"))
    g.add(BilinearTerm(-1.0, "h", "code", "v", loc=at(6)))
    g.add(InputOp("r", 7, "init", "v", tuple(range(7)), loc=at(7)))
    g.add(OutputOp("data", 4, "sign", "v", (0, 1, 2, 3), loc=at(8)))
    return finish(g)


def parity_like_graph(seed: int = 0, scale: float = 0.3, signed: bool = False) -> ModelGraph:
    """The parity8 architecture with random non-negative weights (not trained); `signed`: the
    selected table has both signs and zeros."""
    rng = np.random.default_rng(seed)
    g = ModelGraph("parity_like", readout_t=1.0)
    embed = rng.uniform(0, 1, (2, 16)) ** 2 * scale
    if signed:
        embed = np.where(rng.uniform(0, 1, embed.shape) < 0.25, 0.0,
                         embed * rng.choice([-1.0, 1.0], embed.shape))
    mem = rng.uniform(0, 1, (16, 16)) ** 2 * scale * 0.3
    g.add(WeightsOp("embed", (2, 16), value=frozen_array(embed), loc=at(3)))
    g.add(InputOp("bits", 8, "select", loc=at(4)))
    g.add(WeightsOp("ctx", (8, 16), table=frozen_array(embed), select="bits", loc=at(5)))
    g.add(WeightsOp("mem", (16, 16), value=frozen_array(mem), loc=at(6)))
    g.add(WeightsOp("a", (16,), value=frozen_array(rng.normal(0, 0.1, 16)), loc=at(7)))
    g.add(WeightsOp("b", (8,), value=frozen_array(rng.normal(0, 0.1, 8)), loc=at(8)))
    g.add(WeightsOp("c", (16,), value=frozen_array(rng.normal(0, 0.1, 16)), loc=at(9)))
    g.add(LayerOp("v", 16, Lagrangian("identity"), tau=0.1, loc=at(10)))
    g.add(LayerOp("att", 8, Lagrangian("softmax", 0.1), tau=0.01, init="settled", loc=at(11)))
    g.add(LayerOp("hop", 16, Lagrangian("relu"), tau=0.01, init="settled", loc=at(12)))
    for name in ("v", "att", "hop"):
        g.add(LegendreTerm(name))
    g.add(BilinearTerm(-1.0, "att", "ctx", "v", loc=at(13)))
    g.add(BilinearTerm(-1.0, "hop", "mem", "v", loc=at(14)))
    g.add(BiasTerm(-1.0, "a", "v", loc=at(15)))
    g.add(BiasTerm(-1.0, "b", "att", loc=at(15)))
    g.add(BiasTerm(-1.0, "c", "hop", loc=at(15)))
    dec = rng.normal(0, 1, (2, 16))
    g.add(OutputOp("next", 1, "argmax", "v", tuple(range(16)), decoder=frozen_array(dec),
                   offset=frozen_array(np.zeros(2)), loc=at(16)))
    return finish(g)


KINDS = [("identity", None), ("tanh", 1.5), ("sigmoid", 2.0), ("relu", None),
         ("softmax", 1.0), ("rectpoly", 3.0)]


def random_graph(seed: int, *, hidden_kind: tuple[str, float | None] | None = None,
                 adiabatic: bool = False, signed: bool = True, bias: bool = True,
                 clamp: bool = True, init: bool = True) -> ModelGraph:
    """A visible identity layer + a hidden layer of any Lagrangian, small random weights."""
    rng = np.random.default_rng(seed)
    n_v, n_h = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    kind, param = hidden_kind or KINDS[int(rng.integers(len(KINDS)))]
    w = rng.normal(0, 0.5, (n_h, n_v))
    if not signed:
        w = np.abs(w)
    w[np.abs(w) < 0.05] = 0.0
    if kind not in BOUNDED:  # keep E bounded below: largest singular value well below 1
        norm = np.linalg.norm(w, 2)
        if norm > 0.5:
            w *= 0.5 / norm
    g = ModelGraph(f"rand{seed}", readout_t=float(rng.uniform(0.3, 1.0)))
    g.add(LayerOp("v", n_v, Lagrangian("identity"), tau=float(rng.uniform(0.05, 0.2)), loc=at(3)))
    g.add(LayerOp("h", n_h, Lagrangian(kind, param),
                  tau=0.0 if adiabatic else float(rng.uniform(0.01, 0.05)), loc=at(4)))
    g.add(WeightsOp("w", w.shape, value=frozen_array(w), loc=at(5)))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("h"))
    g.add(BilinearTerm(-1.0, "h", "w", "v", loc=at(6)))
    if bias:
        g.add(WeightsOp("bv", (n_v,), value=frozen_array(rng.normal(0, 0.2, n_v)), loc=at(7)))
        g.add(WeightsOp("bh", (n_h,), value=frozen_array(rng.normal(0, 0.2, n_h)), loc=at(8)))
        g.add(BiasTerm(-1.0, "bv", "v", loc=at(9)))
        g.add(BiasTerm(-1.0, "bh", "h", loc=at(9)))
    if clamp:
        g.add(InputOp("x", 1, "clamp", "v", (0,), loc=at(10)))
    if init:
        g.add(InputOp("r", n_v - 1, "init", "v", tuple(range(1, n_v)), loc=at(11)))
    g.add(OutputOp("y", n_v, "value", "v", tuple(range(n_v)), loc=at(12)))
    return finish(g)


def random_inputs(graph: ModelGraph, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for inp in graph.inputs():
        if inp.mode == "select":
            rows = next(w for w in graph.all_weights() if w.select == inp.name).table
            assert rows is not None
            out[inp.name] = rng.integers(0, rows.shape[0], (batch, inp.size)).astype(float)
        else:
            out[inp.name] = rng.uniform(-1, 1, (batch, inp.size))
    return out


# ------------------------------------------------------------------------------------------------
# An independent oracle: the model ODE as written in the spec, integrated by scipy.
# ------------------------------------------------------------------------------------------------


def model_rhs(graph: ModelGraph, states: dict[str, np.ndarray],
              inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """target(x) = sum drives + biases (batch of 1), from the abstract dynamics."""
    acts = {lay.name: lay.lagrangian.activation(states[lay.name]) for lay in graph.layers()}
    sel = {i.name: np.asarray(inputs[i.name], dtype=np.int64)[None, :]
           for i in graph.inputs() if i.mode == "select"}
    out = {}
    for lay in graph.layers():
        d = graph.dynamics[lay.name]
        tot = np.zeros(lay.size)
        for dr in d.drives:
            w = graph.weights(dr.weights).resolve(sel)
            w = w[0] if w.ndim == 3 else w
            tot += dr.coef * ((w.T if dr.transpose else w) @ acts[dr.source])
        for b in d.biases:
            tot += b.coef * graph.weights(b.weights).resolve()
        out[lay.name] = tot
    return out


def reference_simulate(graph: ModelGraph, inputs: Mapping[str, np.ndarray],
                       t_end: float | None = None) -> dict[str, np.ndarray]:
    """States at t_end for ONE input vector (no tau = 0 layers), by scipy's DOP853."""
    layers = graph.layers()
    assert all(lay.tau > 0 for lay in layers)
    sizes = [lay.size for lay in layers]
    offs = np.cumsum([0, *sizes])
    free = np.ones(offs[-1], dtype=bool)
    x0 = np.zeros(offs[-1])
    for inp in graph.inputs():
        if inp.layer is None:
            continue
        k = next(i for i, lay in enumerate(layers) if lay.name == inp.layer)
        idx = offs[k] + np.array(inp.indices)
        x0[idx] = inputs[inp.name]
        if inp.mode == "clamp":
            free[idx] = False

    def unpack(y: np.ndarray) -> dict[str, np.ndarray]:
        return {lay.name: y[offs[k]:offs[k + 1]] for k, lay in enumerate(layers)}

    for k, lay in enumerate(layers):
        if lay.init == "settled":
            tgt = model_rhs(graph, unpack(x0), inputs)[lay.name]
            keep = ~free[offs[k]:offs[k + 1]]
            x0[offs[k]:offs[k + 1]] = np.where(keep, x0[offs[k]:offs[k + 1]], tgt)
            for inp in graph.layer_of_input(lay.name, "init"):
                x0[offs[k] + np.array(inp.indices)] = inputs[inp.name]
    taus = np.concatenate([np.full(s, lay.tau) for s, lay in zip(sizes, layers, strict=True)])

    def f(_t: float, y: np.ndarray) -> np.ndarray:
        tgt = model_rhs(graph, unpack(y), inputs)
        d = (np.concatenate([tgt[lay.name] for lay in layers]) - y) / taus
        return np.where(free, d, 0.0)

    t1 = graph.readout_t if t_end is None else t_end
    # 1e4 tighter than the backends' rtol 1e-6, so its own error never decides a comparison
    sol = solve_ivp(f, (0, t1), x0, method="DOP853", rtol=1e-10, atol=1e-12)
    return unpack(sol.y[:, -1])


def ideal_switches(circuit: CircuitIR, r_on: float = 0.0, r_off: float = math.inf) -> CircuitIR:
    """`circuit` with ideal select switches (r_on = 0, r_off = inf: the connected devices as
    they are; a netlist needs them finite) programmed to the conductances lowering's
    compensated ones realise (`effective`), for tests of what lowering preserves;
    tests/test_switches.py and tests/test_switch_compensation.py cover the switches."""
    return replace(circuit, selected_crossbars=tuple(
        replace(sx, table=read_only(sx.effective), r_on=r_on, r_off=r_off)
        for sx in circuit.selected_crossbars))
