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
    diags: list[Diagnostic] = []

    def bad(message: str, loc: Span | None = None) -> None:
        diags.append(error(f"IR invariant violated: {message}", loc))

    layers = {lay.name: lay for lay in graph.layers()}
    weights = {w.name: w for w in graph.all_weights()}
    inputs = {i.name: i for i in graph.inputs()}
    for lay in layers.values():
        if lay.size < 1 or not (np.isfinite(lay.tau) and lay.tau >= 0):
            bad(f"layer {lay.name!r} has size {lay.size} and tau {lay.tau!r}", lay.loc)
        if lay.init not in ("zero", "settled"):
            bad(f"layer {lay.name!r} has init {lay.init!r}", lay.loc)
    for w in weights.values():
        if w.is_selected:
            sel = inputs.get(w.select or "")
            if (not _array_ok(w.table) or sel is None or sel.mode != "select"
                    or w.shape[0] != sel.size or w.table.shape[1:] != w.shape[1:]):
                bad(f"selected weights {w.name!r} do not match their table or input", w.loc)
        elif not _array_ok(w.value) or w.value.shape != w.shape:
            bad(f"weights {w.name!r} are not a finite read-only array of shape {w.shape}", w.loc)
    for t in graph.terms():
        names = ([t.layer] if isinstance(t, (LegendreTerm, BiasTerm)) else [])
        names += [t.a, t.b] if isinstance(t, BilinearTerm) else []
        if any(n not in layers for n in names):
            bad(f"energy term names a missing layer ({', '.join(names)})", t.loc)
        if isinstance(t, (BilinearTerm, BiasTerm)) and t.weights not in weights:
            bad(f"energy term names missing weights {t.weights!r}", t.loc)
    driven: dict[tuple[str, int], str] = {}
    for i in inputs.values():
        if i.mode == "select":
            if i.layer is not None or i.indices:
                bad(f"select input {i.name!r} names a layer", i.loc)
            continue
        held = layers.get(i.layer or "")
        if held is None or len(i.indices) != i.size or len(set(i.indices)) != i.size or any(
                not 0 <= k < held.size for k in i.indices):
            bad(f"input {i.name!r} drives bad neurons {i.indices} of {i.layer!r}", i.loc)
            continue
        for k in i.indices:
            if (held.name, k) in driven:
                bad(f"neuron {held.name}[{k}] driven by {driven[held.name, k]!r} and {i.name!r}",
                    i.loc)
            driven[held.name, k] = i.name
    for o in graph.outputs():
        read = layers.get(o.layer)
        if read is None or any(not 0 <= k < read.size for k in o.indices):
            bad(f"output {o.name!r} reads bad neurons of {o.layer!r}", o.loc)
        elif o.kind == "argmax" and (o.decoder is None or o.offset is None
                                     or o.decoder.shape != (o.offset.shape[0], len(o.indices))):
            bad(f"argmax output {o.name!r} has a decoder of the wrong shape", o.loc)
    if not (np.isfinite(graph.readout_t) and graph.readout_t > 0):
        bad(f"readout time {graph.readout_t!r}", graph.readout_loc)
    outputs = {o.name for o in graph.outputs()}
    for block in graph.tests:
        for v in block.vectors:
            if not set(v.inputs) <= set(inputs) or not set(v.outputs) <= outputs:
                bad(f"test {block.name!r} names undeclared inputs or outputs", v.loc)
    if graph.dynamics:
        if list(graph.dynamics) != list(layers):
            bad("dynamics do not cover exactly the layers, in order")
        for name, d in graph.dynamics.items():
            if name in layers and d.tau != layers[name].tau:
                bad(f"dynamics of {name!r} have tau {d.tau!r}")
            for dr in d.drives:
                if dr.source not in layers or dr.weights not in weights:
                    bad(f"dynamics of {name!r} use missing {dr.source!r} / {dr.weights!r}")
    return diags
