"""Expressions, params and weights: the Evaluator layer of the elaborator (see dsl/scope.py).

`value` evaluates an expression to a float or a float64 array (SI prefixes are already applied by
the parser); `scalar` and `whole` insist on one number. A param or weights name is evaluated on
demand, the first time it is used, so declarations may come in any order; a definition that
depends on itself is an error naming the cycle. Weights become `WeightsOp`s: a constant array
(checked against its declared shape, finite), or a table whose rows a select input chooses.
"""

from __future__ import annotations

import math

import numpy as np
from denseamc.dsl import ast
from denseamc.dsl.scope import Failed, Kind, Scope, Selected
from denseamc.dsl.weightfiles import load_array
from denseamc.dsl.wording import ordinal, plural, shape_text, snippet
from denseamc.ir.diagnostics import InternalCompilerError
from denseamc.ir.model import WeightsOp, frozen_array
from denseamc.ir.span import Span

#: Largest layer, input or output size and weights dimension accepted.
MAX_SIZE = 1_000_000

Value = float | np.ndarray


class Evaluator(Scope):
    """Evaluate expressions and the params and weights they name."""

    # -- numbers ---------------------------------------------------------------------------------
    def param(self, name: str, span: Span) -> float:
        self.lookup(name, span, ("param",))
        if name in self.params:
            return self.params[name]
        decl = self.decls[name]
        if name in self.in_progress:
            self.fail(f"param '{name}' is defined in terms of itself: {self.cycle(name)}", span)
        assert isinstance(decl.stmt, ast.ParamStmt)
        self.in_progress.append(name)
        try:
            value = self.scalar(decl.stmt.value)
        except Failed:
            self.failed.add(name)
            raise
        finally:
            self.in_progress.pop()
        self.params[name] = value
        return value

    def scalar(self, expr: ast.Expr) -> float:
        """Evaluate an expression that must be one number."""
        value = self.value(expr, arrays=False)
        if not isinstance(value, float):
            self.fail(f"expected a number here, but this is an array of shape "
                      f"{shape_text(value.shape)}", expr.span)
        return value

    def whole(self, expr: ast.Expr, what: str, lo: int | None = None, hi: int | None = None) -> int:
        """Evaluate an expression that must be a whole number in [lo, hi]."""
        value = self.scalar(expr)
        ok = value == math.floor(value) and (lo is None or value >= lo) and (
            hi is None or value <= hi
        )
        if not ok:
            if lo is not None and hi is not None:
                rng = f" from {lo} to {hi}"
            elif lo is not None:
                rng = f" >= {lo}"
            else:
                rng = ""
            self.fail(f"{what} must be a whole number{rng}, got {value:g}", expr.span)
        return int(value)

    def arith(self, op: str, a: float, b: float, node: ast.Binary) -> float:
        try:
            if op == "+":
                r = a + b
            elif op == "-":
                r = a - b
            elif op == "*":
                r = a * b
            elif op == "/":
                r = a / b
            elif op == "**":
                r = a**b
            else:
                raise InternalCompilerError(f"elaborate: unknown operator {op!r}")
        except ZeroDivisionError:
            what = "division by zero" if op == "/" else "zero raised to a negative power"
            self.fail(what, node.op_span)
        except OverflowError:
            self.fail("arithmetic overflow: the result is too large", node.span)
        if isinstance(r, complex):
            self.fail("a negative number raised to a fractional power is not a real number",
                      node.span)
        if not math.isfinite(r):
            self.fail("arithmetic overflow: the result is not finite", node.span)
        return float(r)

    # -- values: numbers and arrays --------------------------------------------------------------
    def value(self, expr: ast.Expr, arrays: bool = True) -> Value:
        """Evaluate an expression to a float or (when `arrays`) a numpy array."""
        if isinstance(expr, ast.Number):
            return float(expr.value)
        if isinstance(expr, ast.Name):
            kinds: tuple[Kind, ...] = ("param", "weights") if arrays else ("param",)
            decl = self.lookup(expr.name, expr.span, kinds)
            if decl.kind == "param":
                return self.param(expr.name, expr.span)
            return self.array_of(expr.name, expr.span)
        if isinstance(expr, ast.Unary):
            v = self.value(expr.operand, arrays)
            return -v if expr.op == "-" else v
        if isinstance(expr, ast.Binary):
            return self.binary(expr, arrays)
        if not arrays:
            self.fail("expected a number here, not an array", expr.span)
        if isinstance(expr, ast.ListLiteral | ast.NumberList):
            return self.literal(expr)
        if isinstance(expr, ast.Load):
            return load_array(self, expr)
        if isinstance(expr, ast.Attribute):
            return self.attribute(expr)
        if isinstance(expr, ast.Index):
            self.fail(
                "a table lookup TABLE[INPUT] must be the whole right-hand side of a weights "
                "statement",
                expr.span,
                "write it as its own statement, e.g. 'weights ctx[8, 16] = embed[bits]'",
            )
        raise InternalCompilerError(f"elaborate: unknown expression {type(expr).__name__}")

    def binary(self, node: ast.Binary, arrays: bool) -> Value:
        """Evaluate a chain of binary operators along its left spine with a loop, not recursion:
        `1 + 1 + ... + 1` nests to the left once per operator, and a long flat sum would
        otherwise exhaust Python's stack. Operands are still evaluated left to right."""
        spine: list[ast.Binary] = []
        expr: ast.Expr = node
        while isinstance(expr, ast.Binary):
            spine.append(expr)
            expr = expr.left
        acc = self.value(expr, arrays)
        for op_node in reversed(spine):
            acc = self.apply(op_node, acc, self.value(op_node.right, arrays))
        return acc

    def apply(self, node: ast.Binary, a: Value, b: Value) -> Value:
        """`a op b` for the operator of `node`, on numbers or arrays."""
        if isinstance(a, float) and isinstance(b, float):
            return self.arith(node.op, a, b, node)
        with np.errstate(all="ignore"):
            return self.array_arith(node, a, b)

    def array_arith(self, node: ast.Binary, a: Value, b: Value) -> np.ndarray:
        """`a op b` where one side (at least) is an array: only elementwise forms make sense."""
        op = node.op
        if op in "+-":
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape != b.shape:
                self.fail(f"cannot {'add' if op == '+' else 'subtract'} arrays of shapes "
                          f"{shape_text(a.shape)} and {shape_text(b.shape)}", node.op_span)
            return np.add(a, b) if op == "+" else np.subtract(a, b)
        if op == "*":
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
                self.fail("'*' scales an array by a number; two arrays cannot be multiplied "
                          "here (products of layers and weights belong in the energy)",
                          node.op_span)
            return np.multiply(a, b)
        if op == "/":
            if isinstance(b, np.ndarray):
                self.fail("'/' divides an array by a number; the divisor here is an array",
                          node.op_span)
            if b == 0.0:
                self.fail("division by zero", node.op_span)
            return np.divide(a, b)
        if op == "**":
            return self.array_power(node, a, b)
        raise InternalCompilerError(f"elaborate: unknown operator {op!r}")

    def array_power(self, node: ast.Binary, a: Value, b: Value) -> np.ndarray:
        """`array ** number`, with every entry's result real and finite."""
        if isinstance(b, np.ndarray):
            self.fail("'**' raises an array to a number's power; the exponent here is an "
                      "array", node.op_span)
        assert isinstance(a, np.ndarray)
        if b != math.floor(b) and np.any(a < 0):
            self.fail("a negative entry raised to a fractional power is not a real "
                      "number", node.span)
        if b < 0 and np.any(a == 0):
            self.fail("an entry of zero raised to a negative power", node.span)
        return np.power(a, b)

    def attribute(self, node: ast.Attribute) -> np.ndarray:
        if node.attr.name != "T":
            self.fail(f"unknown attribute '.{node.attr.name}': the only attribute is '.T' "
                      "(transpose)", node.attr.span)
        v = self.value(node.operand)
        if isinstance(v, float) or v.ndim != 2:
            shape = "a number" if isinstance(v, float) else f"shape {shape_text(v.shape)}"
            self.fail(f"'.T' transposes a matrix, but this is {shape}", node.attr.span)
        return np.ascontiguousarray(v.T)

    def literal(self, node: ast.ListLiteral | ast.NumberList) -> np.ndarray:
        if isinstance(node, ast.NumberList):
            return np.array(node.values, dtype=np.float64)
        items = node.items
        if not items:
            return np.zeros((0,))
        lists = [x for x in items if isinstance(x, ast.ListLiteral | ast.NumberList)]
        if not lists:
            return np.array([self.scalar(x) for x in items], dtype=np.float64)
        if len(lists) != len(items):
            odd = next(x for x in items if not isinstance(x, ast.ListLiteral | ast.NumberList))
            self.fail("this literal mixes lists and numbers: every row must be a list", odd.span)
        rows = [self.literal(x) for x in lists]
        first = rows[0].shape
        for i, (row, sub) in enumerate(zip(rows, lists, strict=True)):
            if row.shape != first:
                if row.ndim == 1 and len(first) == 1:
                    self.fail(
                        f"ragged literal: the {ordinal(i + 1)} row has "
                        f"{plural(row.shape[0], 'element')} but the first has {first[0]}",
                        sub.span,
                    )
                self.fail(
                    f"ragged literal: the {ordinal(i + 1)} row has shape {shape_text(row.shape)} "
                    f"but the first has shape {shape_text(first)}",
                    sub.span,
                )
        return np.stack(rows).astype(np.float64)

    # -- weights ---------------------------------------------------------------------------------
    def array_of(self, name: str, span: Span) -> np.ndarray:
        """The numbers of constant weights `name` (evaluating them if needed)."""
        value = self.weights_value(name, span)
        if isinstance(value, Selected):
            self.fail(
                f"weights '{name}' are rows chosen by input '{value.select}', so their value "
                "depends on the input and they cannot be used in an expression",
                span,
            )
        return value

    def weights_value(self, name: str, span: Span) -> np.ndarray | Selected:
        self.lookup(name, span, ("weights",))
        if name in self.weights:
            return self.weights[name]
        if name in self.in_progress:
            self.fail(f"weights '{name}' are defined in terms of themselves: {self.cycle(name)}",
                      span)
        decl = self.decls[name]
        assert isinstance(decl.stmt, ast.WeightsStmt)
        self.in_progress.append(name)
        try:
            self.weights[name] = self.weights_stmt(decl.stmt)
        except Failed:
            self.failed.add(name)
            raise
        finally:
            self.in_progress.pop()
        return self.weights[name]

    def weights_stmt(self, stmt: ast.WeightsStmt) -> np.ndarray | Selected:
        name = stmt.name.name
        dims = tuple(self.whole(d, "a weights dimension", 1, MAX_SIZE) for d in stmt.dims)
        rhs = stmt.value
        declared = f"weights '{name}' declared {shape_text(dims)}"
        if isinstance(rhs, ast.Index):
            return self.selected(stmt, dims, rhs)
        value = self.value(rhs)
        if isinstance(value, float):
            self.fail(f"{declared} but the right-hand side is a single number", rhs.span)
        if (
            len(dims) == 1
            and value.ndim == 2
            and 1 in value.shape
            and isinstance(rhs, ast.Load)
            and rhs.path.value.lower().endswith(".csv")
        ):
            value = value.reshape(-1)  # a one-row or one-column CSV read as a vector
        if value.shape != dims:
            if isinstance(rhs, ast.ListLiteral | ast.NumberList):
                if value.ndim == 2:
                    got = f"the literal has {plural(value.shape[0], 'row')} of {value.shape[1]}"
                elif value.ndim == 1:
                    got = f"the literal has {plural(value.shape[0], 'element')}"
                else:
                    got = f"the literal has shape {shape_text(value.shape)}"
            elif isinstance(rhs, ast.Load):
                got = f"'{rhs.path.value}' holds an array of shape {shape_text(value.shape)}"
            else:
                got = f"the expression has shape {shape_text(value.shape)}"
            self.fail(f"{declared} but {got}", rhs.span)
        self.check_finite(value, f"weights '{name}'", rhs.span)
        literal = isinstance(rhs, ast.ListLiteral | ast.NumberList)
        provenance = "literal" if literal else snippet(rhs.span)
        self.weights_ops[name] = WeightsOp(
            name, dims, value=frozen_array(value), provenance=provenance, loc=stmt.span
        )
        return value

    def selected(
        self, stmt: ast.WeightsStmt, dims: tuple[int, ...], rhs: ast.Index
    ) -> Selected:
        name = stmt.name.name
        if not isinstance(rhs.operand, ast.Name) or not isinstance(rhs.index, ast.Name):
            self.fail("a table lookup is written TABLE[INPUT], with the name of weights and the "
                      "name of a select input", rhs.span)
        table_name, input_name = rhs.operand.name, rhs.index.name
        table = self.array_of(table_name, rhs.operand.span)
        self.lookup(input_name, rhs.index.span, ("input",))
        if input_name not in self.inputs:
            raise Failed
        inp = self.inputs[input_name]
        if inp.mode != "select":
            self.fail(f"'{input_name}' is a {inp.mode} input; only a select input can choose "
                      "rows of a table", rhs.index.span)
        shape = (inp.size, *table.shape[1:])
        if shape != dims:
            self.fail(
                f"weights '{name}' declared {shape_text(dims)} but {table_name}[{input_name}] has "
                f"shape {shape_text(shape)} (one row of '{table_name}' per value of "
                f"'{input_name}')",
                rhs.span,
            )
        self.weights_ops[name] = WeightsOp(
            name, dims, table=frozen_array(table), select=input_name,
            provenance=f"{table_name}[{input_name}]", loc=stmt.span,
        )
        return Selected(table_name, table, input_name)

    def check_finite(self, value: np.ndarray, what: str, span: Span) -> None:
        bad = ~np.isfinite(value)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(value[where]) else "an infinite value"
            self.fail(f"{what} contain {kind} (first at index {list(where)})", span)
