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
    from denseamc.backends.circuit_result import CircuitSimResult
    from denseamc.backends.cosim import NetlistRun
    from denseamc.compiler.executor import Where
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
    return cosimulate("spice", comp.circuit, inputs)[0]


def veriloga_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """The Verilog-A netlist on openvaf-r + VACASK, co-simulated with the circuit backend."""
    return cosimulate("veriloga", comp.circuit, inputs)[0]


def netlist_run(name: str, circuit: CircuitIR, inputs: Batch,
                timeout_s: float = 60.0) -> NetlistRun:
    """Run `circuit`'s netlist on the simulator of backend `name` (spice or veriloga); a
    simulator that fails (not installed, no convergence, over `timeout_s` s) raises
    DenseAMCError."""
    from denseamc.backends.cosim import run_spice, run_veriloga
    from denseamc.backends.runners import SimulatorError

    run = {"spice": run_spice, "veriloga": run_veriloga}[name]
    try:
        return run(circuit, inputs, timeout_s)
    except SimulatorError as exc:  # not installed, failed to converge, timed out
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"backend {name}: {exc}")) from None


def cosimulate(name: str, circuit: CircuitIR, inputs: Batch, timeout_s: float = 60.0,
               result: NetlistRun | None = None) -> tuple[BackendRun, CircuitSimResult]:
    """Backend `name`'s run of `circuit` (`result` when already run, else `netlist_run`) held
    against the circuit backend on the same inputs: the decoded outputs, the agreement lines
    as notes, `ok` when it agrees; and the circuit backend's own result."""
    from denseamc.backends.circuit_sim import simulate_circuit
    from denseamc.backends.cosim import compare_with_circuit

    if result is None:
        result = netlist_run(name, circuit, inputs, timeout_s)
    reference = simulate_circuit(circuit, inputs)
    agreement = compare_with_circuit(circuit, result, reference)
    return BackendRun(dict(result.outputs), agreement.lines(), agreement.ok), reference


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


def run_checks(comp: Compilation, backend: str, where: Where | None = None) -> CheckReport:
    """Run every test block of the model on `backend` and judge each block; a netlist backend
    runs its vectors with `where`'s simulator time limit, on the cluster it names if any
    (compiler/executor.py: one task per vector)."""
    run = BACKENDS[backend]
    report = CheckReport(backend)
    if not comp.graph.tests:
        raise DenseAMCError(Diagnostic(Severity.ERROR, "the model has no test blocks to check",
                                       file=str(comp.path)))
    for block in comp.graph.tests:
        inputs = block.stacked_inputs()
        if backend in NETLIST_BACKENDS and where is not None:  # its time limit, maybe a cluster
            ran = None if where.in_process else _distributed_netlist_run(
                backend, comp.circuit, inputs, where)
            got = cosimulate(backend, comp.circuit, inputs, where.timeout_s, ran)[0]
        else:
            got = run(comp, inputs)
        report.notes += got.notes
        report.notes_ok &= got.ok
        report.blocks.append(judge(block, got.outputs, comp.graph.outputs()))
    return report


NETLIST_BACKENDS = ("spice", "veriloga")


def _distributed_netlist_run(name: str, circuit: CircuitIR, inputs: Batch,
                             where: Where) -> NetlistRun:
    """`netlist_run` of every vector, one task per vector on the cluster, gathered into one
    batch; a vector whose simulation fails every retry is a located error."""
    from denseamc.compiler.executor import FailedDraw, Job, run_jobs

    batch = len(next(iter(inputs.values())))
    payload = (name, circuit, dict(inputs), where.timeout_s)
    [runs] = run_jobs([Job(_vector_runs, payload, 0, batch)], where)
    failed = [f for f in runs if isinstance(f, FailedDraw)]
    if failed:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"backend {name}: " + "; ".join(
            f"vector {f.draw + 1}: {f.error}" for f in failed)))
    return _concatenate([r for r in runs if not isinstance(r, FailedDraw)])


def _vector_runs(payload: tuple[str, CircuitIR, dict[str, Array], float], start: int,
                 stop: int) -> list[NetlistRun]:
    """Vectors start..stop-1 of a batch on the simulator, one NetlistRun each (a task)."""
    name, circuit, inputs, timeout_s = payload
    return [netlist_run(name, circuit, {k: v[i:i + 1] for k, v in inputs.items()}, timeout_s)
            for i in range(start, stop)]


def _concatenate(runs: list[NetlistRun]) -> NetlistRun:
    """Batch-1 runs of the same circuit, in order, as one run of the whole batch."""
    from denseamc.backends.cosim import NetlistRun

    first = runs[0]
    return NetlistRun(
        backend=first.backend,
        voltages={n: np.concatenate([r.voltages[n] for r in runs]) for n in first.voltages},
        states={n: np.concatenate([r.states[n] for r in runs]) for n in first.states},
        outputs={n: np.concatenate([r.outputs[n] for r in runs]) for n in first.outputs},
        energy=np.concatenate([r.energy for r in runs]),
        wall_s=np.concatenate([r.wall_s for r in runs]),
        t_readout_s=first.t_readout_s, points=np.concatenate([r.points for r in runs]),
        netlists=[t for r in runs for t in r.netlists])


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
