"""The phi functions of exponential integrators, for one scalar rate z = h L.

phi_0(z) = e^z and phi_k(z) = sum_j z^j / (j + k)!, so that int_0^1 e^{z (1 - s)} s^j ds =
j! phi_{j+1}(z). Both evaluators use a Taylor series near 0 (where the closed forms cancel) and
the stable recurrence phi_{k+1} = (phi_k - 1/k!) / z away from it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

_TAYLOR_TERMS = 64
_MAX_MOMENTS = 8
# _INV_FACT_HANKEL[k, i] = (k)! / (i + k + 1)!: mu_k = k! phi_{k+1}(z) = sum_i z^i k! / (i + k + 1)!
_INV_FACT_HANKEL = np.array([[math.factorial(k) / math.factorial(i + k + 1)
                              for i in range(_TAYLOR_TERMS)] for k in range(_MAX_MOMENTS)])


def phis(z: float) -> tuple[float, float, float, float]:
    """exp(z), phi1(z), phi2(z), phi3(z) with phi_k(z) = sum_j z^j / (j + k)!."""
    if abs(z) < 0.5:
        # Taylor series: converges to full precision in ~20 terms for |z| < 0.5
        p1 = p2 = p3 = 0.0
        term = 1.0  # z^j / j!
        for j in range(22):
            p1 += term / (j + 1)
            p2 += term / ((j + 1) * (j + 2))
            p3 += term / ((j + 1) * (j + 2) * (j + 3))
            term *= z / (j + 1)
        return math.exp(z), p1, p2, p3
    e = math.exp(z)
    p1 = math.expm1(z) / z
    p2 = (p1 - 1.0) / z
    p3 = (p2 - 0.5) / z
    return e, p1, p2, p3


def phi_moments(z: float, m: int) -> Array:
    """mu_j = int_0^1 exp(z (1 - s)) s^j ds = j! phi_{j+1}(z), for j = 0..m-1 (m <= 8)."""
    if abs(z) < 6.0:
        # Taylor series (64 terms: full precision for |z| < 6, at most 2 digits of cancellation)
        zp = np.full(_TAYLOR_TERMS, z)
        zp[0] = 1.0
        np.multiply.accumulate(zp, out=zp)  # z^i (faster than np.power)
        out: Array = _INV_FACT_HANKEL[:m] @ zp
        return out
    # recurrence phi_{k+1} = (phi_k - 1/k!) / z: no cancellation for |z| >= 6
    phi = math.exp(z)
    out = np.empty(m)
    fact = 1.0
    for k in range(m):
        phi = (phi - 1.0 / fact) / z
        out[k] = phi * fact
        fact *= k + 1
    return out
