"""The command line: outputs, exit statuses, atomic output directories, located errors."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from denseamc.compiler import outputs, pipeline
from denseamc.compiler.cli import EXIT_INTERNAL, EXIT_USER, main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"


def test_compile_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out)]) == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    for expected in ["ir.txt", "dynamics.json", "circuit.txt", "report.json", "report.md",
                     "spice/xor.cir", "veriloga/xor.scs", "veriloga/xor.sim",
                     "veriloga/dam_opamp.va", "names.json"]:
        assert expected in files
    assert any(f.startswith("tables/") and f.endswith(".csv") for f in files)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_compile_is_byte_identical_across_runs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main([str(EXAMPLES / "parity8.dam"), "-o", str(tmp_path / name)]) == 0
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*")
         if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*")
         if p.is_file()}
    assert a == b


PASS_NAMES = ["parse", "elaborate", "analyze-energy", "scale", "lower-cells", "lower-crossbars",
              "lower-activations", "lower-io", "analyze-circuit"]


def test_pipeline_lists_every_pass_in_order() -> None:
    assert list(pipeline.PASSES) == PASS_NAMES


def test_emit_subset_and_ir_dumps(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--emit", "ir,dynamics",
                 "--dump-ir-after", "all"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["dynamics.json", "ir.txt"] + [f"ir.after-{name}.txt" for name in PASS_NAMES])
    assert "Program @" in (out / "ir.after-parse.txt").read_text()
    assert "dynamics:" in (out / "ir.after-analyze-energy.txt").read_text()
    assert "dynamics:" not in (out / "ir.after-elaborate.txt").read_text()
    assert "IntegratorCell" not in (out / "ir.after-scale.txt").read_text()
    assert "Activation" not in (out / "ir.after-lower-crossbars.txt").read_text()
    assert "Readout" in (out / "ir.after-lower-io.txt").read_text()
    assert "latency_s = " in (out / "ir.after-analyze-circuit.txt").read_text()


def test_dump_after_the_last_lowering_pass_is_the_circuit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--emit", "circuit",
                 "--dump-ir-after", "lower-io"]) == 0
    assert (out / "ir.after-lower-io.txt").read_text() == (out / "circuit.txt").read_text()


def test_stop_after_writes_only_the_ir_so_far(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--stop-after", "lower-cells",
                 "--dump-ir-after", "elaborate"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "ir.after-elaborate.txt", "ir.after-lower-cells.txt"]
    assert main([str(XOR), "-o", str(out), "--stop-after", "parse"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ir.after-parse.txt"]


def test_report_warnings_reach_the_terminal_once(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    profile = tmp_path / "clip.yaml"
    profile.write_text("r_f: 10k\n")  # clips a weight on two crossbars: two lowering warnings
    assert main([str(EXAMPLES / "parity8.dam"), "-o", str(out), "--hardware", str(profile)]) == 0
    err = capsys.readouterr().err.splitlines()
    md = (out / "report.md").read_text()
    listed = md.split("## Warnings", 1)[1].split("## Notes", 1)[0].split("\n- ")[1:]
    assert len(listed) == 3 and len(listed) == len(set(listed))
    warnings = [line for line in err if ": warning: " in line]
    assert len(warnings) == len(listed) and len(set(warnings)) == len(warnings)
    # the clipped weights break 20 of the 52 vectors: the report says so (analysis warning)
    assert any("fail on the nominal circuit" in w for w in warnings)


def test_unknown_emit_kind_is_a_user_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(XOR), "-o", str(tmp_path / "o"), "--emit", "gds"]) == EXIT_USER
    assert "unknown output kind(s) gds" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def broken_xor(tmp_path: Path) -> Path:
    text = XOR.read_text().replace("weights xi[4, 3]", "weights xi[4, 2]")
    bad = tmp_path / "bad.dam"
    bad.write_text(text)
    return bad


def test_user_error_exits_2_with_location_and_leaves_existing_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    assert main([str(broken_xor(tmp_path)), "-o", str(out)]) == EXIT_USER
    err = capsys.readouterr().err
    line = next(i for i, t in enumerate(broken_xor(tmp_path).read_text().splitlines(), 1)
                if t.startswith("weights xi"))
    assert f"bad.dam:{line}:" in err and "error: weights 'xi' declared [4, 2]" in err
    assert "^" in err and "Traceback" not in err
    assert (out / "keep.txt").read_text() == "previous run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dam", "out"]


def test_failure_while_emitting_leaves_nothing(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(comp: pipeline.Compilation) -> Iterator[tuple[str, str]]:
        yield "report.json", "{}"
        raise RuntimeError("emitter bug")
    monkeypatch.setitem(outputs.EMITTERS, "report", outputs.OutputKind("boom", explode))
    assert main([str(XOR), "-o", str(tmp_path / "new" / "out")]) == EXIT_INTERNAL
    assert list(tmp_path.iterdir()) == []


def test_internal_errors_are_reported_as_bugs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("oops")
    monkeypatch.setattr(pipeline.AnalyzeEnergy, "run", explode)
    assert main([str(XOR), "-o", str(tmp_path / "o")]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error" in err and "bug in denseamc" in err


def test_missing_and_binary_files_are_user_errors(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.dam"), "-o", str(tmp_path / "o")]) == EXIT_USER
    binary = tmp_path / "bin.dam"
    binary.write_bytes(b"model x\n\x00\xff\xfe")
    assert main([str(binary), "-o", str(tmp_path / "o")]) == EXIT_USER
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") >= 2
    assert not (tmp_path / "o").exists()


def test_check_exit_status_follows_the_verdict(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(XOR)]) == 0
    wrong = tmp_path / "wrong.dam"
    wrong.write_text(XOR.read_text().replace("x = [-1, -1] -> y = [-1]",
                                             "x = [-1, -1] -> y = [1]"))
    assert main(["check", str(wrong), "--backend", "model"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: test \"truth table\" vector 1: x = [-1, -1] -> y: expected [1], got [-1]" in out
    assert out.strip().splitlines()[-1] == ("FAIL: 3 passed, 1 failed on backend model "
                                            "(1 test blocks)")


def test_lowering_runs_only_when_needed(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Hardware that cannot build the weights stops the circuit, not the behavioural model."""
    profile = tmp_path / "nonnegative.yaml"
    profile.write_text("scheme: nonnegative\n")  # xor has negative weights
    assert main(["check", str(XOR), "--hardware", str(profile)]) == 0
    circuit = ["check", str(XOR), "--hardware", str(profile), "--backend", "circuit"]
    assert main(circuit) == EXIT_USER
    assert "scheme nonnegative cannot build a negative weight" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--hardware", str(profile), "--emit", "ir"]) == 0
    assert [p.name for p in out.iterdir()] == ["ir.txt"]


def test_simulate_prints_outputs_and_json(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert main(["simulate", str(XOR), "--input", "x=[1,-1]"]) == 0
    assert "y = [1.0]" in capsys.readouterr().out
    assert main(["simulate", str(XOR), "--input", "x=[1,1]", "--json",
                 "--backend", "circuit"]) == 0
    assert '"y": [\n      -1.0\n    ]' in capsys.readouterr().out
    assert main(["simulate", str(XOR), "--input", "x=[1]"]) == EXIT_USER
    assert "input 'x' takes 2" in capsys.readouterr().err


def test_simulate_plot_writes_a_png(tmp_path: Path) -> None:
    png = tmp_path / "traj.png"
    assert main(["simulate", str(XOR), "--input", "x=[1,-1]", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    exe = shutil.which("denseamc")
    cmd = [exe] if exe else [sys.executable, "-m", "denseamc.compiler.cli"]
    run = subprocess.run([*cmd, str(broken_xor(tmp_path)), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert run.returncode == EXIT_USER
    assert run.stderr.startswith(f"{tmp_path / 'bad.dam'}:")


def test_output_directory_has_ordinary_permissions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(XOR), "-o", str(out), "--emit", "ir"]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
