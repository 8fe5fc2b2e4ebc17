"""Input values -> stimuli: the input-dependent values a netlist is printed with.

A netlist is printed for one set of input values (a `Stimulus`): clamp voltages become source
values, `init` inputs and `init=settled` layers become initial cell voltages (computed by the
static solve, `static_solve.initial_cell_voltages`), and `select` inputs become the DC levels of
the analog-switch controls. `stimuli` resolves a batch of inputs into one `Stimulus` per batch
element; `default_stimulus` is what the files written by `denseamc MODEL.dam -o OUT/` use (the
first vector of the first test block, or zeros when the model has no tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from denseamc.backends.inputs import check_circuit_inputs
from denseamc.backends.static_solve import initial_cell_voltages
from denseamc.ir.circuit import CircuitIR


@dataclass(frozen=True)
class Stimulus:
    """The input-dependent values of one netlist (one batch element).

    source_volts: voltage source name -> volts (clamps). cell_v0: cell name -> initial output
    volts, for every capacitor cell. selects: select input name -> integer values. origin: how
    the values were chosen, in our own words (printed in netlist headers; never user text).
    """

    source_volts: dict[str, float]
    cell_v0: dict[str, float]
    selects: dict[str, tuple[int, ...]] = field(default_factory=dict)
    origin: str = "given input values"


def stimuli(circuit: CircuitIR, inputs: Mapping[str, object],
            origin: str = "given input values") -> list[Stimulus]:
    """One `Stimulus` per batch element of `inputs` (input name -> (B, size) values)."""
    checked = check_circuit_inputs(circuit, inputs)
    arrays, batch = checked.arrays, checked.batch
    v0 = initial_cell_voltages(circuit, checked)
    out = []
    for b in range(batch):
        volts = {vs.name: float(vs.volts + vs.gain_v * arrays[vs.input][b, vs.index])
                 for vs in circuit.voltage_sources}
        out.append(Stimulus(
            source_volts=volts,
            cell_v0={name: float(v[b]) for name, v in v0.items()},
            selects={k: tuple(int(x) for x in v[b]) for k, v in checked.selects.items()},
            origin=origin if batch == 1 else f"{origin}, batch element {b}",
        ))
    return out


def default_stimulus(circuit: CircuitIR) -> Stimulus:
    """The first test vector's inputs, or zeros (selects 0) when the model has no tests."""
    for block in circuit.tests:
        if block.vectors:
            vec = block.vectors[0]
            if all(i.name in vec.inputs for i in circuit.inputs):
                inputs = {i.name: np.asarray(vec.inputs[i.name], dtype=np.float64)[None, :]
                          for i in circuit.inputs}
                return stimuli(circuit, inputs, "the first vector of the first test block")[0]
    zeros = {i.name: np.zeros((1, i.size)) for i in circuit.inputs}
    return stimuli(circuit, zeros, "all inputs zero (the model has no test vectors)")[0]
