"""Text -> syntax tree: `parse(text, filename)` returns a `dsl.ast.Program` or raises.

Every problem becomes a `DenseAMCError` carrying located `Diagnostic`s that say, in words, what
was expected there ("expected a name", "expected ']' or ','"), never lark's terminal names.
Before the tree is turned into AST nodes its depth is checked without recursion, so deeply nested
input is a located error rather than a RecursionError.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any, NoReturn

from denseamc.dsl import ast
from denseamc.ir.diagnostics import DenseAMCError, Diagnostic, InternalCompilerError, error
from denseamc.ir.span import SourceFile, Span
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

#: How deeply expressions and list literals may nest (parentheses alone do not count).
MAX_NESTING = 64
# Tree levels above the first expression level: start -> statement -> expression.
_TREE_OVERHEAD = 2

#: SI prefixes (case-sensitive) and their powers of ten.
SI_PREFIXES: dict[str, int] = {
    "f": -15, "p": -12, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12,
}

_STATEMENT_KEYWORDS = (
    "model", "param", "weights", "layer", "energy", "input", "output", "readout", "hardware",
    "test",
)


@cache
def _lark() -> Lark:
    text = resources.files("denseamc.dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        lexer="basic",  # keywords are reserved everywhere, not just where expected
        propagate_positions=True,
        maybe_placeholders=True,
        strict=True,
    )


@cache
def reserved_words() -> frozenset[str]:
    """Every keyword of the grammar: these cannot be used as names."""
    words = set()
    for term in _lark().terminals:
        value = term.pattern.value
        if term.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]\w*", value):
            words.add(value)
    return frozenset(words)


def parse_number(text: str) -> float:
    """Convert a NUMBER token (`10k`, `1e-3`, `.5`) to a float, applying its SI prefix exactly.

    The prefix is folded into the decimal exponent before conversion, so `100n` is exactly
    `float("100e-9")` == 1e-7. Raises OverflowError when the value is not finite.
    """
    prefix = text[-1] if text[-1] in SI_PREFIXES else ""
    body = text[: len(text) - len(prefix)]
    mantissa, _, exponent = body.lower().partition("e")
    shift = SI_PREFIXES[prefix] if prefix else 0
    if len(exponent) > 12:  # absurd exponent: let float() decide between 0.0 and inf
        value = float(body)
    else:
        value = float(f"{mantissa}e{int(exponent or 0) + shift}")
    if value != value or value in (float("inf"), float("-inf")):
        raise OverflowError(text)
    return value


def _unescape(token_text: str) -> str:
    return re.sub(r'\\(["\\])', r"\1", token_text[1:-1])


# -- describing what the parser expected, in words -----------------------------------------------

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "$END": "end of file",
}

_EXPR_START = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PLUS", "LOAD"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "POW", "DOT"}


def _terminal_text(name: str) -> str | None:
    for term in _lark().terminals:
        if term.name == name:
            return str(term.pattern.value) if term.pattern.type == "str" else None
    return None


def _describe_expected(expected: set[str]) -> str:
    """Turn a set of terminal names into plain words, grouping the usual suspects."""
    expected = set(expected)
    groups: list[str] = []
    if "LEGENDRE" in expected:
        expected -= _EXPR_START | {"LEGENDRE"}
        groups.append("an energy term (legendre(LAYER), A @ W @ B, c @ A or s * TERM)")
    elif {"NAME", "NUMBER", "MINUS"} <= expected:
        expected -= _EXPR_START
        groups.append("an expression")
    statement_terms = {n for n in expected if (_terminal_text(n) or "") in _STATEMENT_KEYWORDS}
    if len(statement_terms) >= 5:
        expected -= statement_terms
        groups.append("a statement (" + ", ".join(_STATEMENT_KEYWORDS[1:]) + ")")
    if {"STAR", "SLASH", "POW"} <= expected:
        expected -= _OPERATORS | {"LSQB"}
        groups.append("an operator")
    rest = []
    for name in expected:
        if name in _TERMINAL_WORDS:
            rest.append(_TERMINAL_WORDS[name])
        else:
            text = _terminal_text(name)
            rest.append(f"'{text}'" if text is not None else name.lower())
    # 'end of file' goes last: it is the least helpful suggestion
    rest.sort(key=lambda w: (w == "end of file", w))
    words = groups + rest
    if len(words) > 8:
        words = [*words[:8], "..."]
    if len(words) <= 1:
        return words[0] if words else "nothing more"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name '{token.value}'"
    if token.type == "NUMBER":
        return f"number '{token.value}'"
    if token.type == "STRING":
        return f"string {token.value}"
    return f"'{token.value}'"


def _char_name(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"


class _Builder(Transformer[Token, Any]):
    """Turn lark's tree into `dsl.ast` nodes with spans; collect reserved-word misuse."""

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
        sign = -1 if sign_tok is not None and sign_tok.value == "-" else 1
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

    # -- expressions -----------------------------------------------------------------------------
    def _fold(self, c: list[Any]) -> ast.Expr:
        left = c[0]
        for i in range(1, len(c), 2):
            op, right = c[i], c[i + 1]
            left = ast.Binary(
                str(op.value), left, right, self.join(left.span, right.span), self.tspan(op)
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
        return ast.Unary(str(c[0].value), c[1], self.mspan(meta))

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


# -- entry point ---------------------------------------------------------------------------------


def parse(text: str, filename: str) -> ast.Program:
    """Parse the text of a `.dam` file; raise DenseAMCError (located) on any syntax error."""
    source = SourceFile(filename, text)
    nul = text.find("\x00")
    if nul >= 0:
        raise DenseAMCError(
            error("the file contains a NUL character; is it a binary file?",
                  Span(source, nul, nul + 1))
        )
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise DenseAMCError(_syntax_error(exc, source)) from None
    _check_depth(tree, source)
    builder = _Builder(source)
    program = builder.transform(tree)
    if builder.errors:
        raise DenseAMCError(builder.errors)
    if not isinstance(program, ast.Program):
        raise InternalCompilerError("parser: the tree did not become a Program")
    return program


def _check_depth(tree: Tree[Token], source: SourceFile) -> None:
    """Reject trees nested deeper than MAX_NESTING, iteratively (no recursion on user input)."""
    limit = MAX_NESTING + _TREE_OVERHEAD
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            meta = node.meta
            start = 0 if getattr(meta, "empty", True) else meta.start_pos
            raise DenseAMCError(
                error(
                    f"expression nested too deeply (at most {MAX_NESTING} levels of lists, "
                    "operators and signs)",
                    Span(source, start, start + 1),
                )
            )
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))


