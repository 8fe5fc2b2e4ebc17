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
Backend = Callable[[Compilation, Batch], dict[str, np.ndarray]]


def model_backend(comp: Compilation, inputs: Batch) -> dict[str, np.ndarray]:
    from denseamc.backends.sim import simulate

    return dict(simulate(comp.graph, inputs).outputs)


def _not_available(name: str) -> Backend:
    def run(comp: Compilation, inputs: Batch) -> dict[str, np.ndarray]:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"backend '{name}' is not available yet"))
    return run


BACKENDS: dict[str, Backend] = {
    "model": model_backend,
    "circuit": _not_available("circuit"),
    "spice": _not_available("spice"),
    "veriloga": _not_available("veriloga"),
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

    @property
    def ok(self) -> bool:
        return all(b.passed for b in self.blocks)

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
        report.blocks.append(judge(block, got))
    return report


def simulate_one(
    comp: Compilation,
    backend: str,
    given: Mapping[str, np.ndarray],
    *,
    t_end: float | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Simulate one input vector on the model backend and describe the result."""
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
    if backend != "model":
        raise DenseAMCError(Diagnostic(Severity.ERROR,
                                       f"simulate --backend {backend} is not available yet"))
    result = simulate(graph, inputs, t_end=t_end, record=plot is not None)
    if plot is not None:
        from denseamc.compiler.plot import plot_trajectories
        plot_trajectories(graph, result, plot)
    return {
        "outputs": {k: v[0].tolist() for k, v in result.outputs.items()},
        "states": {k: v[0].tolist() for k, v in result.states.items()},
        "settle_time": float(result.settle_time[0]),
        "energy": float(result.energy[0]),
        "t_end": float(t_end if t_end is not None else graph.readout_t),
        "backend": backend,
    }
