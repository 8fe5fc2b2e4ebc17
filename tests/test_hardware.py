"""Hardware settings, profiles and the report: defaults, precedence, located errors, units."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from circuitgen import at, parity_like_graph, random_inputs, xor_graph
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.compiler.passes.analyze_circuit import analyze_circuit
from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.pipeline import lower
from denseamc.compiler.profiles import builtin_profiles, load_profile
from denseamc.compiler.report import build_report, render_markdown, report_json
from denseamc.ir import DenseAMCError, HardwareSetting, ModelGraph
from denseamc.ir.hardware import KEYS, Hardware, markdown_table, parse_quantity, resolve_hardware


def messages(exc: pytest.ExceptionInfo[DenseAMCError]) -> list[str]:
    return [d.message for d in exc.value.diagnostics]


def test_defaults_match_the_table() -> None:
    hw = resolve_hardware(None)
    for k, spec in KEYS.items():
        assert getattr(hw, k) == spec.default, k
    assert hw == Hardware(origin=hw.origin, locs=hw.locs)
    assert hw.v_rail == 0.9
    assert "| `g_max` | 0.0001 | S |" in markdown_table()


def test_model_overrides_profile_overrides_defaults() -> None:
    model = {"gbw": HardwareSetting("gbw", 2e9, at(3))}
    hw = resolve_hardware(model, {"gbw": "500MHz", "levels": 16})
    assert hw.gbw == 2e9 and hw.levels == 16
    assert hw.origin["gbw"] == "model" and hw.origin["levels"] == "profile"
    assert hw.origin["vdd"] == "default"


@pytest.mark.parametrize(("text", "unit", "value"), [
    ("10k", "ohm", 1e4), ("10kohm", "ohm", 1e4), ("100n", "s", 1e-7), ("100 ns", "s", 1e-7),
    ("100uS", "S", 1e-4), ("1GHz", "Hz", 1e9), ("2e-3", "F/m2", 2e-3), ("1.5", "", 1.5),
])
def test_quantities_parse_with_prefix_and_unit(text: str, unit: str, value: float) -> None:
    # one rounding of the decimal literal (2^-53) and of the prefix factor (measured exact)
    assert parse_quantity(text, unit) == pytest.approx(value, rel=1e-15)


def test_unknown_key_suggests_the_closest_and_is_located() -> None:
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware({"g_mx": HardwareSetting("g_mx", 1e-4, at(7))})
    d = exc.value.diagnostics[0]
    assert d.message == "unknown hardware setting 'g_mx'"
    assert d.notes == ("did you mean 'g_max'?",) and d.span is not None and d.span.line == 7


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("scheme", "tri_rail", "expected one of dual_rail, differential, nonnegative"),
    ("gbw", "fast", "expected a number"),
    ("gbw", -1.0, "outside the allowed range (0.0, 10000000000000.0]"),
    ("levels", 2.5, "expected an integer"),
    ("levels", 1, "levels must be 0 (continuous) or at least 2"),
    ("r_f", "10kF", "unit 'kF' does not fit: this key takes 'ohm'"),
    ("tau_unit", float("nan"), "expected a finite number"),
    ("amplifier", 3.0, "expected one of ideal, nonideal"),
])
def test_bad_values_are_located_errors(key: str, value: object, fragment: str) -> None:
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware({key: HardwareSetting(key, value, at(4))})  # type: ignore[arg-type]
    d = exc.value.diagnostics[0]
    assert fragment in d.message and d.span is not None and d.span.line == 4


def test_cross_key_checks() -> None:
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware(None, {"g_min": 1e-3, "g_max": 1e-4})
    assert messages(exc) == ["hardware: g_min = 0.001 S must be below g_max = 0.0001 S"]
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware(None, {"v_unit": 1.0, "vdd": 1.2})
    assert "exceeds the swing vdd/2" in messages(exc)[0]


def test_all_errors_are_reported_together() -> None:
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware(None, {"foo": 1, "bar": 2, "gbw": "x"})
    assert len(exc.value.diagnostics) == 3


def test_builtin_profiles_load_and_resolve() -> None:
    names = builtin_profiles()
    assert {"ideal", "rram_cmos"} <= set(names)
    ideal = resolve_hardware(None, load_profile("ideal"))
    assert ideal.amplifier == "ideal" and ideal.g_min == 0.0 and ideal.g_max == 1e-4
    real = resolve_hardware(None, load_profile("rram_cmos"))
    assert real.amplifier == "nonideal" and real.levels == 32 and real.vdd == 1.2
    assert real.locs["gbw"].short() == "rram_cmos.yaml:" + str(real.locs["gbw"].line)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return p


def test_profile_errors_carry_file_line_col(tmp_path: Path) -> None:
    p = write(tmp_path, "gbw: 1GHz\ng_mx: 1e-4\nlevels: 1.5\nr_f: 10kF\nvdd: 200\n")
    with pytest.raises(DenseAMCError) as exc:
        load_profile(p)
    where = [d.span.location().rsplit("/", 1)[-1] for d in exc.value.diagnostics if d.span]
    assert where == ["p.yaml:2:1", "p.yaml:3:9", "p.yaml:4:6", "p.yaml:5:6"]
    assert messages(exc)[0] == "unknown hardware setting 'g_mx'"
    assert "unit 'kF' does not fit" in messages(exc)[2]
    assert "200.0 V is outside the allowed range" in messages(exc)[3]


def test_profile_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    with pytest.raises(DenseAMCError) as exc:
        load_profile(write(tmp_path, "gbw: 1GHz\nlevels: [3\n"))
    d = exc.value.diagnostics[0]
    assert d.message.startswith("hardware profile is not valid YAML") and d.span is not None
    with pytest.raises(DenseAMCError) as exc:
        load_profile(write(tmp_path, "- 1\n- 2\n"))
    assert "must be a mapping" in messages(exc)[0]
    with pytest.raises(DenseAMCError) as exc:
        load_profile(write(tmp_path, "gbw: 1G\ngbw: 2G\n"))
    assert messages(exc) == ["hardware setting 'gbw' appears twice"]


def test_missing_profile() -> None:
    with pytest.raises(DenseAMCError) as exc:
        load_profile("no_such_profile")
    assert "built-in profiles: ideal, rram_cmos" in messages(exc)[0]


# -- report ------------------------------------------------------------------------------------

UNIT_SUFFIXES = ("_ohm", "_f", "_s", "_v", "_a", "_w", "_j", "_m2", "_hz", "_siemens",
                 "_v_per_s", "_f_per_m2")
DIMENSIONLESS = {"tau_margin", "levels", "a0", "neurons", "tau_model", "clamped", "entries",
                 "devices", "lost", "raised", "clipped", "max_abs_error", "rms_error",
                 "max_abs_weight", "latency_model", "readout_t_model", "counts",
                 "slowest_rate_per_s", "g_sigma", "p_stuck_off", "p_stuck_on", "act_gain_sigma",
                 "c_sigma", "vectors", "passed", "min_pass", "opamps", "amplifiers_fraction",
                 "crossbars_fraction", "swing_fraction", "vector", "peak_model"}


def walk(obj: object, path: str = "") -> list[tuple[str, object]]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in walk(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [x for i, v in enumerate(obj) for x in walk(v, f"{path}[{i}]")]
    return [(path, obj)]


DIMENSIONLESS.add("g_noise")  # relative read noise (a separate line: the set above merges often)


def check_units(report: dict) -> None:
    for path, value in walk(report):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        assert math.isfinite(value), path
        if path.startswith((".counts", ".conductance_histogram.counts")):
            continue
        key = path.rsplit(".", 1)[-1].split("[")[0]
        assert key.endswith(UNIT_SUFFIXES) or key in DIMENSIONLESS, path


def report(g: ModelGraph, hw: Hardware, sim_result: object = None,
           inputs: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Lower, analyse and render, with the warnings the pipeline would pass."""
    lowered = Lowered(g, hw, lower(g, hw))
    analysis = analyze_circuit(lowered, sim_result, inputs=inputs)
    return build_report(lowered, analysis, [*lowered.circuit.diagnostics, *analysis.diagnostics])


