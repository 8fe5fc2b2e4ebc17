"""Simulate a lowered circuit (`CircuitIR`) from its node equations, in numpy, batched.

This is a component-level simulation: conductances, capacitors, current and voltage sources and
amplifier models, with no reference to the energy or the abstract graph. It is the `circuit`
backend, and the check that lowering and scaling preserved the model's dynamics.

Node equations
--------------
Driven nets (cell outputs, clamp sources, activation outputs) are known from the state. A
summing node s of cell c collects I_in = sum_r G_rs (V_r - V_s) + I_bias (crossbars, the
differential tie-back resistors, selected crossbars with the per-input conductances). A
selected crossbar is seen through its switches (r_on, r_off; `ir_drop.switched`, exact): each
option's devices as G / (1 + r_s sum G), plus a coupling W of its summing nodes (the form of
the wires' below), bit for bit the connected devices when the switches are ideal.

- **Ideal amplifiers** (`circuit.amplifier.ideal`): V_s = 0 (virtual ground), so
      C_F dV_out/dt = -V_out / R_F - I_in          (C_F > 0, one state per cell)
      V_out = -R_F I_in                            (C_F = 0, algebraic)
  Algebraic cells (tau = 0 layers, differential inverters) are solved by `fixed_point` sweeps
  of the whole evaluation (activations -> currents -> algebraic outputs), warm-started from the
  previous solution; a chain of depth k converges in k + 1 sweeps.
- **Non-ideal amplifiers**: single-pole op-amps, dV_out/dt = wp (-a0 V_s - V_out) with
  wp = 2 pi gbw / a0, limited to +-slew, and held at the rails +-v_rail (= vdd/2); activation
  outputs are clipped to the rails. A C_F > 0 cell has a second state, the capacitor voltage
  V_c = V_out - V_s, with C_F dV_c/dt = -(I_in + V_c / R_F) (KCL at s); a C_F = 0 cell's summing
  node is algebraic: V_s = (sum_r G_rs V_r + I_bias + V_out/R_F) / (sum_r G_rs + 1/R_F).
  States start at the ideal initial operating point. The result reports the deviation from the
  ideal circuit (same inputs, same times).

Realised circuits (compiler/passes/realise.py) are simulated with their realised values:
conductances; each array through its exact terminal map with wire resistance (`ir_drop`:
I_in = G_eff^T V_row - (diag(colsum G_eff) + W) V_s, W = 0 without wires); activation rails
with their gains and offsets (`static_solve.activation_rails`); C_F as drawn; and amplifier
offsets v_os. Ideal amplifiers hold each summing node at v_os, which adds the constant current
-(G_col + W) v_os - v_os / R_F to the cell equations above (so V_out settles at
v_os - R_F I_in); single-pole amplifiers see V_s - v_os at their input, and the C_F = 0 cells'
summing nodes are solved with the wire coupling W (a small linear system) when there is one.

Inputs are checked by `inputs.check_circuit_inputs`. Initial state: the static solve of the
netlists (`static_solve.initial_cell_voltages`: init inputs, then `init=settled` layers in
declaration order, as the model backend does); clamps hold their nets throughout.

Integration: Dormand-Prince 5(4) (`sim.dopri`) with error control (rtol 1e-6, atol 1e-8 v_unit
by default), batch-wide steps. Settle time: `sim.settle.settle_time` (the model
backend's definition), on a uniform grid of recorded states (at least 400 points, interpolated
from the accepted steps only when read), read out only as far back from t_end as it needs.

Several draws of one circuit (`simulate_circuits`, for Monte Carlo) are integrated together when
their equations stack row by row (`_Stack`): one evaluation for all, each draw with its own step
sizes (`sim.dopri.dopri_draws`), so each draw's numbers are bit for bit those of simulating it
alone, whatever it is stacked with.

Read noise (a realised circuit with `meta["g_noise"]` > 0): every crossbar device's current
fluctuates by an Ornstein-Uhlenbeck process, integrated with fixed RK4 steps and an exact update
of the noise (`sim.read_noise`, which documents the model); it enters through `drive_currents`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from denseamc.backends.inputs import InputBatch, check_circuit_inputs
from denseamc.backends.ir_drop import crossbar_map, selected_map
from denseamc.backends.sim.dopri import Grid, dopri, dopri_draws
from denseamc.backends.sim.fixed_point import MAXITER, fixed_point
from denseamc.backends.sim.read_noise import (
    READ_NOISE,
    STEPS_PER_TAU,
    ReadNoise,
    noise_rng,
    rk4_steps,
)
from denseamc.backends.sim.settle import SETTLE_TOL, settle_time
from denseamc.backends.static_solve import activation_rails, initial_cell_voltages
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]
Index = IntArray | slice


def _index(k: IntArray) -> Index:
    """k as a slice when it is a run of consecutive indices (a view: no gather, no scatter; the
    same elements), else k itself."""
    if k.size and np.array_equal(k, np.arange(k[0], k[0] + k.size)):
        return slice(int(k[0]), int(k[0]) + k.size)
    return k

@dataclass
class CircuitSimResult:
    """What `simulate_circuit` returns; arrays are float64 with batch size B.

    outputs: output -> (B, size), decoded from the readout nets at t_end (the model backend's
    rules). states: layer -> (B, n) in model units, x = -V(x net) / v_unit. activations: layer ->
    (B, n), g = V(gp net) / v_unit. voltages: net -> (B,) at t_end (driven nets, and summing
    nodes in the non-ideal case). settle_time_s / settle_time (model units): (B,). max_abs_v:
    (B,) the largest |V| any driven net reached (the swing to compare with vdd/2), None with
    `swing=False`. deviation (non-ideal only): layer -> (B,) max |x - x_ideal| over the layer
    at t_end, model units. With `record`: times_s (T,), trajectories layer -> (T, B, n).
    """

    outputs: dict[str, Array]
    states: dict[str, Array]
    activations: dict[str, Array]
    voltages: dict[str, Array]
    settle_time_s: Array
    settle_time: Array
    t_end_s: float
    max_abs_v: Array | None
    deviation: dict[str, Array] | None = None
    times_s: Array | None = None
    trajectories: dict[str, Array] | None = None
    stats: dict[str, int] = field(default_factory=dict)


class _Plan:
    """Index every net and component once; evaluate node equations for a batch."""

    def __init__(self, circuit: CircuitIR, inputs: InputBatch, ideal: bool) -> None:
        self.c = circuit
        self.inputs = inputs
        self.ideal = ideal
        self.v_unit = circuit.scaling.v_unit
        amp = circuit.amplifier
        self.rail = amp.v_rail
        self.slew = amp.slew_v_per_s
        self.a0 = amp.a0
        self.wp = 2 * np.pi * amp.gbw_hz / amp.a0
        self.batch = B = inputs.batch

        cells = circuit.cells
        self.cells = cells
        self.n_cells = len(cells)
        self.r_f = np.array([c.r_f for c in cells])
        self.c_f = np.array([c.c_f for c in cells])
        self.dyn = np.flatnonzero(self.c_f > 0)
        self.alg = np.flatnonzero(self.c_f == 0)
        self.cell_of_sum = {c.sum_net: k for k, c in enumerate(cells)}

        self._index_driven_nets()
        self._conductances()
        self.i_bias = np.zeros(self.n_cells)
        for cs in circuit.current_sources:
            self.i_bias[self.cell_of_sum[cs.net]] += cs.amps
        self.v_os = np.array([c.v_offset for c in cells])
        self.i_ideal: Array = self.i_bias
        if np.any(self.v_os):
            # ideal amplifiers hold each summing node at its offset: the extra current into it
            # is -(G_col + W) v_os, and the feedback sees V_out - v_os (module docstring)
            self.i_ideal = self.i_bias - self.couple(self.v_os) - self.v_os / self.r_f
        self._alg_guess = np.zeros((B, len(self.alg)))
        self.nfev = 0
        self.noise: ReadNoise | None = None  # the devices' read noise, while integrating it
        # the capacitor cells' constants, gathered once (the same numbers every evaluation)
        self.r_f_dyn = self.r_f[self.dyn]
        self.c_f_dyn = self.c_f[self.dyn]
        self.only_dyn = not self.alg.size

    def _index_driven_nets(self) -> None:
        """Number the driven nets: cell outputs, clamp sources, activation outputs."""
        circuit, B = self.c, self.batch
        drv: dict[str, int] = {}

        def add(net: str) -> int:
            if net in drv:
                raise InternalCompilerError(f"circuit_sim: net {net!r} driven twice")
            drv[net] = len(drv)
            return drv[net]

        self.out_k = np.array([add(c.out_net) for c in self.cells], dtype=np.int64)
        self.clamp_k = np.array([add(v.net) for v in circuit.voltage_sources], dtype=np.int64)
        self.clamp_v = np.zeros((B, len(circuit.voltage_sources)))
        for j, v in enumerate(circuit.voltage_sources):
            self.clamp_v[:, j] = v.volts + v.gain_v * self.inputs.arrays[v.input][:, v.index]
        self.acts: list[tuple[Activation, IntArray, IntArray, IntArray, IntArray]] = []
        for a in circuit.activations:
            p = np.array([add(n) for n in a.out_p_nets], dtype=np.int64)
            own = [i for i, n in enumerate(a.out_n_nets) if n not in a.in_nets]
            nk = np.array([add(a.out_n_nets[i]) for i in own], dtype=np.int64)
            self.acts.append((a, np.array([drv.get(n, -1) for n in a.in_nets]),
                              p, np.array(own, dtype=np.int64), nk))
        for a, ink, *_ in self.acts:
            if np.any(ink < 0):
                raise InternalCompilerError(f"circuit_sim: activation {a.name} input undriven")
        self.drv = drv
        self.n_drv = len(drv)
        self.out_at = _index(self.out_k)
        # inputs stay gathered (a copy in the layout the activations' reductions were always
        # given: a view's layout changes a softmax's summation order, hence its last bits)
        self.act_at = [(a, ink, _index(pk), own, _index(nk) if nk.size else None)
                       for a, ink, pk, own, nk in self.acts]
        self.state_nets = {layer.name: [drv[f"{layer.name}_x_{i}"] for i in range(layer.size)]
                           for layer in circuit.layers}
        # where every state net is a capacitor cell's output: its column of the integrated state
        y_col = {int(self.out_k[k]): j for j, k in enumerate(self.dyn)}
        self.state_cols = ({n: [y_col[k] for k in ks] for n, ks in self.state_nets.items()}
                           if all(k in y_col for ks in self.state_nets.values() for k in ks)
                           else None)

    def _conductances(self) -> None:
        """G (n_drv, n_cells) from driven nets into summing nodes; per batch element when
        selected crossbars make it depend on the inputs."""
        circuit, B, drv = self.c, self.batch, self.drv
        g = np.zeros((self.n_drv, self.n_cells))
        self.w: Array | None = None  # column coupling through wires (ir_drop.py)
        # every crossbar device: (driven-net rows, cells, G (1 or B, n)), for the read noise
        self.devices: list[tuple[IntArray, IntArray, Array]] = []
        for xb in circuit.crossbars:
            r = np.array([drv[n] for n in xb.row_nets], dtype=np.int64)
            cidx = np.array([self.cell_of_sum[n] for n in xb.col_nets], dtype=np.int64)
            g_eff, w = crossbar_map(xb)
            np.add.at(g, (r[:, None], cidx[None, :]), g_eff)
            at = np.nonzero(g_eff)
            self.devices.append((r[at[0]], cidx[at[1]], g_eff[at][None, :]))
            if w is not None:
                self._add_w(cidx, w)
        for res in circuit.resistors:
            a_in, b_in = res.net_a in drv, res.net_b in drv
            if a_in == b_in:
                raise InternalCompilerError(f"circuit_sim: resistor {res.name} must join a "
                                            "driven net and a summing node")
            d, s = (res.net_a, res.net_b) if a_in else (res.net_b, res.net_a)
            g[drv[d], self.cell_of_sum[s]] += 1.0 / res.ohms
        self.g_static = g
        self.g_batch: Array | None = None
        if circuit.selected_crossbars:
            gb = np.broadcast_to(g, (B, *g.shape)).copy()
            for sx in circuit.selected_crossbars:
                gsel, wsel = selected_map(sx, self.inputs.selects[sx.select])
                r = np.array([drv[n] for n in sx.row_nets], dtype=np.int64)
                cidx = np.array([self.cell_of_sum[n] for n in sx.col_nets], dtype=np.int64)
                gb[:, r[:, None], cidx[None, :]] += gsel
                at = np.nonzero((gsel != 0).any(axis=0))
                self.devices.append((r[at[0]], cidx[at[1]], gsel[:, at[0], at[1]]))
                if wsel is not None:
                    self._add_w(cidx, wsel)
            self.g_col = gb.sum(axis=1)  # (B, n_cells)
            # only the rows and columns with a device take part in the products: einsum sums
            # over rows in order, and the skipped terms are +-0, so the sums keep their bits
            used = gb != 0
            self.g_rows = np.flatnonzero(used.any(axis=(0, 2)))
            self.g_cols = np.flatnonzero(used.any(axis=(0, 1)))
            self.g_batch = np.ascontiguousarray(gb[:, self.g_rows][:, :, self.g_cols])
            self.g_cols_at = _index(self.g_cols)
        else:
            self.g_col = np.broadcast_to(g.sum(axis=0), (B, self.n_cells))

    def _add_w(self, cidx: IntArray, w: Array) -> None:
        """Add one array's wire coupling (cols, cols), or per batch (B, cols, cols), to W."""
        n = self.n_cells
        if self.w is None:
            self.w = np.zeros((n, n))
        if w.ndim == 3 and self.w.ndim == 2:
            self.w = np.broadcast_to(self.w, (self.batch, n, n)).copy()
        self.w[..., cidx[:, None], cidx[None, :]] += w

    def couple(self, vs: Array) -> Array:
        """Current drawn from the summing nodes at voltages vs ((n,) or (B, n)) through the
        arrays: g_col vs + W vs (W = 0 without wire resistance)."""
        out: Array = self.g_col * vs
        if self.w is not None:
            out = out + (vs @ self.w.T if self.w.ndim == 2
                         else np.einsum("bij,bj->bi", self.w, np.broadcast_to(vs, out.shape)))
        return out

    # -- evaluation ------------------------------------------------------------------------------
    def voltages(self, v_out: Array) -> Array:
        """Every driven net's voltage (..., B, n_drv) from the cell outputs (..., B, n_cells):
        row by row the same numbers, so a stack of recorded states is read out at once."""
        v = np.empty((*v_out.shape[:-1], self.n_drv))
        v[..., self.out_at] = v_out
        if self.clamp_k.size:
            v[..., self.clamp_k] = self.clamp_v
        for a, ink, pk, own, nk in self.act_at:
            vp, vn = activation_rails(a, v[..., ink])
            if not self.ideal:
                vp = np.clip(vp, -self.rail, self.rail)
            v[..., pk] = vp
            if nk is not None:
                v[..., nk] = (vn if self.ideal else np.clip(vn, -self.rail, self.rail))[..., own]
        return v

    def drive_currents(self, v: Array) -> Array:
        """sum_r G_rs V_r into every summing node (B, n_cells), without biases."""
        out: Array
        if self.g_batch is None:
            out = v @ self.g_static
        else:
            part: Array = np.einsum("bd,bdc->bc", v[:, self.g_rows], self.g_batch)
            if part.shape[1] == self.n_cells:
                out = part
            else:
                out = np.zeros((self.batch, self.n_cells))
                out[:, self.g_cols_at] = part
        if self.noise is not None:
            out = out + self.noise.current(v)
        return out

    def start_noise(self, g_noise: float, tau_c: float, rng: np.random.Generator) -> None:
        """Switch the devices' read noise on (`sim.read_noise`)."""
        B = self.batch
        rows = np.concatenate([r for r, _, _ in self.devices])
        cols = np.concatenate([c for _, c, _ in self.devices])
        g = np.concatenate([np.broadcast_to(g, (B, g.shape[-1])) for _, _, g in self.devices],
                           axis=1)
        self.noise = ReadNoise(rows, cols, g, self.n_cells, self.v_os, g_noise, tau_c, rng, B)

    def solve_ideal(self, v_out: Array) -> tuple[Array, Array, Array]:
        """Fill the algebraic cells of v_out (in place); return (v_out, V, I_in)."""
        if not self.alg.size:
            v = self.voltages(v_out)
            return v_out, v, self.drive_currents(v) + self.i_ideal
        v_out[:, self.alg] = self._alg_guess
        last: dict[str, Array] = {}

        def sweep() -> tuple[float, float]:
            v = self.voltages(v_out)
            last["i_in"] = i_in = self.drive_currents(v) + self.i_ideal
            last["new"] = new = -self.r_f[self.alg] * i_in[:, self.alg]
            change = float(np.max(np.abs(new - v_out[:, self.alg]), initial=0.0))
            v_out[:, self.alg] = new
            return change, float(np.max(np.abs(new), initial=0.0))

        if not fixed_point(sweep, scale=self.v_unit):
            raise DenseAMCError(error(
                "circuit simulation: the tau = 0 stages did not settle (an algebraic loop with "
                f"loop gain >= 1) after {MAXITER} sweeps"))
        self._alg_guess = last["new"]
        return v_out, self.voltages(v_out), last["i_in"]

    def rhs_ideal(self, y: Array) -> Array:
        self.nfev += 1
        if self.only_dyn:  # every cell holds state: y is v_out itself
            i_in = self.drive_currents(self.voltages(y)) + self.i_ideal
            out: Array = (-y / self.r_f_dyn - i_in) / self.c_f_dyn
            return out
        v_out = np.zeros((self.batch, self.n_cells))
        v_out[:, self.dyn] = y
        _, _, i_in = self.solve_ideal(v_out)
        out = (-y / self.r_f_dyn - i_in[:, self.dyn]) / self.c_f_dyn
        return out

    def split(self, z: Array) -> tuple[Array, Array]:
        return z[:, : self.n_cells], z[:, self.n_cells:]

    def sum_nodes(self, z: Array) -> tuple[Array, Array, Array]:
        """Non-ideal: (V_out clipped, V_s, I_in) for state z = [V_out, V_c]."""
        vo, vc = self.split(z)
        vo = np.clip(vo, -self.rail, self.rail)
        v = self.voltages(vo)
        i_drv = self.drive_currents(v) + self.i_bias
        vs = np.empty_like(vo)
        vs[:, self.dyn] = vo[:, self.dyn] - vc
        if self.alg.size:
            self._algebraic_sums(vo, vs, i_drv)
        i_in = i_drv - self.couple(vs)
        return vo, vs, i_in

    def _algebraic_sums(self, vo: Array, vs: Array, i_drv: Array) -> None:
        """KCL at the C_F = 0 cells' summing nodes, filled into vs: (g_col + 1/R_F) V_s =
        I_drv + V_out / R_F, plus the wire coupling W when there is one (a linear solve)."""
        a, d = self.alg, self.dyn
        gf = 1.0 / self.r_f[a]
        if self.w is None:
            vs[:, a] = (i_drv[:, a] + gf * vo[:, a]) / (self.g_col[:, a] + gf)
            return
        w = np.broadcast_to(self.w, (self.batch, self.n_cells, self.n_cells))
        rhs = i_drv[:, a] + gf * vo[:, a] - np.einsum("bij,bj->bi", w[:, a][:, :, d], vs[:, d])
        m = w[:, a][:, :, a] + np.apply_along_axis(np.diag, 1, self.g_col[:, a] + gf)
        vs[:, a] = np.linalg.solve(m, rhs[..., None])[..., 0]

    def rhs_nonideal(self, z: Array) -> Array:
        self.nfev += 1
        vo_raw, vc = self.split(z)
        vo, vs, i_in = self.sum_nodes(z)
        d = self.dyn
        dvc = -(i_in[:, d] + vc / self.r_f[d]) / self.c_f[d]
        dvo = self.wp * (-self.a0 * (vs - self.v_os) - vo)
        dvo = np.clip(dvo, -self.slew, self.slew)
        dvo[((vo_raw >= self.rail) & (dvo > 0)) | ((vo_raw <= -self.rail) & (dvo < 0))] = 0.0
        return np.concatenate([dvo, dvc], axis=1)

    # -- initial state and readout -----------------------------------------------------------------
    def initial_outputs(self) -> Array:
        """Ideal initial cell outputs (B, n_cells): the capacitor cells from the static solve
        (`static_solve.initial_cell_voltages`), then the algebraic cells solved."""
        v0 = initial_cell_voltages(self.c, self.inputs)
        v_out = np.zeros((self.batch, self.n_cells))
        for k, c in enumerate(self.cells):
            v_out[:, k] = v0.get(c.name, c.v0)
        self.solve_ideal(v_out)
        return v_out

    def states_from_voltages(self, v: Array) -> dict[str, Array]:
        """Model-unit states x = -V(x net)/v_unit per layer, from (..., n_drv) voltages."""
        return {name: -v[..., ks] / self.v_unit for name, ks in self.state_nets.items()}


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

    When their node equations stack (`_Stack`: ideal amplifiers, every cell a capacitor cell,
    no wire coupling, ideal activation rails, the same nets) the circuits are integrated
    together, one evaluation for all of them, each with its own step sizes (`dopri_draws`);
    otherwise one after another."""
    runs = [_Run.start(c, inputs, c.amplifier.ideal, None, None) for c in circuits]
    noisy = any(c.meta.get(READ_NOISE, 0.0) for c in circuits)
    stack = _Stack.of([r.plan for r in runs]) if len(runs) > 1 and not noisy else None
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
            sub = _Stack.of([runs[d].plan for d in live])
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
    plan: _Plan
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
        plan = _Plan(circuit, check_circuit_inputs(circuit, inputs), amp_ideal)
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


class _Stack:
    """The node equations of several circuits' plans as one evaluation: state (D, B, n), draw d
    in row d. Each draw's rows go through exactly the arithmetic of its own `rhs_ideal` (the
    same elementwise operations; a per-draw matrix product for fixed arrays; einsum's per-row
    sums for selected ones), so the numbers are bit for bit its own."""

    def __init__(self, plans: Sequence[_Plan], proto: _Plan) -> None:
        D, B = len(plans), plans[0].batch
        self.D, self.B = D, B
        self.proto = proto  # plan 0's evaluation, re-dimensioned to D * B rows
        # per-draw constants (n,), one row per vector of the draw
        self.i_in0 = np.concatenate([np.broadcast_to(p.i_ideal, (B, p.n_cells)) for p in plans])
        self.r_f = np.concatenate([np.broadcast_to(p.r_f_dyn, (B, p.n_cells)) for p in plans])
        self.c_f = np.concatenate([np.broadcast_to(p.c_f_dyn, (B, p.n_cells)) for p in plans])
        self.g_static = (np.stack([p.g_static for p in plans]) if proto.g_batch is None
                         else None)

    @classmethod
    def of(cls, plans: Sequence[_Plan]) -> _Stack | None:
        """The stack of `plans`, or None when their equations do not stack row by row."""
        p0 = plans[0]
        if not all(cls._matches(p, p0) for p in plans):
            return None
        proto = copy.copy(p0)
        proto.batch = len(plans) * p0.batch
        proto.clamp_v = np.concatenate([p.clamp_v for p in plans])
        if p0.g_batch is not None:
            proto.g_batch = np.concatenate([p.g_batch for p in plans if p.g_batch is not None])
        return cls(plans, proto)

    @staticmethod
    def _matches(p: _Plan, p0: _Plan) -> bool:
        """p's equations stack with p0's: ideal amplifiers and capacitor cells only (one
        evaluation, no algebraic solve; a column coupling W, of wires or switches, then enters
        only through the per-draw constant i_ideal), ideal activation rails (plan 0's
        activations serve all), the same nets, batch, device rows and columns, time span and
        units."""
        def acts(q: _Plan) -> list[tuple[str, float | None, float]]:
            return [(a.kind, a.param, a.v_unit) for a, *_ in q.acts]

        def same_devices(q: _Plan) -> bool:
            return q.g_batch is None if p0.g_batch is None else (
                q.g_batch is not None and np.array_equal(q.g_rows, p0.g_rows)
                and np.array_equal(q.g_cols, p0.g_cols))

        def span(q: _Plan) -> tuple[float, float, float]:
            return (q.c.readout_t, q.c.scaling.tau_unit_s, q.v_unit)

        return (p.ideal and p.only_dyn and p.drv == p0.drv and span(p) == span(p0)
                and p.batch == p0.batch and acts(p) == acts(p0) and same_devices(p)
                and all(not a.rail_gain and not a.rail_offset for a, *_ in p.acts))

    def rhs(self, y: Array) -> Array:
        """dV_out/dt (D, B, n) at cell outputs y (D, B, n), as each plan's `rhs_ideal`."""
        yy = y.reshape(self.D * self.B, -1)
        v = self.proto.voltages(yy)
        if self.g_static is not None:
            drive = (v.reshape(self.D, self.B, -1) @ self.g_static).reshape(yy.shape[0], -1)
        else:
            drive = self.proto.drive_currents(v)
        i_in = drive + self.i_in0
        out: Array = (-yy / self.r_f - i_in) / self.c_f
        return out.reshape(y.shape)


