"""The parser of grammar.lark: lark's stand-alone LALR parser, generated into the package.

Building the LALR tables takes ~0.2 s and importing lark and loading built tables ~0.045 s, a
large part of a short command. So the parser the compiler runs is generated ahead of time:
`write_standalone()` runs lark's stand-alone generator (`lark.tools.standalone`) on grammar.lark
and writes dsl/standalone_parser.py, one module with lark's parsing runtime and the
tables. It loads in ~0.025 s and needs no lark at run time (lark is needed to regenerate it and
by the tests). tests/test_dsl_parser.py checks that the module's tables are the ones lark builds
from grammar.lark as it is now (so a grammar edit without regenerating fails the tests), and
builds the grammar in lark's `strict` mode (colliding terminal regexes and LALR conflicts are
errors).

The generated module holds lark's basic lexer; `lark_parser()` puts `NumberListLexer`
(dsl/lexer.py, the fast path for lists of numbers) in its place, as `Lark(lexer=...)` would.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from denseamc.dsl import standalone_parser
from denseamc.dsl.lexer import NumberListLexer

if TYPE_CHECKING:
    import lark

#: The generated parser module (written by `write_standalone`).
STANDALONE = Path(__file__).with_name("standalone_parser.py")

#: The options of the generated parser (and of the strict build in the tests).
OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "basic",  # keywords reserved everywhere; replaced by NumberListLexer at run time
    "propagate_positions": True,
    "maybe_placeholders": True,
}

_HEADER = """\
# Generated from dsl/grammar.lark by lark's stand-alone generator (lark.tools.standalone): do not
# edit. After changing the grammar, regenerate it with
#     python -c "from denseamc.dsl.grammar import write_standalone; write_standalone()"
# ruff: noqa
# mypy: ignore-errors
"""


def grammar_text() -> str:
    """The text of dsl/grammar.lark (package data, installed beside this module)."""
    # read by path: importlib.resources would cost an import on every run for nothing
    return Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")


def build(strict: bool = False) -> lark.Lark:
    """Build the parser from the grammar with lark itself; `strict` checks terminals and
    conflicts. Used to generate the stand-alone parser and by the tests."""
    from lark import Lark

    return Lark(grammar_text(), strict=strict, **OPTIONS)


def write_standalone() -> None:
    """Regenerate dsl/standalone_parser.py from grammar.lark."""
    STANDALONE.write_text(standalone_source(), encoding="utf-8")


def standalone_source() -> str:
    """The text of dsl/standalone_parser.py, generated from grammar.lark now."""
    from lark.tools.standalone import gen_standalone

    out = io.StringIO()
    gen_standalone(build(), out=out)  # type: ignore[no-untyped-call]
    return _HEADER + out.getvalue()


@cache
def lark_parser() -> Any:
    """The parser of grammar.lark (the generated stand-alone parser with the NUMLIST lexer)."""
    parser = standalone_parser.Lark_StandAlone()  # type: ignore[no-untyped-call]
    parser.parser.lexer = NumberListLexer(parser.lexer_conf)
    return parser


@cache
def reserved_words() -> frozenset[str]:
    """Every keyword of the grammar: these cannot be used as names."""
    words = set()
    for term in lark_parser().terminals:
        value = term.pattern.value
        if term.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]\w*", value):
            words.add(value)
    return frozenset(words)


def terminal_text(name: str) -> str | None:
    """The literal text of a string terminal (`LSQB` -> '['), None for a pattern terminal."""
    for term in lark_parser().terminals:
        if term.name == name:
            return str(term.pattern.value) if term.pattern.type == "str" else None
    return None

