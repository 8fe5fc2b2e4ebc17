"""`denseamc sweep`: the grid of --set values, each point the montecarlo study of that point
(or check's verdict without --runs), a table with units, JSON and a plot; bad grids exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from denseamc.compiler.check import run_checks
from denseamc.compiler.cli import EXIT_USER, main
from denseamc.compiler.pipeline import compile_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"
HAMMING = EXAMPLES / "hamming74.dam"


def test_grid_of_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "sw.json", tmp_path / "sw.png"
    code = main(["sweep", str(XOR), "--set", "gbw=100M,1G", "--set", "g_max=50u,100u",
                 "--set", "v_unit=0.2", "--json", str(out), "--plot", str(png), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["axes"] == ["gbw", "g_max"] and data["runs"] is None
    grid = [(p["settings"]["gbw"], p["settings"]["g_max"]) for p in data["points"]]
    assert grid == [(1e8, 5e-5), (1e8, 1e-4), (1e9, 5e-5), (1e9, 1e-4)]
    assert all(p["settings"]["v_unit"] == 0.2 for p in data["points"])
    for p in data["points"]:  # each point is check's verdict and the compile's latency
        comp = compile_model(XOR, settings={"gbw": str(p["settings"]["gbw"]),
                                            "g_max": str(p["settings"]["g_max"]),
                                            "v_unit": "0.2"})
        assert run_checks(comp, "circuit").ok == (p["yield"] == 1.0)
        assert p["latency_s"] == comp.analysis.latency_s
    slow, fast = data["points"][0], data["points"][2]
    assert slow["latency_s"] > 5 * fast["latency_s"]  # 10x less bandwidth, slower circuit
    assert png.read_bytes().startswith(b"\x89PNG")
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["gbw", "(Hz)", "g_max", "(S)", "latency", "(s)", "settle",
                                "p95", "(s)", "energy", "mean", "(J)", "accuracy", "mean",
                                "yield", "failed", "draws"]
    assert len(table) == 2 + 4


def test_grid_with_runs_is_montecarlo(tmp_path: Path) -> None:
    args = ["--set", "g_sigma=0,0.3", "--runs", "4", "--seed", "2", "--quiet"]
    assert main(["sweep", str(HAMMING), *args, "--json", str(tmp_path / "sw.json")]) == 0
    assert main(["montecarlo", str(HAMMING), "--runs", "4", "--seed", "2", "--sweep",
                 "g_sigma=0,0.3", "--quiet", "--json", str(tmp_path / "mc.json")]) == 0
    sweep = json.loads((tmp_path / "sw.json").read_text())
    study = json.loads((tmp_path / "mc.json").read_text())
    for p in sweep["points"]:
        del p["latency_s"]
    assert sweep.pop("axes") == ["g_sigma"]
    assert sweep == study  # the same points, draws and summary


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "g_sigma=0,x"], "--set g_sigma=0,x: hardware 'g_sigma'"),
    (["--set", "scheme=dual_rail,differential"], "'scheme' is not numeric"),
    (["--set", "bogus=1,2"], "unknown hardware setting 'bogus'"),
    (["--set", "g_sigma=0,0.1", "--set", "g_sigma=0.2"], "'g_sigma' is set more than once"),
    (["--set", "g_sigma=0,,1"], "expected KEY=VALUE or KEY=V1,V2"),
    (["--set", "gbw=1G,2G", "--runs", "0"], "--runs 0: expected at least 1"),
])
def test_bad_grid_exits_2_and_writes_nothing(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             args: list[str], message: str) -> None:
    out, png = tmp_path / "sw.json", tmp_path / "sw.png"
    code = main(["sweep", str(XOR), "--json", str(out), "--plot", str(png), *args])
    assert code == EXIT_USER
    assert message in capsys.readouterr().err
    assert not out.exists() and not png.exists()


def test_grid_of_checks_warns_that_nonidealities_are_not_applied(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(XOR), "--set", "g_sigma=0,0.1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: sweep without --runs --backend circuit simulates the nominal circuit" in err
    assert "g_sigma = 0.1 (--set) are not applied" in err
    assert main(["sweep", str(XOR), "--set", "g_sigma=0,0.1", "--runs", "1", "--quiet"]) == 0
    assert "not applied" not in capsys.readouterr().err
