"""The paper's three examples, end to end through the CLI, on every backend."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.sim import simulate
from denseamc.compiler.cli import main
from denseamc.compiler.pipeline import compile_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("xor", "hamming74", "parity8")


# Every example on the two numpy backends; the netlist backends through the CLI on xor only,
# since tests/test_spice.py and tests/test_veriloga.py run every example on them (tighter).
CLI_CASES = [(n, b) for n in NAMES for b in ("model", "circuit")] + [
    ("xor", "spice"), ("xor", "veriloga")]


@pytest.mark.parametrize(("name", "backend"), CLI_CASES)
def test_check_passes_on_every_backend(name: str, backend: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(EXAMPLES / f"{name}.dam"), "--backend", backend])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip().splitlines()[-1].startswith("PASS: ")
    assert " 0 failed" in out


def hamming_codewords() -> np.ndarray:
    return np.loadtxt(EXAMPLES / "hamming74_codewords.csv", delimiter=",")


def test_hamming_decodes_all_codewords_and_all_single_bit_errors() -> None:
    comp = compile_model(EXAMPLES / "hamming74.dam")
    code = hamming_codewords()
    received, expected = [], []
    for word in code:
        received.append(word)
        expected.append(word[:4])
        for bit in range(7):
            flipped = word.copy()
            flipped[bit] *= -1
            received.append(flipped)
            expected.append(word[:4])
    assert len(received) == 16 + 112
    result = simulate(comp.graph, {"r": np.array(received)})
    np.testing.assert_array_equal(result.outputs["data"], np.array(expected))


def test_hamming_codewords_are_the_systematic_code() -> None:
    generator = np.array([[1, 0, 0, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1],
                          [0, 0, 1, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1]])
    words = {tuple(2 * (np.array(d) @ generator % 2) - 1)
             for d in itertools.product([0, 1], repeat=4)}
    assert {tuple(w) for w in hamming_codewords()} == words


@pytest.mark.parametrize("name", NAMES)
def test_energy_never_increases_along_example_trajectories(name: str) -> None:
    comp = compile_model(EXAMPLES / f"{name}.dam")
    block = comp.graph.tests[0]
    inputs = {k: np.stack([np.asarray(v.inputs[k], dtype=float) for v in block.vectors])
              for k in block.vectors[0].inputs}
    result = simulate(comp.graph, inputs, t_end=3 * comp.graph.readout_t, record=True)
    assert result.energy_trace is not None
    rises = np.diff(result.energy_trace, axis=0)
    scale = 1.0 + np.abs(result.energy_trace).max()
    # only rounding moves E near its minimum (measured 2e-15 of the scale): 1e-10 is far above
    # rounding and far below any real rise
    assert rises.max() <= 1e-10 * scale, f"E rose by {rises.max():.3g}"
    assert comp.warnings == []


def test_parity8_weights_respect_the_spec() -> None:
    data = np.load(EXAMPLES / "parity8.npz")
    assert data["embed"].min() >= 0 and data["mem"].min() >= 0
    assert np.linalg.svd(data["mem"], compute_uv=False)[0] < 1


def test_parity8_held_out_block_is_the_split_of_the_issue() -> None:
    """The test block lists exactly the 52 held-out strings of default_rng(0).permutation(256)."""
    comp = compile_model(EXAMPLES / "parity8.dam")
    (block,) = comp.graph.tests
    held_out = np.random.default_rng(0).permutation(256)[204:]
    want = {tuple((k >> (7 - j)) & 1 for j in range(8)) for k in held_out}
    got = {tuple(int(b) for b in v.inputs["bits"]) for v in block.vectors}
    assert got == want
    for v in block.vectors:
        assert int(v.outputs["next"][0]) == int(sum(v.inputs["bits"])) % 2
