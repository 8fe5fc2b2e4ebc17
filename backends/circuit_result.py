"""What the circuit simulator returns (`CircuitSimResult`), and the decoding of its readouts
from node voltages (`decode`, shared with the co-simulation of netlists on real simulators).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from denseamc.ir.circuit import CircuitIR
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass
class CircuitSimResult:
    """What `simulate_circuit` returns; arrays are float64 with batch size B.

    outputs: output -> (B, size), decoded from the readout nets at t_end (the model backend's
    rules). states: layer -> (B, n) in model units, x = -V(x net) / v_unit. activations: layer ->
    (B, n), g = V(gp net) / v_unit. voltages: net -> (B,) at t_end (driven nets, and summing
    nodes in the non-ideal case). settle_time_s / settle_time (model units): (B,). max_abs_v:
    (B,) the largest |V| any driven net reached (the swing to compare with vdd/2), None with
    `swing=False`. deviation (non-ideal only): layer -> (B,) max |x - x_ideal| over the layer
    at t_end, model units. With `record`: times_s (T,), trajectories layer -> (T, B, n).
    """

    outputs: dict[str, Array]
    states: dict[str, Array]
    activations: dict[str, Array]
    voltages: dict[str, Array]
    settle_time_s: Array
    settle_time: Array
    t_end_s: float
    max_abs_v: Array | None
    deviation: dict[str, Array] | None = None
    times_s: Array | None = None
    trajectories: dict[str, Array] | None = None
    stats: dict[str, int] = field(default_factory=dict)


def decode(circuit: CircuitIR, v: Array, drv: Mapping[str, int]) -> dict[str, Array]:
    """Decode every readout from driven-net voltages (B, n_drv), as the model backend does:
    g = V(gp)/v_unit; sign(g) (0 -> 0), g, or argmax(decoder @ g + offset) as (B, 1)."""
    out: dict[str, Array] = {}
    for ro in circuit.readouts:
        g = v[:, [drv[n] for n in ro.nets]] / circuit.scaling.v_unit
        out[ro.op.name] = ro.op.decode(g)
    return out


__all__ = ["CircuitSimResult", "decode"]
