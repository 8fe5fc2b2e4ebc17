"""Conductance tables: what a lab programs into the devices, one CSV file per crossbar.

Every file starts with one comment line (`# ...`) that names the crossbar and says the unit of
every value: siemens (S). Then the CSV proper:

Plain crossbar (`tables/<crossbar>.csv`): a header row `row_net,<column nets...>`, then one row
per crossbar row: its driving net and the conductance of every device in siemens (`0.0` = no
device). Selected crossbar: a header `line_net,option,<other nets...>`, then one row per
(selected line, option): the line's net, the option index k (a plain integer, no unit: the
device set the analog switch connects when select[j] == k) and that option's conductances in
siemens. A realised draw gives its own values (each selected line its own devices). Nets are
the netlists' names (backends/naming.py), values `repr(float)`; nothing else is printed, so the
files are byte-identical for identical circuits. Readers skip the comment line: pandas
`read_csv(f, comment="#")`, numpy `genfromtxt(f, delimiter=",", skip_header=1, names=True,
dtype=None, encoding=None)`, Python's csv module after one `next(f)` (docs/hardware.md,
"Conductance tables").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from denseamc.backends.crossbar_text import DeviceValues, device_values
from denseamc.backends.naming import Namer
from denseamc.backends.units import integer, join_fields, num, nums
from denseamc.ir.circuit import CircuitIR
from numpy.typing import NDArray

__all__ = ["UNIT_COMMENT", "conductance_tables"]

#: The unit of every value, in each file's first (comment) line.
UNIT_COMMENT = "conductance in siemens (S) of each device, row net to column net; 0.0 = no device"


def conductance_tables(circuit: CircuitIR, namer: Namer | None = None,
                       values: Mapping[str, DeviceValues] | None = None) -> dict[str, str]:
    """Legal table name -> CSV text, for every crossbar and selected crossbar, in circuit order.
    `values`: crossbar name -> its `device_values`, when the netlists already formatted them."""
    namer = namer if namer is not None else Namer()
    known = dict(values or {})
    out: dict[str, str] = {}
    for xb in circuit.crossbars:
        v = known.get(xb.name)
        if v is None:
            v = known[xb.name] = device_values(xb, known.values())
        head = [f"# {namer.name(xb.name)}: {UNIT_COMMENT}",
                ",".join(["row_net", *(namer.net(n) for n in xb.col_nets)]), ""]
        nets = np.array([namer.net(n) + "," for n in xb.row_nets], dtype="S")
        out[namer.name(xb.name)] = _table(head="\n".join(head), nets=nets, v=v)
    for sx in circuit.selected_crossbars:
        lines = [f"# {namer.name(sx.name)}: {UNIT_COMMENT}; option = the select value "
                 "(integer, no unit)",
                 ",".join(["line_net", "option", *(namer.net(n) for n in sx.other_nets)])]
        for li, ln in enumerate(sx.line_nets):
            table = sx.table if sx.line_tables is None else sx.line_tables[li]
            for k in range(sx.n_options):
                lines.append(",".join([namer.net(ln), integer(k), *nums(table[k])]))
        out[namer.name(sx.name)] = "\n".join(lines) + "\n"
    return out


def _table(head: str, nets: NDArray[np.bytes_], v: DeviceValues) -> str:
    """`head`, then one CSV line per crossbar row: `nets` (each with its comma), then the
    conductance text of every column (`num(0.0)` where there is no device), comma-separated,
    ending in a newline."""
    n_rows, n_cols = v.conductance.shape
    if n_cols == 0:
        return head + "".join(n.decode("ascii")[:-1] + "\n" for n in nets.tolist())
    no_device = num(0.0).encode("ascii")
    width = max(v.siemens.dtype.itemsize, len(no_device)) + 1
    cells = np.full((n_rows, n_cols - 1), no_device + b",", dtype=f"S{width}")
    last = np.full(n_rows, no_device + b"\n", dtype=f"S{width}")
    in_last = v.cols == n_cols - 1
    cells[v.rows[~in_last], v.cols[~in_last]] = np.char.add(v.siemens[~in_last], b",")
    last[v.rows[in_last]] = np.char.add(v.siemens[in_last], b"\n")
    return join_fields([nets, cells, last], head=head)
