"""Dormand-Prince 5(4): the circuit simulator's integrator, with a uniform-grid recorder.

An explicit Runge-Kutta pair with error control (RMS over a batch element's states of
err / (atol + rtol max(|y|, |y_new|)), the largest over the batch <= 1 to accept; batch-wide
steps), first-same-as-last, step factor clip(0.9 err^(-1/5), 0.2, 10), steps at most h_max.
The node equations of a circuit with non-ideal amplifiers are not of the u' = L u + N(u) form the
model's exponential integrators exploit, which is why the circuit has an integrator of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from denseamc.ir import DenseAMCError, error
from numpy.typing import NDArray

Array = NDArray[np.float64]

_MAX_STEPS = 2_000_000

# Dormand-Prince 5(4) tableau (the nodes c_i are not needed: the node equations are autonomous)
_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_B5 = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_B4 = np.array([5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])


def dopri(f: Callable[[Array], Array], y0: Array, t_end: float, rtol: float, atol: float,
          h_max: float, on_step: Callable[[float, Array, float, Array], None]
          ) -> dict[str, int]:
    """Integrate y' = f(y) from 0 to t_end with Dormand-Prince 5(4); on_step(t0, y0, t1, y1)."""
    t, y = 0.0, y0
    if y.shape[1] == 0 or t_end <= 0:
        on_step(0.0, y, t_end, y)
        return {"steps": 0, "rejected": 0}
    k1 = f(y)
    scale0 = atol + rtol * np.abs(y)
    d0, d1 = np.sqrt(np.mean((y / scale0) ** 2)), np.sqrt(np.mean((k1 / scale0) ** 2))
    h = min(h_max, 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6 * t_end)
    steps = rejected = 0
    while t < t_end:
        if steps + rejected > _MAX_STEPS:
            raise DenseAMCError(error("circuit simulation: too many steps (the circuit is too "
                                      "stiff for the readout time)"))
        h = min(h, t_end - t)
        ks = [k1]
        for i in range(1, 7):
            yi = y + h * sum(a * k for a, k in zip(_A[i], ks, strict=False))
            ks.append(f(yi))
        y5 = y + h * sum(b * k for b, k in zip(_B5, ks, strict=True) if b != 0.0)
        err = h * sum((b5 - b4) * k for b5, b4, k in zip(_B5, _B4, ks, strict=True))
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y5))
        e = float(np.max(np.sqrt(np.mean((err / scale) ** 2, axis=1))))
        if not np.isfinite(e):
            raise DenseAMCError(error("circuit simulation diverged (non-finite voltages)"))
        if e <= 1.0:
            on_step(t, y, t + h, y5)
            t, y, k1 = t + h, y5, ks[6]
            steps += 1
        else:
            rejected += 1
        h = min(h_max, h * min(10.0, max(0.2, 0.9 * (e if e > 0 else 1e-10) ** -0.2)))
    return {"steps": steps, "rejected": rejected}


class Grid:
    """Cell outputs on a uniform time grid, by linear interpolation of the accepted steps.

    Lazily: each accepted step keeps its end states and the grid points it covers (every grid
    time up to its end not covered yet), and `points(a, b)` interpolates grid points a..b-1 when
    they are read, with the arithmetic filling them at the step would have done. A settle-time
    readout walks back only as far as it needs, so most points are never made."""

    def __init__(self, t_end: float, n: int, width: int, batch: int) -> None:
        self.t = np.linspace(0.0, t_end, n)
        self.shape = (batch, width)
        self.next = 0
        self.steps: list[tuple[int, int, float, Array, float, Array]] = []

    def __call__(self, t0: float, y0: Array, t1: float, y1: Array) -> None:
        stop = int(np.searchsorted(self.t, t1 + 1e-15 * max(t1, 1.0), side="right"))
        if stop > self.next:
            self.steps.append((self.next, stop, t0, y0, t1, y1))  # the states are not mutated
            self.next = stop

    def points(self, a: int, b: int) -> Array:
        """The recorded states (b - a, B, width) at grid times a..b-1 (zero where no step
        reached)."""
        out = np.zeros((b - a, *self.shape))
        for lo, hi, t0, y0, t1, y1 in self.steps:
            s, e = max(lo, a), min(hi, b)
            if s >= e:
                continue
            tk = self.t[s:e]
            w = np.zeros_like(tk) if t1 == t0 else (tk - t0) / (t1 - t0)
            w = w[:, None, None]
            out[s - a:e - a] = (1 - w) * y0 + w * y1
        return out

    @property
    def v(self) -> Array:
        """Every grid point's state (T, B, width)."""
        return self.points(0, len(self.t))


