"""The recorder of a model simulation: every accepted step's state, for settle time and traces."""

from __future__ import annotations

import numpy as np
from denseamc.backends.sim.system import System
from numpy.typing import NDArray

Array = NDArray[np.float64]


class Recorder:
    """Keeps the accepted-step states (for settle time) and the requested recordings."""

    def __init__(self, sys: System) -> None:
        self.sys = sys
        self.step_t: list[float] = []
        self.step_u: list[list[Array]] = []
        self.step_adi: list[dict[int, Array]] = []

    def step(self, t: float, u: Array | list[Array], adi_fresh: bool) -> None:
        """Record the accepted state at t: a flat u (B, n) or a list of per-dynamic-layer
        states (adiabatic states are current iff adi_fresh)."""
        parts = [u[:, lay.sl] for lay in self.sys.dynamic] if isinstance(u, np.ndarray) else u
        if not adi_fresh and self.sys.adiabatic_order:
            self.sys.activations_parts(parts)
        self.step_t.append(t)
        # the states and the adiabatic arrays are never modified in place after a step, so
        # keep references
        self.step_u.append(parts)
        self.step_adi.append(dict(self.sys.adiabatic_states))

    def states_at(self, k: int) -> dict[str, Array]:
        """Every layer's state (B, n) at the k-th recorded time."""
        parts = iter(self.step_u[k])
        out: dict[str, Array] = {}
        for lay in self.sys.layers:
            out[lay.name] = (self.step_adi[k][lay.index] if lay.adiabatic else next(parts))
        return out

    def states_between(self, a: int, b: int) -> dict[str, Array]:
        """Every layer's states (b - a, B, n) at recorded times a..b-1."""
        at = [self.states_at(k) for k in range(a, b)]
        return {lay.name: np.stack([s[lay.name] for s in at]) for lay in self.sys.layers}