def _eof_span(source: SourceFile) -> Span:
    end = len(source.text.rstrip())
    return Span(source, max(0, end), max(0, end))


def _acceptable(exc: UnexpectedInput, fallback: set[str]) -> set[str]:
    """The terminals the parser could really take here.

    LALR merges states, so lark's own `expected` set lists tokens that are only valid in some
    other context; simulating each candidate on a copy of the parser removes those.
    """
    parser = getattr(exc, "interactive_parser", None)
    if parser is None:
        return fallback
    try:
        accepted = set(parser.accepts())
    except Exception:
        return fallback
    return accepted or fallback


def _syntax_error(exc: UnexpectedInput, source: SourceFile) -> Diagnostic:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = _describe_expected(_acceptable(exc, set(exc.expected)))
        if tok.type == "$END":
            return error(f"unexpected end of file; expected {expected}", _eof_span(source))
        span = Span(source, tok.start_pos or 0, tok.end_pos or 0)
        accepted = _acceptable(exc, set(exc.expected))
        if tok.value in reserved_words() and "NAME" in accepted:
            if accepted <= {"NAME"} or tok.value not in _STATEMENT_KEYWORDS:
                return error(f"'{tok.value}' is a reserved word and cannot be used as a name",
                             span, f"expected {expected}")
            return error(f"unexpected '{tok.value}'; expected {expected}", span,
                         "is the statement before it complete?")
        statement_expected = "a statement" in expected
        what = _describe_token(tok)
        if statement_expected and tok.type == "NAME" and not expected.startswith("an expr"):
            return error(f"unexpected {what}; expected {expected}", span,
                         "each statement starts with a keyword, e.g. 'param beta = 2'")
        return error(f"unexpected {what}; expected {expected}", span)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        text = source.text
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            return error(
                'unterminated string: a string ends with " on the same line and may only '
                'contain the escapes \\" and \\\\',
                Span(source, pos, pos + 1),
            )
        if ch.isdigit() or (ch == "." and text[pos + 1: pos + 2].isdigit()):
            m = re.compile(r"[0-9.]*(?:[eE][+-]?)?[A-Za-z0-9_.]*").match(text, pos)
            word = m.group(0) if m else ch
            return error(
                f"malformed number '{word}': write digits, an optional exponent and at most "
                "one SI prefix (f p n u m k M G T), e.g. 10k or 1e-3",
                Span(source, pos, pos + len(word)),
            )
        allowed = _acceptable(exc, set(exc.allowed or ()))
        tail = f"; expected {_describe_expected(allowed)}" if allowed else ""
        return error(f"unexpected character {_char_name(ch)}{tail}", Span(source, pos, pos + 1))
    if isinstance(exc, UnexpectedEOF):
        expected = _describe_expected(_acceptable(exc, set(exc.expected)))
        return error(f"unexpected end of file; expected {expected}", _eof_span(source))
    raise InternalCompilerError(f"parser: unhandled lark error {type(exc).__name__}")
