"""`denseamc simulate`: run one input vector on the model or circuit backend and describe it.

`simulate_one` checks the `--input` values with the simulators' own validator
(`backends.inputs`: every input given once, with its size), runs one batch element, and returns
the outputs, the final states, the settle time and the energy at the end (model units) as plain
Python values for printing or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.inputs import check_model_inputs
from denseamc.backends.sim import energy, simulate
from denseamc.compiler.pipeline import Compilation
from denseamc.compiler.plot import plot_trajectories
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
    checked = check_model_inputs(graph, given)  # one vector each: (size,) is a batch of one
    inputs = checked.arrays
    t_model = float(t_end if t_end is not None else graph.readout_t)
    if backend == "circuit":
        cres = simulate_circuit(comp.circuit, inputs, t_end=t_end)
        selects = {k: v.astype(np.float64) for k, v in checked.selects.items()}
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
