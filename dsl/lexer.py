"""Tokens: numeric literals, and the fast path that reads a whole list of numbers as one token.

`parse_number` turns a NUMBER token into a float with its SI prefix applied exactly.

`NumberListLexer` is the lexer lark runs (grammar.lark's terminals, through lark's own basic
lexer), with one addition: where the parser can take a list (`[` starting a list literal or the
values of a test assignment), a bracketed list of plain numbers (`[1, -1, 2.5e-3, 10k]`: each an
optional sign glued to a NUMBER, separated by commas and whitespace) becomes a single NUMLIST
token. Test blocks and literal matrices are almost entirely such lists, and lark's LALR parser
spends ~35 us per token on them (six reductions and a tree node per number); one token per list
makes their parse time linear in the text with a small constant. Anything else in brackets
(names, expressions, comments, nesting, a malformed number) is left to the normal tokens, so
every syntax error is found, located and worded exactly as without the fast path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from denseamc.dsl.standalone_parser import BasicLexer, Lexer, LexerState, Token

#: SI prefixes (case-sensitive) and their powers of ten.
SI_PREFIXES: dict[str, int] = {
    "f": -15, "p": -12, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12,
}

#: The terminal the fast path produces (declared, without a pattern, in grammar.lark).
NUMLIST = "NUMLIST"

# Whitespace and comments the lexer skips (grammar.lark's %ignore) before a token.
_SKIP = re.compile(r"(?:[ \t\r\n\f]+|#[^\n]*)*")
_INF = (float("inf"), float("-inf"))


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


def list_values(text: str) -> tuple[float, ...] | None:
    """The values of a NUMLIST token's text, or None when a number is too large for a float.

    A number without SI prefix is converted by float() directly (it takes the glued sign and the
    surrounding whitespace): float() and parse_number() round the same decimal value, so they
    agree exactly, and float() is several times faster.
    """
    items = text[1:-1].split(",")
    try:
        values = list(map(float, items))
    except ValueError:  # an SI prefix somewhere
        values = []
        for item in items:
            number = item.strip()
            try:
                value = parse_number(number.lstrip("+-"))
            except OverflowError:
                return None
            values.append(-value if number.startswith("-") else value)
    return None if _INF[0] in values or _INF[1] in values else tuple(values)


class NumberListLexer(Lexer):
    """lark's basic lexer over grammar.lark, plus the NUMLIST fast path (see the module doc)."""

    __future_interface__ = 2  # lex(lexer_state, parser_state): the parser's state is needed

    def __init__(self, conf: Any) -> None:
        self.basic = BasicLexer(conf)
        number = conf.terminals_by_name["NUMBER"].pattern.to_regexp()
        item, ws = f"[+-]?(?:{number})", r"[ \t\r\n\f]*"
        self.number_list = re.compile(rf"\[{ws}{item}(?:{ws},{ws}{item})*{ws}\]")

    def lex(self, state: LexerState, parser_state: Any) -> Iterator[Token]:
        text: str = state.text.text
        states = parser_state.parse_conf.states if parser_state is not None else None
        counter = state.line_ctr
        while True:
            # The parser has just shifted the previous token, so its state says directly whether
            # a list may start here (NUMLIST is only ever shifted, never a reduce look-ahead).
            if states is not None and NUMLIST in states[parser_state.position]:
                skipped = _SKIP.match(text, counter.char_pos)  # always matches (maybe empty)
                start = skipped.end() if skipped is not None else counter.char_pos
                found = self.number_list.match(text, start) if text.startswith("[", start) else None
                if found is not None:
                    counter.feed(text[counter.char_pos : start])
                    token = Token(NUMLIST, found.group(), start, counter.line, counter.column)
                    counter.feed(token.value)
                    token.end_line, token.end_column = counter.line, counter.column
                    token.end_pos = counter.char_pos
                    state.last_token = token
                    yield token
                    continue
            try:
                yield self.basic.next_token(state, parser_state)
            except EOFError:
                return
