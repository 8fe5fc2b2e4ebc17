"""No text from a model reaches a netlist except legalised identifiers and numbers.

A hostile model (a test named like an ngspice `.control` block with a `shell` command, a source
file whose name holds newlines and directives, layer and weight names that are simulator
keywords or differ only in case) compiles, runs on ngspice and VACASK, agrees with the circuit
backend, and runs nothing: the marker files its `touch` commands name are never created. Unit
tests pin the naming and number-formatting rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.emit import emit_netlists, scan_emitted
from denseamc.backends.naming import IDENT, RESERVED, Namer, legalise, source_basename
from denseamc.backends.netlist_safety import (
    UnsafeNetlistError,
    check_include_file,
    check_netlist,
    without_generated_includes,
)
from denseamc.backends.units import num
from denseamc.compiler.check import run_checks
from denseamc.compiler.pipeline import compile_model, lower
from denseamc.ir import InternalCompilerError

EVIL_TEST = 'x\\" .endc .control shell touch F .endc'


def _evil_model(tmp_path: Path) -> tuple[Path, list[Path]]:
    marker = tmp_path / "PWNED"
    marker2 = tmp_path / "PWNED2"
    name = "evil\n.control\nshell touch PWNED2\n.endc\n.dam"  # no '/' in a file name
    path = tmp_path / name
    path.write_text(f"""model END
