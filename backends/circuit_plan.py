"""The node equations of a lowered (or realised) circuit for one batch of inputs: `CircuitPlan`.

The plan indexes every net and component of a `CircuitIR` once and evaluates its node
equations (the right-hand side the circuit simulator, `circuit_sim`, integrates), with ideal or
single-pole amplifiers, and reads the driven nets and states back from cell outputs.

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

Initial state: the static solve of the netlists (`static_solve.initial_cell_voltages`:
init inputs, then `init=settled` layers in declaration order, as the model backend does), then
the algebraic cells solved; clamps hold their nets throughout. The devices' read noise
(`sim.read_noise`) enters through `drive_currents`.
"""

from __future__ import annotations

import numpy as np
from denseamc.backends.inputs import InputBatch
from denseamc.backends.ir_drop import crossbar_map, selected_map
from denseamc.backends.sim.fixed_point import MAXITER, fixed_point
from denseamc.backends.sim.read_noise import ReadNoise
from denseamc.backends.static_solve import activation_rails, initial_cell_voltages
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import Activation, CircuitIR
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


class CircuitPlan:
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


__all__ = ["Array", "CircuitPlan", "IntArray"]
