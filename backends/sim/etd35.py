"""ETD(3,5): the adaptive exponential Runge-Kutta pair of Whalen, Brio and Moloney.

J. Comput. Phys. 280 (2015) 579-601, with psi_k = k! phi_k and the a73/b3 misprint 497 -> 467
corrected: six evaluations of N per step, a fifth-order solution and an embedded estimate of
order 4. Self-starting, but it loses order on very stiff layers (which is why the default
method is exponential Adams); kept as an independent check and as the fixed-step method.
It works on the flat dynamic state u (B, n) of a `System`.
"""

from __future__ import annotations

import math

import numpy as np
from denseamc.backends.sim.phi import phis
from denseamc.backends.sim.system import System
from numpy.typing import NDArray

Array = NDArray[np.float64]

# coefficient names, in the order `etd35_coeffs` returns them
_COEFS = ("e14", "e12", "e34", "e1", "a21", "a31", "a32", "a41", "a43", "a51", "a52", "a54",
          "a61", "a62", "a63", "a65", "a71", "a73", "a74", "a75", "a76")


def etd35_coeffs(z: float, h: float) -> list[float]:
    """ETD(3,5) (Whalen, Brio & Moloney 2015) coefficients for one linear rate; z = h * L."""
    e14, p1q, p2q, _ = phis(z / 4)
    e12, p1h, p2h, _ = phis(z / 2)
    e34, p1t, p2t, _ = phis(3 * z / 4)
    e1, p1, p2, p3 = phis(z)
    # the published coefficients use psi_k = (k - 1)! phi_k (psi_k(0) = 1), times h
    p1q, p2q, p1h, p2h, p1t, p2t = (h * p1q, 2 * h * p2q, h * p1h, 2 * h * p2h, h * p1t,
                                    2 * h * p2t)
    p1, p2, p3 = h * p1, 2 * h * p2, 6 * h * p3
    return [
        e14, e12, e34, e1,
        p1q / 4,
        (p1q - p2q / 2) / 4, p2q / 8,
        (p1h - p2h) / 2, p2h / 2,
        3 * (p1t - 3 * p2t / 4) / 4, -3 * p1t / 8, 9 * p2t / 16,
        (-77 * p1 + 59 * p2) / 42, 8 * p1 / 7, (111 * p1 - 87 * p2) / 28,
        (-47 * p1 + 143 * p2) / 84,
        7 * (257 * p1 - 497 * p2 + 270 * p3) / 2700,
        (1097 * p1 - 467 * p2 - 150 * p3) / 1350,  # 467: the published 497 is a misprint
        2 * (-49 * p1 + 199 * p2 - 135 * p3) / 225,
        (-313 * p1 + 883 * p2 - 90 * p3) / 1350,
        (509 * p1 - 2129 * p2 + 1830 * p3) / 2700,
    ]


def norm_err(err: Array, u0: Array, u1: Array, rtol: float, atol: float) -> float:
    """max over the batch of the RMS over neurons of err / (atol + rtol |u1|).

    (u0, the state at the start of the step, is accepted for interface symmetry; scaling by
    the new state alone saves two passes over the arrays and is the common choice.)
    """
    scale = np.abs(u1)
    scale *= rtol
    scale += atol
    np.divide(err, scale, out=scale)
    per = np.einsum("bi,bi->b", scale, scale)
    return math.sqrt(float(per.max()) / max(1, err.shape[1])) if per.size else 0.0


class ETD35:
    """ETD(3,5) steps for the flat system: u' = L u + N(u), L diagonal (one rate per group)."""

    def __init__(self, sys: System) -> None:
        self.sys = sys
        B, n = sys.batch, sys.n
        self.N = [np.empty((B, n)) for _ in range(6)]
        self.k = np.empty((B, n))
        self._h: float | None = None
        self.c: dict[str, Array] = {}
        self.u = np.empty((B, n))  # the accepted state

    def coeffs(self, h: float) -> dict[str, Array]:
        if h != self._h:
            table = np.array([etd35_coeffs(h * r, h) for r in self.sys.rates])  # (G, 21)
            cols = table[self.sys.group]  # (n, 21)
            self.c = {name: np.ascontiguousarray(cols[:, j]) for j, name in enumerate(_COEFS)}
            self._h = h
        return self.c

    order = 4  # of the embedded error estimate

    def start(self, u: Array) -> Array:
        """Take u as the state at t = 0; returns N(u)."""
        self.u = u
        return self.sys.nonlinear(u, self.N[0])

    def attempt(self, t: float, h: float, rtol: float, atol: float
                ) -> tuple[Array, float, int]:
        """One step of size h from the accepted state: (u_new, scaled error norm, order of
        the estimate)."""
        unew, err = self.step(self.u, h, True)
        return unew, norm_err(err, self.u, unew, rtol, atol), self.order

    def accept(self, u: Array, t: float) -> Array:
        """Make u (from `attempt`) the accepted state at t."""
        self.u = u
        self.sys.nonlinear(u, self.N[0])
        return u

    def step(self, u: Array, h: float, n1_ready: bool) -> tuple[Array, Array]:
        """One step from u (N1 = N(u) already in self.N[0] if n1_ready): (u_new, error)."""
        c = self.coeffs(h)
        sys = self.sys
        N1, N2, N3, N4, N5, N6 = self.N
        if not n1_ready:
            sys.nonlinear(u, N1)
        k = self.k
        e14u = c["e14"] * u
        np.multiply(c["a21"], N1, out=k)
        k += e14u
        sys.nonlinear(k, N2)
        np.multiply(c["a31"], N1, out=k)
        k += e14u
        k += c["a32"] * N2
        sys.nonlinear(k, N3)
        np.multiply(c["e12"], u, out=k)
        k += c["a41"] * N1
        k += c["a43"] * N3
        sys.nonlinear(k, N4)
        np.multiply(c["e34"], u, out=k)
        k += c["a51"] * N1
        k += c["a52"] * (N2 - N3)
        k += c["a54"] * N4
        sys.nonlinear(k, N5)
        e1u = c["e1"] * u
        np.multiply(c["a61"], N1, out=k)
        k += e1u
        k += c["a62"] * (N2 - 1.5 * N4)
        k += c["a63"] * N3
        k += c["a65"] * N5
        sys.nonlinear(k, N6)
        unew = e1u
        unew += c["a71"] * N1
        unew += c["a73"] * N3
        unew += c["a74"] * N4
        unew += c["a75"] * N5
        unew += c["a76"] * N6
        d = 4.0 * (N3 + N5) - 6.0 * N4 - N1 - N6
        err = c["a75"] * d
        return unew, err
