"""lark's tree -> `dsl.ast` nodes with spans (the Builder transformer).

One method per grammar rule (or alias), named after it. Names are checked against the reserved
words here, and numbers are converted (SI prefixes applied); both kinds of problem are collected in
`errors` in source order rather than raised, so the parser reports them all at once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal, NoReturn, cast

from denseamc.dsl import ast
from denseamc.dsl.grammar import reserved_words
from denseamc.dsl.lexer import list_values, parse_number
from denseamc.dsl.standalone_parser import Meta, Token, Transformer, v_args
from denseamc.ir.diagnostics import Diagnostic, InternalCompilerError, error
from denseamc.ir.span import SourceFile, Span

_BinaryOp = Literal["+", "-", "*", "/", "**"]


def _unescape(token_text: str) -> str:
    return re.sub(r'\\(["\\])', r"\1", token_text[1:-1])


class Builder(Transformer[Token, Any]):
    """Turn lark's tree into `dsl.ast` nodes with spans; collect reserved words and overflows."""

    def __init__(self, source: SourceFile) -> None:
        super().__init__(visit_tokens=False)
        self.source = source
        self.errors: list[Diagnostic] = []

    # -- helpers ---------------------------------------------------------------------------------
    def span(self, start: int, end: int) -> Span:
        return Span(self.source, start, end)

    def tspan(self, tok: Token) -> Span:
        return Span(self.source, tok.start_pos or 0, tok.end_pos or 0)

    def mspan(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, 0, 0)
        return Span(self.source, meta.start_pos, meta.end_pos)

    def ident(self, tok: Token) -> ast.Ident:
        if tok.value in reserved_words():
            self.errors.append(
                error(f"'{tok.value}' is a reserved word and cannot be used as a name",
                      self.tspan(tok))
            )
        return ast.Ident(str(tok.value), self.tspan(tok))

    def string(self, tok: Token) -> ast.String:
        return ast.String(_unescape(str(tok.value)), self.tspan(tok))

    @staticmethod
    def join(first: Span, last: Span) -> Span:
        return Span(first.file, first.start, last.end)

    # -- program and statements ------------------------------------------------------------------
    @v_args(meta=True)
    def start(self, meta: Meta, children: list[Any]) -> ast.Program:
        return ast.Program(tuple(children), self.span(0, len(self.source.text)))

    @v_args(meta=True)
    def model_stmt(self, meta: Meta, c: list[Any]) -> ast.ModelStmt:
        return ast.ModelStmt(self.ident(c[0]), self.mspan(meta))

    @v_args(meta=True)
    def param_stmt(self, meta: Meta, c: list[Any]) -> ast.ParamStmt:
        return ast.ParamStmt(self.ident(c[0]), c[1], self.mspan(meta))

    @v_args(meta=True)
    def weights_stmt(self, meta: Meta, c: list[Any]) -> ast.WeightsStmt:
        return ast.WeightsStmt(self.ident(c[0]), tuple(c[1:-1]), c[-1], self.mspan(meta))

    @v_args(meta=True)
    def layer_stmt(self, meta: Meta, c: list[Any]) -> ast.LayerStmt:
        return ast.LayerStmt(self.ident(c[0]), c[1], c[2], tuple(c[3:]), self.mspan(meta))

    @v_args(meta=True)
    def lagrangian(self, meta: Meta, c: list[Any]) -> ast.LagrangianSpec:
        # Lagrangian names are not reserved (new ones may be added), so no reserved-word check.
        name = ast.Ident(str(c[0].value), self.tspan(c[0]))
        return ast.LagrangianSpec(name, tuple(c[1:]), self.mspan(meta))

    @v_args(meta=True)
    def tau_option(self, meta: Meta, c: list[Any]) -> ast.LayerOption:
        return ast.LayerOption(ast.Ident("tau", self.tspan(c[0])), c[1], self.mspan(meta))

    @v_args(meta=True)
    def init_option(self, meta: Meta, c: list[Any]) -> ast.LayerOption:
        value = c[1]
        if isinstance(value, Token):  # `settled`
            value = ast.Ident(str(value.value), self.tspan(value))
        return ast.LayerOption(ast.Ident("init", self.tspan(c[0])), value, self.mspan(meta))

    @v_args(meta=True)
    def energy_stmt(self, meta: Meta, c: list[Any]) -> ast.EnergyStmt:
        return ast.EnergyStmt(self.ident(c[0]), tuple(c[1]), self.mspan(meta))

    def energy_sum(self, c: list[Any]) -> list[ast.EnergyTerm]:
        terms: list[ast.EnergyTerm] = []
        for i in range(0, len(c), 2):
            sign_tok, term = c[i], c[i + 1]
            if sign_tok is None:
                terms.append(term)
                continue
            sign = -1 if sign_tok.value == "-" else 1
            span = self.join(self.tspan(sign_tok), term.span)
            terms.append(replace(term, sign=sign * term.sign, span=span))
        return terms

    @v_args(meta=True)
    def scaled_term(self, meta: Meta, c: list[Any]) -> ast.EnergyTerm:
        scale, _star, term = c
        return ast.EnergyTerm(term.sign, (scale, *term.factors), term.body, self.mspan(meta))

    @v_args(meta=True)
    def legendre_term(self, meta: Meta, c: list[Any]) -> ast.EnergyTerm:
        span = self.mspan(meta)
        return ast.EnergyTerm(1, (), ast.LegendreCall(self.ident(c[0]), span), span)

    @v_args(meta=True)
    def product_term(self, meta: Meta, c: list[Any]) -> ast.EnergyTerm:
        span = self.mspan(meta)
        return ast.EnergyTerm(1, (), ast.Product(tuple(c), span), span)

    @v_args(meta=True)
    def operand(self, meta: Meta, c: list[Any]) -> ast.Operand:
        attr = ast.Ident(str(c[2].value), self.tspan(c[2])) if len(c) == 3 else None
        return ast.Operand(self.ident(c[0]), attr, self.mspan(meta))

    @v_args(meta=True)
    def input_stmt(self, meta: Meta, c: list[Any]) -> ast.InputStmt:
        mode, target = c[2]
        return ast.InputStmt(self.ident(c[0]), c[1], mode, target, self.mspan(meta))

    def clamp_mode(self, c: list[Any]) -> tuple[str, ast.LayerRef]:
        return ("clamp", c[0])

    def init_mode(self, c: list[Any]) -> tuple[str, ast.LayerRef]:
        return ("init", c[1])

    def select_mode(self, c: list[Any]) -> tuple[str, None]:
        return ("select", None)

    @v_args(meta=True)
    def layer_ref(self, meta: Meta, c: list[Any]) -> ast.LayerRef:
        sl = c[1] if len(c) > 1 else None
        return ast.LayerRef(self.ident(c[0]), sl, self.mspan(meta))

    @v_args(meta=True)
    def slice_index(self, meta: Meta, c: list[Any]) -> ast.Slice:
        return ast.Slice(c[0], None, False, self.mspan(meta))

    @v_args(meta=True)
    def slice_range(self, meta: Meta, c: list[Any]) -> ast.Slice:
        return ast.Slice(c[0], c[2], True, self.mspan(meta))

    @v_args(meta=True)
    def output_stmt(self, meta: Meta, c: list[Any]) -> ast.OutputStmt:
        return ast.OutputStmt(self.ident(c[0]), c[1], c[2], self.mspan(meta))

    @v_args(meta=True)
    def sign_readout(self, meta: Meta, c: list[Any]) -> ast.Readout:
        return ast.Readout("sign", c[0], None, None, 1, self.mspan(meta))

    @v_args(meta=True)
    def value_readout(self, meta: Meta, c: list[Any]) -> ast.Readout:
        return ast.Readout("value", c[0], None, None, 1, self.mspan(meta))

    @v_args(meta=True)
    def argmax_readout(self, meta: Meta, c: list[Any]) -> ast.Readout:
        decoder, layer_tok, sign_tok, offset = c
        layer = self.ident(layer_tok)
        target = ast.LayerRef(layer, None, layer.span)
        sign: Literal[1, -1] = -1 if sign_tok is not None and sign_tok.value == "-" else 1
        return ast.Readout("argmax", target, decoder, offset, sign, self.mspan(meta))

    @v_args(meta=True)
    def readout_stmt(self, meta: Meta, c: list[Any]) -> ast.ReadoutStmt:
        var = ast.Ident(str(c[0].value), self.tspan(c[0]))
        return ast.ReadoutStmt(var, c[1], self.mspan(meta))

    @v_args(meta=True)
    def hardware_stmt(self, meta: Meta, c: list[Any]) -> ast.HardwareStmt:
        return ast.HardwareStmt(tuple(c), self.mspan(meta))

    @v_args(meta=True)
    def hw_setting(self, meta: Meta, c: list[Any]) -> ast.HardwareSetting:
        value = self.string(c[1]) if isinstance(c[1], Token) else c[1]
        key = ast.Ident(str(c[0].value), self.tspan(c[0]))  # keys belong to the backends
        return ast.HardwareSetting(key, value, self.mspan(meta))

    @v_args(meta=True)
    def test_stmt(self, meta: Meta, c: list[Any]) -> ast.TestStmt:
        options = tuple(x for x in c[1:] if isinstance(x, ast.TestOption))
        vectors = tuple(x for x in c[1:] if isinstance(x, ast.TestVectorNode))
        return ast.TestStmt(self.string(c[0]), options, vectors, self.mspan(meta))

    @v_args(meta=True)
    def test_option(self, meta: Meta, c: list[Any]) -> ast.TestOption:
        key = ast.Ident(str(c[0].value), self.tspan(c[0]))
        return ast.TestOption(key, c[1], self.mspan(meta))

    @v_args(meta=True)
    def test_vector(self, meta: Meta, c: list[Any]) -> ast.TestVectorNode:
        arrow = next(i for i, x in enumerate(c) if isinstance(x, Token))
        return ast.TestVectorNode(tuple(c[:arrow]), tuple(c[arrow + 1:]), self.mspan(meta))

    @v_args(meta=True)
    def assignment(self, meta: Meta, c: list[Any]) -> ast.Assignment:
        values = tuple(x for x in c[1:] if x is not None)
        return ast.Assignment(self.ident(c[0]), values, self.mspan(meta))

    @v_args(meta=True)
    def number_assignment(self, meta: Meta, c: list[Any]) -> ast.Assignment:
        values = self.number_list([c[1]])  # its numbers first: errors stay in source order
        return ast.Assignment(self.ident(c[0]), values, self.mspan(meta))

    # -- expressions -----------------------------------------------------------------------------
    def _fold(self, c: list[Any]) -> ast.Expr:
        left: ast.Expr = c[0]
        for i in range(1, len(c), 2):
            op, right = c[i], c[i + 1]
            left = ast.Binary(
                cast(_BinaryOp, op.value), left, right, self.join(left.span, right.span),
                self.tspan(op),
            )
        return left

    def sum(self, c: list[Any]) -> ast.Expr:
        return self._fold(c)

    def product(self, c: list[Any]) -> ast.Expr:
        return self._fold(c)

    def power(self, c: list[Any]) -> ast.Expr:
        return self._fold(c)

    @v_args(meta=True)
    def unary_op(self, meta: Meta, c: list[Any]) -> ast.Unary:
        return ast.Unary(cast(Literal["+", "-"], c[0].value), c[1], self.mspan(meta))

    @v_args(meta=True)
    def attribute(self, meta: Meta, c: list[Any]) -> ast.Attribute:
        attr = ast.Ident(str(c[2].value), self.tspan(c[2]))
        return ast.Attribute(c[0], attr, self.mspan(meta))

    @v_args(meta=True)
    def index(self, meta: Meta, c: list[Any]) -> ast.Index:
        return ast.Index(c[0], c[1], self.mspan(meta))

    def number(self, c: list[Any]) -> ast.Number:
        tok = c[0]
        try:
            value = parse_number(str(tok.value))
        except OverflowError:
            self.errors.append(error(f"number '{tok.value}' is too large", self.tspan(tok)))
            value = 0.0
        return ast.Number(value, str(tok.value), self.tspan(tok))

    def number_list(self, c: list[Any]) -> ast.NumberList:
        tok = c[0]
        values = list_values(tok.value)
        if values is None:  # some number is too large: report each, as number() does
            values = self._list_overflows(tok)
        return ast.NumberList(values, self.tspan(tok))

    def _list_overflows(self, tok: Token) -> tuple[float, ...]:
        start = tok.start_pos or 0
        for first, end in ast.item_bounds(self.source.text, start, start + len(tok.value)):
            number = self.source.text[first:end].lstrip("+-")
            try:
                parse_number(number)
            except OverflowError:
                self.errors.append(error(f"number '{number}' is too large",
                                         self.span(end - len(number), end)))
        return ()

    def name(self, c: list[Any]) -> ast.Name:
        ident = self.ident(c[0])
        return ast.Name(ident.name, ident.span)

    @v_args(meta=True)
    def list_literal(self, meta: Meta, c: list[Any]) -> ast.ListLiteral:
        return ast.ListLiteral(tuple(x for x in c if x is not None), self.mspan(meta))

    @v_args(meta=True)
    def load_call(self, meta: Meta, c: list[Any]) -> ast.Load:
        key = self.string(c[1]) if len(c) > 1 and c[1] is not None else None
        return ast.Load(self.string(c[0]), key, self.mspan(meta))

    def __default__(self, data: Any, children: Any, meta: Any) -> NoReturn:
        raise InternalCompilerError(f"parser: no AST builder for grammar rule {data!r}")

