"""`denseamc check` and `denseamc simulate`: run a model's inputs on one backend and judge them.

A backend is a function (compilation, inputs) -> decoded outputs, where inputs maps every input
name to a (batch, size) array and outputs maps every output name to a (batch, size) array. All
backends are judged by the same `backends.judge.judge`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from denseamc.compiler.pipeline import Compilation
from denseamc.ir import DenseAMCError, Diagnostic, Severity, TestBlock

Batch = Mapping[str, np.ndarray]


@dataclass
class BackendRun:
    """Decoded outputs of one batch, plus lines a backend adds to the report (`notes`) and
    whether its own cross-check passed (`ok`; the netlist backends compare with the circuit)."""

    outputs: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    ok: bool = True


Backend = Callable[[Compilation, Batch], BackendRun]


def model_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    from denseamc.backends.sim import simulate

    return BackendRun(dict(simulate(comp.graph, inputs).outputs))


def circuit_backend(comp: Compilation, inputs: Batch) -> BackendRun:
    """Component-level numpy simulation of the lowered circuit; with non-ideal amplifiers it
    also reports the deviation from the ideal circuit."""
    from denseamc.backends.circuit_sim import simulate_circuit

    result = simulate_circuit(comp.circuit, inputs)
    notes = []
    if result.deviation:
        worst = max(result.deviation, key=lambda k: float(result.deviation[k].max()))
        notes.append(f"non-ideal amplifiers: largest deviation from the ideal circuit "
                     f"{float(result.deviation[worst].max()):.3g} (model units) on layer "
                     f"'{worst}'")
    return BackendRun(dict(result.outputs), notes)


def _netlist_backend(kind: str) -> Backend:
    """spice (ngspice) or veriloga (openvaf-r + VACASK), compared with the circuit backend."""

    def run(comp: Compilation, inputs: Batch) -> BackendRun:
        from denseamc.backends.circuit_sim import simulate_circuit
        from denseamc.backends.netlist_check import compare_with_circuit, run_spice, run_veriloga
        from denseamc.backends.simrun import SimulatorError

        circuit = comp.circuit
        try:
            result = (run_spice if kind == "spice" else run_veriloga)(circuit, inputs)
        except SimulatorError as exc:  # not installed, failed to converge, timed out
            raise DenseAMCError(Diagnostic(Severity.ERROR, f"backend {kind}: {exc}")) from None
        agreement = compare_with_circuit(circuit, result, simulate_circuit(circuit, inputs))
        return BackendRun(dict(result.outputs), agreement.lines(), agreement.ok)

    return run


BACKENDS: dict[str, Backend] = {
    "model": model_backend,
    "circuit": circuit_backend,
    "spice": _netlist_backend("spice"),
    "veriloga": _netlist_backend("veriloga"),
}


def block_inputs(block: TestBlock) -> dict[str, np.ndarray]:
    """Stack a block's vectors into one batch per input name."""
    names = list(block.vectors[0].inputs)
    return {n: np.stack([np.asarray(v.inputs[n], dtype=float) for v in block.vectors])
            for n in names}


@dataclass
class CheckReport:
    """Per-block results of one backend, printable as the CLI's lines."""

    backend: str
    blocks: list[Any] = field(default_factory=list)  # backends.judge.BlockResult
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
    """Run every test block of the model on `backend`."""
    from denseamc.backends.judge import judge

    run = BACKENDS[backend]
    report = CheckReport(backend)
    if not comp.graph.tests:
        raise DenseAMCError(Diagnostic(Severity.ERROR, "the model has no test blocks to check",
                                       file=str(comp.path)))
    for block in comp.graph.tests:
        got = run(comp, block_inputs(block))
        report.notes += got.notes
        report.notes_ok &= got.ok
        report.blocks.append(judge(block, got.outputs, comp.graph.outputs()))
    return report


def simulate_one(
    comp: Compilation,
    backend: str,
    given: Mapping[str, np.ndarray],
    *,
    t_end: float | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Simulate one input vector on the model or circuit backend and describe the result."""
    from denseamc.backends.sim import simulate

    graph = comp.graph
    inputs = {}
    for inp in graph.inputs():
        if inp.name not in given:
            raise DenseAMCError(Diagnostic(
                Severity.ERROR, f"missing --input {inp.name}=[...] ({inp.size} values)"))
        value = np.asarray(given[inp.name], dtype=float)
        if value.shape != (inp.size,):
            raise DenseAMCError(Diagnostic(
                Severity.ERROR, f"--input {inp.name} has {value.size} values; "
                f"input '{inp.name}' takes {inp.size}"))
        inputs[inp.name] = value[None, :]
    extra = sorted(set(given) - {i.name for i in graph.inputs()})
    if extra:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"the model has no input {extra[0]!r}"))
    t_model = float(t_end if t_end is not None else graph.readout_t)
    if backend == "circuit":
        from denseamc.backends.circuit_sim import simulate_circuit
        from denseamc.backends.sim import energy

        cres = simulate_circuit(comp.circuit, inputs, t_end=t_end)
        selects = {i.name: inputs[i.name].astype(np.int64) for i in graph.inputs()
                   if i.mode == "select"}
        outputs, states = cres.outputs, cres.states
        settle = float(cres.settle_time[0])
        final_energy = float(energy(graph, states, selects)[0])
    else:
        result = simulate(graph, inputs, t_end=t_end, record=plot is not None)
        if plot is not None:
            from denseamc.compiler.plot import plot_trajectories
            plot_trajectories(graph, result, plot)
        outputs, states = result.outputs, result.states
        settle, final_energy = float(result.settle_time[0]), float(result.energy[0])
    return {
        "outputs": {k: v[0].tolist() for k, v in outputs.items()},
        "states": {k: v[0].tolist() for k, v in states.items()},
        "settle_time": settle,
        "energy": final_energy,
        "t_end": t_model,
        "backend": backend,
    }
