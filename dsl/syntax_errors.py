"""Syntax errors in words: lark's UnexpectedInput -> one located `Diagnostic`.

Messages say what was expected there ("expected a name", "expected ']' or ','"), never lark's
terminal names; the set of terminals is the one the parser could really take at that point.
"""

from __future__ import annotations

import re

from denseamc.dsl.grammar import reserved_words, terminal_text
from denseamc.dsl.lexer import NUMLIST
from denseamc.dsl.standalone_parser import (
    Token,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from denseamc.ir.diagnostics import Diagnostic, InternalCompilerError, error
from denseamc.ir.span import SourceFile, Span

#: The keywords that start a statement, in the order the messages list them.
STATEMENT_KEYWORDS = (
    "model", "param", "weights", "layer", "energy", "input", "output", "readout", "hardware",
    "test",
)

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "$END": "end of file",
}

_EXPR_START = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PLUS", "LOAD"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "POW", "DOT"}


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
    statement_terms = {n for n in expected if (terminal_text(n) or "") in STATEMENT_KEYWORDS}
    if len(statement_terms) >= 5:
        expected -= statement_terms
        groups.append("a statement (" + ", ".join(STATEMENT_KEYWORDS[1:]) + ")")
    if {"STAR", "SLASH", "POW"} <= expected:
        expected -= _OPERATORS | {"LSQB"}
        groups.append("an operator")
    rest = []
    for name in expected:
        if name in _TERMINAL_WORDS:
            rest.append(_TERMINAL_WORDS[name])
        else:
            text = terminal_text(name)
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

def _eof_span(source: SourceFile) -> Span:
    end = len(source.text.rstrip())
    return Span(source, max(0, end), max(0, end))


def _acceptable(exc: UnexpectedInput, fallback: set[str]) -> set[str]:
    """The terminals the parser could really take here.

    LALR merges states, so lark's own `expected` set lists tokens that are only valid in some
    other context; simulating each candidate on a copy of the parser removes those. NUMLIST is
    dropped: wherever it is possible '[' is too, and that is what the user writes.
    """
    parser = getattr(exc, "interactive_parser", None)
    accepted = fallback
    if parser is not None:
        try:
            accepted = set(parser.accepts()) or fallback
        except Exception:
            accepted = fallback
    return accepted - {NUMLIST}


def syntax_error(exc: UnexpectedInput, source: SourceFile) -> Diagnostic:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = _describe_expected(_acceptable(exc, set(exc.expected)))
        if tok.type == "$END":
            return error(f"unexpected end of file; expected {expected}", _eof_span(source))
        span = Span(source, tok.start_pos or 0, tok.end_pos or 0)
        accepted = _acceptable(exc, set(exc.expected))
        if tok.value in reserved_words() and "NAME" in accepted:
            if accepted <= {"NAME"} or tok.value not in STATEMENT_KEYWORDS:
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