def test_report_numbers_are_finite_and_carry_units() -> None:
    g = xor_graph()
    hw = resolve_hardware(g.hardware)
    rep = report(g, hw)
    check_units(rep)
    assert rep["latency_s"] > 0 and rep["energy_j"] > 0 and rep["area_m2"] > 0
    assert rep["counts"]["IntegratorCell"] == 5 and rep["counts"]["conductance_devices"] == 16
    assert rep["conductance_histogram"]["devices"] == 16
    # predicted latency (linearisation) is close to the simulated settle time: ln(1000)/rate
    # assumes a unit offset decaying at the slowest linear rate from the start, while the real
    # transient begins nonlinear (measured 2.3% apart on xor)
    assert rep["latency_s"] == pytest.approx(rep["timing"]["settle_time_sim_s"], rel=0.05)
    text = report_json(rep)
    assert json.loads(text) == rep and text == report_json(json.loads(text))
    md = render_markdown(rep)
    assert md.startswith("# xor: circuit report") and "predicted latency" in md


def test_report_with_nonideal_profile_and_selects() -> None:
    g = parity_like_graph(0)
    hw = resolve_hardware(g.hardware, load_profile("rram_cmos"))
    c = lower(g, hw)
    inputs = random_inputs(g, 4, 0)
    rep = report(g, hw, simulate_circuit(c, inputs), inputs=inputs)
    check_units(rep)
    assert rep["counts"]["analog_switches"] == 32
    assert any("lost" in w["message"] for w in rep["warnings"])
    assert rep["warnings"][0]["location"].startswith("gen.dam:")
    assert rep["latency_s"] is not None and rep["power"]["crossbars_w"] > 0


def test_report_warns_when_amplifiers_are_too_slow() -> None:
    g = xor_graph({"tau_unit": 1e-9})
    hw = resolve_hardware(g.hardware)
    rep = report(g, hw)
    assert any("amplifier-limited" in w["message"] for w in rep["warnings"])
    assert rep["gbw_required_hz"] > hw.gbw


def test_report_is_deterministic() -> None:
    g = xor_graph()
    hw = resolve_hardware(g.hardware)
    a = report_json(report(g, hw))
    b = report_json(report(g, hw))
    assert a == b
    assert np.isfinite(json.loads(a)["energy_j"])
