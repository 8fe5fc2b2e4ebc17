"""Test blocks: `test "NAME" tol = .. min_pass = .. { INPUTS -> OUTPUTS ... }` -> TestBlock.

Every vector gives every input, and each value must suit its port: a select input takes whole
numbers below the rows of its table, a sign output -1, 0 or 1, an argmax output a class index.
Values of a list of plain numbers (ast.NumberList) are taken as they are; only a value found
wrong asks for its item's location. One layer of the elaborator (see dsl/scope.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from denseamc.dsl import ast
from denseamc.dsl.evaluate import Evaluator
from denseamc.dsl.scope import KIND_WORDS, Failed, Selected
from denseamc.dsl.wording import plural
from denseamc.ir.model import Array, TestBlock, TestVector, frozen_array
from denseamc.ir.span import Span

Side = Literal["input", "output"]


class TestElaborator(Evaluator):
    """Elaborate test statements."""

    __test__ = False  # not a pytest test class

    def test_stmt(self, stmt: ast.TestStmt) -> TestBlock:
        name = stmt.name.value
        tol, min_pass = 0.01, 1.0
        seen: dict[str, ast.TestOption] = {}
        for opt in stmt.options:
            key = opt.key.name
            if key in seen:
                self.fail(f"'{key}' is given twice", opt.key.span,
                          f"first given at {seen[key].key.span.location()}")
            seen[key] = opt
            v = self.scalar(opt.value)
            if key == "tol":
                if v < 0:
                    self.fail(f"tol must be >= 0, got {v:g}", opt.value.span)
                tol = v
            else:
                if not 0 < v <= 1:
                    self.fail(f"min_pass is a fraction of the vectors, so it must be in (0, 1], "
                              f"got {v:g}", opt.value.span)
                min_pass = v
        if not stmt.vectors:
            self.fail(f"test '{name}' has no vectors", stmt.name.span)
        vectors = []
        ok = True
        for vec in stmt.vectors:
            try:
                vectors.append(self.test_vector(vec))
            except Failed:
                ok = False
        if not ok:
            raise Failed
        return TestBlock(name, tuple(vectors), tol, min_pass, loc=stmt.span)

    def test_vector(self, vec: ast.TestVectorNode) -> TestVector:
        inputs: dict[str, Array] = {}
        outputs: dict[str, Array] = {}
        failed = False
        sides: tuple[tuple[Side, tuple[ast.Assignment, ...], dict[str, Array]], ...] = (
            ("input", vec.inputs, inputs), ("output", vec.outputs, outputs))
        for side, assigns, target in sides:
            for a in assigns:
                try:
                    target[a.name.name] = self.test_values(a, side, target)
                except Failed:
                    failed = True
        for name, decl in self.decls.items():
            missing = decl.kind == "input" and name not in inputs and name not in self.failed
            if missing and not failed:
                self.report(f"this test vector does not give input '{name}'", vec.span,
                            "every vector gives every input")
                failed = True
        if failed:
            raise Failed
        return TestVector(inputs, outputs, loc=vec.span)

    def test_values(self, a: ast.Assignment, side: Side, seen: dict[str, Array]) -> Array:
        """The values one assignment of a test vector gives its input or output."""
        name = a.name.name
        decl = self.decls.get(name)
        if decl is not None and decl.kind in ("input", "output") and decl.kind != side:
            where = "before" if decl.kind == "input" else "after"
            self.fail(f"'{name}' is {KIND_WORDS[decl.kind]}; {decl.kind}s go {where} '->'",
                      a.name.span)
        self.lookup(name, a.name.span, (side,))
        if name in seen:
            self.fail(f"'{name}' is given twice in this test vector", a.name.span)
        values, item_span = self.numbers(a.values)
        size, mode = self.port(name, side)
        if len(values) != size:
            self.fail(f"{side} '{name}' takes {plural(size, 'value')}, but the test gives "
                      f"{len(values)}", a.span)
        for i, v in enumerate(values):
            problem = self.test_value_problem(name, mode, v)
            if problem is not None:
                self.fail(problem, item_span(i))
        return frozen_array(values)

    def numbers(
        self, exprs: tuple[ast.Expr, ...] | ast.NumberList
    ) -> tuple[list[float], Callable[[int], Span]]:
        """The values of a test assignment, and how to locate the i-th (asked only on error)."""
        if isinstance(exprs, ast.NumberList):
            return list(exprs.values), exprs.item_span
        return [self.scalar(v) for v in exprs], lambda i: exprs[i].span

    def port(self, name: str, side: Side) -> tuple[int, str]:
        """Size and mode (input) or kind (output) of an elaborated port; Failed if it failed."""
        if side == "input":
            if name not in self.inputs:
                raise Failed
            return self.inputs[name].size, self.inputs[name].mode
        if name not in self.outputs:
            raise Failed
        return self.outputs[name].size, self.outputs[name].kind

    def test_value_problem(self, name: str, mode: str, v: float) -> str | None:
        """What is wrong with `v` as a value of input or output `name`, or None."""
        if mode == "select":
            tables = [
                (w, s.table.shape[0]) for w, s in self.weights.items()
                if isinstance(s, Selected) and s.select == name
            ]
            rows = min((r for _, r in tables), default=None)
            if v != math.floor(v) or v < 0 or (rows is not None and v >= rows):
                table = next(w for w, r in tables if r == rows) if tables else None
                rng = f"0..{rows - 1}" if rows is not None else ">= 0"
                why = f" (the rows of '{table}')" if table else ""
                return f"select input '{name}' takes whole numbers {rng}{why}, got {v:g}"
        elif mode == "sign" and v not in (-1.0, 0.0, 1.0):
            return f"sign output '{name}' is -1, 0 or 1 (bit 0 is -1), got {v:g}"
        elif mode == "argmax":
            out = self.outputs[name]
            assert out.decoder is not None
            k = out.decoder.shape[0]
            if v != math.floor(v) or not 0 <= v < k:
                return f"argmax output '{name}' is a class index 0..{k - 1}, got {v:g}"
        return None
