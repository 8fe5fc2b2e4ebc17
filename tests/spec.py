"""The language specification's normative programs, for tests that compare against them.

The spec lives in the shared folder beside the repository (as on developers' machines and in CI);
a missing spec is a test failure, not a skip.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "language.md"


def spec_program(section: str) -> str:
    """The text of a normative program, copied from the spec's indented block."""
    if not SPEC.exists():
        raise FileNotFoundError(f"the language spec is expected beside the repository at {SPEC}")
    text = SPEC.read_text(encoding="utf-8")
    start = text.index("\n\n", text.index(f"### {section}")) + 2
    lines = []
    for line in text[start:].split("\n"):
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines).rstrip() + "\n"
