"""The circuit simulator (node equations of the lowered circuit) against the model backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from circuitgen import (
    hamming_graph,
    ideal_switches,
    parity_like_graph,
    random_graph,
    random_inputs,
    reference_simulate,
    xor_graph,
)
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.sim import simulate
from denseamc.compiler.pipeline import lower
from denseamc.ir import ModelGraph
from denseamc.ir.hardware import resolve_hardware
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: agreement with the model backend at readout, in units of v_unit (= model units). The circuit
#: backend integrates at rtol 1e-6 (Dormand-Prince), the reference at rtol 1e-9: measured up to
#: 4e-7 (hand-built hamming) and 4e-8 (random models), so 1e-5 leaves a factor 25.
AGREE = 1e-5


def model_states(graph: ModelGraph, inputs: dict) -> dict[str, np.ndarray]:
    """The model backend's states at readout (backends/sim), at tight tolerances."""
    return simulate(graph, inputs, rtol=1e-9, atol=1e-11).states


def max_dev(a: dict, b: dict) -> float:
    """Largest |difference| over layers, relative to max(1, |state|) (model units = v_unit)."""
    return max(float((np.abs(a[k] - b[k]) / np.maximum(1.0, np.abs(b[k]))).max()) for k in a)


def ideal_hw(graph: ModelGraph, **extra: object) -> object:
    """Ideal amplifiers, no g_min and all but ideal select switches (r_on * sum G <= 1.6e-6:
    the smallest r_on the key allows; tests/test_switches.py covers r_on itself)."""
    return resolve_hardware(graph.hardware, {"g_min": 0.0, "amplifier": "ideal",
                                             "r_on": 1e-3, "r_off": 1e18, **extra})


def test_xor_matches_independent_oracle() -> None:
    g = xor_graph()
    inputs = {"x": np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)}
    r = simulate_circuit(lower(g, ideal_hw(g)), inputs)
    for b in range(4):
        ref = reference_simulate(g, {"x": inputs["x"][b]})
        # the circuit backend's rtol 1e-6 against scipy's DOP853 at rtol 1e-10: measured 5e-11
        assert max(float(np.abs(ref[k] - r.states[k][b]).max()) for k in ref) < 1e-6
    assert r.outputs["y"][:, 0].tolist() == [-1, 1, 1, -1]


@pytest.mark.parametrize("scheme", ["dual_rail", "differential"])
def test_hand_built_models_agree_with_model_backend(scheme: str) -> None:
    for g, inputs in ((xor_graph(), {"x": np.array([[-1, 1], [1, 1.0]])}),
                      (hamming_graph(), random_inputs(hamming_graph(), 8, 1)),
                      (parity_like_graph(3), random_inputs(parity_like_graph(3), 8, 2))):
        r = simulate_circuit(lower(g, ideal_hw(g, scheme=scheme)), inputs)
        assert max_dev(r.states, model_states(g, inputs)) < AGREE


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000), adiabatic=st.booleans(),
       scheme=st.sampled_from(["dual_rail", "differential"]))
def test_random_models_agree_with_model_backend(seed: int, adiabatic: bool, scheme: str
                                                ) -> None:
    g = random_graph(seed, adiabatic=adiabatic)
    inputs = random_inputs(g, 3, seed)
    r = simulate_circuit(lower(g, ideal_hw(g, scheme=scheme)), inputs)
    assert max_dev(r.states, model_states(g, inputs)) < AGREE


def _example(name: str) -> ModelGraph:
    path = EXAMPLES / f"{name}.dam"
    from denseamc.compiler.passes.energy import AnalyzeEnergy
    from denseamc.dsl import load_model

    g = load_model(path)
    AnalyzeEnergy().run(g)
    return g


def _example_inputs(g: ModelGraph) -> dict[str, np.ndarray]:
    """Every vector of every test block of an example (each example has one)."""
    vecs = [v for block in g.tests for v in block.vectors]
    return {n: np.stack([np.asarray(v.inputs[n], dtype=float) for v in vecs])
            for n in vecs[0].inputs}


@pytest.mark.parametrize("name", ["xor", "hamming74", "parity8"])
def test_examples_agree_with_model_backend(name: str) -> None:
    """Ideal parts: circuit states at readout within 1e-3 v_unit of the model backend."""
    g = _example(name)
    inputs = _example_inputs(g)
    if name == "hamming74":  # every single-bit error of every codeword too
        from circuitgen import hamming_codewords

        words = hamming_codewords()
        flips = np.array([w * np.where(np.arange(7) == i, -1, 1) for w in words
                          for i in range(7)])
        inputs = {"r": flips}
    c = ideal_switches(lower(g, resolve_hardware(g.hardware, {"amplifier": "ideal"})))
    r = simulate_circuit(c, inputs)
    # the circuit's weights are the device-mapped ones; with g_min = 0 they are exact
    c0 = ideal_switches(lower(g, resolve_hardware(g.hardware, {"amplifier": "ideal",
                                                               "g_min": 0.0})))
    r0 = simulate_circuit(c0, inputs)
    ref = simulate(g, inputs, rtol=1e-9, atol=1e-11)  # 1e3 tighter than the circuit backend
    assert max_dev(r0.states, ref.states) < AGREE
    for name_out, want in ref.outputs.items():
        assert np.array_equal(r.outputs[name_out], want)


