"""The default integrator: variable-step exponential Adams, predictor-corrector (PECE).

It works on the dynamic layers of a `System` one by one (contiguous (B, n_layer) arrays), so
each history combination is one BLAS call per layer. See `ExpAdams` for the method.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
from denseamc.backends.sim.phi import phi_moments
from denseamc.backends.sim.system import System
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _rowdot(x: Array) -> Array:
    """Sum of squares of each row of a 2-d array."""
    vecdot = getattr(np, "vecdot", None)  # numpy >= 2: ~3x faster than einsum here
    out: Array = vecdot(x, x) if vecdot is not None else np.einsum("bi,bi->b", x, x)
    return out


class ExpAdams:
    """Variable-step exponential Adams predictor-corrector for u' = L u + N(u), L diagonal.

    Over a step of size h from t_n, N is replaced by the polynomial through its values at the
    last q accepted points (predictor, order q) or through those and the predicted point
    (corrector, order q + 1), and the variation-of-constants integral
    int_0^1 exp(z (1 - s)) P(s) ds (z = h L, one scalar per layer) is taken exactly through
    mu_j = j! phi_{j+1}(z). Unlike explicit exponential Runge-Kutta methods, exponential
    multistep methods keep their full order when h L is large (no stiff order reduction), so a
    fast layer costs no extra steps. The error estimate is corrector - predictor, divided by
    (1 + |h L|) per layer: a fast neuron's own local error is forgotten within its tau (it is
    slaved to the slow ones), which the filtered estimate reflects. The order ramps 1, 2, ... up
    to `qmax` as history accumulates. PECE mode (default) evaluates N again at the accepted point
    (two evaluations per step); PEC mode reuses N at the predicted point (one per step).
    History is kept per layer, contiguous, so each combination is one BLAS call per layer.
    """

    qmax_default = 6
    pec_default = False

    def __init__(self, sys: System, qmax: int | None = None, pec: bool | None = None) -> None:
        self.sys = sys
        self.qmax = qmax if qmax is not None else self.qmax_default
        self.pec = pec if pec is not None else self.pec_default
        B = sys.batch
        self.layers = sys.dynamic
        self.rates = np.array([-1.0 / lay.tau for lay in self.layers])
        # row 0: the current state (so that e^{hL} u joins the history combination in one BLAS
        # call); rows 1..qmax: N at the accepted points (a ring, times in slot_t)
        self.hist = [np.zeros((self.qmax + 1, B, lay.size)) for lay in self.layers]
        self.slot_t = np.zeros(self.qmax)
        self.filled = 0
        self.next_slot = 0
        # per layer: predictor (row 0) and corrector (row 1) of the step being attempted
        self.pc = [np.empty((2, B, lay.size)) for lay in self.layers]
        self.npred = [np.empty((B, lay.size)) for lay in self.layers]  # N at the predictor
        self.tmp = [np.empty((B, lay.size)) for lay in self.layers]
        self.sq = np.empty(B)
        self._nodes = np.empty(self.qmax + 1)
        self._vt = np.ones((self.qmax + 1, self.qmax + 1))
        self._pool = np.empty((0, 0))
        self._pool_left = 0
        self._last = (0.0, 0.0, 0)
        self.state: list[Array] = []  # the accepted state, per layer (what hist[i][0] holds)

    def _advance(self, t: float) -> int:
        """Claim the next ring slot for N at time t; returns its history row."""
        k = self.next_slot
        self.slot_t[k] = t
        self.next_slot = (k + 1) % self.qmax
        self.filled = min(self.filled + 1, self.qmax)
        return k + 1

    def start(self, u: Array) -> Array:
        n0 = self.sys.nonlinear(u, np.empty_like(u))
        self.filled = 0
        self.next_slot = 0
        row = self._advance(0.0)
        self.state = [u[:, lay.sl].copy() for lay in self.layers]
        for lay, hi, x in zip(self.layers, self.hist, self.state, strict=True):
            hi[0] = x
            hi[row] = n0[:, lay.sl]
        return n0

    def _weights(self, t: float, h: float, q: int, theta: float = 1.0) -> tuple[Array, Array]:
        """Predictor weights (G, q) and corrector weights (G, q + 1, new point last):
        h * V^-T mu(h L) per layer, for the nodes (slot times - t) / h. With theta < 1, the
        weights that carry the same polynomials to t + theta h instead (dense output):
        theta h * V^-T (theta^j mu_j(theta h L))_j."""
        m = q + 1
        nodes = self._nodes[:m]
        np.subtract(self.slot_t[:q], t, out=nodes[:q])
        nodes[:q] /= h
        nodes[q] = 1.0
        # one solve for both: block diagonal [V_p^T (q x q) padded with a unit row and column,
        # V_c^T]; V_p^T is the leading block of V_c^T (the predictor's nodes come first)
        vt = self._vt[:m, :m]  # vt[j, k] = nodes[k]^j
        for j in range(1, m):
            np.multiply(vt[j - 1], nodes, out=vt[j])
        A = np.zeros((2 * m, 2 * m))
        A[:q, :q] = vt[:q, :q]
        A[q, q] = 1.0
        A[m:, m:] = vt
        rhs = np.zeros((2 * m, len(self.rates)))
        for i, r in enumerate(self.rates):
            mu = phi_moments(theta * h * r, m)
            if theta != 1.0:
                mu *= theta ** np.arange(m)
            rhs[:q, i] = mu[:q]
            rhs[m:, i] = mu
        w = cast(Array, np.linalg.solve(A, rhs))
        w *= theta * h
        return w[:q].T, w[m:].T

    def attempt(self, t: float, h: float, rtol: float, atol: float
                ) -> tuple[list[Array], float, int]:
        """One PECE step of size h from the stored state: (corrected state per
        layer, in buffers valid until the next attempt; scaled error norm; order of the
        estimate). Works layer by layer on contiguous (B, n_layer) arrays."""
        q = self.filled
        self._last = (t, h, q)
        wp, wc = self._weights(t, h, q)
        ez = np.exp(h * self.rates)
        coef = np.empty((2, q + 1))
        for i, lay in enumerate(self.layers):
            # predictor and all but the new point of the corrector in one pass over [u, history]
            coef[:, 0] = ez[i]
            coef[0, 1:] = wp[i]
            coef[1, 1:] = wc[i, :q]
            pc = self.pc[i]
            np.matmul(coef, self.hist[i][:q + 1].reshape(q + 1, -1), out=pc.reshape(2, -1))
            if lay.clamp_idx.size:
                pc[0][:, lay.clamp_idx] = self.state[i][:, lay.clamp_idx]
        self.sys.nonlinear_parts([pc[0] for pc in self.pc], self.npred)
        sq = self.sq
        sq[...] = 0.0
        for i, lay in enumerate(self.layers):
            pc, tmp = self.pc[i], self.tmp[i]
            up, uc = pc[0], pc[1]
            np.multiply(self.npred[i], wc[i, q], out=tmp)
            uc += tmp
            if lay.clamp_idx.size:
                uc[:, lay.clamp_idx] = self.state[i][:, lay.clamp_idx]
            # error: (corrector - predictor) / (1 + h/tau), scaled by atol + rtol |new|
            np.subtract(up, uc, out=up)
            f = 1.0 + h * abs(self.rates[i])
            np.abs(uc, out=tmp)
            tmp *= rtol * f
            tmp += atol * f
            up /= tmp
            sq += _rowdot(up)
        en = math.sqrt(float(sq.max()) / max(1, self.sys.n)) if sq.size else 0.0
        return [pc[1] for pc in self.pc], en, q

    def dense(self, theta: float) -> list[Array]:
        """The state at t + theta h (0 < theta < 1) of the step just attempted (call before
        `accept`): the corrector's polynomial for N integrated exactly from t, so the
        interpolant has the corrector's order. New arrays, never modified afterwards."""
        t, h, q = self._last
        _, wc = self._weights(t, h, q, theta)
        ez = np.exp(theta * h * self.rates)
        out = self._fresh()
        coef = np.empty(q + 1)
        for i, lay in enumerate(self.layers):
            coef[0] = ez[i]
            coef[1:] = wc[i, :q]
            o = out[i]
            np.matmul(coef, self.hist[i][:q + 1].reshape(q + 1, -1), out=o.reshape(-1))
            o += wc[i, q] * self.npred[i]
            if lay.clamp_idx.size:
                o[:, lay.clamp_idx] = self.state[i][:, lay.clamp_idx]
        return out

    def _fresh(self) -> list[Array]:
        """New per-layer state arrays, carved from blocks of several states: one block of at
        least 4 MB instead of one allocation (and page faults) per accepted state; numpy
        backs such blocks with huge pages where the kernel allows."""
        if self._pool_left == 0:
            per = self.sys.batch * self.sys.n
            k = min(256, max(8, (4 << 20) // max(1, 8 * per) + 1))
            self._pool = np.empty((k, per))
            self._pool_left = k
        block = self._pool[len(self._pool) - self._pool_left]
        self._pool_left -= 1
        B = self.sys.batch
        return [block[B * lay.sl.start:B * lay.sl.stop].reshape(B, lay.size)
                for lay in self.layers]

    def accept(self, unew: list[Array], t: float) -> list[Array]:
        """Make unew (from `attempt`) the current state at t; returns it as new arrays (which
        are never modified afterwards)."""
        self.state = self._fresh()
        for x, y in zip(self.state, unew, strict=True):
            np.copyto(x, y)
        row = self._advance(t)
        for hi, x in zip(self.hist, self.state, strict=True):
            hi[0] = x
        if self.pec:  # keep N at the predicted point: one evaluation per step
            if self.sys.adiabatic_order:
                self.sys.activations_parts(self.state)  # the recorder wants them at unew
            for hi, n in zip(self.hist, self.npred, strict=True):
                hi[row] = n
        else:
            self.sys.nonlinear_parts(self.state, [hi[row] for hi in self.hist])
        return self.state