def dopri_draws(f: Callable[[Array, tuple[int, ...]], Array], y0: Array, t_end: float,
                rtol: float, atol: float, h_max: float,
                on_step: list[Callable[[float, Array, float, Array], None]]
                ) -> list[dict[str, int]]:
    """`dopri` on D independent systems at once: y0 (D, B, n); f(y, live) maps the states
    (len(live), B, n) of systems `live` (indices into y0) to their derivatives, row by row.
    Each system keeps its own time, step size, error norm and acceptance, computed with exactly
    the numbers `dopri` computes for it alone (elementwise the same arithmetic; the step-size
    bookkeeping in Python floats per system), so each system's steps and states are
    bit-identical to its own `dopri` run whatever else is stacked with it. A system that reaches
    t_end leaves the stack. Returns each system's counters."""
    D = y0.shape[0]
    if y0.shape[2] == 0 or t_end <= 0:
        for d in range(D):
            on_step[d](0.0, y0[d], t_end, y0[d])
        return [{"steps": 0, "rejected": 0} for _ in range(D)]
    live = tuple(range(D))
    y = y0
    k1 = f(y, live)
    h: list[float] = []
    for d in range(D):  # the initial step, as `dopri` computes it from this system alone
        scale0 = atol + rtol * np.abs(y[d])
        d0, d1 = np.sqrt(np.mean((y[d] / scale0) ** 2)), np.sqrt(np.mean((k1[d] / scale0) ** 2))
        h.append(min(h_max, 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6 * t_end))
    t = [0.0] * D
    steps, rejected = [0] * D, [0] * D
    while live:
        for d in live:
            if steps[d] + rejected[d] > _MAX_STEPS:
                raise DenseAMCError(error("circuit simulation: too many steps (the circuit is "
                                          "too stiff for the readout time)"))
            h[d] = min(h[d], t_end - t[d])
        hs = np.array([h[d] for d in live])[:, None, None]
        ks = [k1]
        for i in range(1, 7):
            yi = y + hs * sum(a * k for a, k in zip(_A[i], ks, strict=False))
            ks.append(f(yi, live))
        y5 = y + hs * sum(b * k for b, k in zip(_B5, ks, strict=True) if b != 0.0)
        err = hs * sum((b5 - b4) * k for b5, b4, k in zip(_B5, _B4, ks, strict=True))
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y5))
        es = np.max(np.sqrt(np.mean((err / scale) ** 2, axis=2)), axis=1)
        accept = np.zeros(len(live), dtype=bool)
        for j, d in enumerate(live):
            e = float(es[j])
            if not np.isfinite(e):
                raise DenseAMCError(error("circuit simulation diverged (non-finite voltages)"))
            if e <= 1.0:
                on_step[d](t[d], y[j], t[d] + h[d], y5[j])
                t[d] += h[d]
                steps[d] += 1
                accept[j] = True
            else:
                rejected[d] += 1
            h[d] = min(h_max, h[d] * min(10.0, max(0.2, 0.9 * (e if e > 0 else 1e-10) ** -0.2)))
        if accept.all():
            y, k1 = y5, ks[6]
        else:
            y = np.where(accept[:, None, None], y5, y)
            k1 = np.where(accept[:, None, None], ks[6], k1)
        keep = [j for j, d in enumerate(live) if t[d] < t_end]
        if len(keep) < len(live):
            y, k1 = y[keep], k1[keep]
            live = tuple(live[j] for j in keep)
    return [{"steps": s, "rejected": r} for s, r in zip(steps, rejected, strict=True)]
