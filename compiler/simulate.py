"""`denseamc simulate`: run one input vector on the model or circuit backend and describe it.

`simulate_one` checks the `--input` values against the model's inputs (every input given once,
with its size), runs one batch element, and returns the outputs, the final states, the settle
time and the energy at the end (model units) as plain Python values for printing or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.sim import energy, simulate
from denseamc.compiler.pipeline import Compilation
from denseamc.compiler.plot import plot_trajectories
from denseamc.ir import DenseAMCError, Diagnostic, ModelGraph, Severity
from numpy.typing import NDArray

__all__ = ["simulate_one"]

Array = NDArray[np.float64]

def simulate_one(
    comp: Compilation,
    backend: str,
    given: Mapping[str, Array],
    *,
    t_end: float | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Simulate one input vector on the model or circuit backend and describe the result."""
    graph = comp.graph
    inputs = _one_vector(graph, given)
    t_model = float(t_end if t_end is not None else graph.readout_t)
    if backend == "circuit":
        cres = simulate_circuit(comp.circuit, inputs, t_end=t_end)
        # the select inputs as the integers simulate_circuit has checked them to be
        selects = {i.name: np.trunc(inputs[i.name]) for i in graph.inputs()
                   if i.mode == "select"}
        outputs, states = cres.outputs, cres.states
        settle = float(cres.settle_time[0])
        final_energy = float(energy(graph, states, selects)[0])
    else:
        result = simulate(graph, inputs, t_end=t_end, record=plot is not None)
        if plot is not None:
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


def _one_vector(graph: ModelGraph, given: Mapping[str, Array]) -> dict[str, Array]:
    """The `--input` values as a batch of one, each checked against its input's size."""
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
    return inputs