layer shell[3]: identity tau=0.1
layer Shell[2]: softmax(2) tau=0.01
weights control[2, 3] = [[1, -1, 1], [-1, 1, -1]]
energy E = legendre(shell) + legendre(Shell) - Shell @ control @ shell
input x[3]: init shell
output y[3]: sign(shell)
readout at t = 1
test "{EVIL_TEST}" {{
    x = [0.5, -0.2, 0.3] -> y = [1, -1, 1]
}}
test "x\\" .endc .control shell touch {marker} .endc" {{
    x = [-0.5, 0.2, -0.3] -> y = [-1, 1, -1]
}}
""")
    return path, [marker, marker2, Path("F"), tmp_path / "F"]


@pytest.mark.parametrize("backend", ["spice", "veriloga"])
def test_hostile_names_run_nothing(backend: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path, markers = _evil_model(tmp_path)
    comp = compile_model(path)
    report = run_checks(comp, backend)
    assert report.ok, "\n".join(report.lines())
    assert any("agrees with the circuit backend" in line for line in report.notes)
    for m in markers:
        assert not m.exists(), f"{m} was created: a netlist ran a command"


def test_emitted_files_hold_no_model_text(tmp_path: Path) -> None:
    path, _ = _evil_model(tmp_path)
    comp = compile_model(path)
    files = emit_netlists(lower(comp.graph), loc_comments=True)
    assert "spice/end_.cir" in files and "veriloga/end_.sim" in files  # "end" is reserved
    for rel, text in files.items():
        assert text.isascii(), rel
        if rel == "names.json":
            continue  # the sidecar maps IR names (identifiers) to netlist names: not a netlist
        if rel.endswith("_tb.cir"):  # a testbench: its own one control block, nothing else
            assert text.count(".control") == text.count(".endc") == 1, rel
            text = text.replace(".endc", "")
        if rel.endswith("_tb.scs"):  # its paramset's long rows continue with a final backslash
            text = text.replace(" \\\n", "\n")
        assert ".endc" not in text, rel
        if not rel.endswith(".py"):  # the decoding script's own escapes ("\\n") are fixed text
            assert "\\" not in text, rel
        for line in text.splitlines():
            if line.startswith(("* from", "// from")):
                # the file name, legalised, is the only model text in a netlist
                assert re.fullmatch(r"(\*|//) from [a-z0-9_]+\.dam:\d+(,[a-z0-9_]+\.dam:\d+)*",
                                    line), line
                continue
            for bad in ("touch", "PWNED", "pwned", "Shell", "END"):
                assert bad not in line, (rel, line)
    # the file name survives only as a legalised basename
    assert "* from evil_control_shell_" in files["spice/end_.cir"]
    names = json.loads(files["names.json"])
    nets = set(names["net"].values())
    assert "shell_x_0_2" in nets  # shell and Shell stay distinct: one of them is renamed
    assert "shell_x_0" not in names["net"]  # names kept as they are are not listed
    for kind in names.values():
        for legal in kind.values():
            assert legal == "0" or IDENT.match(legal), legal


def test_every_example_netlist_passes_the_safety_scan() -> None:
    root = Path(__file__).resolve().parent.parent / "examples"
    si_number = re.compile(r"(?<![a-z_])\d+(\.\d+)?(k|meg|m|u|n|p|f|g|t)\b", re.IGNORECASE)
    for ex in ("xor", "hamming74", "parity8"):
        files = emit_netlists(lower(compile_model(root / f"{ex}.dam").graph))
        mods = {p.rsplit("/", 1)[-1][:-3] + ".osdi" for p in files if p.endswith(".va")}
        scan_emitted(files)  # every file, the include files too
        for top, folder in ((f"spice/{ex}.cir", "spice/"), (f"veriloga/{ex}.sim", "veriloga/")):
            # every include line names an emitted file by its relative generated path
            named = re.findall(r'^\.?include "?([^"\n]+)"?$', files[top], re.MULTILINE)
            assert named and all(folder + p in files for p in named), (top, named)
            assert all(re.fullmatch(r"crossbars/xb_[a-z0-9_]+\.(inc|scs)", p) for p in named)
            with pytest.raises(UnsafeNetlistError):  # not without the emitted include files
                check_netlist(files[top], dialect="ngspice" if top.endswith(".cir") else "vacask",
                              allowed_loads=mods)
        check_netlist(without_generated_includes(files[f"spice/{ex}.cir"], [
            p[len("spice/"):] for p in files if p.startswith("spice/crossbars/")]),
            dialect="ngspice")
        for rel, text in files.items():
            # plain exponent notation only: no SI prefixes (SPICE reads M as milli)
            assert not si_number.search(text), rel
            if not rel.endswith(".va"):  # the fixed modules say `from (0:inf)`
                words = re.findall(r"[a-z]+", text)
                assert "nan" not in words and "inf" not in words, rel


@pytest.mark.parametrize("line", [
    ".include /etc/passwd", ".include crossbars/../../etc/x.inc", ".include crossbars/xb_b.inc",
    'include "crossbars/xb_a.inc/../x.scs"', ".inc crossbars/xb_a.inc",
    ".INCLUDE crossbars/xb_a.inc"])
def test_only_the_emitted_include_files_may_be_included(line: str) -> None:
    """An include line stays forbidden unless it names one of the emitted include files."""
    text = f"t\n.include crossbars/xb_a.inc\n{line}\nr1 a 0 1.0\n.end\n"
    allowed = ["crossbars/xb_a.inc", "../x.inc", "/abs/x.inc"]  # only the generated one counts
    assert ".include crossbars/xb_a.inc\n" not in without_generated_includes(text, allowed)
    with pytest.raises(UnsafeNetlistError):
        check_netlist(without_generated_includes(text, allowed), dialect="ngspice")
    with pytest.raises(UnsafeNetlistError):  # an include file holds no include, at a generated path
        check_include_file("crossbars/xb_a.inc", f"r1 a b 1.0\n{line}\n", dialect="ngspice")
    with pytest.raises(UnsafeNetlistError):
        check_include_file("../xb_a.inc", "r1 a b 1.0\n", dialect="ngspice")


#: A crossbar file's head: comments and a subcircuit line that use every letter (so the scan
#: cannot skip a word because one of its letters is missing from the file).
HEADER_WITH_EVERY_LETTER = (
    "// crossbar subcircuit xb_w: 200 x 100 devices, the quick brown fox jumps over the lazy dog\n"
    "subckt xb_w (row_0 row_1 col_0 col_1)\n")


@pytest.mark.parametrize("bad", ["SHELL x", ".INCLUDE b", "x\rsource y", '  Load "x.osdi"',
                                 "a`b", "PostProcess", "r1 a b 1 ; c", "\u00e9", "she ll shell",
                                 "r_1_2 (row_1 col_2) resistor r=1.0 embed"])
@pytest.mark.parametrize("head, name", [("", "r"), (HEADER_WITH_EVERY_LETTER, "r"),
                                        (HEADER_WITH_EVERY_LETTER, "dev_xb_hv")])
def test_a_large_crossbar_file_with_one_bad_line_is_refused(bad: str, head: str,
                                                            name: str) -> None:
    """The scan's fast paths (which characters occur, then only the words they can spell, looked
    for around the few characters a device line does not use; with many of those, in the whole
    text) still find one forbidden construct, in any case, in a file of 20,000 device lines."""
    devices = [f"{name}_{r}_{c} (row_{r} col_{c}) resistor r={1e4 / (r + c + 1)!r}"
               for r in range(200) for c in range(100)]
    lines = [*head.splitlines(), *devices]
    lines.insert(12_345, bad)
    with pytest.raises(UnsafeNetlistError):
        check_include_file("crossbars/xb_w.scs", "\n".join(lines) + "\n", dialect="vacask")
    check_include_file("crossbars/xb_w.scs", "\n".join(lines[:12_345]) + "\n", dialect="vacask")


# ---------------------------------------------------------------------------------------------
# naming and numbers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, legal", [
    ("xor", "xor"),
    ("XOR", "xor"),
    ("h_sum_3", "h_sum_3"),
    ("3abc", "n3abc"),
    ("_x", "x"),
    ("", "n"),
    ("a b;c`d", "a_b_c_d"),
    ("x\n.control\nshell touch f\n.endc", "x_control_shell_touch_f_endc"),
    ("end", "end_"),
    ("control", "control_"),
    ("GND", "gnd_"),
    ("ünïcødé", "n_c_d"),
])
def test_legalise(text: str, legal: str) -> None:
    assert legalise(text) == legal


def test_legalise_long_names_are_cut_reproducibly() -> None:
    a, b = legalise("a" * 100), legalise("a" * 99 + "b")
    assert len(a) <= 64 and IDENT.match(a) and a != b and a == legalise("a" * 100)


def test_namer_unique_after_case_folding_and_stable() -> None:
    n = Namer()
    assert n.net("v_x_0") == "v_x_0"
    assert n.net("V_x_0") == "v_x_0_2"
    assert n.net("v_x_0") == "v_x_0"  # same IR name, same identifier
    assert n.net("0") == "0"
    assert n.inst("r", "xb0_1_2") == "r_xb0_1_2"
    assert n.inst("r", "XB0_1_2") == "r_xb0_1_2_2"
    with pytest.raises(InternalCompilerError):
        n.inst("R!", "x")
    assert not (set(n.mapping()["net"].values()) & RESERVED)


def test_source_basename() -> None:
    assert source_basename("examples/xor.dam") == "xor.dam"
    assert source_basename("/a/b\\c/My Model.dam") == "my_model.dam"
    assert source_basename("x\n.control\n.dam") == "x_control.dam"


def test_num_formats_plain_floats() -> None:
    assert num(1e-5) == "1e-05"
    assert num(10000) == "10000.0"
    assert num(-0.0) == "0.0"
    assert num(np.float64(0.1)) == "0.1"
    for bad in (float("nan"), float("inf"), "1k", True):
        with pytest.raises(InternalCompilerError):
            num(bad)  # type: ignore[arg-type]
