"""The model's dynamics compiled for one batch of inputs: the one model right-hand side.

    tau_x dx/dt = sum_d d.coef * (W or W^T) @ g(d.source) + sum_b b.coef * w - x

`System` holds the flat state u (B, n) of the dynamic (tau > 0) layers, writes the right-hand
side as u' = L u + N(u) with L = -1/tau per layer (0 on clamped neurons) and N = (drives +
biases) / tau (0 on clamped neurons), and solves the adiabatic (tau = 0) layers, whose state is
their target at every instant, whenever it evaluates N: in dependency order, a cycle of them by
`fixed_point` (Gauss-Seidel sweeps, warm-started from the previous solution).

`initial_state` applies the input semantics at t = 0 (module docstring of the package);
`derivative` is dx/dt of every dynamic layer at given states, which `model_rhs` offers to the
compiler (the linearisation of the latency estimate) so that there is one right-hand side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from denseamc.backends.inputs import check_model_inputs
from denseamc.backends.sim.fixed_point import MAXITER, fixed_point
from denseamc.ir import (
    DenseAMCError,
    InternalCompilerError,
    Lagrangian,
    LayerOp,
    ModelGraph,
    error,
)
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class Contribution:
    """One drive of a layer, weights pre-multiplied by coef (and 1/tau for dynamic layers)."""

    src: int  # layer index
    mat: Array  # (n_src, n_tgt) for constant weights: contribution = g_src @ mat
    selected: bool  # then mat is (B, n_tgt, n_src): contribution = mat @ g_src


@dataclass
class Layer:
    """A layer as the simulator sees it: drives, bias, clamps and its columns in u."""

    name: str
    index: int
    size: int
    tau: float
    adiabatic: bool
    lag: Lagrangian
    drives: list[Contribution]
    bias: Array | None  # (n,) or (B, n), already divided by tau (dynamic) or not (adiabatic)
    clamp_idx: IntArray
    clamp_val: Array | None  # (B, len(clamp_idx))
    # columns in the flat state (dynamic layers)
    sl: slice = field(default_factory=lambda: slice(0, 0))
    self_driven: bool = False


class System:
    """The graph compiled for one batch: flat dynamic state, adiabatic solve, N(x)."""

    def __init__(self, graph: ModelGraph, inputs: Mapping[str, object]) -> None:
        if not graph.dynamics and graph.layers():
            raise InternalCompilerError("simulate needs graph.dynamics: run energy analysis first")
        self.graph = graph
        self.inputs = check_model_inputs(graph, inputs)
        self.batch = self.inputs.batch
        self.selects = self.inputs.selects
        index = {op.name: i for i, op in enumerate(graph.layers())}
        self.layers = [self._layer(i, op, index) for i, op in enumerate(graph.layers())]
        self.dynamic = [lay for lay in self.layers if not lay.adiabatic]
        self._flat_state()
        self.adiabatic_order = self._adiabatic_order()
        self.adiabatic_states: dict[int, Array] = {
            lay.index: np.zeros((self.batch, lay.size)) for lay in self.layers if lay.adiabatic}
        self.nfev = 0
        self._actbuf: dict[int, Array] = {}
        self._ones: dict[int, Array] = {}

    # -- structure -----------------------------------------------------------------------------
    def _layer(self, i: int, op: LayerOp, index: Mapping[str, int]) -> Layer:
        graph = self.graph
        dyn = graph.dynamics.get(op.name)
        if dyn is None:
            raise InternalCompilerError(f"no dynamics for layer {op.name!r}")
        tau = float(op.tau)
        adiabatic = tau == 0.0
        scale = 1.0 if adiabatic else 1.0 / tau
        drives = []
        for d in dyn.drives:
            w = graph.weights(d.weights).resolve(self.selects)
            s = d.coef * scale
            if w.ndim == 3:  # selected: (B, rows, cols)
                mat = s * (np.swapaxes(w, 1, 2) if d.transpose else w)
                drives.append(Contribution(index[d.source], np.ascontiguousarray(mat), True))
            else:
                mat = s * (w if d.transpose else w.T)
                drives.append(Contribution(index[d.source], np.ascontiguousarray(mat), False))
        bias = None
        for b in dyn.biases:
            w = graph.weights(b.weights).resolve(self.selects) * (b.coef * scale)
            bias = w if bias is None else bias + w
        clamp_idx: list[int] = []
        clamp_cols: list[Array] = []
        for inp in graph.layer_of_input(op.name, "clamp"):
            clamp_idx.extend(inp.indices)
            clamp_cols.append(self.inputs.arrays[inp.name])
        cidx = np.array(clamp_idx, dtype=np.int64)
        cval = np.concatenate(clamp_cols, axis=1) if clamp_cols else None
        return Layer(op.name, i, op.size, tau, adiabatic, op.lagrangian, drives, bias, cidx,
                     cval, self_driven=any(c.src == i for c in drives))

    def _flat_state(self) -> None:
        """Columns of the dynamic layers in u, and the linear rate of every column."""
        off = 0
        for lay in self.dynamic:
            lay.sl = slice(off, off + lay.size)
            off += lay.size
        self.n = off
        free = np.ones(off, dtype=bool)
        rates = np.zeros(off)
        for lay in self.dynamic:
            rates[lay.sl] = -1.0 / lay.tau
            if lay.clamp_idx.size:
                free[lay.sl.start + lay.clamp_idx] = False
        rates[~free] = 0.0
        self.free = free
        # groups of columns sharing one linear rate (a layer, or the clamped columns: rate 0)
        uniq, group = np.unique(rates, return_inverse=True)
        self.rates = uniq
        self.group = group

    def _adiabatic_order(self) -> list[list[Layer]]:
        """Strongly connected components of the adiabatic layers, in dependency order."""
        adi = [lay for lay in self.layers if lay.adiabatic]
        if len(adi) <= 1:  # nothing to order: no need to import networkx (~0.07 s)
            return [adi] if adi else []
        import networkx as nx

        g = nx.DiGraph()
        for lay in adi:
            g.add_node(lay.index)
            for c in lay.drives:
                if self.layers[c.src].adiabatic:
                    g.add_edge(c.src, lay.index)
        cond = nx.condensation(g)
        order = []
        for comp in nx.topological_sort(cond):
            members = sorted(cond.nodes[comp]["members"])
            order.append([self.layers[i] for i in members])
        return order

    # -- evaluation ----------------------------------------------------------------------------
    def _target(self, lay: Layer, acts: list[Array | None], out: Array | None = None) -> Array:
        """sum of drives + bias for `lay` (divided by tau for dynamic layers), into `out`."""
        acc: Array | None = None
        for c in lay.drives:
            g = acts[c.src]
            assert g is not None  # sources come first (dependency order)
            if c.selected:
                r = np.matmul(c.mat, g[:, :, None])[:, :, 0]
            elif acc is None and out is not None:
                acc = np.matmul(g, c.mat, out=out)
                continue
            else:
                r = g @ c.mat
            if acc is None:
                if out is not None:
                    out[...] = r
                    acc = out
                else:
                    acc = r
            else:
                acc += r
        if acc is None:
            if out is not None:
                out[...] = 0.0
                acc = out
            else:
                acc = np.zeros((self.batch, lay.size))
        if lay.bias is not None:
            acc += lay.bias
        return acc

    def _adiabatic_state(self, lay: Layer, acts: list[Array | None]) -> Array:
        """Set an adiabatic layer to its target (clamps kept) and its activation in `acts`."""
        x = self._target(lay, acts)
        if lay.clamp_idx.size:
            x[:, lay.clamp_idx] = lay.clamp_val
        self.adiabatic_states[lay.index] = x
        acts[lay.index] = lay.lag.activation(x)
        return x

    def _solve_adiabatic(self, acts: list[Array | None]) -> None:
        for comp in self.adiabatic_order:
            if len(comp) == 1 and not comp[0].self_driven:
                self._adiabatic_state(comp[0], acts)
            else:
                self._solve_cycle(comp, acts)

    def _solve_cycle(self, comp: list[Layer], acts: list[Array | None]) -> None:
        for lay in comp:  # warm start from the previous solution
            acts[lay.index] = lay.lag.activation(self.adiabatic_states[lay.index])

        def sweep() -> tuple[float, float]:
            change = big = 0.0
            for lay in comp:
                old = self.adiabatic_states[lay.index]
                x = self._adiabatic_state(lay, acts)
                change = max(change, float(np.max(np.abs(x - old), initial=0.0)))
                big = max(big, float(np.max(np.abs(x), initial=0.0)))
            return change, big

        if not fixed_point(sweep, scale=1.0):
            names = ", ".join(f"'{lay.name}'" for lay in comp)
            raise DenseAMCError(error(
                f"the adiabatic (tau = 0) layers {names} drive each other in a cycle and their "
                f"fixed-point iteration did not converge in {MAXITER} sweeps",
                self.graph.layer(comp[0].name).loc,
                "give one of them a positive tau, or weaken the coupling between them "
                "(the iteration converges when it is a contraction)"))

    def _act(self, lay: Layer, x: Array) -> Array:
        """g(x) of a dynamic layer. A softmax is computed in a buffer of the layer's, so the
        result is only valid until the next evaluation (callers consume it at once)."""
        if lay.lag.kind == "softmax":  # same formula as Lagrangian.activation, in place
            z = self._actbuf.get(lay.index)
            if z is None or z.shape != x.shape:
                z = self._actbuf[lay.index] = np.empty(x.shape)
            beta = lay.lag.param
            assert beta is not None  # a softmax always has its beta
            np.multiply(x, beta, out=z)
            z -= z.max(axis=-1, keepdims=True)
            np.exp(z, out=z)
            ones = self._ones.get(z.shape[-1])
            if ones is None:
                ones = self._ones[z.shape[-1]] = np.ones(z.shape[-1])
            z /= (z @ ones)[:, None]  # row sums by BLAS (a third of the cost of z.sum)
            return z
        return lay.lag.activation(x)

    def activations(self, u: Array) -> list[Array | None]:
        """Activations of every layer for flat dynamic state u (adiabatic layers solved)."""
        return self.activations_parts([u[:, lay.sl] for lay in self.dynamic])

    def activations_parts(self, parts: Sequence[Array]) -> list[Array | None]:
        """Activations of every layer; parts[i] is the state (B, n_i) of dynamic layer i."""
        acts: list[Array | None] = [None] * len(self.layers)
        for lay, x in zip(self.dynamic, parts, strict=True):
            acts[lay.index] = self._act(lay, x)
        if self.adiabatic_order:
            self._solve_adiabatic(acts)
        return acts

    def nonlinear(self, u: Array, out: Array) -> Array:
        """N(u) = (drives + bias) / tau per dynamic layer, 0 on clamped neurons, into `out`."""
        self.nonlinear_parts([u[:, lay.sl] for lay in self.dynamic],
                             [out[:, lay.sl] for lay in self.dynamic])
        return out

    def nonlinear_parts(self, parts: Sequence[Array], outs: Sequence[Array]) -> None:
        """N per dynamic layer from per-layer states parts[i] (B, n_i) into outs[i]."""
        self.nfev += 1
        acts = self.activations_parts(parts)
        for lay, o in zip(self.dynamic, outs, strict=True):
            self._target(lay, acts, o)
            if lay.clamp_idx.size:
                o[:, lay.clamp_idx] = 0.0

    def target(self, lay: Layer, u: Array) -> Array:
        """The state layer `lay` relaxes towards, at flat dynamic state u."""
        acts = self.activations(u)
        return self._target(lay, acts) * (lay.tau if not lay.adiabatic else 1.0)

    def derivative(self, states: Mapping[str, Array]) -> dict[str, Array]:
        """dx/dt = L x + N(x) of every dynamic layer (0 on clamped neurons) at `states`
        (layer -> (B, n), dynamic layers needed; adiabatic layers are solved, not read)."""
        u = np.zeros((self.batch, self.n))
        for lay in self.dynamic:
            u[:, lay.sl] = states[lay.name]
        du = self.nonlinear(u, np.empty_like(u))
        du += self.rates[self.group] * u
        return {lay.name: du[:, lay.sl] for lay in self.dynamic}

    # -- initial state -------------------------------------------------------------------------
    def initial_state(self) -> Array:
        """u(0): init inputs, then each init=settled layer at its target in declaration order
        (its init inputs override), clamps over everything."""
        B = self.batch
        u = np.zeros((B, self.n))
        init_set: dict[str, list[tuple[IntArray, Array]]] = {}
        for inp in self.graph.inputs():
            if inp.mode == "init" and inp.layer is not None:
                vals = self.inputs.arrays[inp.name].reshape(B, inp.size)
                init_set.setdefault(inp.layer, []).append(
                    (np.array(inp.indices, dtype=np.int64), vals))

        def apply_inputs(lay: Layer) -> None:
            for idx, vals in init_set.get(lay.name, []):
                u[:, lay.sl.start + idx] = vals
            if lay.clamp_idx.size:
                u[:, lay.sl.start + lay.clamp_idx] = lay.clamp_val

        for lay in self.dynamic:
            apply_inputs(lay)
        settled = {op.name for op in self.graph.layers() if op.init == "settled"}
        for lay in self.dynamic:
            if lay.name in settled:
                u[:, lay.sl] = self.target(lay, u)
                apply_inputs(lay)
        return u


def model_rhs(graph: ModelGraph, inputs: Mapping[str, object]
              ) -> Callable[[Mapping[str, Array]], dict[str, Array]]:
    """The model's right-hand side for one batch of inputs: a function from states (layer ->
    (B, n)) to dx/dt of every dynamic layer (`System.derivative`)."""
    return System(graph, inputs).derivative
