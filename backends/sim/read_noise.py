"""Read noise of the crossbar devices: a stochastic differential equation, integrated exactly.

Model. The current of every crossbar device fluctuates around its nominal value:
    I_d(t) = G_d (V_row - V_sum) (1 + g_noise xi_d(t)),
with xi_d independent, zero-mean, unit-variance Ornstein-Uhlenbeck processes of correlation time
tau_c (the fastest capacitor cell's R_F C_F, the circuit's own time constant):
    d xi = -xi / tau_c dt + sqrt(2 / tau_c) dW.
Its spectrum is Lorentzian, S(f) = 4 tau_c / (1 + (2 pi f tau_c)^2) one-sided, flat up to the
circuit's bandwidth 1 / (2 pi tau_c) and falling beyond it: white read noise band-limited to
the bandwidth the circuit responds to, with RMS g_noise times the device's current (what a read
noise figure quoted over the circuit's bandwidth means). The device's read voltage in the noise
term is V_row - v_os (its summing node at its virtual ground; a non-ideal amplifier's small
summing-node error is kept in the signal, not in the noise amplitude); with wire resistance the
noise rides on the array's terminal map G_eff (the wires' filtering of it is neglected).

Integration. Fixed steps h <= tau_c / STEPS_PER_TAU (and <= 1 / (pi gbw) with non-ideal
amplifiers: their fastest mode, |lambda| <= 2 pi gbw, then has h |lambda| <= 2, inside RK4's
stability interval of 2.78, and is damped as it should be), landing on t_end. Over each step
xi is held (zero-order hold) and the node equations, an ordinary differential equation for that
step, are integrated by classical Runge-Kutta 4; between steps xi is advanced by the exact OU
update xi <- a xi + sqrt(1 - a^2) z, a = exp(-h / tau_c), z ~ N(0, 1), so the sampled process
has exactly the OU statistics whatever h. xi(0) is drawn from the stationary law N(0, 1) (the
noise was there before t = 0).

Reproducibility: the normals come from one generator keyed by (seed, draw of the realised
circuit, the block's input values): draw k of seed s sees the same noise whatever else runs,
and two test blocks see independent noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from denseamc.ir import DenseAMCError, error
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: The key of `CircuitIR.meta` carrying g_noise (set by the realise pass).
READ_NOISE = "g_noise"
#: Fixed steps per correlation time tau_c.
STEPS_PER_TAU = 10


def noise_rng(draw: tuple[int, int], inputs: Sequence[NDArray[Any]]) -> np.random.Generator:
    """The generator of draw (seed, k)'s read noise for one batch of input values."""
    digest = hashlib.sha256()
    for x in inputs:
        digest.update(np.ascontiguousarray(x).tobytes())
    return np.random.default_rng([*draw, *b"read noise", *digest.digest()[:8]])


class ReadNoise:
    """xi (B, n_dev) of the devices at (rows, cols) with conductances g ((B or 1, n_dev)), and
    the fluctuation current they add into the summing nodes."""

    def __init__(self, rows: IntArray, cols: IntArray, g: Array, n_cells: int, v_os: Array,
                 g_noise: float, tau_c: float, rng: np.random.Generator, batch: int) -> None:
        self.rows, self.g, self.g_noise, self.tau_c, self.rng = rows, g, g_noise, tau_c, rng
        self.v_os = v_os[cols]
        self.onehot = np.zeros((len(cols), n_cells))
        self.onehot[np.arange(len(cols)), cols] = 1.0
        self.xi = rng.standard_normal((batch, len(cols)))  # stationary at t = 0

    def current(self, v: Array) -> Array:
        """The fluctuation of the current into every summing node (B, n_cells) at driven-net
        voltages v (B, n_drv): g_noise sum_d xi_d G_d (V_row(d) - v_os)."""
        out: Array = self.g_noise * ((self.xi * self.g * (v[:, self.rows] - self.v_os))
                                     @ self.onehot)
        return out

    def advance(self, h: float) -> None:
        """The exact OU update over a step h."""
        a = math.exp(-h / self.tau_c)
        self.xi = a * self.xi + math.sqrt(1.0 - a * a) * self.rng.standard_normal(self.xi.shape)


def rk4_steps(f: Callable[[Array], Array], y0: Array, t_end: float, h_max: float,
              on_step: Callable[[float, Array, float, Array], None],
              between: Callable[[float], None]) -> dict[str, int]:
    """Classical Runge-Kutta 4 from 0 to t_end in equal steps of at most h_max; after each
    step `between(h)` (the noise's update) and on_step(t0, y0, t1, y1)."""
    n = max(1, math.ceil(t_end / h_max - 1e-9))
    h = t_end / n
    y, t = y0, 0.0
    for i in range(n):
        k1 = f(y)
        k2 = f(y + 0.5 * h * k1)
        k3 = f(y + 0.5 * h * k2)
        k4 = f(y + h * k3)
        y_new = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if not np.all(np.isfinite(y_new)):
            raise DenseAMCError(error("circuit simulation diverged (non-finite voltages)"))
        t_new = t_end if i == n - 1 else (i + 1) * h
        on_step(t, y, t_new, y_new)
        between(h)
        y, t = y_new, t_new
    return {"steps": n, "rejected": 0}
