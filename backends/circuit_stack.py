"""Several circuits' node equations as one evaluation: `DrawStack`, for integrating the draws
of one nominal circuit together (`circuit_sim.simulate_circuits`, Monte Carlo).

Draws stack when their equations stack row by row (`DrawStack.of`): ideal amplifiers, every cell
a capacitor cell, ideal activation rails, the same nets. One evaluation serves all of them, each
draw with its own step sizes (`sim.dopri.dopri_draws`), so each draw's numbers are bit for bit
those of simulating it alone, whatever it is stacked with.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from denseamc.backends.circuit_plan import Array, CircuitPlan


class DrawStack:
    """The node equations of several circuits' plans as one evaluation: state (D, B, n), draw d
    in row d. Each draw's rows go through exactly the arithmetic of its own `rhs_ideal` (the
    same elementwise operations; a per-draw matrix product for fixed arrays; einsum's per-row
    sums for selected ones), so the numbers are bit for bit its own."""

    def __init__(self, plans: Sequence[CircuitPlan], proto: CircuitPlan) -> None:
        D, B = len(plans), plans[0].batch
        self.D, self.B = D, B
        self.proto = proto  # plan 0's evaluation, re-dimensioned to D * B rows
        # per-draw constants (n,), one row per vector of the draw
        self.i_in0 = np.concatenate([np.broadcast_to(p.i_ideal, (B, p.n_cells)) for p in plans])
        self.r_f = np.concatenate([np.broadcast_to(p.r_f_dyn, (B, p.n_cells)) for p in plans])
        self.c_f = np.concatenate([np.broadcast_to(p.c_f_dyn, (B, p.n_cells)) for p in plans])
        self.g_static = (np.stack([p.g_static for p in plans]) if proto.g_batch is None
                         else None)

    @classmethod
    def of(cls, plans: Sequence[CircuitPlan]) -> DrawStack | None:
        """The stack of `plans`, or None when their equations do not stack row by row."""
        p0 = plans[0]
        if not all(cls._matches(p, p0) for p in plans):
            return None
        proto = copy.copy(p0)
        proto.batch = len(plans) * p0.batch
        proto.clamp_v = np.concatenate([p.clamp_v for p in plans])
        if p0.g_batch is not None:
            proto.g_batch = np.concatenate([p.g_batch for p in plans if p.g_batch is not None])
        return cls(plans, proto)

    @staticmethod
    def _matches(p: CircuitPlan, p0: CircuitPlan) -> bool:
        """p's equations stack with p0's: ideal amplifiers and capacitor cells only (one
        evaluation, no algebraic solve; a column coupling W, of wires or switches, then enters
        only through the per-draw constant i_ideal), ideal activation rails (plan 0's
        activations serve all), the same nets, batch, device rows and columns, time span and
        units."""
        def acts(q: CircuitPlan) -> list[tuple[str, float | None, float]]:
            return [(a.kind, a.param, a.v_unit) for a, *_ in q.acts]

        def same_devices(q: CircuitPlan) -> bool:
            return q.g_batch is None if p0.g_batch is None else (
                q.g_batch is not None and np.array_equal(q.g_rows, p0.g_rows)
                and np.array_equal(q.g_cols, p0.g_cols))

        def span(q: CircuitPlan) -> tuple[float, float, float]:
            return (q.c.readout_t, q.c.scaling.tau_unit_s, q.v_unit)

        return (p.ideal and p.only_dyn and p.drv == p0.drv and span(p) == span(p0)
                and p.batch == p0.batch and acts(p) == acts(p0) and same_devices(p)
                and all(not a.rail_gain and not a.rail_offset for a, *_ in p.acts))

    def rhs(self, y: Array) -> Array:
        """dV_out/dt (D, B, n) at cell outputs y (D, B, n), as each plan's `rhs_ideal`."""
        yy = y.reshape(self.D * self.B, -1)
        v = self.proto.voltages(yy)
        if self.g_static is not None:
            drive = (v.reshape(self.D, self.B, -1) @ self.g_static).reshape(yy.shape[0], -1)
        else:
            drive = self.proto.drive_currents(v)
        i_in = drive + self.i_in0
        out: Array = (-yy / self.r_f - i_in) / self.c_f
        return out.reshape(y.shape)


__all__ = ["DrawStack"]
