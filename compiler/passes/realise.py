"""STAND-IN (lead takes variation's version at merge): one realised circuit per Monte Carlo draw.

`realise(circuit, hw, seed, draw)` returns the circuit as built in draw `draw` of seed `seed`:
every device of every crossbar (fixed and selected) gets a lognormal factor exp(N(0, g_sigma)),
and is stuck off (0 S) with probability p_stuck_off or at g_max with probability p_stuck_on. The
random stream is `np.random.default_rng([seed, draw])`, so a draw never depends on which other
draws run. With every non-ideality 0 the circuit itself is returned.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from denseamc.ir.circuit import CircuitIR, read_only
from denseamc.ir.hardware import Hardware
from numpy.typing import NDArray

#: The hardware keys that describe a non-ideality (0 = ideal).
NONIDEAL_KEYS: tuple[str, ...] = ("g_sigma", "p_stuck_off", "p_stuck_on", "c_sigma")


def any_nonideal(hw: Hardware) -> bool:
    """True when any non-ideality is set (nonzero)."""
    return any(float(getattr(hw, k)) != 0.0 for k in NONIDEAL_KEYS)


def _devices(g: NDArray[np.float64], hw: Hardware, rng: np.random.Generator) -> NDArray[np.float64]:
    factor = np.exp(rng.normal(0.0, hw.g_sigma, g.shape))
    u = rng.random(g.shape)
    out = g * factor
    out = np.where(u < hw.p_stuck_off, 0.0, out)
    out = np.where((u >= hw.p_stuck_off) & (u < hw.p_stuck_off + hw.p_stuck_on), hw.g_max, out)
    return read_only(np.where(g > 0, out, 0.0))


def realise(circuit: CircuitIR, hw: Hardware, seed: int, draw: int) -> CircuitIR:
    """Draw `draw` of seed `seed` of `circuit` (see the module docstring)."""
    if not any_nonideal(hw):
        return circuit
    rng = np.random.default_rng([seed, draw])
    crossbars = tuple(dataclasses.replace(x, conductance=_devices(x.conductance, hw, rng))
                      for x in circuit.crossbars)
    selected = tuple(dataclasses.replace(x, table=_devices(x.table, hw, rng))
                     for x in circuit.selected_crossbars)
    return dataclasses.replace(circuit, crossbars=crossbars, selected_crossbars=selected)
