"""The language's normative programs, for tests that compare against them.

`docs/language.md` is the project's own copy of the language specification's normative programs
(XOR, Hamming, parity): each is the first fenced block after the heading that names its example
file, e.g. ``## 1. A first example: XOR (`examples/xor.dam`)``. The tests read them from there, so
they need nothing outside the repository, and a test keeps `examples/*.dam` equal to them.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "language.md"
# The normative programs, by example name; examples/NAME.dam holds each.
NAMES = ("xor", "hamming74", "parity8")


def spec_program(name: str) -> str:
    """The text of the normative program `name` (`xor`, `hamming74` or `parity8`)."""
    text = REFERENCE.read_text(encoding="utf-8")
    heading = re.search(rf"^#+ .*\(`examples/{re.escape(name)}\.dam`\)$", text, re.M)
    if heading is None:
        raise LookupError(f"{REFERENCE} has no heading naming `examples/{name}.dam`")
    block = re.compile(r"^```[^\n]*\n(.*?)^```$", re.M | re.S).search(text, heading.end())
    if block is None:
        raise LookupError(f"{REFERENCE} has no fenced block after the heading of {name}")
    return block.group(1)
