"""Settle time: the one definition the model and the circuit simulators share.

`settle_time[b]` is the earliest time T_s such that, for every recorded t >= T_s up to t_end,
every free (not clamped) neuron of every layer of batch element b stays within
`tol * max(1, |x_final|)` of its state at t_end. The recorded times are the simulator's samples
(the model's accepted steps, the circuit's output grid); between the last sample outside the band
and the next one, T_s is located by interpolating the logarithm of the worst violation (exact
for an exponential relaxation). In the last interval, whose end is t_end itself (violation 0 by
definition), the decay rate of the interval before it is continued. It measures settling towards
the state at t_end, so it is only meaningful when the state has stopped moving by then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
States = Mapping[str, Array]
#: read(a, b): every layer's states at recorded times a..b-1, layer -> (b - a, B, n).
Reader = Callable[[int, int], States]

#: The band, relative to max(1, |x_final|), inside which a state counts as settled; the compiler's
#: predicted latency (compiler/passes/linearise.py) settles to the same band.
SETTLE_TOL = 1e-3


#: Recorded times read per block by the backward walk (one vectorised step each).
_BLOCK = 64


def _violations(read: Reader, n_times: int, batch: int,
                clamped: Mapping[str, Sequence[int]], tol: float) -> Array:
    """(T, B) worst |x - x_final| / band over free neurons, filled from the end backwards as far
    as the crossing needs (at least one point before every element's last out-of-band point),
    `_BLOCK` recorded times at a time."""
    final = {name: x[-1] for name, x in read(n_times - 1, n_times).items()}
    masks: dict[str, NDArray[np.bool_]] = {}
    fin: dict[str, Array] = {}
    inv: dict[str, Array] = {}
    for name, x in final.items():
        m = np.ones(x.shape[-1], dtype=bool)
        m[list(clamped.get(name, ()))] = False
        if m.any():
            masks[name] = m
            fin[name] = x[:, m]
            inv[name] = 1.0 / (tol * np.maximum(1.0, np.abs(fin[name])))
    viol = np.zeros((n_times, batch))
    found = np.full(batch, -1)
    hi = n_times
    while hi > 0:
        lo = max(0, hi - _BLOCK)
        xs = read(lo, hi)
        worst = np.zeros((hi - lo, batch))
        for name, f in fin.items():
            d = np.abs(xs[name][:, :, masks[name]] - f)
            d *= inv[name]
            np.maximum(worst, d.max(axis=2), out=worst)
        viol[lo:hi] = worst
        above = worst > 1.0
        last = hi - 1 - np.argmax(above[::-1], axis=0)  # the latest out-of-band time in here
        found = np.where((found < 0) & above.any(axis=0), last, found)
        if (found >= 0).all() and lo < found.min():
            break
        hi = lo
    return viol


def settle_time(times: Sequence[float] | Array, read: Reader, batch: int,
                clamped: Mapping[str, Sequence[int]], tol: float) -> Array:
    """Settle time (B,) from the states at `times` (read(a, b): layer -> (b - a, B, n), the
    states at times[a:b]; `clamped`: layer -> clamped neuron indices); see the module
    docstring."""
    T = len(times)
    if T == 0:
        return np.zeros(batch)
    viol = _violations(read, T, batch, clamped, tol)
    return _crossing(np.asarray(times, dtype=np.float64), viol)


def _crossing(t: Array, viol: Array) -> Array:
    """Where each column of viol (T, B) last falls to 1, interpolated (module docstring)."""
    T, B = viol.shape
    above = viol > 1.0  # (T, B)
    any_above = above.any(axis=0)
    # last index where the violation is above 1
    last = T - 1 - np.argmax(above[::-1], axis=0)
    nxt = np.minimum(last + 1, T - 1)
    v0 = viol[last, np.arange(B)]
    v1 = viol[nxt, np.arange(B)]
    t0, t1 = t[last], t[nxt]
    # relaxation is exponential: interpolate log(violation) between the two points (linearly
    # when the later one is exactly settled, e.g. the final point itself)
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = (v0 - 1.0) / (v0 - v1)
        expo = np.log(v0) / (np.log(v0) - np.log(v1))
    frac = np.where(v1 > 0, expo, lin)
    frac = np.where(np.isfinite(frac) & (v0 > v1), frac, 1.0)
    # in the last interval (violation 0 at t_end by definition) continue the decay rate of the
    # interval before it, when there is one and the violation was decaying
    prev = np.maximum(last - 1, 0)
    vp = viol[prev, np.arange(B)]
    tp = t[prev]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(vp / v0) / (t0 - tp)
        ext = np.log(v0) / rate / np.where(t1 > t0, t1 - t0, 1.0)
    use_ext = (v1 == 0) & (last >= 1) & (vp > v0) & np.isfinite(ext) & (ext > 0)
    frac = np.where(use_ext, ext, frac)
    out: Array = np.where(any_above, t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0), 0.0)
    return out

