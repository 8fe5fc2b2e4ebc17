"""Shared pytest options and fixtures.

`--update-golden` (or the environment variable DENSEAMC_BLESS=1) rewrites the golden files under
tests/golden/ from the current output instead of comparing against them; review the diff in git.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ files from the current output (bless)")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be rewritten rather than compared."""
    return bool(request.config.getoption("--update-golden")) or \
        os.environ.get("DENSEAMC_BLESS", "") not in ("", "0")


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def example_circuit() -> Callable[[str], object]:
    """`example_circuit("xor")` -> (Compilation, CircuitIR) of examples/xor.dam, cached."""
    cache: dict[str, object] = {}

    def get(name: str) -> object:
        if name not in cache:
            from denseamc.compiler.lowering import lower
            from denseamc.compiler.pipeline import compile_model

            comp = compile_model(EXAMPLES / f"{name}.dam")
            cache[name] = (comp, lower(comp.graph))
        return cache[name]

    return get
