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
            from denseamc.compiler.pipeline import compile_model, lower

            comp = compile_model(EXAMPLES / f"{name}.dam")
            cache[name] = (comp, lower(comp.graph))
        return cache[name]

    return get


#: A small model that exercises every element recipe of the netlist backends: tanh, sigmoid,
#: relu (tau = 0, a summing stage) and rectpoly layers, a self-coupling, biases, an init input,
#: a clamp, an init=settled layer, value and sign outputs. Scheme and amplifier are filled in.
MIXED_DAM = """\
model mixed
layer a[3]: tanh(1.5) tau=0.2
layer b[2]: sigmoid(2) tau=0.1 init=settled
layer c[2]: relu tau=0
layer d[2]: rectpoly(3) tau=0.1
weights w1[3, 2] = [[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]]
weights w2[2, 2] = [[0.3, -0.2], [0.1, 0.5]]
weights w3[2, 3] = [[0.2, 0.1, -0.4], [0.3, -0.2, 0.1]]
weights s[3, 3] = [[0, 0.2, -0.1], [0.2, 0, 0.3], [-0.1, 0.3, 0]]
weights ba[3] = [0.1, -0.2, 0.05]
weights bd[2] = [0.3, 0.2]
energy E = legendre(a) + legendre(b) + legendre(c) + legendre(d) - a @ w1 @ b - b @ w2 @ c
         - d @ w3 @ a - 0.5 * a @ s @ a - ba @ a - bd @ d
input x[3]: init a
input k[1]: clamp b[1]
output y[2]: value(d)
output z[1]: sign(a[0])
readout at t = 1
hardware {
  scheme = SCHEME
  amplifier = AMPLIFIER
}
"""

MIXED_INPUTS = {"x": [[0.5, -0.5, 0.2], [-0.3, 0.8, 0.1]], "k": [[0.4], [-0.7]]}


@pytest.fixture(scope="session")
def mixed_circuit(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], object]:
    """`mixed_circuit(scheme, amplifier)` -> (Compilation, CircuitIR, inputs), cached."""
    import numpy as np

    cache: dict[tuple[str, str], object] = {}
    root = tmp_path_factory.mktemp("mixed")

    def get(scheme: str, amplifier: str) -> object:
        key = (scheme, amplifier)
        if key not in cache:
            from denseamc.compiler.pipeline import compile_model, lower

            path = root / f"mixed_{scheme}_{amplifier}.dam"
            path.write_text(MIXED_DAM.replace("SCHEME", scheme).replace("AMPLIFIER", amplifier))
            comp = compile_model(path)
            inputs = {k: np.array(v, dtype=float) for k, v in MIXED_INPUTS.items()}
            cache[key] = (comp, lower(comp.graph), inputs)
        return cache[key]

    return get
