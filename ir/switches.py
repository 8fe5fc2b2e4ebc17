"""The algebra of a selected crossbar's analog switches (r_on, r_off): what a selected line
realises through them (`switch_effective`), and the table to program so that it realises a
target (`switch_compensated`, used by the scale pass).

Each option's devices reach the line through their own switch, closed (r_on) for the connected
option and open (r_off) for the others, whose leakage adds; `backends/ir_drop.switched` is the
exact network these formulas follow (`ir.crossbars.SelectedCrossbar` holds r_on and r_off).
"""

from __future__ import annotations

import math

import numpy as np
from denseamc.ir.model import Array


def switch_effective(table: Array, r_on: float, r_off: float) -> Array:
    """What one selected line realises, (n_options, n_other): row k with option k connected
    (leading axes: independent tables, e.g. one per candidate scale).

    The star law of `backends/ir_drop.switched`: option j's devices (sum T_j) reach the line
    through their own switch, so each realises G / (1 + r_s T_j), r_s = r_on for the connected
    option and r_off for the open ones, whose leakage adds:
        G_eff[k] = table[k] / (1 + r_on T_k) + sum_{j != k} table[j] / (1 + r_off T_j).
    Between a line and the summing nodes this is exact for any input voltages (ideal drivers,
    summing nodes at one potential); `switched` adds what it leaves out (see
    `switch_compensated`).
    """
    t = np.asarray(table, dtype=np.float64)
    total = t.sum(axis=-1, keepdims=True)
    on: Array = t / (1.0 + r_on * total)
    if math.isinf(r_off):
        return on
    off: Array = t / (1.0 + r_off * total)
    leak: Array = off.sum(axis=-2, keepdims=True) - off  # every open option's, but k's own
    return on + leak


def _series_inverse(want: Array, r_on: float) -> Array:
    """Devices whose option realises `want` through a closed switch: sum T' = T / (1 - r_on T)
    makes G' / (1 + r_on T') = want for G' = want / (1 - r_on T); inf where r_on T >= 1 (no
    finite device reaches the target)."""
    headroom = 1.0 - r_on * want.sum(axis=-1, keepdims=True)
    safe = np.where(headroom > 0, headroom, 1.0)
    return np.where((headroom <= 0) & (want > 0), np.inf, want / safe)


#: The leakage fixed point stops when a step moves no device by more than this (relative).
_LEAK_RTOL = 1e-15


def switch_compensated(target: Array, r_on: float, r_off: float) -> Array:
    """The table to program so that `switch_effective` of it is `target` (n_options, n_other;
    leading axes: independent tables).

    The closed switch is inverted exactly (`_series_inverse`). The open switches' leakage
    (r_off) depends on the other options' devices: a fixed point subtracts it, contracting by
    ~ 1 / (r_off T) per step (1e-6 at 10 Gohm and 100 uS), so it ends in a few steps. What is
    not compensated: a target of 0 stays no device and keeps the leakage of the other options
    (<= sum_j table[j] / (1 + r_off T_j), ~1e-10 S at 10 Gohm); the coupling of the summing
    nodes through a star (`switched`'s W, rows axis) and the load on the drivers (cols axis),
    which carry no current while the summing nodes sit at one potential and the drivers are
    ideal; and input offsets or finite gain that break that. A nonzero target below the
    leakage (only with r_off under ~1 / g_min) gets no device. Entries of inf: not reachable.
    """
    t = np.asarray(target, dtype=np.float64)
    prog = _series_inverse(t, r_on)
    if math.isinf(r_off) or not np.all(np.isfinite(prog)):
        return prog
    for _ in range(100):
        off = prog / (1.0 + r_off * prog.sum(axis=-1, keepdims=True))
        leak = off.sum(axis=-2, keepdims=True) - off  # what the open options add to row k
        nxt = _series_inverse(np.where(t > 0, np.maximum(t - leak, 0.0), 0.0), r_on)
        done = bool(np.all(np.abs(nxt - prog) <= _LEAK_RTOL * np.abs(prog)))
        prog = nxt
        if done:
            break
    return prog


__all__ = ["switch_compensated", "switch_effective"]
