"""`denseamc check`: run every test vector of a model on one backend and judge the outputs.

The flow of `run_checks`, top to bottom:

    pick the backend      BACKENDS[name] (the one table of backends)
    run the test vectors  block.stacked_inputs() -> backend -> decoded outputs (+ notes, ok)
    judge                 compiler.verdicts.judge, the same rules for every backend
    report                CheckReport.lines(), printed by the CLI

A backend is a function (compilation, inputs) -> `BackendRun`, where inputs maps every input
name to a (batch, size) array and the run's outputs map every output name to a (batch, size)
array. The netlist backends (spice, veriloga) also co-simulate with the circuit backend and add
its agreement as notes; a disagreement fails the check even when every vector passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from denseamc.backends.sim import simulate
from denseamc.compiler.passes.realise import NONIDEAL_KEYS
from denseamc.compiler.pipeline import Compilation
from denseamc.compiler.verdicts import BlockVerdict, judge
from denseamc.ir import DenseAMCError, Diagnostic, Severity, warning
from denseamc.ir.hardware import KEYS, Hardware
from numpy.typing import NDArray

if TYPE_CHECKING:
    from denseamc.backends.cosim import NetlistRun
    from denseamc.ir.circuit import CircuitIR

__all__ = ["BACKENDS", "Backend", "BackendRun", "CheckReport", "nominal_only_warning", "run_checks"]

Array = NDArray[np.float64]
Batch = Mapping[str, Array]


@dataclass
class BackendRun:
    """Decoded outputs of one batch, plus lines a backend adds to the report (`notes`) and
    whether its own cross-check passed (`ok`; the netlist backends compare with the circuit)."""

    outputs: dict[str, Array]
    notes: list[str] = field(default_factory=list)
    ok: bool = True


Backend = Callable[[Compilation, Batch], BackendRun]


def model_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """The behavioural simulation of the model's ODE (`backends/sim/`)."""
    return BackendRun(dict(simulate(comp.graph, inputs).outputs))


def circuit_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """Component-level numpy simulation of the lowered circuit; with non-ideal amplifiers it
    also reports the deviation from the ideal circuit."""
    from denseamc.backends.circuit_sim import simulate_circuit

    result = simulate_circuit(comp.circuit, inputs)
    deviation = result.deviation
    notes = []
    if deviation:
        worst = max(deviation, key=lambda k: float(deviation[k].max()))
        notes.append(f"non-ideal amplifiers: largest deviation from the ideal circuit "
                     f"{float(deviation[worst].max()):.3g} (model units) on layer "
                     f"'{worst}'")
    return BackendRun(dict(result.outputs), notes)


# The circuit and netlist backends' modules (the circuit simulator, emitters, runners, raw
# files) are imported when one of them runs: `check --backend model` should not pay for them
# at start-up.


def spice_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """The SPICE netlist on ngspice, co-simulated with the circuit backend."""
    from denseamc.backends.cosim import run_spice

    return _cosimulated("spice", run_spice, comp, inputs)


def veriloga_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """The Verilog-A netlist on openvaf-r + VACASK, co-simulated with the circuit backend."""
    from denseamc.backends.cosim import run_veriloga

    return _cosimulated("veriloga", run_veriloga, comp, inputs)


def _cosimulated(name: str, run: Callable[[CircuitIR, Batch], NetlistRun], comp: Compilation,
                 inputs: Batch) -> BackendRun:
    from denseamc.backends.circuit_sim import simulate_circuit
    from denseamc.backends.cosim import compare_with_circuit
    from denseamc.backends.runners import SimulatorError

    circuit = comp.circuit
    try:
        result = run(circuit, inputs)
    except SimulatorError as exc:  # not installed, failed to converge, timed out
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"backend {name}: {exc}")) from None
    agreement = compare_with_circuit(circuit, result, simulate_circuit(circuit, inputs))
    return BackendRun(dict(result.outputs), agreement.lines(), agreement.ok)


BACKENDS: dict[str, Backend] = {
    "model": model_backend,
    "circuit": circuit_backend,
    "spice": spice_backend,
    "veriloga": veriloga_backend,
}


@dataclass
class CheckReport:
    """Per-block verdicts of one backend, printable as the CLI's lines."""

    backend: str
    blocks: list[BlockVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # extra lines from the backend
    notes_ok: bool = True  # False when a backend's own cross-check failed

    @property
    def ok(self) -> bool:
        return all(b.passed for b in self.blocks) and self.notes_ok

    def lines(self) -> list[str]:
        out: list[str] = []
        n_pass = n_fail = 0
        for b in self.blocks:
            for r in b.results:
                if not r.passed:
                    out.append(r.describe())
            n_pass += sum(r.passed for r in b.results)
            n_fail += sum(not r.passed for r in b.results)
            out.append(b.summary())
        out += self.notes
        verdict = "PASS" if self.ok else "FAIL"
        out.append(f"{verdict}: {n_pass} passed, {n_fail} failed on backend {self.backend} "
                   f"({len(self.blocks)} test blocks)")
        return out


def run_checks(comp: Compilation, backend: str) -> CheckReport:
    """Run every test block of the model on `backend` and judge each block."""
    run = BACKENDS[backend]
    report = CheckReport(backend)
    if not comp.graph.tests:
        raise DenseAMCError(Diagnostic(Severity.ERROR, "the model has no test blocks to check",
                                       file=str(comp.path)))
    for block in comp.graph.tests:
        got = run(comp, block.stacked_inputs())
        report.notes += got.notes
        report.notes_ok &= got.ok
        report.blocks.append(judge(block, got.outputs, comp.graph.outputs()))
    return report


def nominal_only_warning(hw: Hardware, command: str, backend: str) -> Diagnostic | None:
    """With a non-ideality set, the warning that `command` (check, simulate) on `backend` runs
    the nominal circuit (the model backend: the ideal model) all the same. Located at the first
    setting that has a location (the model's `hardware { }` block or a profile line); names
    every such key and where it was set (--set, profile, hardware block)."""
    keys = [k for k in NONIDEAL_KEYS if getattr(hw, k) != 0]
    if not keys:
        return None
    origin = {"set": "--set", "profile": "profile", "model": "hardware block"}

    def named(k: str) -> str:
        unit = f" {KEYS[k].unit}" if KEYS[k].unit else ""
        return f"{k} = {getattr(hw, k)!r}{unit} ({origin.get(hw.origin.get(k, ''), 'default')})"

    loc = next((hw.locs[k] for k in keys if k in hw.locs), None)
    return warning(
        f"{command} --backend {backend} simulates the nominal "
        f"{'model' if backend == 'model' else 'circuit'}: the non-idealities "
        f"{', '.join(named(k) for k in keys)} are not applied",
        loc, "`denseamc montecarlo` gives the yield and accuracy under these settings")
