"""Simulate a lowered circuit (`CircuitIR`) from its node equations, in numpy, batched.

This is a component-level simulation: conductances, capacitors, current and voltage sources and
amplifier models, with no reference to the energy or the abstract graph. It is the `circuit`
backend, and the check that lowering and scaling preserved the model's dynamics.

The node equations (ideal and single-pole amplifiers, realised circuits) and the initial state
are `circuit_plan.CircuitPlan`'s, whose module docstring derives them; this module integrates
them and reads the result (`circuit_result.CircuitSimResult`) off the recorded grid. Inputs are
checked by `inputs.check_circuit_inputs`.

Integration: Dormand-Prince 5(4) (`sim.dopri`) with error control (rtol 1e-6, atol 1e-8 v_unit
by default), batch-wide steps. Settle time: `sim.settle.settle_time` (the model
backend's definition), on a uniform grid of recorded states (at least 400 points, interpolated
from the accepted steps only when read), read out only as far back from t_end as it needs.

Several draws of one circuit (`simulate_circuits`, for Monte Carlo) are integrated together when
their equations stack row by row (`circuit_stack.DrawStack`): one evaluation for all, each draw
with its own step sizes (`sim.dopri.dopri_draws`), so each draw's numbers are bit for bit those
of simulating it alone, whatever it is stacked with.

Read noise (a realised circuit with `meta["g_noise"]` > 0): every crossbar device's current
fluctuates by an Ornstein-Uhlenbeck process, integrated with fixed RK4 steps and an exact update
of the noise (`sim.read_noise`, which documents the model); it enters through the plan's
`drive_currents`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from denseamc.backends.circuit_plan import Array, CircuitPlan
from denseamc.backends.circuit_result import CircuitSimResult, decode
from denseamc.backends.circuit_stack import DrawStack
from denseamc.backends.inputs import check_circuit_inputs
from denseamc.backends.sim.dopri import Grid, dopri, dopri_draws
from denseamc.backends.sim.read_noise import READ_NOISE, STEPS_PER_TAU, noise_rng, rk4_steps
from denseamc.backends.sim.settle import SETTLE_TOL, settle_time
from denseamc.ir.circuit import CircuitIR


def simulate_circuit(
    circuit: CircuitIR,
    inputs: Mapping[str, object],
    *,
    t_end: float | None = None,
    record: bool = False,
    ideal: bool | None = None,
    rtol: float = 1e-6,
    atol_v: float | None = None,
    settle_tol: float = SETTLE_TOL,
    grid: int | None = None,
    deviation: bool = True,
    swing: bool = True,
) -> CircuitSimResult:
    """Simulate `circuit` for a batch of inputs (name -> (B, size) arrays, or (size,) for B=1).

    t_end is in model time units (default: the readout time); the simulation runs for
    t_end * tau_unit seconds. `ideal` overrides the circuit's amplifier model. With non-ideal
    amplifiers and `deviation`, the ideal circuit is simulated too and the difference reported.
    `swing=False` skips max_abs_v (every driven net at every recorded time: a Monte Carlo draw
    does not need it).
    """
    amp_ideal = circuit.amplifier.ideal if ideal is None else ideal
    run = _Run.start(circuit, inputs, amp_ideal, t_end, grid)
    atol = 1e-8 * run.plan.v_unit if atol_v is None else atol_v
    g_noise = float(circuit.meta.get(READ_NOISE, 0.0))
    if g_noise > 0 and run.plan.dyn.size:
        stats = run.integrate_noisy(g_noise)
    else:
        stats = dopri(run.f, run.y0, run.t_s, rtol, atol, h_max=run.h_max, on_step=run.rec)
    stats["fevals"] = run.plan.nfev
    result = run.finish(stats, settle_tol, swing, record)
    if not amp_ideal and deviation:
        ref = simulate_circuit(circuit, inputs, t_end=run.t_model, ideal=True, rtol=rtol,
                               atol_v=atol, settle_tol=settle_tol, grid=grid)
        result.deviation = {k: np.abs(x - ref.states[k]).max(axis=1, initial=0.0)
                            for k, x in result.states.items()}
    return result


def simulate_circuits(circuits: Sequence[CircuitIR], inputs: Mapping[str, object], *,
                      rtol: float = 1e-6, settle_tol: float = SETTLE_TOL,
                      swing: bool = True) -> list[CircuitSimResult]:
    """`simulate_circuit(c, inputs, deviation=False)` for every circuit c of `circuits` (the
    realised draws of one nominal circuit, say), each result bit-identical to that call's.

    When their node equations stack (`DrawStack`: ideal amplifiers, every cell a capacitor cell,
    no wire coupling, ideal activation rails, the same nets) the circuits are integrated
    together, one evaluation for all of them, each with its own step sizes (`dopri_draws`);
    otherwise one after another."""
    runs = [_Run.start(c, inputs, c.amplifier.ideal, None, None) for c in circuits]
    noisy = any(c.meta.get(READ_NOISE, 0.0) for c in circuits)
    stack = DrawStack.of([r.plan for r in runs]) if len(runs) > 1 and not noisy else None
    if stack is None:
        return [simulate_circuit(c, inputs, rtol=rtol, settle_tol=settle_tol, deviation=False,
                                 swing=swing) for c in circuits]
    first = runs[0]
    atol = 1e-8 * first.plan.v_unit
    y0 = np.stack([r.y0 for r in runs])
    stacks = {tuple(range(len(runs))): stack}

    def rhs(y: Array, live: tuple[int, ...]) -> Array:
        """The stack of the draws still integrating (re-stacked when one finishes)."""
        if live not in stacks:
            sub = DrawStack.of([runs[d].plan for d in live])
            assert sub is not None  # a subset of plans that stack
            stacks[live] = sub
        return stacks[live].rhs(y)

    all_stats = dopri_draws(rhs, y0, first.t_s, rtol, atol, first.h_max, [r.rec for r in runs])
    results = []
    for run, stats in zip(runs, all_stats, strict=True):
        stats["fevals"] = 1 + 6 * (stats["steps"] + stats["rejected"])  # as `dopri` calls f
        results.append(run.finish(stats, settle_tol, swing, False))
    return results

@dataclass
class _Run:
    """One circuit's simulation between its set-up (`start`) and its readout (`finish`): the
    plan, the right-hand side and initial state, the time span (s) and the grid recorder."""

    circuit: CircuitIR
    plan: CircuitPlan
    f: Callable[[Array], Array]
    y0: Array
    t_model: float
    t_s: float
    rec: Grid

    @property
    def h_max(self) -> float:
        return self.t_s / 50 if self.t_s > 0 else 1.0

    @classmethod
    def start(cls, circuit: CircuitIR, inputs: Mapping[str, object], amp_ideal: bool,
              t_end: float | None, grid: int | None) -> _Run:
        plan = CircuitPlan(circuit, check_circuit_inputs(circuit, inputs), amp_ideal)
        t_model = circuit.readout_t if t_end is None else float(t_end)
        t_s = t_model * circuit.scaling.tau_unit_s
        v0 = plan.initial_outputs()
        f: Callable[[Array], Array]
        if amp_ideal:
            y0 = v0[:, plan.dyn].copy()
            f = plan.rhs_ideal
        else:
            y0 = np.concatenate([v0, v0[:, plan.dyn]], axis=1)  # V_c = V_out - 0
            f = plan.rhs_nonideal
        B = plan.batch
        n_neurons = sum(layer.size for layer in circuit.layers)
        n_grid = grid or int(np.clip(4e7 / max(1, B * n_neurons * 8), 400, 2000))
        return cls(circuit, plan, f, y0, t_model, t_s, Grid(t_s, n_grid, y0.shape[1], B))

    def integrate_noisy(self, g_noise: float) -> dict[str, int]:
        """Integrate with the devices' read noise (`sim.read_noise`): fixed RK4 steps of at
        most tau_c / STEPS_PER_TAU (tau_c the fastest capacitor cell's R_F C_F), and at most
        1 / (pi gbw) with non-ideal amplifiers; the noise advanced exactly between steps."""
        plan, circuit = self.plan, self.circuit
        tau_c = float(np.min(plan.r_f_dyn * plan.c_f_dyn))
        h_max = tau_c / STEPS_PER_TAU
        if not plan.ideal:  # the op-amp pole, |lambda| <= 2 pi gbw: h |lambda| <= 2
            h_max = min(h_max, 1.0 / (np.pi * circuit.amplifier.gbw_hz))
        draw = circuit.draw or (0, 0)
        values = [x for _, x in sorted({**plan.inputs.arrays, **plan.inputs.selects}.items())]
        plan.start_noise(g_noise, tau_c, noise_rng(draw, values))
        assert plan.noise is not None
        return rk4_steps(self.f, self.y0, self.t_s, h_max, self.rec, plan.noise.advance)

    def readout(self, y: Array) -> tuple[Array, Array, Array]:
        """(driven-net voltages, cell outputs, summing-node voltages) for state y."""
        plan = self.plan
        if plan.ideal:
            v_out = np.zeros((plan.batch, plan.n_cells))
            v_out[:, plan.dyn] = y
            v_out, v, _ = plan.solve_ideal(v_out)
            return v, v_out, np.zeros_like(v_out)
        vo, vs, _ = plan.sum_nodes(y)
        return plan.voltages(vo), vo, vs

    def finish(self, stats: dict[str, int], settle_tol: float, swing: bool,
               record: bool) -> CircuitSimResult:
        """The result from the recorded grid: settle time, the state at t_end, its outputs."""
        plan, rec, circuit = self.plan, self.rec, self.circuit
        B = plan.batch
        if plan.ideal and not plan.alg.size:
            def read(a: int, b: int) -> dict[str, Array]:
                return _grid_states(plan, rec.points(a, b))
            max_abs_v = _grid_swing(plan, rec) if swing else None
            traj_arr = _grid_states(plan, rec.v) if record else None
        else:
            traj_arr, max_abs_v = _read_points(plan, rec.v, lambda y: self.readout(y)[0])
            def read(a: int, b: int) -> dict[str, Array]:
                return {n: x[a:b] for n, x in traj_arr.items()}
        clamped = {layer.name: layer.clamped for layer in circuit.layers}
        settle_s = settle_time(rec.t, read, B, clamped, settle_tol)

        v_end, _, vs_end = self.readout(rec.points(len(rec.t) - 1, len(rec.t))[0])
        states = plan.states_from_voltages(v_end)
        acts = {a.layer: v_end[:, pk] / plan.v_unit for a, _, pk, _, _ in plan.acts}
        volts = {net: v_end[:, k] for net, k in sorted(plan.drv.items())}
        if not plan.ideal:
            for k, c in enumerate(circuit.cells):
                volts[c.sum_net] = vs_end[:, k]
        tau_unit = circuit.scaling.tau_unit_s
        result = CircuitSimResult(
            outputs=decode(circuit, v_end, plan.drv), states=states, activations=acts,
            voltages=volts, settle_time_s=settle_s, settle_time=settle_s / tau_unit,
            t_end_s=self.t_s, max_abs_v=max_abs_v if swing else None, stats=stats,
        )
        if record:
            result.times_s = rec.t
            result.trajectories = traj_arr
        return result



def _grid_states(plan: CircuitPlan, ys: Array) -> dict[str, Array]:
    """Model-unit states layer -> (..., B, n) of recorded states ys (..., B, n_dyn), ideal
    amplifiers and no algebraic cells: a readout is then row-by-row arithmetic, so a stack of
    grid points gives the numbers of one point at a time. States that are capacitor cells'
    outputs are read from ys itself (the very numbers V(x net) holds)."""
    if plan.state_cols is not None:
        return {name: -ys[..., cols] / plan.v_unit for name, cols in plan.state_cols.items()}
    v_out = np.zeros((*ys.shape[:-1], plan.n_cells))
    v_out[..., plan.dyn] = ys
    return plan.states_from_voltages(plan.voltages(v_out))


def _grid_swing(plan: CircuitPlan, rec: Grid) -> Array:
    """max |V| (B,) over every driven net at every recorded grid point, in blocks of grid
    points at once (as `_grid_states`; a block holds ~2M values)."""
    max_abs_v = np.zeros(plan.batch)
    step = max(1, (1 << 21) // max(1, plan.batch * plan.n_drv))
    n = len(rec.t)
    for a in range(0, n, step):
        ys = rec.points(a, min(a + step, n))
        v_out = np.zeros((*ys.shape[:-1], plan.n_cells))
        v_out[..., plan.dyn] = ys
        v = plan.voltages(v_out)
        max_abs_v = np.maximum(max_abs_v, np.abs(v).max(axis=(0, 2), initial=0.0))
    return max_abs_v


def _read_points(plan: CircuitPlan, ys: Array, readout: Callable[[Array], Array]
                 ) -> tuple[dict[str, Array], Array]:
    """Trajectories (layer -> (T, B, n)) and max |V| (B,), one grid point at a time: readouts
    that solve algebraic cells (batch-wide, warm-started) or with non-ideal amplifiers."""
    traj: dict[str, list[Array]] = {name: [] for name in plan.state_nets}
    max_abs_v = np.zeros(plan.batch)
    for y in ys:
        v = readout(y)
        max_abs_v = np.maximum(max_abs_v, np.abs(v).max(axis=1, initial=0.0))
        for name, x in plan.states_from_voltages(v).items():
            traj[name].append(x)
    return {k: np.stack(v) for k, v in traj.items()}, max_abs_v


def cell_equation_rhs(circuit: CircuitIR, v_out: Array, inputs: Mapping[str, object]) -> Array:
    """dV_out/dt of every C_F > 0 cell (ideal amplifiers) at given cell outputs (B, n_cells);
    algebraic cells are solved first. For tests: the node equations at arbitrary voltages."""
    plan = CircuitPlan(circuit, check_circuit_inputs(circuit, inputs), True)
    v = v_out.copy()
    plan.solve_ideal(v)
    return plan.rhs_ideal(v[:, plan.dyn])


__all__ = ["cell_equation_rhs", "simulate_circuit", "simulate_circuits"]
