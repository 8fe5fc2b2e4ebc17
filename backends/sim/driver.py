"""`simulate`: the model simulator's entry point, from a graph and inputs to a `SimResult`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from denseamc.backends.sim.energy import decode_outputs, energy
from denseamc.backends.sim.integrate import integrate
from denseamc.backends.sim.record import Recorder
from denseamc.backends.sim.settle import SETTLE_TOL, settle_time
from denseamc.backends.sim.system import System
from denseamc.ir import ModelGraph
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass
class SimResult:
    """What `simulate` returns. Arrays are float64; B is the batch size.

    states: layer -> (B, n) at t_end. outputs: output name -> (B, size) decoded outputs.
    energy: (B,) at t_end. settle_time: (B,) (`backends.sim.settle`).
    With `record`: times (T,), trajectories: layer -> (T, B, n), energy_trace (T, B).
    stats: integrator counters (steps, rejected, fevals).
    """

    states: dict[str, Array]
    outputs: dict[str, Array]
    energy: Array
    settle_time: Array
    times: Array | None = None
    trajectories: dict[str, Array] | None = None
    energy_trace: Array | None = None
    stats: dict[str, int] = field(default_factory=dict)


def _record_times(record: bool | Sequence[float] | Array, t_end: float) -> Array | None:
    """The requested recording times, sorted, or None (every step, or no recording)."""
    if record is True or record is False or record is None:
        return None
    rtimes = np.sort(np.asarray(record, dtype=np.float64).ravel())
    if rtimes.size and (rtimes[0] < 0 or rtimes[-1] > t_end * (1 + 1e-12)):
        raise ValueError(f"record times must lie in [0, t_end = {t_end}]")
    return rtimes


def _attach_recording(result: SimResult, graph: ModelGraph, sys: System, rec: Recorder,
                      rtimes: Array | None) -> None:
    if rtimes is not None:
        # one entry per requested time, in order (duplicates and t = 0 included)
        step_t = np.array(rec.step_t)
        idx = [int(np.argmin(np.abs(step_t - rt))) for rt in rtimes]
        times = rtimes.copy()
    else:
        times = np.array(rec.step_t)
        idx = list(range(len(rec.step_t)))
    trajs = {lay.name: np.stack([rec.states_at(k)[lay.name] for k in idx])
             for lay in sys.layers}
    result.times = times
    result.trajectories = trajs
    result.energy_trace = np.stack([
        energy(graph, {n: trajs[n][j] for n in trajs}, sys.selects)
        for j in range(len(idx))])


def simulate(
    graph: ModelGraph,
    inputs: Mapping[str, object],
    *,
    t_end: float | None = None,
    method: str = "adaptive",
    rtol: float = 1e-6,
    atol: float = 1e-9,
    dt: float | None = None,
    record: bool | Sequence[float] | Array = False,
    settle_tol: float = SETTLE_TOL,
) -> SimResult:
    """Simulate `graph` for a batch of inputs (name -> (B, size) array) from t = 0 to t_end.

    t_end defaults to the model's readout time. `method` is "adaptive" (exponential Adams with
    error control at rtol/atol), "etd35" (adaptive ETD(3,5)), "fixed" (ETD(3,5) with step dt)
    or "euler" (forward Euler, step dt). `record=True` keeps every accepted step; a sequence of
    times records exactly those times (0 <= t <= t_end; "adaptive" takes them from its dense
    output, of the corrector's order, the others land on each). See the package docstring.
    """
    t_end = float(graph.readout_t if t_end is None else t_end)
    if not (t_end >= 0.0 and math.isfinite(t_end)):
        raise ValueError(f"t_end must be finite and >= 0, got {t_end!r}")
    sys = System(graph, inputs)
    rtimes = _record_times(record, t_end)
    rec = Recorder(sys)
    stops = rtimes if rtimes is not None else np.zeros(0)
    stats = integrate(sys, sys.initial_state(), t_end, method=method, rtol=rtol, atol=atol,
                      dt=dt, rec=rec, stops=stops)
    stats["fevals"] = sys.nfev
    states = {k: np.array(v) for k, v in rec.states_at(len(rec.step_t) - 1).items()}
    clamped = {lay.name: lay.clamp_idx.tolist() for lay in sys.layers}
    settle = settle_time(rec.step_t, rec.states_between, sys.batch, clamped, settle_tol)
    result = SimResult(states, decode_outputs(graph, states), energy(graph, states, sys.selects),
                       settle, stats=stats)
    if record is True or rtimes is not None:
        _attach_recording(result, graph, sys, rec, rtimes)
    return result
