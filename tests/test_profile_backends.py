"""The netlist backends under a real hardware profile (`rram_cmos`: non-ideal op-amps, switch
on-resistance, its device window): every example's every test vector runs on ngspice and on
VACASK, agrees with the circuit backend within 1% of v_unit (the issue's limit), and gets the same
verdict there, so the pass rate `check` reports for the profile is the same on every backend
(whatever it is: parity8 failed 15 of 52 vectors under this profile before R_F was chosen on the
level grid, and the test must neither hide failures nor depend on how many there are)."""

from __future__ import annotations

from pathlib import Path

import pytest
from denseamc.compiler.check import CheckReport, run_checks
from denseamc.compiler.pipeline import compile_model
from denseamc.compiler.profiles import builtin_profiles

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROFILE = "rram_cmos"


@pytest.fixture(scope="module")
def circuit_reports() -> dict[str, CheckReport]:
    return {}


@pytest.mark.parametrize("backend", ["spice", "veriloga"])
@pytest.mark.parametrize("example", ["xor", "hamming74", "parity8"])
def test_profile_runs_agree_and_judge_alike(example: str, backend: str,
                                            circuit_reports: dict[str, CheckReport]) -> None:
    comp = compile_model(EXAMPLES / f"{example}.dam",
                         hardware_profile=builtin_profiles()[PROFILE])
    assert not comp.circuit.amplifier.ideal  # the profile's op-amp, not the ideal one
    netlist = run_checks(comp, backend)
    # notes_ok: every node of every vector within 1% of v_unit of the circuit backend, and
    # sign/argmax outputs identical (backends/cosim.compare_with_circuit)
    assert netlist.notes_ok, "\n".join(netlist.notes)
    if example not in circuit_reports:
        circuit_reports[example] = run_checks(comp, "circuit")
    circuit = circuit_reports[example]
    for mine, ref in zip(netlist.blocks, circuit.blocks, strict=True):
        assert [r.passed for r in mine.results] == [r.passed for r in ref.results], \
            f"{example} on {backend}: verdicts differ from the circuit backend's"
