"""Layers, inputs and outputs: the declarations that give the model its neurons and ports.

A layer gets its size, Lagrangian (a known kind with the right parameters, convex), `tau` and
`init`; an input or output gets the neurons it drives or reads (a layer with an optional index or
slice), and no neuron is driven by two inputs; an argmax output gets its decoder matrix and
offset. One layer of the elaborator (see dsl/scope.py).
"""

from __future__ import annotations

import difflib
from typing import Literal

import numpy as np
from denseamc.dsl import ast
from denseamc.dsl.evaluate import MAX_SIZE, Evaluator
from denseamc.dsl.scope import Failed
from denseamc.dsl.wording import plural, shape_text, snippet
from denseamc.ir.lagrangians import KINDS, Lagrangian
from denseamc.ir.model import InputOp, LayerOp, OutputOp, frozen_array

_LAGRANGIAN_FORMS = ", ".join(
    kind if pname is None else f"{kind}({pname})" for kind, pname in KINDS.items()
)


class LayerElaborator(Evaluator):
    """Elaborate layer, input and output statements into the tables of the Scope."""

    def layer_stmt(self, stmt: ast.LayerStmt) -> None:
        name = stmt.name.name
        try:
            self.layers[name] = self.build_layer(stmt)
        except Failed:
            self.failed.add(name)
            raise

    def build_layer(self, stmt: ast.LayerStmt) -> LayerOp:
        """Size, Lagrangian and options of one layer."""
        size = self.whole(stmt.size, "a layer size", 1, MAX_SIZE)
        lagrangian = self.lagrangian(stmt.lagrangian)
        tau, init = self.layer_options(stmt.options)
        return LayerOp(stmt.name.name, size, lagrangian, tau, init, loc=stmt.span)

    def lagrangian(self, spec: ast.LagrangianSpec) -> Lagrangian:
        """A known Lagrangian with the parameters it takes, convex."""
        kind = spec.name.name
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, list(KINDS), n=1)
            notes = (f"did you mean '{close[0]}'?",) if close else ()
            self.fail(f"unknown Lagrangian '{kind}': expected one of {_LAGRANGIAN_FORMS}",
                      spec.name.span, *notes)
        pname = KINDS[kind]
        param: float | None = None
        if pname is None and spec.args:
            self.fail(f"'{kind}' takes no parameter", spec.args[0].span)
        if pname is not None:
            if len(spec.args) != 1:
                self.fail(f"'{kind}' takes one parameter ({pname}), e.g. {kind}(2)", spec.span)
            param = self.scalar(spec.args[0])
        lagrangian = Lagrangian(kind, param)
        problem = lagrangian.convexity_problem()
        if problem is not None:
            self.fail(problem, spec.span)
        return lagrangian

    def layer_options(
        self, options: tuple[ast.LayerOption, ...]
    ) -> tuple[float, Literal["zero", "settled"]]:
        """`tau` (default 1) and `init` (default zero), each given at most once."""
        tau = 1.0
        init: Literal["zero", "settled"] = "zero"
        seen: dict[str, ast.LayerOption] = {}
        for opt in options:
            key = opt.key.name
            if key in seen:
                self.fail(f"'{key}' is given twice", opt.key.span,
                          f"first given at {seen[key].key.span.location()}")
            seen[key] = opt
            if key == "tau":
                assert not isinstance(opt.value, ast.Ident)
                tau = self.scalar(opt.value)
                if tau < 0:
                    self.fail(f"tau must be >= 0 (tau=0 makes the layer adiabatic), got {tau:g}",
                              opt.value.span)
            elif isinstance(opt.value, ast.Ident):
                init = "settled"
            elif self.scalar(opt.value) != 0.0:
                self.fail("init must be 0 or settled", opt.value.span)
        return tau, init

    def indices(self, ref: ast.LayerRef) -> tuple[LayerOp, tuple[int, ...]]:
        layer = self.layer(ref.layer)
        n = layer.size
        sl = ref.slice
        if sl is None:
            return layer, tuple(range(n))
        name = layer.name
        if not sl.is_range:
            assert sl.start is not None
            i = self.whole(sl.start, "an index")
            if not -n <= i < n:
                self.fail(f"index {i} is out of range for layer '{name}' with "
                          f"{plural(n, 'neuron')} (valid: 0..{n - 1}, or -{n}..-1 from the end)",
                          sl.span)
            return layer, (i % n,)
        start = self.whole(sl.start, "a slice start") if sl.start is not None else 0
        stop = self.whole(sl.stop, "a slice end") if sl.stop is not None else n
        lo = start + n if start < 0 else start
        hi = stop + n if stop < 0 else stop
        if not (0 <= lo <= n and 0 <= hi <= n):
            self.fail(f"slice is out of range for layer '{name}' with {plural(n, 'neuron')}",
                      sl.span)
        if lo >= hi:
            self.fail(f"slice selects no neurons of layer '{name}'", sl.span)
        return layer, tuple(range(lo, hi))

    def input_stmt(self, stmt: ast.InputStmt, driven: dict[tuple[str, int], ast.InputStmt]) -> None:
        name = stmt.name.name
        try:
            size = self.whole(stmt.size, "an input size", 1, MAX_SIZE)
            if stmt.mode == "select":
                self.inputs[name] = InputOp(name, size, "select", loc=stmt.span)
                return
            assert stmt.target is not None
            layer, idx = self.indices(stmt.target)
            if len(idx) != size:
                self.fail(
                    f"input '{name}' is declared with {plural(size, 'value')} but "
                    f"{snippet(stmt.target.span)} has {plural(len(idx), 'neuron')}",
                    stmt.target.span,
                )
            for i in idx:
                other = driven.get((layer.name, i))
                if other is not None:
                    self.fail(
                        f"neuron {layer.name}[{i}] is already driven by input "
                        f"'{other.name.name}'; a neuron takes at most one clamp or init input",
                        stmt.target.span,
                        f"'{other.name.name}' is declared at {other.span.location()}",
                    )
            for i in idx:
                driven[(layer.name, i)] = stmt
            self.inputs[name] = InputOp(name, size, stmt.mode, layer.name, idx, loc=stmt.span)
        except Failed:
            self.failed.add(name)
            raise

    def output_stmt(self, stmt: ast.OutputStmt) -> None:
        name = stmt.name.name
        try:
            self.outputs[name] = self.build_output(stmt)
        except Failed:
            self.failed.add(name)
            raise

    def build_output(self, stmt: ast.OutputStmt) -> OutputOp:
        name = stmt.name.name
        size = self.whole(stmt.size, "an output size", 1, MAX_SIZE)
        ro = stmt.readout
        if ro.kind != "argmax":
            layer, idx = self.indices(ro.target)
            if len(idx) != size:
                self.fail(
                    f"output '{name}' is declared with {plural(size, 'value')} but "
                    f"{snippet(ro.span)} reads {plural(len(idx), 'neuron')}",
                    ro.span,
                )
            return OutputOp(name, size, ro.kind, layer.name, idx, loc=stmt.span)
        layer = self.layer(ro.target.layer)
        assert ro.decoder is not None
        decoder = self.value(ro.decoder)
        if isinstance(decoder, float) or decoder.ndim != 2 or decoder.shape[1] != layer.size:
            got = "a number" if isinstance(decoder, float) else f"shape {shape_text(decoder.shape)}"
            self.fail(
                f"the argmax decoder must be a matrix of shape [K, {layer.size}] (one row per "
                f"class, one column per neuron of '{layer.name}'), but it has {got}",
                ro.decoder.span,
            )
        self.check_finite(decoder, "the argmax decoder", ro.decoder.span)
        k = decoder.shape[0]
        offset = np.zeros(k)
        if ro.offset is not None:
            off = self.value(ro.offset)
            if isinstance(off, float) or off.shape != (k,):
                got = "a number" if isinstance(off, float) else f"shape {shape_text(off.shape)}"
                self.fail(f"the argmax offset must be a vector of {k} (one per decoder row), "
                          f"but it has {got}", ro.offset.span)
            self.check_finite(off, "the argmax offset", ro.offset.span)
            offset = ro.offset_sign * off
        if size != 1:
            self.fail(f"argmax reads one integer, so output '{name}' must be declared [1], "
                      f"not [{size}]", stmt.size.span)
        return OutputOp(
            name, 1, "argmax", layer.name, tuple(range(layer.size)),
            decoder=frozen_array(decoder), offset=frozen_array(offset), loc=stmt.span,
        )

