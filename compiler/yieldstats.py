"""The statistics of a Monte Carlo study: the Wilson interval of a yield, and the summaries of
per-draw distributions (mean, minimum, percentiles).

Percentiles are numpy's default (linear interpolation between order statistics), so a summary
is a pure function of its samples: the same draws give the same numbers, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: The two-sided 95% normal quantile, Phi^-1(0.975).
Z95 = 1.959963984540054


def wilson_interval(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion passed/total (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or total
    passes, which is where yields live: p = k/n, centre = (p + z^2/2n) / (1 + z^2/n),
    half width = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
    """
    if total <= 0:
        raise ValueError("wilson_interval: no trials")
    if not 0 <= passed <= total:
        raise ValueError(f"wilson_interval: {passed} passes out of {total}")
    n, p = float(total), passed / total
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # at 0 or `total` passes the bound is exactly 0 or 1; say so rather than round near it
    lo = 0.0 if passed == 0 else max(0.0, centre - half)
    hi = 1.0 if passed == total else min(1.0, centre + half)
    return lo, hi


def percentile(samples: Sequence[float] | np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) of the samples, linear interpolation."""
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


def mean_p95(samples: Sequence[float] | np.ndarray) -> dict[str, float]:
    """{"mean", "p95"} of a distribution (settle times, energies)."""
    arr = np.asarray(samples, dtype=np.float64)
    return {"mean": float(arr.mean()), "p95": percentile(arr, 95.0)}
