"""`denseamc montecarlo`: the ideal study is `check`, draws are reproducible and independent of
chunking, the statistics, and every bad setting stops the study with exit 2 and no output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from denseamc.compiler.check import run_checks
from denseamc.compiler.cli import EXIT_FAIL, EXIT_USER, main
from denseamc.compiler.montecarlo import (
    DEFAULT_CHUNK,
    compile_points,
    default_chunk,
    run_draws,
    run_study,
)
from denseamc.compiler.yieldstats import wilson_interval

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"
HAMMING = EXAMPLES / "hamming74.dam"


def _xor_with_wrong_vector(tmp_path: Path) -> Path:
    """xor whose second vector expects the wrong sign: it fails on every backend."""
    text = XOR.read_text().replace("x = [-1,  1] -> y = [ 1]", "x = [-1,  1] -> y = [-1]")
    path = tmp_path / "xor_wrong.dam"
    path.write_text(text)
    return path


def _study(tmp_path: Path, model: Path, *extra: str, name: str = "mc.json") -> tuple[int, dict]:
    out = tmp_path / name
    code = main(["montecarlo", str(model), "--quiet", "--json", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


@pytest.mark.parametrize("model", [XOR, HAMMING])
def test_ideal_study_is_check(tmp_path: Path, model: Path) -> None:
    code, data = _study(tmp_path, model, "--runs", "2")
    assert code == 0
    [point] = data["points"]
    assert point["settings"] == {}
    assert point["accuracy_mean"] == point["accuracy_min"] == point["accuracy_p05"] == 1.0
    assert point["yield"] == 1.0
    assert all(r == 0.0 for rates in point["vector_failure_rate"].values() for r in rates)


def test_ideal_failures_are_checks(tmp_path: Path) -> None:
    model = _xor_with_wrong_vector(tmp_path)
    [comp] = compile_points(model, None, {}, None)
    report = run_checks(comp, "circuit")
    expected = {b.name: [0.0 if r.passed else 1.0 for r in b.results] for b in report.blocks}
    code, data = _study(tmp_path, model, "--runs", "3")
    assert code == 0  # no --min-yield: a failed yield is a result, not an error
    [point] = data["points"]
    assert point["vector_failure_rate"] == expected == {"truth table": [0.0, 1.0, 0.0, 0.0]}
    assert point["yield"] == 0.0 and point["accuracy_mean"] == 0.75
    assert point["yield_ci95"][0] == 0.0
    assert main(["montecarlo", str(model), "--quiet", "--runs", "2", "--min-yield", "0.5"]) \
        == EXIT_FAIL


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    args = ("--runs", "3", "--seed", "7", "--sweep", "g_sigma=0,0.1")
    assert _study(tmp_path, XOR, *args, name="a.json")[0] == 0
    assert _study(tmp_path, XOR, *args, name="b.json")[0] == 0
    a, b = (tmp_path / "a.json").read_bytes(), (tmp_path / "b.json").read_bytes()
    assert a == b
    data = json.loads(a)
    assert set(data) == {"model", "backend", "runs", "seed", "points"}
    assert [p["settings"] for p in data["points"]] == [{"g_sigma": 0.0}, {"g_sigma": 0.1}]
    assert set(data["points"][0]) == {
        "settings", "accuracy_mean", "accuracy_min", "accuracy_p05", "yield", "yield_ci95",
        "vector_failure_rate", "settle_time_s", "energy_j", "failed_draws"}
    assert data["points"][0]["failed_draws"] == []
    assert data["points"][1]["settle_time_s"] != data["points"][0]["settle_time_s"]


def test_draws_do_not_depend_on_chunks(tmp_path: Path) -> None:
    [comp] = compile_points(HAMMING, None, {"g_sigma": "0.2", "p_stuck_off": "0.05"}, None)
    whole = run_draws(comp, 3, 0, 10)
    halves = run_draws(comp, 3, 0, 5) + run_draws(comp, 3, 5, 10)
    assert whole == halves
    assert len({d.settle_s for d in whole}) == 10  # the draws do differ
    by_one = run_study([comp], 10, 3, 1, None).points[0].draws
    by_four = run_study([comp], 10, 3, 4, None).points[0].draws
    assert list(by_one) == list(by_four) == whole
    assert run_draws(comp, 3, 7, 8) == whole[7:8]  # draw 7 alone


def test_wilson_interval_by_hand() -> None:
    # 7 of 10 at z = 1.96: centre (0.7 + 0.19208) / 1.38415, half width
    # 1.96 sqrt(0.021 + 0.0096040) / 1.38415  ->  [0.3968, 0.8922]
    lo, hi = wilson_interval(7, 10)
    assert lo == pytest.approx(0.39676, abs=1e-4) and hi == pytest.approx(0.89222, abs=1e-4)
    z2 = 1.959963984540054**2
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert not math.isnan(wilson_interval(1, 1)[0])


def test_small_g_sigma_keeps_xor(tmp_path: Path) -> None:
    code, data = _study(tmp_path, XOR, "--runs", "5", "--set", "g_sigma=0.1", "--min-yield", "1")
    assert code == 0
    assert data["points"][0]["yield"] == 1.0
    assert data["points"][0]["settings"] == {"g_sigma": 0.1}


@pytest.mark.parametrize(("args", "message"), [
    (["--runs", "2", "--set", "g_sigma=-0.1"], "--set g_sigma=-0.1: "),
    (["--runs", "2", "--set", "g_sigmax=0.1"], "--set g_sigmax=0.1: "),
    (["--runs", "0"], "--runs 0: expected at least 1"),
    (["--runs", "2", "--chunk", "0"], "--chunk 0: expected at least 1"),
    (["--runs", "2", "--workers", "-1"], "--workers -1: expected 0"),
    (["--runs", "2", "--retries", "-1"], "--retries -1: expected 0 or more"),
    (["--runs", "2", "--timeout", "0"], "--timeout 0.0: expected a time limit > 0 s"),
    (["--runs", "2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one"),
    (["--runs", "2", "--scheduler", "127.0.0.1:8786"], "expected an address such as tcp://"),
    (["--runs", "2", "--sweep", "scheme=dual_rail,differential"], "'scheme' is not numeric"),
    (["--runs", "2", "--sweep", "g_sigma"], "--sweep g_sigma: expected KEY=V1,V2"),
    (["--runs", "2", "--sweep", "g_sigma=0,,1"], "expected KEY=V1,V2"),
    (["--runs", "2", "--sweep", "g_sigma=0,-1"], "--sweep g_sigma=0,-1: hardware 'g_sigma'"),
    (["--runs", "2", "--sweep", "bogus=1,2"], "unknown hardware setting 'bogus'"),
    (["--runs", "2", "--min-yield", "1.5"], "--min-yield 1.5"),
])
def test_bad_settings_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               args: list[str], message: str) -> None:
    out, png = tmp_path / "mc.json", tmp_path / "mc.png"
    code = main(["montecarlo", str(XOR), "--json", str(out), "--plot", str(png), *args])
    assert code == EXIT_USER
    assert message in capsys.readouterr().err
    assert not out.exists() and not png.exists()


def test_plot_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "mc.png"
    code = main(["montecarlo", str(XOR), "--runs", "2", "--chunk", "1", "--sweep",
                 "g_sigma=0,0.05", "--plot", str(png)])
    assert code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    captured = capsys.readouterr()
    assert "denseamc: 4/4 draws, 0 failed, " in captured.err  # not a terminal: plain lines
    assert "g_sigma = 0.05:" in captured.out
    assert "settle time: mean" in captured.out and " s, p95 " in captured.out
    assert "energy per inference: mean" in captured.out and " J, p95 " in captured.out
    assert main(["montecarlo", str(XOR), "--runs", "1", "--quiet"]) == 0
    assert "draws" not in capsys.readouterr().err


def test_progress_bar_on_a_terminal() -> None:
    import io

    from denseamc.compiler.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(4, "draws", stream=stream)
    bar(2)
    bar(4, 1)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[" + "#" * 15 + "." * 15 + "] 2/4 draws, 0 failed, ")
    assert " s left" in text
    assert "\r[" + "#" * 30 + "] 4/4 draws, 1 failed" in text and text.endswith("\n")
    quiet = Tty()
    Progress(4, "draws", quiet=True, stream=quiet)(4)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(("backend", "runs"), [("spice", 2), ("veriloga", 1)])
def test_netlist_backends_run_each_draw(tmp_path: Path, backend: str, runs: int) -> None:
    """Each draw's netlist on the real simulator gives the circuit backend's verdicts on the
    same draws (the realised netlists agree with it), hence the same JSON but the backend."""
    args = ("--runs", str(runs), "--seed", "5", "--set", "g_sigma=0.3")
    code, real = _study(tmp_path, XOR, *args, "--backend", backend, name="real.json")
    assert code == 0
    code, numpy = _study(tmp_path, XOR, *args, name="circuit.json")
    assert code == 0
    assert real.pop("backend") == backend and numpy.pop("backend") == "circuit"
    assert real == numpy
    assert real["points"][0]["failed_draws"] == []


def test_nominal_netlist_study_is_check(tmp_path: Path) -> None:
    model = _xor_with_wrong_vector(tmp_path)
    [comp] = compile_points(model, None, {}, None)
    report = run_checks(comp, "spice")
    expected = {b.name: [0.0 if r.passed else 1.0 for r in b.results] for b in report.blocks}
    code, data = _study(tmp_path, model, "--runs", "1", "--backend", "spice")
    assert code == 0
    assert data["points"][0]["vector_failure_rate"] == expected
    assert data["points"][0]["yield"] == 0.0


def test_default_chunk_is_one_draw_a_task_on_the_netlist_backends() -> None:
    # a netlist draw takes seconds: one a task keeps a cluster's workers evenly loaded
    assert default_chunk("circuit") == DEFAULT_CHUNK > 1
    assert default_chunk("spice") == default_chunk("veriloga") == 1
