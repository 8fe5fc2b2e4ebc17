"""The lark parser of grammar.lark, built once per grammar rather than on every run.

Building the LALR tables takes ~0.2 s, more than parsing a typical file, so `lark_parser()`
keeps the built parser in a cache file named after a hash of everything that shapes it (the
grammar text, the options below, the lark and Python versions) under the user's cache directory
(`$XDG_CACHE_HOME/denseamc`, else `~/.cache/denseamc`). A cache that cannot be read is rebuilt,
one that cannot be written is skipped: the compiler works the same, only slower to start. The
file is written to a temporary name and renamed, so concurrent runs never read half a file.

At run time the grammar is built without lark's `strict` mode (its regex collision check, by
interegular, triples the build time); tests/test_dsl_parser.py builds it with `strict=True`,
which also turns any LALR conflict into an error.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import lark
from denseamc.dsl.lexer import NumberListLexer
from lark import Lark

_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": NumberListLexer,  # lark's basic lexer (keywords reserved everywhere) + number lists
    "propagate_positions": True,
    "maybe_placeholders": True,
}


def grammar_text() -> str:
    """The text of dsl/grammar.lark (package data, installed beside this module)."""
    # read by path: importlib.resources would cost an import on every run for nothing
    return Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")


def build(strict: bool = False) -> Lark:
    """Build the parser from the grammar (no cache); `strict` checks terminals and conflicts."""
    return Lark(grammar_text(), strict=strict, **_OPTIONS)


def cache_file() -> Path | None:
    """Where the built parser is kept, or None when there is no usable cache directory."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    key = "\n".join([
        grammar_text(), repr(sorted((k, repr(v)) for k, v in _OPTIONS.items())),
        lark.__version__, sys.version,
    ])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    directory = Path(root) / "denseamc"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory / f"grammar-{digest}.lark-cache"


def _load(path: Path) -> Lark | None:
    try:
        with path.open("rb") as f:
            parser = Lark.load(f)
    except Exception:  # missing, unreadable, truncated or from another lark: rebuild it
        return None
    return parser if isinstance(parser, Lark) else None


def _save(parser: Lark, path: Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            parser.save(f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache directory only costs start-up time


def cached_build(path: Path | None) -> Lark:
    """The parser read from the cache file `path`, or built (and saved there when possible)."""
    parser = _load(path) if path is not None else None
    if parser is None:
        parser = build()
        if path is not None:
            _save(parser, path)
    return parser


@cache
def lark_parser() -> Lark:
    """The parser of grammar.lark, from the user's cache when it is there and current."""
    return cached_build(cache_file())


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
