"""The diagnostics corpus: every tests/diagnostics/*.dam is a malformed program that states its
own expected errors in comments, so a reader sees the input and the message side by side:

    # expected-error@LINE:COL: message substring
    # expected-error@LINE: message substring          (any column)

Every expected error must be reported (message substring, line and column), and nothing else.
Each diagnostic must also render as `file:line:col: error: message` + source line + caret.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from denseamc.dsl import load_model
from denseamc.ir import DenseAMCError, Diagnostic

CORPUS = Path(__file__).parent / "diagnostics"
CASES = sorted(CORPUS.glob("*.dam"))
EXPECT = re.compile(r"#\s*expected-error@(\d+)(?::(\d+))?:\s*(.+?)\s*$")


def expectations(path: Path) -> list[tuple[int, int | None, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = EXPECT.match(line.strip())
        if m:
            out.append((int(m[1]), int(m[2]) if m[2] else None, m[3]))
    return out


def where(d: Diagnostic) -> tuple[int, int]:
    assert d.span is not None, f"diagnostic without a location: {d.render()}"
    return d.span.line, d.span.col


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostic(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} states no expected-error"
    with pytest.raises(DenseAMCError) as info:
        load_model(path)
    diags = list(info.value.diagnostics)
    rendered = "\n".join(d.render() for d in diags)
    unmatched = list(diags)
    for line, col, message in expected:
        match = next(
            (
                d for d in unmatched
                if message in d.message
                and where(d)[0] == line
                and (col is None or where(d)[1] == col)
            ),
            None,
        )
        assert match is not None, (
            f"{path.name}: expected error at {line}:{col}: {message!r}\ngot:\n{rendered}"
        )
        unmatched.remove(match)
    assert not unmatched, f"{path.name}: unexpected extra errors:\n{rendered}"
    for d in diags:
        text = d.render()
        assert text.startswith(f"{path}:{d.span.line}:{d.span.col}: error: ")  # type: ignore[union-attr]
        source_line, caret_line = text.split("\n")[1:3]
        assert source_line.startswith(f"{d.span.line:>4} | ")  # type: ignore[union-attr]
        assert caret_line.strip(" |").startswith("^")
