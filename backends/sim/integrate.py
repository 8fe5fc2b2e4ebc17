"""The integration loop of the model simulator: fixed steps, or adaptive steps with PI control.

`integrate` runs a `System` from t = 0 to t_end and hands every accepted state to a `Recorder`.
Adaptive methods ("adaptive": `ExpAdams`, "etd35": `ETD35`) share one loop: an initial step
from the Hairer-Norsett-Wanner heuristic, acceptance when the scaled error norm is <= 1, and
step-size control

    accepted: h *= clip(SAFETY en^(-K_I/(q+1)) (en_prev/en)^(K_P/(q+1)), 0.2, FAC_MAX)
    rejected: h *= max(SAFETY en^(-1/(q+1)), 0.1)

(a PI controller: the proportional term follows a steadily growing step, where the integral
term alone lags and settles at en ~ 0.2 instead of ~0.5). Fixed-step methods ("fixed": ETD(3,5),
"euler": forward Euler) split each interval between stops into equal steps of at most dt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np
from denseamc.backends.sim.etd35 import ETD35
from denseamc.backends.sim.exp_adams import ExpAdams
from denseamc.backends.sim.record import Recorder
from denseamc.backends.sim.system import System
from denseamc.ir import DenseAMCError, error
from numpy.typing import NDArray

Array = NDArray[np.float64]

METHODS = ("adaptive", "etd35", "fixed", "euler")
_MAX_STEPS = 1_000_000
_SAFETY = 0.9
_K_I = 0.7
_K_P = 0.4
_FAC_MAX = 5.0

S = TypeVar("S", Array, list[Array])  # a stepper's state: flat (B, n) or per layer


class Stepper(Protocol[S]):
    """An adaptive one-step method that keeps its accepted state."""

    def start(self, u: Array) -> Array: ...

    def attempt(self, t: float, h: float, rtol: float, atol: float) -> tuple[S, float, int]: ...

    def accept(self, unew: S, t: float) -> S: ...


def integrate(sys: System, u: Array, t_end: float, *, method: str, rtol: float, atol: float,
              dt: float | None, rec: Recorder, stops: Array) -> dict[str, int]:
    """Integrate from t = 0 to t_end, landing exactly on every time in `stops` (sorted); the
    adaptive exponential Adams method records them by its dense output instead. Returns the
    step counters."""
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}: use 'adaptive', 'etd35', 'fixed' or 'euler'")
    rec.step(0.0, u, adi_fresh=False)
    if t_end <= 0.0 or sys.n == 0 or not sys.free.any():
        # nothing moves (or nothing to integrate): record the end point if it differs
        if t_end > 0.0:
            rec.step(t_end, u, adi_fresh=False)
        return {"steps": 0, "rejected": 0}
    stop_list = [float(s) for s in stops if 0.0 < s < t_end] + [t_end]
    if method in ("fixed", "euler"):
        return _fixed(sys, u, stop_list, method, dt, rec)
    if method == "adaptive":
        adams = ExpAdams(sys)
        dense = sorted(set(stop_list[:-1]))  # recorded by dense output instead of landing
        return _adaptive(adams, sys, u, [t_end], rtol, atol, rec, dense, adams.dense)
    return _adaptive(ETD35(sys), sys, u, stop_list, rtol, atol, rec, [], None)


def _fixed(sys: System, u: Array, stop_list: list[float], method: str, dt: float | None,
           rec: Recorder) -> dict[str, int]:
    t_end = stop_list[-1]
    step = dt if dt is not None else t_end / 1000.0
    if not step > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    etd = ETD35(sys)
    rate = sys.rates[sys.group]
    buf = np.empty_like(u)
    steps = 0
    t = 0.0
    for target in stop_list:
        nsteps = max(1, math.ceil((target - t) / step - 1e-9))
        h = (target - t) / nsteps
        for i in range(nsteps):
            if method == "fixed":
                u, _ = etd.step(u, h, n1_ready=False)
            else:
                sys.nonlinear(u, buf)
                u = u + h * (rate * u + buf)
            t = target if i == nsteps - 1 else t + h
            steps += 1
            rec.step(t, u, adi_fresh=False)
    check_finite(u, t)
    return {"steps": steps, "rejected": 0}


def _initial_step(sys: System, u: Array, n0: Array, t_end: float, rtol: float,
                  atol: float) -> float:
    """Hairer-Norsett-Wanner heuristic on the full derivative."""
    rate = sys.rates[sys.group]
    f0 = rate * u + n0
    scale = atol + rtol * np.abs(u)
    d0 = float(np.sqrt(np.mean((u / scale) ** 2)))
    d1 = float(np.sqrt(np.mean((f0 / scale) ** 2)))
    h = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6 * max(1.0, t_end)
    return min(max(h, 1e-9 * t_end), t_end)


def _accepted_factor(en: float, en_prev: float | None, order: int) -> float:
    """The step-size factor after an accepted step of error norm en (PI control)."""
    if en == 0.0:
        return _FAC_MAX
    expo = -1.0 / (order + 1)
    fac: float = _SAFETY * en ** (expo * _K_I)
    if en_prev is not None:
        fac *= (en_prev / en) ** (-expo * _K_P)
    return min(_FAC_MAX, max(0.2, fac))


def _adaptive(stepper: Stepper[S], sys: System, u0: Array, stop_list: list[float], rtol: float,
              atol: float, rec: Recorder, dense: list[float],
              dense_out: Callable[[float], list[Array]] | None) -> dict[str, int]:
    """The adaptive loop (module docstring); `dense_out(theta)` gives the state at t + theta h
    of the step just attempted, for the recording times in `dense`."""
    stats = {"steps": 0, "rejected": 0}
    t_end = stop_list[-1]
    u: Array | list[Array] = u0
    h = _initial_step(sys, u0, stepper.start(u0), t_end, rtol, atol)
    t, si = 0.0, 0
    rejected_last = False
    en_prev = None
    while t < t_end:
        target = stop_list[si]
        h_try = min(h, target - t)
        landing = h_try >= target - t - 1e-12 * max(1.0, abs(target))
        if landing:
            h_try = target - t
        unew, en, order = stepper.attempt(t, h_try, rtol, atol)
        if not np.isfinite(en):
            en = float("inf")
        if en <= 1.0:
            stats["steps"] += 1
            t_new = target if landing else t + h_try
            while dense and dense[0] < t_new and dense_out is not None:  # inside this step
                rec.step(dense[0], dense_out((dense[0] - t) / h_try), adi_fresh=False)
                dense.pop(0)
            t = t_new
            if landing:
                si = min(si + 1, len(stop_list) - 1)
            # N(u_new) for the next step; it also solves the adiabatic layers at u_new
            u = stepper.accept(unew, t)
            rec.step(t, u, adi_fresh=True)
            fac = _accepted_factor(en, en_prev, order)
            en_prev = max(en, 1e-10)
            if rejected_last:
                fac = min(fac, 1.0)
            # a step shortened to land on a stop must not shrink the proposal for the next one
            h = max(h, h_try * fac) if h_try < h else h_try * fac
            rejected_last = False
        else:
            stats["rejected"] += 1
            fac = max(0.1, _SAFETY * en ** (-1.0 / (order + 1))) if np.isfinite(en) else 0.1
            h = h_try * fac
            rejected_last = True
            if h < 1e-14 * max(1.0, t):
                check_finite(u, t)
                raise DenseAMCError(error(
                    f"the simulation cannot keep its error below tolerance at t = {t:.6g} "
                    "(step size underflow): the dynamics may blow up or be discontinuous"))
        if stats["steps"] + stats["rejected"] > _MAX_STEPS:
            raise DenseAMCError(error(f"the simulation needed more than {_MAX_STEPS} steps"))
    check_finite(u, t)
    return stats


def check_finite(u: Array | list[Array], t: float) -> None:
    """Raise the divergence error if any state is not finite."""
    parts = [u] if isinstance(u, np.ndarray) else u
    if not all(np.all(np.isfinite(x)) for x in parts):
        raise DenseAMCError(error(
            f"the state became non-finite by t = {t:.6g}: the energy is probably unbounded "
            "below (see the compiler's boundedness warnings), so the trajectory diverges"))
