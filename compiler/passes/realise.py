"""`realise`: one Monte Carlo draw of a nominal circuit's device and amplifier non-idealities.

The nominal circuit (the lowering's output) has ideal devices: every conductance is its target
(already quantised to `levels`), wires have no resistance, amplifiers no offset. This pass turns
it into the circuit one particular chip would be, draw `draw` of seed `seed`:

- every crossbar device (every nonzero conductance; a position without a device stays empty):
  programming error g * exp(g_sigma z), z ~ N(0, 1) (lognormal with median g, so the log ratio
  ln(g_real / g) has mean 0 and standard deviation g_sigma; applied after quantisation, as
  write-verify lands near a level, not on it); then stuck faults: with probability p_stuck_off
  the device is 0 S, with probability p_stuck_on it is g_max. Selected crossbars: every selected
  line has its own devices for every option (`SelectedCrossbar.line_tables`).
- every crossbar: wire resistance `r_wire` per cell segment (the simulator solves the network);
- every cell amplifier (integrators, summing stages, inverters): input offset offset_sigma z (V);
  every capacitor: c_f (1 + c_sigma z), kept at least 1% of c_f (a 100-sigma event otherwise);
- every activation output rail: gain 1 + act_gain_sigma z and offset act_offset_sigma z (V);
- read noise: `g_noise` goes into the circuit's `meta` (`READ_NOISE`); the noise itself is a
  stochastic process the circuit backend integrates (`backends/sim/read_noise.py`), from a
  stream keyed by the draw too.

Reproducibility: each component draws from its own generator, keyed by (seed, draw, the bytes of
its name) (`np.random.default_rng([seed, draw, *name])`), and always draws the same numbers in the
same order whichever settings are nonzero. So draw k of seed s is the same whatever else runs
(other draws, batching, workers), one component's values do not depend on which other
components exist, and turning one non-ideality on does not reshuffle another's. The forward and
transposed crossbars of a bilinear term are separate components (separate physical arrays):
their devices are independent, and the realised coupling is not symmetric.

With every non-ideality 0 the pass returns the circuit itself, unchanged (the same object).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
from denseamc.backends.sim.read_noise import READ_NOISE
from denseamc.compiler.passes.base import Lowered
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell, read_only
from denseamc.ir.crossbars import Crossbar, SelectedCrossbar
from denseamc.ir.hardware import KEYS, Hardware
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: The hardware keys this pass samples (ir/hardware.py marks them `nonideal`).
NONIDEAL_KEYS: tuple[str, ...] = tuple(k.name for k in KEYS.values() if k.nonideal)

#: Smallest realised C_F as a fraction of the nominal one (keeps every capacitor positive).
_C_FLOOR = 0.01


def any_nonideal(hw: Hardware) -> bool:
    """True when some non-ideality is set (the circuit has something to draw)."""
    return any(getattr(hw, k) != 0 for k in NONIDEAL_KEYS)


def _rng(seed: int, draw: int, name: str) -> np.random.Generator:
    """The generator of one component of one draw: keyed, so independent of everything else."""
    return np.random.default_rng([seed, draw, *name.encode()])


def _devices(g: Array, hw: Hardware, rng: np.random.Generator) -> Array:
    """Programming error, then stuck faults, on every device (nonzero entry) of `g`."""
    z = rng.standard_normal(g.shape)
    u = rng.random(g.shape)
    out = g * np.exp(hw.g_sigma * z)
    out = np.where(u < hw.p_stuck_off, 0.0, out)
    on = (u >= hw.p_stuck_off) & (u < hw.p_stuck_off + hw.p_stuck_on)
    out = np.where(on, hw.g_max, out)
    return np.where(g > 0, out, 0.0)


def _crossbar(xb: Crossbar, hw: Hardware, rng: np.random.Generator) -> Crossbar:
    g = _devices(np.asarray(xb.conductance), hw, rng)
    return replace(xb, conductance=read_only(g), r_wire=hw.r_wire)


def _selected(sx: SelectedCrossbar, hw: Hardware, rng: np.random.Generator) -> SelectedCrossbar:
    per_line = np.broadcast_to(sx.table, (len(sx.lines), *sx.table.shape))
    tables = _devices(np.asarray(per_line), hw, rng)
    return replace(sx, line_tables=read_only(tables), r_wire=hw.r_wire)


def _cell(cell: IntegratorCell, hw: Hardware, rng: np.random.Generator) -> IntegratorCell:
    z_offset, z_cap = rng.standard_normal(2)
    c_f = cell.c_f * max(1.0 + hw.c_sigma * z_cap, _C_FLOOR)
    return replace(cell, v_offset=float(hw.offset_sigma * z_offset), c_f=float(c_f))


def _activation(act: Activation, hw: Hardware, rng: np.random.Generator) -> Activation:
    z_gain, z_offset = rng.standard_normal((2, 2 * len(act.in_nets)))  # out_p rail, out_n rail
    gain = tuple(float(v) for v in 1.0 + hw.act_gain_sigma * z_gain) if hw.act_gain_sigma else ()
    offset = tuple(float(v) for v in hw.act_offset_sigma * z_offset) if hw.act_offset_sigma else ()
    return replace(act, rail_gain=gain, rail_offset=offset)


def realise(circuit: CircuitIR, hw: Hardware, seed: int, draw: int) -> CircuitIR:
    """Draw `draw` of seed `seed` of `circuit` under `hw`'s non-idealities (module docstring)."""
    if not any_nonideal(hw):
        return circuit
    if seed < 0 or draw < 0:
        raise ValueError(f"realise: seed and draw must be >= 0, got {seed}, {draw}")
    return replace(
        circuit,
        cells=tuple(_cell(c, hw, _rng(seed, draw, c.name)) for c in circuit.cells),
        activations=tuple(_activation(a, hw, _rng(seed, draw, a.name))
                          for a in circuit.activations),
        crossbars=tuple(_crossbar(x, hw, _rng(seed, draw, x.name)) for x in circuit.crossbars),
        selected_crossbars=tuple(_selected(x, hw, _rng(seed, draw, x.name))
                                 for x in circuit.selected_crossbars),
        draw=(seed, draw),
        meta={**circuit.meta, READ_NOISE: hw.g_noise} if hw.g_noise else circuit.meta,
    )


@dataclass(frozen=True)
class Realise:
    """The sampling pass (not in the default pipeline): a `Lowered` -> its realised draw."""

    name: ClassVar[str] = "realise"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"
    seed: int = 0
    draw: int = 0

    def run(self, ir: Lowered, /) -> Lowered:
        return ir._replace(circuit=realise(ir.circuit, ir.hardware, self.seed, self.draw))
