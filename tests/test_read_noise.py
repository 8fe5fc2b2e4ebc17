"""Read noise (`g_noise`): the devices' current fluctuations, integrated as an SDE by the circuit
backend (backends/sim/read_noise.py): the right amplitude, reproducible per (seed, draw),
independent of how draws are chunked, and nothing changes at g_noise = 0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.compiler.cli import EXIT_USER, main
from denseamc.compiler.montecarlo import DrawSetup, compile_points, run_draws
from denseamc.compiler.passes.realise import realise
from denseamc.compiler.pipeline import compile_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"

# one device: h relaxes (tau = 1) towards w u with u clamped at 1, w = 1
TINY = """model tiny
layer u[1]: identity tau=1
layer h[1]: identity tau=1
weights w[1, 1] = [[1]]
energy E = legendre(u) + legendre(h) - h @ w @ u
input x[1]: clamp u[0:1]
output y[1]: sign(h[0])
readout at t = 8
"""


def test_noise_amplitude_on_one_device(tmp_path: Path) -> None:
    """h' = (w u (1 + g xi) - h) / tau with xi an OU process of correlation time tau_c = tau
    (the only cell): stationary h has mean w u and standard deviation g w u sqrt(tau_c /
    (tau + tau_c)) = g / sqrt(2). 2000 vectors, each with its own noise: the sample standard
    deviation is within ~1.6% (one sigma) of the truth, so 8% is a 5-sigma band."""
    model = tmp_path / "tiny.dam"
    model.write_text(TINY)
    g_noise = 0.05
    comp = compile_model(model, settings={"g_noise": str(g_noise)})
    circuit = realise(comp.circuit, comp.hardware, 0, 0)
    h = simulate_circuit(circuit, {"x": np.ones((2000, 1))}).states["h"][:, 0]
    expected_std = g_noise / np.sqrt(2.0)
    assert abs(h.std() / expected_std - 1.0) < 0.08
    assert abs(h.mean() - 1.0) < 5 * expected_std / np.sqrt(h.size)
    # and it is noise: the 2000 vectors (the same input) all differ
    assert len(np.unique(h)) == h.size


def _xor_draw(seed: int, draw: int, **settings: str) -> dict[str, np.ndarray]:
    comp = compile_model(XOR, settings=settings)
    block = comp.graph.tests[0]
    res = simulate_circuit(realise(comp.circuit, comp.hardware, seed, draw),
                           block.stacked_inputs(), swing=False, deviation=False)
    return {**res.states, "settle": res.settle_time_s}


def test_noise_reproducible_per_seed_and_draw() -> None:
    a = _xor_draw(1, 3, g_noise="0.02")
    again = _xor_draw(1, 3, g_noise="0.02")
    other_draw = _xor_draw(1, 4, g_noise="0.02")
    other_seed = _xor_draw(2, 3, g_noise="0.02")
    for k in a:
        assert np.array_equal(a[k], again[k])
    assert not np.array_equal(a["v"], other_draw["v"])
    assert not np.array_equal(a["v"], other_seed["v"])


def test_noisy_draws_independent_of_chunking() -> None:
    [comp] = compile_points(XOR, None, {"g_noise": "0.05", "g_sigma": "0.05"}, None)
    setup = DrawSetup.of(comp)
    whole = run_draws(setup, 7, 0, 3)
    assert whole == run_draws(setup, 7, 0, 1) + run_draws(setup, 7, 1, 3)


def test_g_noise_zero_changes_nothing() -> None:
    """g_noise = 0 is today's simulation bit for bit: the same draws, no noise key."""
    [plain] = compile_points(XOR, None, {"g_sigma": "0.05"}, None)
    [zero] = compile_points(XOR, None, {"g_sigma": "0.05", "g_noise": "0"}, None)
    assert realise(zero.circuit, zero.hardware, 0, 1).meta == zero.circuit.meta
    assert run_draws(DrawSetup.of(plain), 0, 0, 3) == run_draws(DrawSetup.of(zero), 0, 0, 3)
    quiet = _xor_draw(0, 0, g_sigma="0.05")
    assert all(np.array_equal(quiet[k], v) for k, v in _xor_draw(0, 0, g_sigma="0.05",
                                                                 g_noise="0").items())


def test_montecarlo_sets_g_noise(tmp_path: Path) -> None:
    out = tmp_path / "mc.json"
    assert main(["montecarlo", str(XOR), "--quiet", "--runs", "2", "--set", "g_noise=0.02",
                 "--json", str(out)]) == 0
    [point] = json.loads(out.read_text())["points"]
    assert point["settings"] == {"g_noise": 0.02}
    assert 0.0 <= point["yield"] <= 1.0


@pytest.mark.parametrize("value", ["-0.01", "2", "x"])
def test_bad_g_noise_is_a_usage_error(tmp_path: Path, value: str) -> None:
    out = tmp_path / "mc.json"
    assert main(["montecarlo", str(XOR), "--quiet", "--runs", "2", "--set",
                 f"g_noise={value}", "--json", str(out)]) == EXIT_USER
    assert not out.exists()
