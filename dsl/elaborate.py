"""Syntax tree -> graph IR: give a parsed `.dam` program its meaning.

`elaborate(program, base_dir)` resolves names, evaluates params and weight expressions (SI
prefixes are already applied by the parser), loads weight files relative to `base_dir`, checks
every shape, size, slice and test vector, folds the energy's coefficients into terms and returns a
`ModelGraph`. It does not judge the energy's form (one `legendre` per layer, shapes of terms,
convexity of the whole): the energy-analysis pass does that.

Name resolution is two-phase: every declaration is collected first, so a name may be used before
the statement that declares it (the normative parity program indexes `embed[bits]` before
`input bits` is declared). Params and weights are evaluated on demand; a definition that depends
on itself is an error.

Errors are collected per statement and raised together as one DenseAMCError. When a declaration
fails, its users are skipped silently, so one mistake gives one message.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
from denseamc.dsl import ast
from denseamc.dsl.parser import parse
from denseamc.ir.diagnostics import (
    DenseAMCError,
    Diagnostic,
    InternalCompilerError,
    Severity,
    error,
)
from denseamc.ir.lagrangians import KINDS, Lagrangian
from denseamc.ir.model import (
    Array,
    BiasTerm,
    BilinearTerm,
    HardwareSetting,
    InputOp,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    OutputOp,
    TestBlock,
    TestVector,
    WeightsOp,
    frozen_array,
)
from denseamc.ir.span import SourceFile, Span

#: Largest layer, input or output size and weights dimension accepted.
MAX_SIZE = 1_000_000

Kind = Literal["param", "weights", "layer", "input", "output"]

_KIND_WORDS: dict[str, str] = {
    "param": "a param",
    "weights": "weights",
    "layer": "a layer",
    "input": "an input",
    "output": "an output",
}

_LAGRANGIAN_FORMS = ", ".join(
    kind if pname is None else f"{kind}({pname})" for kind, pname in KINDS.items()
)


class _Failed(Exception):
    """A diagnostic has been recorded; abandon the current statement without another."""


@dataclass(slots=True)
class _Decl:
    kind: Kind
    ident: ast.Ident
    stmt: ast.Statement


@dataclass(slots=True)
class _Selected:
    """A weights statement `TABLE[INPUT]`: rows of `table` chosen by a select input."""

    table_name: str
    table: Array
    select: str


Value = float | np.ndarray


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _snippet(span: Span, limit: int = 60) -> str:
    text = " ".join(span.file.text[span.start : span.end].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Elaborator:
    program: ast.Program
    base_dir: Path
    diags: list[Diagnostic] = field(default_factory=list)
    decls: dict[str, _Decl] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    weights: dict[str, np.ndarray | _Selected] = field(default_factory=dict)
    weights_ops: dict[str, WeightsOp] = field(default_factory=dict)
    layers: dict[str, LayerOp] = field(default_factory=dict)
    inputs: dict[str, InputOp] = field(default_factory=dict)
    outputs: dict[str, OutputOp] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    in_progress: list[str] = field(default_factory=list)  # the chain being evaluated

    # -- reporting -------------------------------------------------------------------------------
    def fail(self, message: str, span: Span | None, *notes: str) -> NoReturn:
        self.diags.append(error(message, span, *notes))
        raise _Failed

    def report(self, message: str, span: Span | None, *notes: str) -> None:
        self.diags.append(error(message, span, *notes))

    def each(self, items: list[ast.Statement], fn: Callable[..., object]) -> None:
        for item in items:
            try:
                fn(item)
            except _Failed:
                pass

    # -- names -----------------------------------------------------------------------------------
    def lookup(self, name: str, span: Span, expected: tuple[Kind, ...]) -> _Decl:
        """The declaration of `name`, which must be of one of the `expected` kinds."""
        want = " or ".join(_KIND_WORDS[k] for k in expected)
        decl = self.decls.get(name)
        if decl is None:
            candidates = [n for n, d in self.decls.items() if d.kind in expected]
            close = difflib.get_close_matches(name, candidates, n=1)
            notes = (f"did you mean '{close[0]}'?",) if close else ()
            self.fail(f"unknown name '{name}': expected {want}", span, *notes)
        if decl.kind not in expected:
            self.fail(
                f"expected {want} here, but '{name}' is {_KIND_WORDS[decl.kind]}",
                span,
                f"'{name}' is declared at {decl.ident.span.location()}",
            )
        if name in self.failed:
            raise _Failed
        return decl

    def cycle(self, name: str) -> str:
        chain = [*self.in_progress[self.in_progress.index(name) :], name]
        return " -> ".join(chain)

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
        except _Failed:
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
                      f"{_shape(value.shape)}", expr.span)
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
        if isinstance(expr, ast.ListLiteral):
            return self.literal(expr)
        if isinstance(expr, ast.Load):
            return self.load(expr)
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
        a = self.value(node.left, arrays)
        b = self.value(node.right, arrays)
        if isinstance(a, float) and isinstance(b, float):
            return self.arith(node.op, a, b, node)
        op = node.op
        with np.errstate(all="ignore"):
            if op in "+-":
                if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape != b.shape:
                    self.fail(f"cannot {'add' if op == '+' else 'subtract'} arrays of shapes "
                              f"{_shape(a.shape)} and {_shape(b.shape)}", node.op_span)
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
        raise InternalCompilerError(f"elaborate: unknown operator {op!r}")

    def attribute(self, node: ast.Attribute) -> np.ndarray:
        if node.attr.name != "T":
            self.fail(f"unknown attribute '.{node.attr.name}': the only attribute is '.T' "
                      "(transpose)", node.attr.span)
        v = self.value(node.operand)
        if isinstance(v, float) or v.ndim != 2:
            shape = "a number" if isinstance(v, float) else f"shape {_shape(v.shape)}"
            self.fail(f"'.T' transposes a matrix, but this is {shape}", node.attr.span)
        return np.ascontiguousarray(v.T)

    def literal(self, node: ast.ListLiteral) -> np.ndarray:
        items = node.items
        if not items:
            return np.zeros((0,))
        lists = [x for x in items if isinstance(x, ast.ListLiteral)]
        if not lists:
            return np.array([self.scalar(x) for x in items], dtype=np.float64)
        if len(lists) != len(items):
            odd = next(x for x in items if not isinstance(x, ast.ListLiteral))
            self.fail("this literal mixes lists and numbers: every row must be a list", odd.span)
        rows = [self.literal(x) for x in lists]
        first = rows[0].shape
        for i, (row, sub) in enumerate(zip(rows, lists, strict=True)):
            if row.shape != first:
                if row.ndim == 1 and len(first) == 1:
                    self.fail(
                        f"ragged literal: the {_ordinal(i + 1)} row has "
                        f"{_plural(row.shape[0], 'element')} but the first has {first[0]}",
                        sub.span,
                    )
                self.fail(
                    f"ragged literal: the {_ordinal(i + 1)} row has shape {_shape(row.shape)} "
                    f"but the first has shape {_shape(first)}",
                    sub.span,
                )
        return np.stack(rows).astype(np.float64)

    # -- files -----------------------------------------------------------------------------------
    def load(self, node: ast.Load) -> np.ndarray:
        rel = node.path.value
        path = self.base_dir / rel
        suffix = path.suffix.lower()
        span = node.path.span
        if suffix not in (".npy", ".npz", ".csv"):
            self.fail(f"load() reads .npy, .npz and .csv files, not '{rel}'", span)
        if suffix != ".npz" and node.key is not None:
            self.fail(f"'{rel}' holds one array, so load() takes no key here", node.key.span)
        if not path.is_file():
            self.fail(f"cannot read '{rel}': no such file", span,
                      f"paths are relative to the .dam file's directory ({self.base_dir})")
        if suffix == ".csv":
            return self.load_csv(path, rel, span)
        try:
            if suffix == ".npy":
                raw = np.load(path, allow_pickle=False)
            else:
                with np.load(path, allow_pickle=False) as archive:
                    files = list(archive.files)
                    if node.key is None:
                        self.fail(
                            f"'{rel}' holds several arrays: name one, "
                            f'e.g. load("{rel}", "{files[0] if files else "key"}")',
                            node.span,
                            "it holds: " + (", ".join(files) if files else "nothing"),
                        )
                    if node.key.value not in files:
                        self.fail(
                            f"'{rel}' has no array named '{node.key.value}'",
                            node.key.span,
                            "it holds: " + (", ".join(files) if files else "nothing"),
                        )
                    raw = archive[node.key.value]
        except _Failed:
            raise
        except Exception as exc:
            self.fail(f"cannot read '{rel}': {exc}", span)
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf":
            self.fail(f"'{rel}' does not hold real numbers (its dtype is {arr.dtype})", span)
        if arr.ndim == 0:
            self.fail(f"'{rel}' holds a single number, not an array", span)
        return np.array(arr, dtype=np.float64)

    def load_csv(self, path: Path, rel: str, span: Span) -> np.ndarray:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"cannot read '{rel}': {exc}", span)
        rows: list[list[float]] = []
        first_line = 0
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            row = []
            for cell in stripped.split(","):
                try:
                    row.append(float(cell))
                except ValueError:
                    self.fail(f"'{rel}' line {lineno}: '{cell.strip()}' is not a number", span)
            if rows and len(row) != len(rows[0]):
                self.fail(
                    f"'{rel}' line {lineno} has {_plural(len(row), 'number')} but line "
                    f"{first_line} has {len(rows[0])}",
                    span,
                )
            if not rows:
                first_line = lineno
            rows.append(row)
        if not rows:
            self.fail(f"'{rel}' holds no numbers", span)
        return np.array(rows, dtype=np.float64)

    # -- weights ---------------------------------------------------------------------------------
    def array_of(self, name: str, span: Span) -> np.ndarray:
        """The numbers of constant weights `name` (evaluating them if needed)."""
        value = self.weights_value(name, span)
        if isinstance(value, _Selected):
            self.fail(
                f"weights '{name}' are rows chosen by input '{value.select}', so their value "
                "depends on the input and they cannot be used in an expression",
                span,
            )
        return value

    def weights_value(self, name: str, span: Span) -> np.ndarray | _Selected:
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
        except _Failed:
            self.failed.add(name)
            raise
        finally:
            self.in_progress.pop()
        return self.weights[name]

    def weights_stmt(self, stmt: ast.WeightsStmt) -> np.ndarray | _Selected:
        name = stmt.name.name
        dims = tuple(self.whole(d, "a weights dimension", 1, MAX_SIZE) for d in stmt.dims)
        rhs = stmt.value
        declared = f"weights '{name}' declared {_shape(dims)}"
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
            if isinstance(rhs, ast.ListLiteral):
                if value.ndim == 2:
                    got = f"the literal has {_plural(value.shape[0], 'row')} of {value.shape[1]}"
                elif value.ndim == 1:
                    got = f"the literal has {_plural(value.shape[0], 'element')}"
                else:
                    got = f"the literal has shape {_shape(value.shape)}"
            elif isinstance(rhs, ast.Load):
                got = f"'{rhs.path.value}' holds an array of shape {_shape(value.shape)}"
            else:
                got = f"the expression has shape {_shape(value.shape)}"
            self.fail(f"{declared} but {got}", rhs.span)
        self.check_finite(value, f"weights '{name}'", rhs.span)
        provenance = "literal" if isinstance(rhs, ast.ListLiteral) else _snippet(rhs.span)
        self.weights_ops[name] = WeightsOp(
            name, dims, value=frozen_array(value), provenance=provenance, loc=stmt.span
        )
        return value

    def selected(
        self, stmt: ast.WeightsStmt, dims: tuple[int, ...], rhs: ast.Index
    ) -> _Selected:
        name = stmt.name.name
        if not isinstance(rhs.operand, ast.Name) or not isinstance(rhs.index, ast.Name):
            self.fail("a table lookup is written TABLE[INPUT], with the name of weights and the "
                      "name of a select input", rhs.span)
        table_name, input_name = rhs.operand.name, rhs.index.name
        table = self.array_of(table_name, rhs.operand.span)
        self.lookup(input_name, rhs.index.span, ("input",))
        if input_name not in self.inputs:
            raise _Failed
        inp = self.inputs[input_name]
        if inp.mode != "select":
            self.fail(f"'{input_name}' is a {inp.mode} input; only a select input can choose "
                      "rows of a table", rhs.index.span)
        shape = (inp.size, *table.shape[1:])
        if shape != dims:
            self.fail(
                f"weights '{name}' declared {_shape(dims)} but {table_name}[{input_name}] has "
                f"shape {_shape(shape)} (one row of '{table_name}' per value of "
                f"'{input_name}')",
                rhs.span,
            )
        self.weights_ops[name] = WeightsOp(
            name, dims, table=frozen_array(table), select=input_name,
            provenance=f"{table_name}[{input_name}]", loc=stmt.span,
        )
        return _Selected(table_name, table, input_name)

    def check_finite(self, value: np.ndarray, what: str, span: Span) -> None:
        bad = ~np.isfinite(value)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(value[where]) else "an infinite value"
            self.fail(f"{what} contain {kind} (first at index {list(where)})", span)

    # -- layers, inputs, outputs -----------------------------------------------------------------
    def layer_stmt(self, stmt: ast.LayerStmt) -> None:
        name = stmt.name.name
        try:
            self.layers[name] = self.build_layer(stmt)
        except _Failed:
            self.failed.add(name)
            raise

    def build_layer(self, stmt: ast.LayerStmt) -> LayerOp:
        size = self.whole(stmt.size, "a layer size", 1, MAX_SIZE)
        spec = stmt.lagrangian
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
        tau, init = 1.0, "zero"
        seen: dict[str, ast.LayerOption] = {}
        for opt in stmt.options:
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
        return LayerOp(stmt.name.name, size, lagrangian, tau, init, loc=stmt.span)

    def layer(self, ident: ast.Ident) -> LayerOp:
        self.lookup(ident.name, ident.span, ("layer",))
        if ident.name not in self.layers:
            raise _Failed
        return self.layers[ident.name]

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
                          f"{_plural(n, 'neuron')} (valid: 0..{n - 1}, or -{n}..-1 from the end)",
                          sl.span)
            return layer, (i % n,)
        start = self.whole(sl.start, "a slice start") if sl.start is not None else 0
        stop = self.whole(sl.stop, "a slice end") if sl.stop is not None else n
        lo = start + n if start < 0 else start
        hi = stop + n if stop < 0 else stop
        if not (0 <= lo <= n and 0 <= hi <= n):
            self.fail(f"slice is out of range for layer '{name}' with {_plural(n, 'neuron')}",
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
                    f"input '{name}' is declared with {_plural(size, 'value')} but "
                    f"{_snippet(stmt.target.span)} has {_plural(len(idx), 'neuron')}",
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
        except _Failed:
            self.failed.add(name)
            raise

    def output_stmt(self, stmt: ast.OutputStmt) -> None:
        name = stmt.name.name
        try:
            self.outputs[name] = self.build_output(stmt)
        except _Failed:
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
                    f"output '{name}' is declared with {_plural(size, 'value')} but "
                    f"{_snippet(ro.span)} reads {_plural(len(idx), 'neuron')}",
                    ro.span,
                )
            return OutputOp(name, size, ro.kind, layer.name, idx, loc=stmt.span)
        layer = self.layer(ro.target.layer)
        assert ro.decoder is not None
        decoder = self.value(ro.decoder)
        if isinstance(decoder, float) or decoder.ndim != 2 or decoder.shape[1] != layer.size:
            got = "a number" if isinstance(decoder, float) else f"shape {_shape(decoder.shape)}"
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
                got = "a number" if isinstance(off, float) else f"shape {_shape(off.shape)}"
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

    # -- energy ----------------------------------------------------------------------------------
    def energy(self, stmt: ast.EnergyStmt) -> list[LegendreTerm | BilinearTerm | BiasTerm]:
        terms: list[LegendreTerm | BilinearTerm | BiasTerm] = []
        for term in stmt.terms:
            try:
                terms.append(self.energy_term(term))
            except _Failed:
                pass
        return terms

    def energy_term(self, term: ast.EnergyTerm) -> LegendreTerm | BilinearTerm | BiasTerm:
        coef = float(term.sign)
        for factor in term.factors:
            coef *= self.scalar(factor)
        if not math.isfinite(coef):
            self.fail("the term's coefficient overflows", term.span)
        body = term.body
        if isinstance(body, ast.LegendreCall):
            layer = self.layer(body.layer)
            if term.sign != 1 or term.factors:
                self.fail(
                    f"legendre({layer.name}) must appear exactly once with a + sign and no factor",
                    term.span,
                )
            return LegendreTerm(layer.name, loc=term.span)
        ops = body.operands
        if len(ops) == 3:
            a, w, b = ops
            for o in (a, b):
                if o.attr is not None:
                    self.fail("'.T' applies to the weights of a term, not to a layer",
                              o.attr.span)
            la, lb = self.layer(a.name), self.layer(b.name)
            self.weights_value(w.name.name, w.name.span)
            if w.attr is not None and w.attr.name != "T":
                self.fail(f"unknown attribute '.{w.attr.name}': the only attribute is '.T' "
                          "(transpose)", w.attr.span)
            if w.attr is not None:  # a @ W.T @ b  ==  b @ W @ a
                la, lb = lb, la
            return BilinearTerm(coef, la.name, w.name.name, lb.name, loc=term.span)
        first, second = ops
        kinds = []
        for o in ops:
            decl = self.lookup(o.name.name, o.name.span, ("layer", "weights"))
            kinds.append(decl.kind)
        if kinds == ["layer", "layer"]:
            self.fail(
                f"'{first.name.name} @ {second.name.name}' multiplies two layers: a coupling "
                "needs weights between them (A @ W @ B), a bias needs weights and a layer",
                body.span,
            )
        if kinds == ["weights", "weights"]:
            self.fail(
                f"'{first.name.name} @ {second.name.name}' has no layer: a bias term is "
                "c @ A or A @ c with c weights and A a layer",
                body.span,
            )
        vec, lay = (first, second) if kinds[0] == "weights" else (second, first)
        for o in ops:
            if o.attr is not None:
                self.fail("'.T' has no meaning in a bias term: write c @ A", o.attr.span)
        layer = self.layer(lay.name)
        self.weights_value(vec.name.name, vec.name.span)
        return BiasTerm(coef, vec.name.name, layer.name, loc=term.span)

    # -- hardware, readout, tests ----------------------------------------------------------------
    def hardware(self, stmt: ast.HardwareStmt) -> dict[str, HardwareSetting]:
        out: dict[str, HardwareSetting] = {}
        for s in stmt.settings:
            key = s.key.name
            try:
                if key in out:
                    first = out[key].loc
                    self.fail(f"hardware setting '{key}' is given twice", s.key.span,
                              f"first given at {first.location() if first else '?'}")
                value: float | str
                if isinstance(s.value, ast.String):
                    value = s.value.value
                elif isinstance(s.value, ast.Name):
                    decl = self.decls.get(s.value.name)
                    if decl is not None and decl.kind == "param":
                        value = self.param(s.value.name, s.value.span)
                    else:
                        value = s.value.name  # a word such as dual_rail or auto
                else:
                    value = self.scalar(s.value)
                out[key] = HardwareSetting(key, value, loc=s.span)
            except _Failed:
                pass
        return out

    def readout(self, stmt: ast.ReadoutStmt) -> float:
        if stmt.var.name != "t":
            self.fail(f"write 'readout at t = ...', not '{stmt.var.name}'", stmt.var.span)
        t = self.scalar(stmt.time)
        if not t > 0:
            self.fail(f"the readout time must be > 0, got {t:g}", stmt.time.span)
        return t

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
            except _Failed:
                ok = False
        if not ok:
            raise _Failed
        return TestBlock(name, tuple(vectors), tol, min_pass, loc=stmt.span)

    def test_vector(self, vec: ast.TestVectorNode) -> TestVector:
        inputs: dict[str, Array] = {}
        outputs: dict[str, Array] = {}
        failed = False
        for side, assigns, target in (("input", vec.inputs, inputs),
                                      ("output", vec.outputs, outputs)):
            for a in assigns:
                try:
                    target[a.name.name] = self.test_values(a, side, target)
                except _Failed:
                    failed = True
        for name, decl in self.decls.items():
            missing = decl.kind == "input" and name not in inputs and name not in self.failed
            if missing and not failed:
                self.report(f"this test vector does not give input '{name}'", vec.span,
                            "every vector gives every input")
                failed = True
        if failed:
            raise _Failed
        return TestVector(inputs, outputs, loc=vec.span)

    def test_values(self, a: ast.Assignment, side: str, seen: dict[str, Array]) -> Array:
        name = a.name.name
        decl = self.decls.get(name)
        if decl is not None and decl.kind in ("input", "output") and decl.kind != side:
            where = "before" if decl.kind == "input" else "after"
            self.fail(f"'{name}' is {_KIND_WORDS[decl.kind]}; {decl.kind}s go {where} '->'",
                      a.name.span)
        self.lookup(name, a.name.span, (side,))  # type: ignore[arg-type]
        if name in seen:
            self.fail(f"'{name}' is given twice in this test vector", a.name.span)
        values = [self.scalar(v) for v in a.values]
        if side == "input":
            if name not in self.inputs:
                raise _Failed
            size = self.inputs[name].size
            mode = self.inputs[name].mode
        else:
            if name not in self.outputs:
                raise _Failed
            size = self.outputs[name].size
            mode = self.outputs[name].kind
        if len(values) != size:
            self.fail(f"{side} '{name}' takes {_plural(size, 'value')}, but the test gives "
                      f"{len(values)}", a.span)
        for v, node in zip(values, a.values, strict=True):
            self.check_test_value(name, mode, v, node)
        return frozen_array(values)

    def check_test_value(self, name: str, mode: str, v: float, node: ast.Expr) -> None:
        if mode == "select":
            tables = [
                (w, s.table.shape[0]) for w, s in self.weights.items()
                if isinstance(s, _Selected) and s.select == name
            ]
            rows = min((r for _, r in tables), default=None)
            if v != math.floor(v) or v < 0 or (rows is not None and v >= rows):
                table = next(w for w, r in tables if r == rows) if tables else None
                rng = f"0..{rows - 1}" if rows is not None else ">= 0"
                why = f" (the rows of '{table}')" if table else ""
                self.fail(f"select input '{name}' takes whole numbers {rng}{why}, got {v:g}",
                          node.span)
        elif mode == "sign" and v not in (-1.0, 0.0, 1.0):
            self.fail(f"sign output '{name}' is -1, 0 or 1 (bit 0 is -1), got {v:g}", node.span)
        elif mode == "argmax":
            out = self.outputs[name]
            assert out.decoder is not None
            k = out.decoder.shape[0]
            if v != math.floor(v) or not 0 <= v < k:
                self.fail(f"argmax output '{name}' is a class index 0..{k - 1}, got {v:g}",
                          node.span)

    # -- the whole program -----------------------------------------------------------------------
    def run(self) -> ModelGraph:
        stmts = list(self.program.statements)
        model = self.check_model(stmts)
        self.collect(stmts)
        singles = self.singletons(stmts)

        def of(kind: type) -> list[ast.Statement]:
            """Statements of one kind, minus duplicate declarations (already reported)."""
            return [
                s for s in stmts
                if isinstance(s, kind)
                and (not hasattr(s, "name") or isinstance(s, ast.TestStmt)
                     or self.decls[s.name.name].stmt is s)
            ]

        self.each(of(ast.ParamStmt), lambda s: self.param(s.name.name, s.name.span))
        self.each(of(ast.LayerStmt), self.layer_stmt)
        driven: dict[tuple[str, int], ast.InputStmt] = {}
        self.each(of(ast.InputStmt), lambda s: self.input_stmt(s, driven))
        self.each(of(ast.WeightsStmt), lambda s: self.weights_value(s.name.name, s.name.span))
        energy = singles.get(ast.EnergyStmt)
        terms = self.energy(energy) if isinstance(energy, ast.EnergyStmt) else []
        self.each(of(ast.OutputStmt), self.output_stmt)
        readout_t, readout_loc = 1.0, None
        ro = singles.get(ast.ReadoutStmt)
        if isinstance(ro, ast.ReadoutStmt):
            try:
                readout_t, readout_loc = self.readout(ro), ro.span
            except _Failed:
                pass
        hw = singles.get(ast.HardwareStmt)
        hardware = self.hardware(hw) if isinstance(hw, ast.HardwareStmt) else {}
        tests: list[TestBlock] = []
        names: dict[str, ast.TestStmt] = {}
        for t in of(ast.TestStmt):
            assert isinstance(t, ast.TestStmt)
            if t.name.value in names:
                self.report(f"test '{t.name.value}' is declared twice", t.name.span,
                            f"first declared at {names[t.name.value].span.location()}")
                continue
            names[t.name.value] = t
            try:
                tests.append(self.test_stmt(t))
            except _Failed:
                pass
        if model is not None and energy is None and not self.diags:  # (else it is just noise)
            self.report(f"model '{model.name.name}' has no energy statement", model.span,
                        "e.g. 'energy E = legendre(v) + legendre(h) - h @ W @ v'")
        if self.diags or model is None:
            if not self.diags:
                raise InternalCompilerError("elaborate: no model and no diagnostic")
            raise DenseAMCError(self.diags)

        graph = ModelGraph(model.name.name, readout_t=readout_t, readout_loc=readout_loc)
        assert isinstance(energy, ast.EnergyStmt)
        graph.energy_name = energy.name.name
        graph.params = {s.name.name: self.params[s.name.name] for s in of(ast.ParamStmt)}
        graph.hardware = hardware
        graph.tests = tests
        for s in of(ast.LayerStmt):
            graph.add(self.layers[s.name.name])
        for s in of(ast.InputStmt):
            graph.add(self.inputs[s.name.name])
        for s in of(ast.WeightsStmt):
            graph.add(self.weights_ops[s.name.name])
        for term in terms:
            graph.add(term)
        for s in of(ast.OutputStmt):
            graph.add(self.outputs[s.name.name])
        return graph

    def check_model(self, stmts: list[ast.Statement]) -> ast.ModelStmt | None:
        if not stmts:
            self.report("the file is empty: a .dam file starts with 'model NAME'",
                        self.program.span)
            return None
        first = stmts[0]
        models = [s for s in stmts if isinstance(s, ast.ModelStmt)]
        if not isinstance(first, ast.ModelStmt):
            self.report("a .dam file starts with 'model NAME'", first.span)
        for extra in models[1:]:
            self.report("a file declares exactly one model", extra.span,
                        f"the model is declared at {models[0].span.location()}")
        return models[0] if models else None

    def collect(self, stmts: list[ast.Statement]) -> None:
        kinds: dict[type, Kind] = {
            ast.ParamStmt: "param", ast.WeightsStmt: "weights", ast.LayerStmt: "layer",
            ast.InputStmt: "input", ast.OutputStmt: "output",
        }
        for s in stmts:
            kind = kinds.get(type(s))
            if kind is None:
                continue
            ident: ast.Ident = s.name
            first = self.decls.get(ident.name)
            if first is not None:
                self.report(
                    f"'{ident.name}' is already declared as {_KIND_WORDS[first.kind]}",
                    ident.span,
                    f"first declared at {first.ident.span.location()}",
                )
                continue
            self.decls[ident.name] = _Decl(kind, ident, s)

    def singletons(self, stmts: list[ast.Statement]) -> dict[type, ast.Statement]:
        words = {ast.EnergyStmt: "energy", ast.ReadoutStmt: "readout",
                 ast.HardwareStmt: "hardware"}
        out: dict[type, ast.Statement] = {}
        for s in stmts:
            kind = type(s)
            if kind not in words:
                continue
            if kind in out:
                self.report(f"only one '{words[kind]}' statement is allowed", s.span,
                            f"the first is at {out[kind].span.location()}")
                continue
            out[kind] = s
        return out


def elaborate(program: ast.Program, base_dir: Path) -> ModelGraph:
    """Give a parsed program its meaning; raise one DenseAMCError listing every mistake found.

    `base_dir` is the directory `load("...")` paths are relative to (the .dam file's).
    """
    return _Elaborator(program, Path(base_dir)).run()


def _decode(data: bytes, name: str) -> str:
    """Bytes of a .dam file -> text; NUL bytes and invalid UTF-8 are located errors."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    bad_at: int | None = None
    message = ""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start
        message = f"the file is not valid UTF-8 text (byte 0x{data[exc.start]:02x})"
        text = ""
    if nul >= 0 and (bad_at is None or nul < bad_at):
        bad_at, message = nul, "the file contains a NUL byte; is it a binary file?"
    if bad_at is None:
        return text
    shown = data.decode("utf-8", errors="replace")
    offset = len(data[:bad_at].decode("utf-8", errors="replace"))
    source = SourceFile(name, shown)
    raise DenseAMCError(error(message, Span(source, offset, offset + 1)))


def load_model(path: Path | str) -> ModelGraph:
    """Read, parse and elaborate a .dam file; every failure is a DenseAMCError."""
    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DenseAMCError(
            Diagnostic(Severity.ERROR, f"cannot read the file: {reason}", file=name)
        ) from None
    program = parse(_decode(data, name), name)
    graph = elaborate(program, path.parent)
    graph.source_name = name
    return graph