def test_nonideal_amplifiers_report_deviation() -> None:
    g = xor_graph()
    inputs = {"x": np.array([[-1, 1], [1, 1.0]])}
    fast = simulate_circuit(lower(g, resolve_hardware(None, {"amplifier": "nonideal",
                                                             "g_min": 0.0})), inputs)
    assert fast.deviation is not None
    dev_fast = max(float(v.max()) for v in fast.deviation.values())
    # finite gain a0 = 1e4 leaves a static error ~(1 + fan-in)/a0 per stage (measured 1.7e-3);
    # 1% of v_unit is the co-simulation budget
    assert 0 < dev_fast < 0.01
    # the same circuit with a 10x slower amplifier than tau_unit was sized for deviates more
    c = lower(g, resolve_hardware(None, {"g_min": 0.0, "amplifier": "nonideal"}))
    slow_amp = resolve_hardware(None, {"g_min": 0.0, "amplifier": "nonideal", "gbw": 1e8,
                                       "tau_unit": c.scaling.tau_unit_s})
    slow = simulate_circuit(lower(g, slow_amp), inputs)
    assert max(float(v.max()) for v in slow.deviation.values()) > dev_fast
    assert fast.outputs["y"][:, 0].tolist() == [1, -1]


def test_rails_clip_outputs() -> None:
    g = xor_graph()
    hw = resolve_hardware(None, {"amplifier": "nonideal", "v_unit": 0.5, "vdd": 1.0})
    r = simulate_circuit(lower(g, hw), {"x": np.array([[-1, 1.0]])}, deviation=False)
    # unclipped, h[1] would reach 3 v_unit = 1.5 V; the rails are +-vdd/2 = 0.5 V (+ rounding)
    assert float(r.max_abs_v[0]) <= 0.5 + 1e-9


def test_settle_time_and_record() -> None:
    g = xor_graph()
    c = lower(g, ideal_hw(g))
    r = simulate_circuit(c, {"x": np.array([[-1, 1.0]])}, record=True)
    assert r.trajectories is not None and r.times_s is not None
    assert r.trajectories["v"].shape[1:] == (1, 3)
    assert 0 < r.settle_time[0] < c.readout_t
    assert r.settle_time_s[0] == pytest.approx(r.settle_time[0] * c.scaling.tau_unit_s)
    ref = simulate(g, {"x": np.array([[-1, 1.0]])})
    # the two simulators share the settle-time definition but not the integrator: the circuit's
    # final state is within ~1e-6 (its rtol) of the model's, which moves the crossing of the
    # 1e-3 band by ~1e-3 of a time constant (6e-4 relative seen); 2e-3 leaves a margin of 3
    assert r.settle_time[0] == pytest.approx(ref.settle_time[0], rel=2e-3)


def test_settled_init_matches_model_backend() -> None:
    g = parity_like_graph(5)
    inputs = random_inputs(g, 4, 5)
    r = simulate_circuit(lower(g, ideal_hw(g)), inputs, t_end=0.0)
    ref = simulate(g, inputs, t_end=1e-9)
    # both start every settled layer at its target; the model has run for 1e-9 (measured 3e-9)
    assert max_dev(r.states, ref.states) < 1e-6


@pytest.mark.parametrize(("model", "settings", "stacks"), [
    ("parity8", {"g_sigma": "0.05", "offset_sigma": "1m", "c_sigma": "0.05"}, True),
    ("xor", {"g_sigma": "0.1", "p_stuck_off": "0.05"}, True),
    ("xor", {"g_sigma": "0.1", "act_gain_sigma": "0.05"}, False),  # rail gains: one by one
])
def test_draws_simulated_together_are_each_alone(model: str, settings: dict[str, str],
                                                 stacks: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """simulate_circuits integrates stackable draws together, each with its own steps: every
    number is bit-identical to simulating that draw alone."""
    from denseamc.backends import circuit_sim
    from denseamc.compiler.passes.realise import realise
    from denseamc.compiler.pipeline import compile_model

    comp = compile_model(EXAMPLES / f"{model}.dam", settings=settings)
    inputs = comp.graph.tests[0].stacked_inputs()
    circuits = [realise(comp.circuit, comp.hardware, 5, k) for k in range(3)]
    calls = []
    real = circuit_sim.dopri_draws
    monkeypatch.setattr(circuit_sim, "dopri_draws", lambda *a: calls.append(1) or real(*a))
    together = circuit_sim.simulate_circuits(circuits, inputs)
    assert bool(calls) == stacks
    for c, got in zip(circuits, together, strict=True):
        alone = simulate_circuit(c, inputs, deviation=False)
        assert got.stats == alone.stats
        assert np.array_equal(got.settle_time_s, alone.settle_time_s)
        assert got.max_abs_v is not None and alone.max_abs_v is not None
        assert np.array_equal(got.max_abs_v, alone.max_abs_v)
        for name, x in alone.states.items():
            assert np.array_equal(got.states[name], x)
        for net, v in alone.voltages.items():
            assert np.array_equal(got.voltages[net], v)
