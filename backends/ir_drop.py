"""IR drop: a crossbar with resistive wires, reduced exactly to the map its terminals see; and
a selected crossbar seen through its analog switches (`switched`, the same (G_eff, W) form).

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
from denseamc.ir.crossbars import Crossbar, SelectedCrossbar
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
    """Per batch element: G_eff (B, rows, cols) and W (B, cols, cols) or None, of the connected
    options through their switches (`switched`), then the wires: one network solve per distinct
    connected conductance pattern."""
    g, w_sw = switched(sx, select_values)
    if sx.r_wire == 0:
        return g, w_sw
    # wires AND switches: the wires are solved on the switch-reduced devices, and the switches'
    # own coupling added (not exact: the netlists refuse r_wire on a selected crossbar anyway)
    flat = g.reshape(g.shape[0], -1)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    maps = [terminal_map(u.reshape(g.shape[1:]), sx.r_wire) for u in uniq]
    inv = np.asarray(inverse).ravel()
    g_eff = np.stack([maps[k][0] for k in inv])
    w = np.stack([maps[k][1] for k in inv])  # type: ignore[misc]
    return g_eff, (w if w_sw is None else w + w_sw)


def switched(sx: SelectedCrossbar, select_values: NDArray[np.int64]
             ) -> tuple[Array, Array | None]:
    """G_eff (B, rows, cols) and W (B, cols, cols) or None of a selected crossbar's switches
    with on/off resistance `r_on`/`r_off`, exactly as the netlists wire them.

    Every (line, option) is a star: its switch (conductance g_s = 1/r_on when selected, else
    1/r_off) joins the line's net L to a private node X, and the option's devices G_o join X to
    the other axis's nets. Eliminating X (star-mesh) with S = g_s + sum_o G_o leaves
        L - net o:      g_s G_o / S  = G_o / (1 + r_s sum G)        (a series branch)
        net o - net p:  G_o G_p / S  = r_s G_o G_p / (1 + r_s sum G)
    summed over every option, selected or not. When the other nets are summing nodes (axis
    "rows") their mutual conductances are the column coupling W of `terminal_map`'s form
    (zero row sums: W = (diag(G) sum G - G G^T) / S); when they are driven nets (axis "cols")
    they only load the drivers and leave the summing nodes' currents alone. r_on = 0 and
    r_off = inf are ideal switches: the connected devices as they are (`conductance`), bit for
    bit; an unselected option's floating devices then couple nothing.
    """
    if sx.r_on == 0 and sx.r_off == np.inf:
        return sx.conductance(select_values), None
    sel = np.asarray(select_values, dtype=np.int64)[:, list(sx.lines)]  # (B, n_lines)
    pattern, inverse = np.unique(sel, axis=0, return_inverse=True)
    tables = (np.broadcast_to(sx.table, (len(sx.lines), *sx.table.shape))
              if sx.line_tables is None else sx.line_tables)  # (n_lines, n_options, n_other)
    total = tables.sum(axis=2)  # (n_lines, n_options): sum G of each star
    on = np.arange(sx.n_options)[None, None, :] == pattern[:, :, None]  # (P, n_lines, n_options)
    r_s = np.where(on, sx.r_on, sx.r_off)
    finite = np.isfinite(r_s)  # an open switch of r_off = inf: no branch, S = sum G
    r_f = np.where(finite, r_s, 0.0)
    series = np.where(finite, 1.0 / (1.0 + r_f * total), 0.0)  # g_s / S
    floating = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    inv_s = np.where(finite, r_f / (1.0 + r_f * total), floating)  # 1 / S
    g = np.einsum("plk,lko->plo", series, tables)  # (P, n_lines, n_other)
    w: Array | None = None
    if sx.axis == "rows":
        diag = np.einsum("plk,lk,lko->po", inv_s, total, tables)
        w = -np.einsum("plk,lko,lkq->poq", inv_s, tables, tables)
        idx = np.arange(tables.shape[2])
        w[:, idx, idx] += diag
    else:
        g = np.swapaxes(g, 1, 2)
    inv = np.asarray(inverse).ravel()
    return g[inv], (None if w is None else w[inv])