def _grid_states(plan: _Plan, ys: Array) -> dict[str, Array]:
    """Model-unit states layer -> (..., B, n) of recorded states ys (..., B, n_dyn), ideal
    amplifiers and no algebraic cells: a readout is then row-by-row arithmetic, so a stack of
    grid points gives the numbers of one point at a time. States that are capacitor cells'
    outputs are read from ys itself (the very numbers V(x net) holds)."""
    if plan.state_cols is not None:
        return {name: -ys[..., cols] / plan.v_unit for name, cols in plan.state_cols.items()}
    v_out = np.zeros((*ys.shape[:-1], plan.n_cells))
    v_out[..., plan.dyn] = ys
    return plan.states_from_voltages(plan.voltages(v_out))


def _grid_swing(plan: _Plan, rec: Grid) -> Array:
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


def _read_points(plan: _Plan, ys: Array, readout: Callable[[Array], Array]
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


def decode(circuit: CircuitIR, v: Array, drv: Mapping[str, int]) -> dict[str, Array]:
    """Decode every readout from driven-net voltages (B, n_drv), as the model backend does:
    g = V(gp)/v_unit; sign(g) (0 -> 0), g, or argmax(decoder @ g + offset) as (B, 1)."""
    out: dict[str, Array] = {}
    for ro in circuit.readouts:
        g = v[:, [drv[n] for n in ro.nets]] / circuit.scaling.v_unit
        out[ro.op.name] = ro.op.decode(g)
    return out


def cell_equation_rhs(circuit: CircuitIR, v_out: Array, inputs: Mapping[str, object]) -> Array:
    """dV_out/dt of every C_F > 0 cell (ideal amplifiers) at given cell outputs (B, n_cells);
    algebraic cells are solved first. For tests: the node equations at arbitrary voltages."""
    plan = _Plan(circuit, check_circuit_inputs(circuit, inputs), True)
    v = v_out.copy()
    plan.solve_ideal(v)
    return plan.rhs_ideal(v[:, plan.dyn])


__all__ = ["CircuitSimResult", "IntegratorCell", "cell_equation_rhs", "decode",
           "simulate_circuit", "simulate_circuits"]
