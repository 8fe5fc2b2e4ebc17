"""Select switches with on/off resistance (hardware keys r_on, r_off), modelled everywhere.

* `ir_drop.switched` equals an independent nodal analysis of the netlists' wiring (every
  switch to a private node carrying its option's devices), both axes, realised tables;
* ideal switches (r_on = 0, r_off = inf) give the connected conductances bit for bit;
* the netlists carry the keys, and ngspice and OpenVAF + VACASK agree with the circuit backend
  on a generated parity-like model at the defaults and with finite-gain amplifiers and 1 kohm
  switches (parity8 itself: tests/test_spice.py, tests/test_veriloga.py);
* r_on >= r_off is a located error.

Needs ngspice and openvaf-r + vacask (see tests/test_spice.py, tests/test_veriloga.py).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from circuitgen import parity_like_graph, random_inputs
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.cosim import compare_with_circuit, run_spice, run_veriloga
from denseamc.backends.ir_drop import selected_map, switched
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import stimuli
from denseamc.backends.veriloga import VacaskEmitter
from denseamc.compiler.pipeline import lower
from denseamc.ir import DenseAMCError
from denseamc.ir.crossbars import SelectedCrossbar
from denseamc.ir.hardware import KEYS, resolve_hardware

# v_unit: the netlists against the circuit backend, as in tests/test_spice.py (TIGHT) and, for
# finite-gain op-amps, the op-amp modelling difference (OPAMP)
TIGHT = 1e-4
OPAMP = 1e-3


def nodal(sx: SelectedCrossbar, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G_eff, Y_cc - diag(colsum G_eff)) of the wired network for one select vector, by a dense
    Schur complement over the private switch nodes (the oracle)."""
    rows, cols = len(sx.row_nets), len(sx.col_nets)
    n_t = rows + cols
    lines = [(r if sx.axis == "rows" else rows + r) for r in range(len(sx.lines))]
    others = (list(range(rows, n_t)) if sx.axis == "rows" else list(range(rows)))
    n_opt = sx.n_options
    n = n_t + len(lines) * n_opt
    y = np.zeros((n, n))

    def branch(a: int, b: int, g: float) -> None:
        y[a, a] += g
        y[b, b] += g
        y[a, b] -= g
        y[b, a] -= g

    for li, line in enumerate(lines):
        table = sx.table if sx.line_tables is None else sx.line_tables[li]
        for k in range(n_opt):
            x = n_t + li * n_opt + k
            r_s = sx.r_on if sel[sx.lines[li]] == k else sx.r_off
            branch(line, x, 1.0 / r_s)
            for o, other in enumerate(others):
                if table[k, o] > 0:
                    branch(x, other, float(table[k, o]))
    t, i = slice(0, n_t), slice(n_t, n)
    schur = y[t, t] - y[t, i] @ np.linalg.solve(y[i, i], y[i, t])
    g_eff = -schur[:rows, rows:]
    return g_eff, schur[rows:, rows:] - np.diag(g_eff.sum(axis=0))


@pytest.fixture(scope="module")
def parity_like() -> tuple:
    g = parity_like_graph(4)
    return g, lower(g, resolve_hardware(g.hardware))


def test_default_keys_reach_the_circuit(parity_like: tuple) -> None:
    _, c = parity_like
    assert {sx.axis for sx in c.selected_crossbars} == {"rows", "cols"}
    for sx in c.selected_crossbars:
        assert (sx.r_on, sx.r_off) == (KEYS["r_on"].default, KEYS["r_off"].default)


@pytest.mark.parametrize("realised", [False, True])
def test_switched_is_the_nodal_analysis_of_the_wiring(parity_like: tuple, realised: bool) -> None:
    g, c = parity_like
    rng = np.random.default_rng(7)
    sel = random_inputs(g, 5, 3)["bits"].astype(np.int64)
    for sx in c.selected_crossbars:
        # a small r_off so the unselected options' leakage and coupling are large enough to see
        sx = replace(sx, r_on=700.0, r_off=5e4)
        if realised:
            tables = sx.table[None] * rng.uniform(0.5, 1.5, (len(sx.lines), *sx.table.shape))
            sx = replace(sx, line_tables=tables)
        got_g, got_w = switched(sx, sel)
        for b in range(sel.shape[0]):
            want_g, want_w = nodal(sx, sel[b])
            np.testing.assert_allclose(got_g[b], want_g, rtol=1e-9, atol=1e-18)
            if sx.axis == "rows":  # the summing nodes are coupled through the private nodes
                assert got_w is not None and np.abs(want_w).max() > 1e-7
                np.testing.assert_allclose(got_w[b], want_w, rtol=1e-9, atol=1e-18)
            else:  # one summing node per star: nothing to couple
                assert got_w is None
                np.testing.assert_allclose(want_w, 0.0, atol=1e-18)
        # with no leakage, the series law on the selected option: G / (1 + r_on sum G) < G
        tight, _ = switched(replace(sx, r_off=np.inf), sel)
        ideal = sx.conductance(sel)
        assert np.all(tight[ideal > 0] < ideal[ideal > 0])


