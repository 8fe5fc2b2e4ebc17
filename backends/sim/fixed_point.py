"""The one fixed-point iteration of the simulators and static solves: sweep until nothing moves.

Algebraic parts of a system (tau = 0 layers of a model, C_F = 0 summing stages of a circuit) are
solved by repeating one in-place sweep over their equations. A sweep reports the largest change
it made and the largest magnitude it wrote; the iteration has converged when

    change <= RTOL * max(magnitude, scale)

(`scale` is the unit of the values: 1 in model units, v_unit in volts, so values far below the
unit converge to an absolute tolerance). A chain of k stages without a cycle converges exactly
in k + 1 sweeps; a cycle converges when it is a contraction. A non-finite change stops at once.
The caller raises its own error (it knows what the stages mean to the user) when this fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable

RTOL = 1e-12
MAXITER = 500


def fixed_point(sweep: Callable[[], tuple[float, float]], *, scale: float,
                maxiter: int = MAXITER) -> bool:
    """Repeat `sweep` until it converges (module docstring); True if it did within maxiter."""
    for _ in range(maxiter):
        change, magnitude = sweep()
        if not math.isfinite(change):
            return False
        if change <= RTOL * max(magnitude, scale):
            return True
    return False
