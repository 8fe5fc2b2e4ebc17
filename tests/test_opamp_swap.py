"""`--set opamp=FILE`: the user's own op-amp subcircuit replaces the built-in `dam_opamp`.

The file here is a two-stage, two-pole macro-model (two transconductance stages, each with its
own RC pole, a buffer and an output resistance; a0 = 1e4, GBW 10 GHz, second pole 40 GHz),
nothing like the built-in single-pole model. Every test vector of every example runs on ngspice
with it and must agree within the issue's 1 % of v_unit, with identical decoded outputs, with
the circuit backend simulating amplifiers of the same a0 and GBW (single-pole, rails far away:
vdd = 10 V; measured 2.7e-5, 1.3e-3 and 1.0e-4 v_unit for xor, hamming74 and parity8; against
ideal amplifiers the finite a0 alone costs hamming74 2.1e-2). Bad files get a located error,
exit 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.cosim import compare_with_circuit, run_spice
from denseamc.backends.spice import user_opamp
from denseamc.compiler.cli import main
from denseamc.compiler.pipeline import compile_model
from denseamc.compiler.verdicts import judge

ROOT = Path(__file__).resolve().parent.parent

TWO_STAGE = """\
* two-stage, two-pole op-amp macro-model: a0 = 1e4, GBW 10 GHz, second pole 40 GHz
.subckt dam_opamp inp inn out vdd vss
g1 0 n1 inp inn 1e-3
r1 n1 0 100k
c1 n1 0 1.5915e-12
g2 0 n2 n1 0 1e-3
r2 n2 0 100k
c2 n2 0 3.9789e-17
eo o 0 n2 0 1.0
ro o out 100
.ends dam_opamp
"""


#: What the circuit backend simulates: the two-stage model's a0 and GBW, rails out of the way.
SAME_AMPLIFIER = {"amplifier": "nonideal", "a0": "1e4", "gbw": "10G", "vdd": "10"}


@pytest.mark.parametrize("example", ["xor", "hamming74", "parity8"])
def test_two_stage_opamp_runs_and_agrees(example: str, tmp_path: Path) -> None:
    opamp = tmp_path / "two_stage.cir"
    opamp.write_text(TWO_STAGE)
    comp = compile_model(ROOT / "examples" / f"{example}.dam",
                         settings={"opamp": str(opamp), **SAME_AMPLIFIER})
    block = comp.graph.tests[0]
    inputs = block.stacked_inputs()
    run = run_spice(comp.circuit, inputs, opamp=user_opamp(TWO_STAGE, str(opamp)))
    assert all("g2 0 n2 n1 0 1e-3" in text for text in run.netlists)  # the user's model ran
    assert judge(block, run.outputs, comp.graph.outputs()).passed
    agreement = compare_with_circuit(comp.circuit, run, simulate_circuit(comp.circuit, inputs),
                                     tol_v_unit=0.01)
    print(agreement.lines()[0])
    assert agreement.ok and agreement.worst_net, "\n".join(agreement.lines())


def test_compile_writes_the_users_opamp(tmp_path: Path) -> None:
    opamp = tmp_path / "two_stage.cir"
    opamp.write_text(TWO_STAGE)
    out = tmp_path / "out"
    assert main([str(ROOT / "examples" / "xor.dam"), "-o", str(out), "--emit", "spice",
                 "--set", f"opamp={opamp}"]) == 0
    cir = (out / "spice" / "xor.cir").read_text()
    assert "g2 0 n2 n1 0 1e-3" in cir and "bgm 0 p" not in cir  # the built-in one is gone


@pytest.mark.parametrize(("text", "why"), [
    (TWO_STAGE.replace("dam_opamp inp inn out vdd vss", "dam_opamp inp inn out"), "five ports"),
    (TWO_STAGE + ".control\nshell touch x\n.endc\n", "unsafe"),
    (TWO_STAGE + ".tran 1n 1u\n", "belong to the netlist"),
    (TWO_STAGE.replace(".ends dam_opamp\n", ""), "no '.ends'"),
])
def test_bad_opamp_file_is_a_located_error(text: str, why: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    opamp = tmp_path / "bad.cir"
    opamp.write_text(text)
    out = tmp_path / "out"
    assert main([str(ROOT / "examples" / "xor.dam"), "-o", str(out),
                 "--set", f"opamp={opamp}"]) == 2
    err = capsys.readouterr().err
    assert str(opamp) in err and why in err and not out.exists()


def test_missing_opamp_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main([str(ROOT / "examples" / "xor.dam"), "-o", str(out),
                 "--set", f"opamp={tmp_path / 'nope.cir'}"]) == 2
    assert "cannot read" in capsys.readouterr().err and not out.exists()