def test_ideal_switches_are_bit_identical(parity_like: tuple) -> None:
    g, c = parity_like
    sel = random_inputs(g, 6, 1)["bits"].astype(np.int64)
    for sx in c.selected_crossbars:
        ideal = replace(sx, r_on=0.0, r_off=np.inf)
        got, w = selected_map(ideal, sel)
        assert w is None and np.array_equal(got, ideal.conductance(sel))
        # and the limit is continuous: r_on -> 0, r_off -> inf approach it
        near, _ = switched(replace(sx, r_on=1e-6, r_off=1e18), sel)
        np.testing.assert_allclose(near, got, rtol=1e-8, atol=1e-20)


def test_r_on_changes_the_circuit_result(parity_like: tuple) -> None:
    """The switches are in the node equations: 100 ohm moves the states, ideal ones do not."""
    g, c = parity_like
    inputs = random_inputs(g, 3, 2)
    ideal = replace(c, selected_crossbars=tuple(replace(sx, r_on=0.0, r_off=np.inf)
                                                for sx in c.selected_crossbars))
    a, b = simulate_circuit(c, inputs), simulate_circuit(ideal, inputs)
    assert max(float(np.abs(a.states[k] - b.states[k]).max()) for k in a.states) > 1e-3


def test_netlists_carry_the_keys(parity_like: tuple) -> None:
    g, c = parity_like
    c = replace(c, selected_crossbars=tuple(replace(sx, r_on=321.0, r_off=4.5e8)
                                            for sx in c.selected_crossbars))
    stim = stimuli(c, random_inputs(g, 1, 0))[0]
    spice = NgspiceEmitter(c, stim).format()
    switches = [ln for ln in spice.splitlines() if ln.startswith("b_") and " > " in ln]
    assert switches and all(ln.endswith("> 0.45 ? 321.0 : 450000000.0)") for ln in switches)
    va = VacaskEmitter(c, stim).format()
    switches = [ln for ln in va.splitlines() if ") dam_switch " in ln]
    assert switches and all(ln.endswith("ron=321.0 roff=450000000.0") for ln in switches)


@pytest.mark.parametrize("run", [run_spice, run_veriloga], ids=["spice", "veriloga"])
def test_netlists_agree_with_circuit_backend(parity_like: tuple, run: object) -> None:
    g, c = parity_like
    inputs = random_inputs(g, 3, 6)
    got = run(c, inputs, timeout_s=120)  # type: ignore[operator]
    agreement = compare_with_circuit(c, got, simulate_circuit(c, inputs), tol_v_unit=TIGHT)
    assert agreement.ok and agreement.worst_net, "\n".join(agreement.lines())


def test_netlists_agree_with_finite_gain_and_1kohm_switches() -> None:
    g = parity_like_graph(6)
    hw = resolve_hardware(g.hardware, {"amplifier": "nonideal", "a0": 2000, "r_on": "1kohm",
                                       "r_off": "1Mohm"})
    c = lower(g, hw)
    inputs = random_inputs(g, 2, 1)
    ref = simulate_circuit(c, inputs)
    for run in (run_spice, run_veriloga):
        agreement = compare_with_circuit(c, run(c, inputs, timeout_s=120), ref,
                                         tol_v_unit=OPAMP)
        assert agreement.ok, "\n".join(agreement.lines())


def test_r_on_must_be_below_r_off() -> None:
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware(None, {"r_on": "2k", "r_off": "1k"})
    assert "r_on = 2000.0 ohm must be below r_off = 1000.0 ohm" in str(exc.value)
    with pytest.raises(DenseAMCError) as exc:
        resolve_hardware(None, None, {"r_on": "0"})
    assert "outside the allowed range" in str(exc.value)
