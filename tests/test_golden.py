"""Golden files: every file `denseamc examples/<example>.dam -o OUT` writes, compared in full.

`tests/golden/<example>/` holds the graph IR (`ir.txt`), the dynamics (`dynamics.json`), the
circuit IR (`circuit.txt`), the report (`report.json`, `report.md`), the ngspice netlist, the
Verilog-A modules, the Spectre and VACASK top levels, the conductance tables and the name map
(provenance comments on). A mismatch prints a unified diff; bless intended changes with
`pytest --update-golden` (or DENSEAMC_BLESS=1) and review the diff in git.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pytest
from denseamc.backends.emit import emit_netlists
from denseamc.compiler.outputs import EMITTERS, emit
from denseamc.compiler.pipeline import compile_model

EXAMPLES = ("xor", "hamming74", "parity8")
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
BLESS_HINT = "if the change is intended, re-bless with: pytest tests/test_golden.py --update-golden"


def _golden_files(root: Path) -> dict[str, str]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_text(encoding="ascii")
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("example", EXAMPLES)
def test_emitted_files_match_golden(example: str, update_golden: bool, golden_dir: Path) -> None:
    comp = compile_model(EXAMPLES_DIR / f"{example}.dam")
    files = dict(emit(comp, list(EMITTERS)))
    root = golden_dir / example
    if update_golden:
        for old in root.rglob("*") if root.is_dir() else []:
            if old.is_file() and old.relative_to(root).as_posix() not in files:
                old.unlink()
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="ascii", newline="\n")
        return
    golden = _golden_files(root)
    assert sorted(files) == sorted(golden), (
        f"emitted file set differs from tests/golden/{example}/:\n"
        f"  only emitted: {sorted(set(files) - set(golden))}\n"
        f"  only golden:  {sorted(set(golden) - set(files))}\n{BLESS_HINT}")
    problems = []
    for rel in sorted(files):
        if files[rel] != golden[rel]:
            diff = "".join(difflib.unified_diff(
                golden[rel].splitlines(keepends=True), files[rel].splitlines(keepends=True),
                fromfile=f"golden/{example}/{rel}", tofile=f"emitted/{example}/{rel}", n=2))
            problems.append(diff[:6000])
    assert not problems, "\n".join(problems) + "\n" + BLESS_HINT


@pytest.mark.parametrize("example", EXAMPLES)
def test_emission_is_byte_identical_across_compilations(example: str) -> None:
    """Same input, same bytes: two independent compilations emit identical files."""
    from denseamc.compiler.pipeline import compile_model, lower

    root = Path(__file__).resolve().parent.parent / "examples"
    outs = []
    for _ in range(2):
        comp = compile_model(root / f"{example}.dam")
        outs.append(emit_netlists(lower(comp.graph), loc_comments=True))
    assert outs[0] == outs[1]
    assert list(outs[0]) == list(outs[1])  # same order too


def test_loc_comments_switch(example_circuit: Callable[[str], object]) -> None:
    _, circuit = example_circuit("xor")  # type: ignore[misc]
    with_locs = emit_netlists(circuit, loc_comments=True)
    without = emit_netlists(circuit, loc_comments=False)
    assert "* from xor.dam:14,xor.dam:9\n" in with_locs["spice/xor.cir"]
    assert "// from xor.dam:7\n" in with_locs["veriloga/xor.sim"]
    for text in without.values():
        assert "from xor.dam" not in text
    # provenance comments are the only difference
    strip = [ln for ln in with_locs["spice/xor.cir"].splitlines() if not ln.startswith("* from ")]
    assert strip == without["spice/xor.cir"].splitlines()
