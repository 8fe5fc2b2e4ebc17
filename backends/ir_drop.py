"""IR drop: a crossbar with resistive wires, reduced exactly to the map its terminals see.

Layout (the usual worst case for a crossbar read): every device (r, c) sits between a row-wire
node a(r, c) and a column-wire node b(r, c). Row r is driven at its first column: a segment of
`r_wire` joins the driver to a(r, 0), and one joins a(r, c) to a(r, c + 1). Column c is read
at its last row: segments join b(r, c) to b(r + 1, c), and b(R - 1, c) to the summing node.

With ideal amplifiers the drivers are ideal voltage sources and the summing nodes are held
(virtual grounds, at the amplifier's offset when it has one), so the network is linear between
R + C terminals. Nodal analysis of the 2 R C internal nodes (Laplacian K, coupling to the
terminals K_it) gives the terminal admittance by a Schur complement,
    Y = K_tt - K_ti K^-1 K_it,          current into the network at the terminals = Y V_t.
The current into summing node c is then I = G_eff^T V_row - Y_cc V_col with G_eff = -Y_rc;
Y's rows sum to zero, so Y_cc = diag(colsum G_eff) + W with W (zero row sums) the coupling
of columns through the wires. r_wire = 0 gives G_eff = G and W = 0 exactly (no solve).

K is sparse (a 2-D grid plus the devices) and grows as 2 R C, so it is factorised once per
crossbar with scipy.sparse's SuperLU (dense numpy would need (2RC)^2 memory: 8 GB at 256 x 256)
and solved for the R + C terminal columns. The Schur complement subtracts two numbers of size
1/r_wire: its rounding error is ~ eps / (r_wire g) relative to a device g (1e-10 at 1 ohm and
1 uS), negligible for any wire a layout has, but not a way to take r_wire -> 0 (0 is exact).
Results are cached for the last few crossbar objects (a realised crossbar is immutable), so a
simulation and its static solve share one factorisation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from denseamc.ir.circuit import Crossbar, SelectedCrossbar
from numpy.typing import NDArray

Array = NDArray[np.float64]


def terminal_map(g: Array, r_wire: float) -> tuple[Array, Array | None]:
    """(G_eff (rows, cols), W (cols, cols) or None) of devices `g` with wire segments r_wire."""
    if r_wire == 0:
        return g, None
    import scipy.sparse as sp  # only with wire resistance: scipy costs ~0.1 s to import
    from scipy.sparse.linalg import splu

    rows, cols = g.shape
    n = rows * cols
    gw = 1.0 / r_wire
    a = np.arange(n).reshape(rows, cols)  # row-wire nodes
    b = a + n  # column-wire nodes
    i: list[Array] = []
    j: list[Array] = []
    v: list[Array] = []

    def branch(p: Array, q: Array, cond: Array | float) -> None:
        """Conductance `cond` between internal nodes p and q (stamped into K)."""
        c = np.broadcast_to(np.asarray(cond, dtype=np.float64), p.shape).ravel()
        pr, qr = p.ravel(), q.ravel()
        i.extend([pr, qr, pr, qr])
        j.extend([pr, qr, qr, pr])
        v.extend([c, c, -c, -c])

    branch(a, b, g)
    branch(a[:, :-1], a[:, 1:], gw)
    branch(b[:-1, :], b[1:, :], gw)
    # wire segments to the terminals: their diagonal part of K, and K_it
    ends = np.concatenate([a[:, 0], b[-1, :]])
    i.append(ends)
    j.append(ends)
    v.append(np.full(ends.size, gw))
    k = sp.csc_matrix((np.concatenate(v), (np.concatenate(i), np.concatenate(j))),
                      shape=(2 * n, 2 * n))
    k_it = np.zeros((2 * n, rows + cols))
    k_it[ends, np.arange(rows + cols)] = -gw
    x = splu(k).solve(k_it)  # K^-1 K_it
    y = gw * np.eye(rows + cols) - k_it.T @ x
    g_eff = -y[:rows, rows:]
    y_cc = y[rows:, rows:]
    w = y_cc - np.diag(g_eff.sum(axis=0))
    return g_eff, w


def crossbar_map(xb: Crossbar) -> tuple[Array, Array | None]:
    """`terminal_map` of one fixed crossbar: its own conductances without wire resistance, else
    solved once per (immutable) crossbar object."""
    if xb.r_wire == 0:
        return xb.conductance, None
    return _solved(xb)


@lru_cache(maxsize=32)  # a few draws' arrays: a simulation and its static solve share them
def _solved(xb: Crossbar) -> tuple[Array, Array | None]:
    return terminal_map(np.asarray(xb.conductance, dtype=np.float64), xb.r_wire)


def selected_map(sx: SelectedCrossbar, select_values: NDArray[np.int64]
                 ) -> tuple[Array, Array | None]:
    """Per batch element: G_eff (B, rows, cols) and W (B, cols, cols) or None, one network
    solve per distinct connected conductance pattern."""
    g = sx.conductance(select_values)
    if sx.r_wire == 0:
        return g, None
    flat = g.reshape(g.shape[0], -1)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    maps = [terminal_map(u.reshape(g.shape[1:]), sx.r_wire) for u in uniq]
    inv = np.asarray(inverse).ravel()
    g_eff = np.stack([maps[k][0] for k in inv])
    w = np.stack([maps[k][1] for k in inv])  # type: ignore[misc]
    return g_eff, w
