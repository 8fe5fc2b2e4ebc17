"""A crossbar's devices as netlist text, the same for every dialect: each device's conductance
and resistance formatted once (`DeviceValues`, `device_values`, shared with the conductance
tables), a crossbar subcircuit's ports (`crossbar_ports`) and its body: one resistor per device,
formatted in bulk (`crossbar_devices`), or with wire resistance the network backends/ir_drop.py
solves (`wired_crossbar_devices`). The dialect gives only its resistor template."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from denseamc.backends.units import join_fields, num, num_texts
from denseamc.ir import InternalCompilerError
from denseamc.ir.crossbars import Crossbar
from numpy.typing import NDArray

__all__ = [
    "DeviceValues",
    "crossbar_devices",
    "crossbar_ports",
    "device_values",
    "wired_crossbar_devices",
]


@dataclass(frozen=True)
class DeviceValues:
    """A crossbar's devices, one per conductance > 0, row-major, formatted once for every
    dialect and the conductance tables: device k is at row `rows[k]`, column `cols[k]`; its
    conductance's text (siemens) is `siemens[k]` and its resistance's (ohm = 1/G) `ohms[k]`
    (`units.num_texts`, ASCII byte strings). `conductance` is the crossbar's matrix they were
    made from (so another crossbar with the same or the transposed matrix can reuse them)."""

    conductance: NDArray[np.float64]
    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    siemens: NDArray[np.bytes_]
    ohms: NDArray[np.bytes_]


def device_values(xb: Crossbar, earlier: Iterable[DeviceValues] = ()) -> DeviceValues:
    """`xb`'s `DeviceValues`, vectorised. When one of `earlier` was made from the same matrix or
    its transpose (a symmetric interaction h @ W @ v lowers to crossbars W and W^T), its texts
    are reused: every distinct device value is formatted once."""
    g = np.asarray(xb.conductance, dtype=np.float64)
    rr, cc = np.nonzero(g > 0)
    for other in earlier:
        if other.conductance.shape == g.shape and np.array_equal(other.conductance, g):
            return DeviceValues(g, rr, cc, other.siemens, other.ohms)
        if other.conductance.shape == g.shape[::-1] and np.array_equal(other.conductance.T, g):
            # device (r, c) here is the other's device (c, r): its position in their order
            position = np.zeros(other.conductance.shape, dtype=np.intp)
            position[other.rows, other.cols] = np.arange(len(other.rows))
            k = position[cc, rr]
            return DeviceValues(g, rr, cc, other.siemens[k], other.ohms[k])
    values = g[rr, cc]
    with np.errstate(divide="ignore", over="ignore"):
        ohms = 1.0 / values
    if not np.isfinite(ohms).all():
        raise InternalCompilerError(f"crossbar {xb.name}: a conductance too small to invert")
    return DeviceValues(g, rr, cc, num_texts(values), num_texts(ohms))


#: Placeholders for a device line's row index, column index and resistance in a dialect's
#: resistor template (`crossbar_devices`); no template contains them.
_ROW, _COL, _OHMS = "\x01", "\x02", "\x03"


def crossbar_devices(xb: Crossbar, resistor_line: str, values: DeviceValues | None = None, *,
                     head: str = "", tail: str = "") -> str:
    """`head`, then the body of `xb`'s subcircuit, a newline and `tail`: one resistor R = 1/G per
    nonzero conductance from port row_r to port col_c, named r_<r>_<c>, row-major, one line
    each (no line when there is no device).

    `resistor_line` is the dialect's resistor template (positional fields name, a, b, ohms);
    `values` the crossbar's `device_values` when another dialect already formatted them.
    Every name is local to the subcircuit, so nothing per device goes through the `Namer`:
    the template, filled with placeholders, splits into fixed text and per-device fields (row
    index, column index, resistance), which `join_fields` concatenates for every device at
    once, between `head` and `tail` (the fast path of a million-weight model).
    """
    v = values if values is not None else device_values(xb)
    if not len(v.rows):
        return f"{head}\n{tail}"
    n_rows, n_cols = v.conductance.shape
    index_text = np.array([str(k) for k in range(max(n_rows, n_cols))], dtype="S")
    per_device = {_ROW: index_text[v.rows], _COL: index_text[v.cols], _OHMS: v.ohms}
    line = resistor_line.format(f"r_{_ROW}_{_COL}", f"row_{_ROW}", f"col_{_COL}", _OHMS)
    pieces = re.split(f"([{_ROW}{_COL}{_OHMS}])", line + "\n")
    columns = [per_device[p] if p in per_device else p.encode("ascii") for p in pieces if p]
    return join_fields(columns, head=head, tail=tail)


def wired_crossbar_devices(xb: Crossbar, resistor_line: str) -> str:
    """The body of `xb`'s subcircuit with wire resistance `r_wire` (names local, as in
    `crossbar_devices`).

    The network backends/ir_drop.py solves: device r_<r>_<c> between row-wire node wa_<r>_<c>
    and column-wire node wb_<r>_<c>; a segment of r_wire (rwa_<r>_<c>) from port row_r to
    wa_<r>_0 and from wa_<r>_<c> to wa_<r>_<c+1>; one (rwb_<r>_<c>) from wb_<r>_<c> to
    wb_<r+1>_<c> and from wb_<R-1>_<c> to port col_c. Per row: its segments, then its devices;
    then the column segments.
    """
    g = np.asarray(xb.conductance, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        if not np.isfinite(1.0 / g[g > 0]).all():
            raise InternalCompilerError(f"crossbar {xb.name}: a conductance too small to invert")
    n_rows, n_cols = g.shape
    wire = num(xb.r_wire)
    out: list[str] = []
    line = resistor_line.format
    for r in range(n_rows):
        for c in range(n_cols):
            out.append(line(f"rwa_{r}_{c}", f"row_{r}" if c == 0 else f"wa_{r}_{c - 1}",
                            f"wa_{r}_{c}", wire))
        for c in np.flatnonzero(g[r] > 0).tolist():
            out.append(line(f"r_{r}_{c}", f"wa_{r}_{c}", f"wb_{r}_{c}", num(1.0 / g[r, c])))
    for c in range(n_cols):
        for r in range(n_rows):
            out.append(line(f"rwb_{r}_{c}", f"wb_{r}_{c}",
                            f"wb_{r + 1}_{c}" if r + 1 < n_rows else f"col_{c}", wire))
    return "\n".join(out)


def crossbar_ports(xb: Crossbar) -> list[str]:
    """The formal ports of `xb`'s subcircuit: row_0 .. row_{R-1}, then col_0 .. col_{C-1}."""
    n_rows, n_cols = np.shape(xb.conductance)
    return [f"row_{r}" for r in range(n_rows)] + [f"col_{c}" for c in range(n_cols)]
