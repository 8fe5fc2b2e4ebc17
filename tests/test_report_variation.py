"""With a non-ideality set, the report gives the yield under it; check and simulate say they
run the nominal circuit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from denseamc.compiler.cli import main
from denseamc.compiler.montecarlo import compile_points, run_study
from denseamc.compiler.passes.analyze_variation import (
    REPORT_DRAWS,
    REPORT_SEED,
    analyze_variation,
)
from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.pipeline import Compilation, compile_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"
PARITY = EXAMPLES / "parity8.dam"


def _lowered(comp: Compilation) -> Lowered:
    return Lowered(comp.graph, comp.hardware, comp.circuit)


def test_ideal_compile_has_no_variation(tmp_path: Path) -> None:
    comp = compile_model(XOR)
    assert analyze_variation(_lowered(comp), comp.analysis) is None
    assert main([str(XOR), "-o", str(tmp_path / "out"), "--emit", "report"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "variation" not in report
    assert "non-idealities" not in (tmp_path / "out" / "report.md").read_text()


def test_report_gives_yield_draws_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--emit", "report", "--set", "g_sigma=0.05",
                 "--set", "offset_sigma=2m"]) == 0
    v = json.loads((out / "report.json").read_text())["variation"]
    assert (v["draws"], v["seed"]) == (REPORT_DRAWS, REPORT_SEED)
    assert v["settings"] == {"g_sigma": 0.05, "offset_sigma_v": 0.002}
    assert v["yield"] == 1.0 and v["blocks"][0]["vectors"] == 4
    md = (out / "report.md").read_text()
    assert f"Monte Carlo over {REPORT_DRAWS} draws (seed {REPORT_SEED}" in md
    assert "g_sigma = 0.05, offset_sigma = 0.002 V" in md
    assert md.index("## Under non-idealities") < md.index("## Nominal circuit")


def test_variation_is_the_montecarlo_study() -> None:
    """The report's numbers are `denseamc montecarlo`'s for the same draws and seed."""
    settings = {"g_sigma": "0.05"}
    comp = compile_model(PARITY, settings=settings)
    got = analyze_variation(_lowered(comp), comp.analysis, draws=3, seed=7)
    assert got is not None
    study = run_study(compile_points(PARITY, None, settings, None), 3, 7, 2, None)
    want = study.points[0].to_json()
    assert (got.draws, got.seed) == (3, 7)
    assert got.yield_ == want["yield"] and list(got.yield_ci95) == want["yield_ci95"]
    assert (got.accuracy_mean, got.accuracy_min, got.accuracy_p05) == (
        want["accuracy_mean"], want["accuracy_min"], want["accuracy_p05"])
    assert got.accuracy_mean < 1.0  # parity8 is fragile at 5% spread (docs/robustness.md)
    rates = want["vector_failure_rate"]
    assert [b.fragile for b in got.blocks] == [sum(r > 0 for r in rates[b.name])
                                               for b in got.blocks]


@pytest.mark.parametrize("command", [
    ["check", str(XOR), "--backend", "circuit"],
    ["simulate", str(XOR), "--backend", "circuit", "--input", "x=[1,-1]"],
])
def test_check_and_simulate_warn_they_run_the_nominal_circuit(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--set", "g_sigma=0.05"]) == 0
    err = capsys.readouterr().err
    assert err.count("simulates the nominal circuit") == 1
    assert "g_sigma = 0.05 (--set)" in err and "denseamc montecarlo" in err
    assert main(command) == 0
    assert "nominal" not in capsys.readouterr().err


def test_nominal_warning_is_located_at_the_setting(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("g_max: 100uS\nc_sigma: 0.01\n")
    assert main(["check", str(XOR), "--hardware", str(profile)]) == 0
    err = capsys.readouterr().err
    assert f"{profile}:2:" in err and "c_sigma = 0.01 (profile)" in err
    assert "check --backend model simulates the nominal model" in err
