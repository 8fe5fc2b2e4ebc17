"""The graph IR's invariants, checked between stages. A violation is a compiler bug.

After elaboration (every stage):
1. Layers have size >= 1, a finite tau >= 0, and init "zero" or "settled".
2. Weights are read-only, finite float64 arrays whose shape is the declared `shape`; a selected
   weights op has a 2-D+ table, a `select` input of mode "select", and shape[0] == that input's
   size.
3. Energy terms name existing layers and weights.
4. Clamp and init inputs name an existing layer; their indices are in range, distinct, and as many
   as the input's size; no neuron is driven by two inputs. Select inputs name no layer.
5. Outputs read an existing layer at in-range indices; argmax outputs have a decoder of
   shape (K, |indices|) and an offset of shape (K,).
6. The readout time is finite and > 0; test vectors name declared inputs and outputs.

After analyze-energy, additionally:
7. `graph.dynamics` has exactly one entry per layer, whose tau is the layer's, and every drive
   names an existing source layer and weights.
"""

from __future__ import annotations

from typing import TypeGuard

import numpy as np
from denseamc.ir.diagnostics import Diagnostic, error
from denseamc.ir.model import Array, BiasTerm, BilinearTerm, LegendreTerm, ModelGraph
from denseamc.ir.span import Span


def _array_ok(a: object) -> TypeGuard[Array]:
    return (isinstance(a, np.ndarray) and a.dtype == np.float64 and not a.flags.writeable
            and bool(np.all(np.isfinite(a))))


def verify(graph: ModelGraph) -> list[Diagnostic]:
    """Return every violation of the invariants above (empty when the IR is sound)."""
    check = _Checker(graph)
    check.layers()             # 1
    check.weights()            # 2
    check.terms()              # 3
    check.inputs()             # 4
    check.outputs()            # 5
    check.readout_and_tests()  # 6
    check.dynamics()           # 7
    return check.diags


class _Checker:
    """The graph's names indexed once, and the violations found so far, in invariant order."""

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self.layer_ops = {lay.name: lay for lay in graph.layers()}
        self.weight_ops = {w.name: w for w in graph.all_weights()}
        self.input_ops = {i.name: i for i in graph.inputs()}
        self.diags: list[Diagnostic] = []

    def bad(self, message: str, loc: Span | None = None) -> None:
        self.diags.append(error(f"IR invariant violated: {message}", loc))

    def layers(self) -> None:
        for lay in self.layer_ops.values():
            if lay.size < 1 or not (np.isfinite(lay.tau) and lay.tau >= 0):
                self.bad(f"layer {lay.name!r} has size {lay.size} and tau {lay.tau!r}", lay.loc)
            if lay.init not in ("zero", "settled"):
                self.bad(f"layer {lay.name!r} has init {lay.init!r}", lay.loc)

    def weights(self) -> None:
        for w in self.weight_ops.values():
            if w.is_selected:
                sel = self.input_ops.get(w.select or "")
                if (not _array_ok(w.table) or sel is None or sel.mode != "select"
                        or w.shape[0] != sel.size or w.table.shape[1:] != w.shape[1:]):
                    self.bad(f"selected weights {w.name!r} do not match their table or input",
                             w.loc)
            elif not _array_ok(w.value) or w.value.shape != w.shape:
                self.bad(f"weights {w.name!r} are not a finite read-only array of shape "
                         f"{w.shape}", w.loc)

    def terms(self) -> None:
        for t in self.graph.terms():
            names = ([t.layer] if isinstance(t, (LegendreTerm, BiasTerm)) else [])
            names += [t.a, t.b] if isinstance(t, BilinearTerm) else []
            if any(n not in self.layer_ops for n in names):
                self.bad(f"energy term names a missing layer ({', '.join(names)})", t.loc)
            if isinstance(t, (BilinearTerm, BiasTerm)) and t.weights not in self.weight_ops:
                self.bad(f"energy term names missing weights {t.weights!r}", t.loc)

    def inputs(self) -> None:
        driven: dict[tuple[str, int], str] = {}
        for i in self.input_ops.values():
            if i.mode == "select":
                if i.layer is not None or i.indices:
                    self.bad(f"select input {i.name!r} names a layer", i.loc)
                continue
            held = self.layer_ops.get(i.layer or "")
            if held is None or len(i.indices) != i.size or len(set(i.indices)) != i.size or any(
                    not 0 <= k < held.size for k in i.indices):
                self.bad(f"input {i.name!r} drives bad neurons {i.indices} of {i.layer!r}", i.loc)
                continue
            for k in i.indices:
                if (held.name, k) in driven:
                    self.bad(f"neuron {held.name}[{k}] driven by {driven[held.name, k]!r} and "
                             f"{i.name!r}", i.loc)
                driven[held.name, k] = i.name

    def outputs(self) -> None:
        for o in self.graph.outputs():
            read = self.layer_ops.get(o.layer)
            if read is None or any(not 0 <= k < read.size for k in o.indices):
                self.bad(f"output {o.name!r} reads bad neurons of {o.layer!r}", o.loc)
            elif o.kind == "argmax" and (
                    o.decoder is None or o.offset is None
                    or o.decoder.shape != (o.offset.shape[0], len(o.indices))):
                self.bad(f"argmax output {o.name!r} has a decoder of the wrong shape", o.loc)

    def readout_and_tests(self) -> None:
        g = self.graph
        if not (np.isfinite(g.readout_t) and g.readout_t > 0):
            self.bad(f"readout time {g.readout_t!r}", g.readout_loc)
        outputs = {o.name for o in g.outputs()}
        for block in g.tests:
            for v in block.vectors:
                if not set(v.inputs) <= set(self.input_ops) or not set(v.outputs) <= outputs:
                    self.bad(f"test {block.name!r} names undeclared inputs or outputs", v.loc)

    def dynamics(self) -> None:
        dynamics = self.graph.dynamics
        if not dynamics:
            return  # before analyze-energy
        if list(dynamics) != list(self.layer_ops):
            self.bad("dynamics do not cover exactly the layers, in order")
        for name, d in dynamics.items():
            if name in self.layer_ops and d.tau != self.layer_ops[name].tau:
                self.bad(f"dynamics of {name!r} have tau {d.tau!r}")
            for dr in d.drives:
                if dr.source not in self.layer_ops or dr.weights not in self.weight_ops:
                    self.bad(f"dynamics of {name!r} use missing {dr.source!r} / {dr.weights!r}")
