"""Small helpers that put numbers and shapes into the words of diagnostics."""

from __future__ import annotations

from denseamc.ir.span import Span


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th'."""
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"



def shape_text(shape: tuple[int, ...]) -> str:
    """(4, 3) -> '[4, 3]', as shapes are written in a .dam file."""
    return "[" + ", ".join(map(str, shape)) + "]"


def plural(n: int, word: str) -> str:
    """(1, 'row') -> '1 row', (2, 'row') -> '2 rows'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def snippet(span: Span, limit: int = 60) -> str:
    """The source text of `span` on one line, cut to `limit` characters."""
    text = " ".join(span.file.text[span.start : span.end].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
