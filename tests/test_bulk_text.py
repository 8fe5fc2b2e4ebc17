"""The bulk text of large crossbars (backends/units.py `num_texts`, `join_fields`;
backends/crossbar_text.py `device_values`, `crossbar_devices`; backends/tables.py): the same bytes
as the plain per-value formatting (`num`, `nums`), whichever fast path the values take (continuous
values, repeated values, a crossbar that is another's transpose)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.crossbar_text import crossbar_devices, device_values
from denseamc.backends.emit import emit_netlists
from denseamc.backends.spice import SpiceEmitter
from denseamc.backends.units import join_fields, num, num_texts, nums
from denseamc.backends.veriloga import SpectreEmitter
from denseamc.compiler.pipeline import compile_model
from denseamc.ir import InternalCompilerError
from denseamc.ir.crossbars import Crossbar


def _texts(arr: np.ndarray) -> list[str]:
    return [t.decode("ascii") for t in arr.tolist()]


@pytest.mark.parametrize("values", [
    np.array([]), np.array([-0.0, 0.0, 1e-5, 1e4, 6.366197723675813e-07, 1e300, 5e-324]),
    np.random.default_rng(1).random(9000) * 1e-4,  # continuous: every value formatted
    np.random.default_rng(2).integers(0, 16, 9000) * 1.25e-6 + 1e-6,  # levels: distinct once
    np.repeat([-0.0, 3.0, 2e-7], 5000)])
def test_num_texts_is_nums(values: np.ndarray) -> None:
    assert _texts(num_texts(values)) == nums(values)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_num_texts_refuses_non_finite_values(bad: float) -> None:
    with pytest.raises(InternalCompilerError, match="not"):
        num_texts(np.array([1.0, bad]))


def test_join_fields_concatenates_rows_between_head_and_tail() -> None:
    rng = np.random.default_rng(3)
    words = np.array(["", "a", "bc", "def", "1e-05"], dtype="S")
    a = words[rng.integers(0, len(words), 50)]
    b = words[rng.integers(0, len(words), (50, 3))]
    want = "".join(f"<{x.decode()}|{''.join(y.decode() for y in row)}>\n"
                   for x, row in zip(a.tolist(), b.tolist(), strict=True))
    assert join_fields([b"<", a, b"|", b, b">\n"], head="H\n", tail="T") == f"H\n{want}T"
    assert join_fields([b"x", a[:0]], head="H", tail="T") == "HT"
    # a non-ASCII head or tail survives (the netlist scan, not this, refuses it)
    assert join_fields([a[:2]], head="\u00e9", tail="\u00e8") == f"\u00e9{want_ab(a[:2])}\u00e8"


def want_ab(a: np.ndarray) -> str:
    return "".join(x.decode() for x in a.tolist())


def _crossbar(g: np.ndarray, name: str = "w") -> Crossbar:
    rows, cols = g.shape
    return Crossbar(name, "w", "v", "h", False, "pos", "dual_rail",
                    tuple(f"r{i}" for i in range(rows)), tuple(f"c{j}" for j in range(cols)),
                    tuple(range(rows)), tuple(range(cols)), conductance=g)


@pytest.mark.parametrize("emitter", [SpiceEmitter, SpectreEmitter])
def test_crossbar_devices_match_a_line_per_device(emitter: type[SpiceEmitter]) -> None:
    """Every device line, in both dialects, for a crossbar with empty rows and columns, and for
    its transpose (which reuses the first crossbar's texts)."""
    rng = np.random.default_rng(4)
    g = rng.random((37, 11)) * 1e-4 * (rng.random((37, 11)) < 0.6)
    g[5] = 0.0
    g[:, 3] = 0.0
    first = device_values(_crossbar(g))
    for xb, earlier in [(_crossbar(g), []), (_crossbar(g.T.copy(), "t"), [first])]:
        cond = xb.conductance
        want = [emitter.resistor_line.format(f"r_{r}_{c}", f"row_{r}", f"col_{c}",
                                             num(1.0 / cond[r, c]))
                for r in range(cond.shape[0]) for c in range(cond.shape[1]) if cond[r, c] > 0]
        values = device_values(xb, earlier)
        text = crossbar_devices(xb, emitter.resistor_line, values, head="H\n", tail="T")
        assert text == "H\n" + "\n".join(want) + "\nT"
    empty = _crossbar(np.zeros((2, 2)))
    assert crossbar_devices(empty, emitter.resistor_line, head="H\n", tail="T") == "H\n\nT"


DAM = """model lv
layer v[{nv}]: identity tau=0.1
layer h[{nh}]: softmax(4) tau=0.01
weights xi[{nh}, {nv}] = load("w.npy")
energy E = legendre(v) + legendre(h) - h @ xi @ v
input cue[{nv}]: init v
output y[{nv}]: sign(v)
readout at t = 1
"""


@pytest.mark.parametrize("levels", ["0", "16"])
def test_tables_and_include_files_of_a_large_model_match_the_conductances(
        tmp_path: Path, levels: str) -> None:
    """A 192 x 64 model (two crossbars per sign, one the other's transpose; over 4,096 devices
    each), with continuous and with quantised conductances: every table cell is `num` of its
    conductance and every include file has one line per device, R = 1/G by `num`."""
    nv, nh = 64, 192
    rng = np.random.default_rng(5)
    np.save(tmp_path / "w.npy", rng.choice([-1.0, 1.0], (nh, nv)) * rng.random((nh, nv)) / 8)
    (tmp_path / "m.dam").write_text(DAM.format(nv=nv, nh=nh))
    circuit = compile_model(tmp_path / "m.dam", settings={"levels": levels}).circuit
    files = emit_netlists(circuit)
    assert len(circuit.crossbars) == 4
    for xb in circuit.crossbars:
        g = xb.conductance
        table = files[f"tables/{xb.name}.csv"].splitlines()
        rows = list(csv.reader(table[2:]))
        assert [row[1:] for row in rows] == [nums(g[r]) for r in range(g.shape[0])]
        inc = files[f"spice/crossbars/xb_{xb.name}.inc"]
        ohms = [line.split()[-1] for line in inc.splitlines() if line.startswith("r_")]
        assert ohms == [num(1.0 / x) for x in g[g > 0]]
    if levels == "16":
        assert len(np.unique(circuit.crossbars[0].conductance)) <= 17
