"""The syntax tree of a `.dam` file: what was written, where, before any meaning is given.

Every node is a frozen, slotted dataclass with a `span` (the characters it came from). The
parser builds these; the elaborator (dsl/elaborate.py) resolves names, evaluates numbers and
arrays, checks shapes and produces the graph IR. Nothing here knows about the IR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from denseamc.ir.span import Span

# -- names and expressions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Ident:
    """A name where it is declared or written (`xi` in `weights xi[4, 3]`)."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Number:
    """A numeric literal; `value` already has its SI prefix applied (`10k` -> 10000.0)."""

    value: float
    text: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Name:
    """A use of a declared name inside an expression (a param, weights, ...)."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class String:
    """A double-quoted string, with its escapes (`\\"`, `\\\\`) already undone."""

    value: str
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Unary:
    """`-x` or `+x`."""

    op: Literal["+", "-"]
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Binary:
    """`a + b`, `a - b`, `a * b`, `a / b`, `a ** b`; `op_span` locates the operator."""

    op: Literal["+", "-", "*", "/", "**"]
    left: Expr
    right: Expr
    span: Span
    op_span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Attribute:
    """`x.T` (the only attribute of the language is `T`, the transpose)."""

    operand: Expr
    attr: Ident
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Index:
    """`table[input]`: rows of a weights table chosen by a `select` input."""

    operand: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class ListLiteral:
    """`[a, b, ...]`, possibly nested: `[[1, 2], [3, 4]]`."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class NumberList:
    """`[1, -1, 2.5e-3, 10k]`: a list of plain numbers, each with an optional sign glued to it.

    It means what a ListLiteral of those numbers means; the lexer reads it in one piece (the fast
    path for test blocks and literal matrices, see dsl/lexer.py), so its `values` (signs and SI
    prefixes applied) are kept without a node per number. `item_span(i)` locates one item (its
    sign included), as the Number or Unary node of a ListLiteral item would be.
    """

    values: tuple[float, ...]
    span: Span

    def item_span(self, i: int) -> Span:
        start, end = item_bounds(self.span.file.text, self.span.start, self.span.end)[i]
        return Span(self.span.file, start, end)


def item_bounds(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) offsets of each comma-separated item of the list `text[start:end]`."""
    bounds = []
    pos = start + 1  # after '['
    for part in text[start + 1 : end - 1].split(","):
        stripped = part.strip()
        first = pos + len(part) - len(part.lstrip())
        bounds.append((first, first + len(stripped)))
        pos += len(part) + 1
    return bounds


@dataclass(frozen=True, slots=True, eq=False)
class Load:
    """`load("file")` or `load("file.npz", "key")`; the path is relative to the .dam file."""

    path: String
    key: String | None
    span: Span


Expr = Number | Name | Unary | Binary | Attribute | Index | ListLiteral | NumberList | Load

# -- statements --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ModelStmt:
    """`model NAME`."""

    name: Ident
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class ParamStmt:
    """`param NAME = EXPR`."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class WeightsStmt:
    """`weights NAME[D1, ...] = WEXPR`."""

    name: Ident
    dims: tuple[Expr, ...]
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class LagrangianSpec:
    """`softmax(beta)`, `identity`, ...: a name and its parameters, not yet checked."""

    name: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class LayerOption:
    """`tau=EXPR` or `init=0` / `init=settled` (`value` is an Ident for `settled`)."""

    key: Ident
    value: Expr | Ident
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class LayerStmt:
    """`layer NAME[N]: LAGRANGIAN (tau=EXPR)? (init=INIT)?`."""

    name: Ident
    size: Expr
    lagrangian: LagrangianSpec
    options: tuple[LayerOption, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Operand:
    """A name in a product term, possibly transposed (`xi.T`); `attr` is the written attribute."""

    name: Ident
    attr: Ident | None
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class LegendreCall:
    """`legendre(LAYER)`."""

    layer: Ident
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Product:
    """`A @ W @ B` (three operands) or `c @ A` / `A @ c` (two)."""

    operands: tuple[Operand, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class EnergyTerm:
    """One signed term of the energy: `sign * factors[0] * ... * body`."""

    sign: Literal[1, -1]
    factors: tuple[Expr, ...]
    body: LegendreCall | Product
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class EnergyStmt:
    """`energy NAME = TERM (+|- TERM)*`."""

    name: Ident
    terms: tuple[EnergyTerm, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Slice:
    """`[i]` (`stop` is None and `is_range` False) or `[start:stop]` (either end optional)."""

    start: Expr | None
    stop: Expr | None
    is_range: bool
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class LayerRef:
    """`v` or `v[SLICE]`: some neurons of a layer."""

    layer: Ident
    slice: Slice | None
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class InputStmt:
    """`input NAME[N]: clamp LAYERREF | init LAYERREF | select`."""

    name: Ident
    size: Expr
    mode: Literal["clamp", "init", "select"]
    target: LayerRef | None
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Readout:
    """`sign(REF)`, `value(REF)` or `argmax(DECODER @ LAYER (+|- OFFSET)?)`."""

    kind: Literal["sign", "value", "argmax"]
    target: LayerRef
    decoder: Expr | None
    offset: Expr | None
    offset_sign: Literal[1, -1]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class OutputStmt:
    """`output NAME[N]: READOUT`."""

    name: Ident
    size: Expr
    readout: Readout
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class ReadoutStmt:
    """`readout at t = EXPR` (`var` is the name written in place of `t`)."""

    var: Ident
    time: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class HardwareSetting:
    """`KEY = VALUE` inside `hardware { }`: a number expression, a bare word or a string."""

    key: Ident
    value: Expr | String
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class HardwareStmt:
    """`hardware { KEY = VALUE ... }`."""

    settings: tuple[HardwareSetting, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class TestOption:
    """`tol = EXPR` or `min_pass = EXPR` after a test's name."""

    __test__ = False  # not a pytest test class

    key: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Assignment:
    """`NAME = [v1, v2, ...]` in a test vector (a NumberList when all are plain numbers)."""

    name: Ident
    values: tuple[Expr, ...] | NumberList
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class TestVectorNode:
    """`INPUT = [..], ... -> OUTPUT = [..], ...`."""

    __test__ = False  # not a pytest test class

    inputs: tuple[Assignment, ...]
    outputs: tuple[Assignment, ...]
    span: Span


@dataclass(frozen=True, slots=True, eq=False)
class TestStmt:
    """`test "NAME" OPTIONS { VECTORS }`."""

    __test__ = False  # not a pytest test class

    name: String
    options: tuple[TestOption, ...]
    vectors: tuple[TestVectorNode, ...]
    span: Span


Statement = (
    ModelStmt
    | ParamStmt
    | WeightsStmt
    | LayerStmt
    | EnergyStmt
    | InputStmt
    | OutputStmt
    | ReadoutStmt
    | HardwareStmt
    | TestStmt
)


@dataclass(frozen=True, slots=True, eq=False)
class Program:
    """A whole `.dam` file: its statements in source order."""

    statements: tuple[Statement, ...]
    span: Span
