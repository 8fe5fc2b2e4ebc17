"""Device and amplifier non-idealities: the hardware keys, `--set`, the `realise` pass, IR drop
and the circuit backend on realised circuits (issue 10, items 1-3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.emit import emit_netlists
from denseamc.backends.ir_drop import terminal_map
from denseamc.compiler.cli import main
from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.passes.realise import NONIDEAL_KEYS, Realise, any_nonideal, realise
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.compiler.verdicts import judge
from denseamc.ir import DenseAMCError, HardwareSetting
from denseamc.ir.circuit import CircuitIR, read_only
from denseamc.ir.circuit_verify import verify
from denseamc.ir.hardware import Hardware, resolve_hardware
from denseamc.ir.printer import dump_circuit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _compile(name: str, **settings: str) -> Compilation:
    return compile_model(EXAMPLES / name, settings=settings)


def _big_crossbar(circuit: CircuitIR, rows: int, cols: int, g: float) -> CircuitIR:
    """`circuit` with its first crossbar replaced by a full rows x cols array of g siemens
    (nets reused cyclically: only the device statistics are looked at)."""
    xb = circuit.crossbars[0]
    big = replace(xb, conductance=read_only(np.full((rows, cols), g)),
                  row_nets=tuple(xb.row_nets[i % len(xb.row_nets)] for i in range(rows)),
                  col_nets=tuple(xb.col_nets[i % len(xb.col_nets)] for i in range(cols)))
    return replace(circuit, crossbars=(big,))


# -- settings ----------------------------------------------------------------------------------


def test_every_nonideality_defaults_to_ideal() -> None:
    hw = Hardware()
    assert set(NONIDEAL_KEYS) == {"g_sigma", "p_stuck_off", "p_stuck_on", "r_wire",
                                  "offset_sigma", "act_gain_sigma", "act_offset_sigma", "c_sigma",
                                  "g_noise"}
    assert all(getattr(hw, k) == 0 for k in NONIDEAL_KEYS)
    assert not any_nonideal(hw)


def test_set_wins_over_model_block_and_profile() -> None:
    model = {"g_sigma": HardwareSetting("g_sigma", 0.02), "r_wire": HardwareSetting("r_wire", 3)}
    profile = {"g_sigma": 0.01, "offset_sigma": "1mV", "r_wire": 5}
    hw = resolve_hardware(model, profile, {"r_wire": "1ohm"})
    assert (hw.g_sigma, hw.offset_sigma, hw.r_wire) == (0.02, 1e-3, 1.0)
    assert (hw.origin["g_sigma"], hw.origin["offset_sigma"], hw.origin["r_wire"]) == (
        "model", "profile", "set")


def test_set_reaches_the_compilation_and_zero_changes_nothing() -> None:
    nominal = _compile("xor.dam")
    zero = _compile("xor.dam", g_sigma="0", r_wire="0")
    assert zero.hardware.origin["g_sigma"] == "set"
    assert dump_circuit(zero.circuit) == dump_circuit(nominal.circuit)
    assert realise(zero.circuit, zero.hardware, 7, 3) is zero.circuit


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "g_sigma=-0.1"], "error: --set g_sigma=-0.1: -0.1 is outside the allowed range"),
    (["--set", "g_sigm=0.1"], "did you mean 'g_sigma'?"),
    (["--set", "r_wire=2V"], "error: --set r_wire=2V: unit 'V' does not fit"),
    (["--set", "g_sigma"], "--set 'g_sigma': expected KEY=VALUE"),
    (["--set", "p_stuck_off=0.7", "--set", "p_stuck_on=0.6"], "p_stuck_off + p_stuck_on"),
])
def test_bad_set_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                         tmp_path: Path) -> None:
    out = tmp_path / "out"
    for command in (["check"], ["simulate"], ["compile", "-o", str(out)]):
        code = main([*command, str(EXAMPLES / "xor.dam"), *argv])
        assert code == 2
        assert message in capsys.readouterr().err
    assert not out.exists()


# -- the realise pass --------------------------------------------------------------------------

_ALL = {"g_sigma": "0.05", "p_stuck_off": "0.01", "p_stuck_on": "0.01", "r_wire": "1",
        "offset_sigma": "1m", "act_gain_sigma": "0.01", "act_offset_sigma": "1m",
        "c_sigma": "0.01"}


def _values(c: CircuitIR) -> list[object]:
    """Every realised value of a circuit, for equality of draws."""
    out: list[object] = [x.conductance.tolist() for x in c.crossbars]
    out += [None if x.line_tables is None else x.line_tables.tolist()
            for x in c.selected_crossbars]
    out += [(x.v_offset, x.c_f) for x in c.cells]
    out += [(a.rail_gain, a.rail_offset) for a in c.activations]
    return out


def test_draw_is_deterministic_and_independent_of_other_draws() -> None:
    comp = _compile("parity8.dam", **_ALL)
    c, hw = comp.circuit, comp.hardware
    first = realise(c, hw, 11, 4)
    for d in range(4):  # other draws in between change nothing
        realise(c, hw, 11, d)
    again = realise(c, hw, 11, 4)
    assert _values(again) == _values(first)
    assert _values(realise(c, hw, 11, 5)) != _values(first)
    assert _values(realise(c, hw, 12, 4)) != _values(first)
    assert first.draw == (11, 4) and verify(first) == []
    # a component's draw does not depend on which other components exist
    alone = realise(replace(c, crossbars=c.crossbars[1:]), hw, 11, 4)
    assert alone.crossbars[0].conductance.tolist() == first.crossbars[1].conductance.tolist()
    # the pass form is the same function
    lowered = Realise(seed=11, draw=4).run(Lowered(comp.graph, hw, c))
    assert _values(lowered.circuit) == _values(first)


def test_forward_and_transposed_arrays_get_independent_devices() -> None:
    comp = _compile("xor.dam", g_sigma="0.05")
    r = realise(comp.circuit, comp.hardware, 0, 0)
    pairs = {}
    for nominal, real in zip(comp.circuit.crossbars, r.crossbars, strict=True):
        ratio = np.log(real.conductance[nominal.conductance > 0]
                       / nominal.conductance[nominal.conductance > 0])
        pairs[(nominal.weights, nominal.polarity, nominal.transpose)] = np.sort(ratio)
    forward = [k for k in pairs if not k[2] and (k[0], k[1], True) in pairs]
    assert forward, "xor has a bilinear term with both directions"
    for k in forward:
        assert not np.array_equal(pairs[k], pairs[(k[0], k[1], True)])


def test_g_sigma_is_lognormal_with_the_stated_spread() -> None:
    comp = _compile("xor.dam", g_sigma="0.1")
    c = _big_crossbar(comp.circuit, 200, 200, 5e-5)
    g = realise(c, comp.hardware, 3, 0).crossbars[0].conductance
    log_ratio = np.log(g / 5e-5).ravel()
    n = log_ratio.size  # 40000 devices
    # mean of n N(0, 0.1) draws: standard error 0.1/sqrt(n) = 5e-4; 5 standard errors
    assert abs(log_ratio.mean()) < 5 * 0.1 / np.sqrt(n)
    # sample std: standard error ~ sigma / sqrt(2 n) = 3.5e-4; 5 standard errors
    assert abs(log_ratio.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * n)


def test_stuck_fractions_and_empty_positions() -> None:
    comp = _compile("xor.dam", p_stuck_off="0.1", p_stuck_on="0.05")
    c = _big_crossbar(comp.circuit, 200, 200, 5e-5)
    nominal = np.array(c.crossbars[0].conductance)
    nominal[0, :] = 0.0  # a row without devices stays without devices
    c = replace(c, crossbars=(replace(c.crossbars[0], conductance=read_only(nominal)),))
    g = realise(c, comp.hardware, 5, 1).crossbars[0].conductance
    assert np.all(g[0] == 0)
    dev = g[1:].ravel()
    n = dev.size
    for p, got in ((0.1, np.mean(dev == 0)), (0.05, np.mean(dev == comp.hardware.g_max))):
        # binomial fraction: standard error sqrt(p (1 - p) / n) <= 1.5e-3; 5 standard errors
        assert abs(got - p) < 5 * np.sqrt(p * (1 - p) / n)
    assert np.all((dev == 0) | (dev == comp.hardware.g_max) | (dev == 5e-5))


# -- IR drop -------------------------------------------------------------------------------------


def _dense_nodal(g: np.ndarray, r_wire: float) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: solve the whole network (internal nodes, every terminal a
    voltage source) once per unit terminal voltage, and read the column terminals' currents."""
    rows, cols = g.shape
    gw = 1.0 / r_wire

    def row_node(r: int, c: int) -> int:
        return r * cols + c

    def col_node(r: int, c: int) -> int:
        return rows * cols + r * cols + c

    n = 2 * rows * cols
    out_g = np.zeros((rows, cols))
    out_y = np.zeros((cols, cols))
    for t in range(rows + cols):  # the terminal at 1 V, the others at 0 V
        a = np.zeros((n, n))
        rhs = np.zeros(n)
        links: list[tuple[int, int | None, float, float]] = []
        for r in range(rows):
            links.append((row_node(r, 0), None, gw, 1.0 if t == r else 0.0))
            for c in range(cols):
                links.append((row_node(r, c), col_node(r, c), g[r, c], 0.0))
                if c + 1 < cols:
                    links.append((row_node(r, c), row_node(r, c + 1), gw, 0.0))
                if r + 1 < rows:
                    links.append((col_node(r, c), col_node(r + 1, c), gw, 0.0))
        for c in range(cols):
            links.append((col_node(rows - 1, c), None, gw, 1.0 if t == rows + c else 0.0))
        for p, q, cond, v_q in links:  # stamp each branch; q None: to a source at v_q
            a[p, p] += cond
            if q is None:
                rhs[p] += cond * v_q
            else:
                a[q, q] += cond
                a[p, q] -= cond
                a[q, p] -= cond
        v = np.linalg.solve(a, rhs)
        v_term = np.zeros(cols)
        if t >= rows:
            v_term[t - rows] = 1.0
        into_sum = gw * (v[[col_node(rows - 1, c) for c in range(cols)]] - v_term)
        if t < rows:
            out_g[t] = into_sum
        else:
            out_y[:, t - rows] = -into_sum
    return out_g, out_y


def test_ir_drop_matches_an_independent_dense_solve() -> None:
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, (3, 4))
    g[1, 2] = 0.0  # a missing device
    g_eff, w = terminal_map(g, 50.0)
    ref_g, ref_y = _dense_nodal(g, 50.0)
    assert w is not None
    # two exact solves of the same linear network: agreement to rounding (1e-12 relative)
    np.testing.assert_allclose(g_eff, ref_g, rtol=1e-9, atol=1e-12 * g.max())
    np.testing.assert_allclose(w + np.diag(g_eff.sum(axis=0)), ref_y, rtol=1e-9,
                               atol=1e-12 * g.max())
    present = g > 0
    assert np.all(g_eff[present] < g[present])  # every device loses some of its current
    assert g_eff[1, 2] > 0  # and a missing device's position couples through the wires


def test_vanishing_wire_resistance_gives_g() -> None:
    g = np.random.default_rng(1).uniform(1e-6, 1e-4, (5, 6))
    assert terminal_map(g, 0.0) == (g, None)
    g_eff, w = terminal_map(g, 1e-3)
    assert w is not None
    # the first-order IR drop is r_wire * (rows + cols) * g = 1e-3 * 11 * 1e-4 ~ 1e-6 relative;
    # rounding in the Schur complement is ~ eps / (r_wire g_min) ~ 1e-16 * 1e3 / 1e-6 = 1e-7
    np.testing.assert_allclose(g_eff, g, rtol=1e-5)
    assert np.abs(w).max() < 1e-5 * g.max()


# -- the circuit backend on realised circuits ---------------------------------------------------


def _accuracy(comp: Compilation, circuit: CircuitIR) -> float:
    passed = total = 0
    for block in comp.graph.tests:
        res = simulate_circuit(circuit, block.stacked_inputs(), deviation=False)
        verdict = judge(block, res.outputs, comp.graph.outputs())
        passed, total = passed + verdict.n_passed, total + verdict.n_total
    return passed / total


def test_realised_xor_still_passes_on_the_circuit_backend() -> None:
    comp = _compile("xor.dam", g_sigma="0.02", r_wire="1", offset_sigma="1m",
                    act_gain_sigma="0.01", act_offset_sigma="1m", c_sigma="0.01")
    for draw in range(3):
        assert _accuracy(comp, realise(comp.circuit, comp.hardware, 0, draw)) == 1.0


@pytest.mark.parametrize("scheme", ["dual_rail", "differential"])
def test_ideal_and_single_pole_amplifiers_agree_on_a_realised_circuit(scheme: str) -> None:
    """The offsets and the wire coupling enter the two amplifier models differently (a held
    summing node vs the op-amp's input; differential: the inverters' summing nodes are solved
    with the wire coupling W); with a large a0 and gbw they must agree."""
    comp = _compile("xor.dam", g_sigma="0.05", r_wire="20", offset_sigma="5m", amplifier="nonideal",
                    a0="1e7", gbw="1T", slew="1e15", scheme=scheme)
    assert scheme == "dual_rail" or any(c.c_f == 0 for c in comp.circuit.cells)
    circuit = realise(comp.circuit, comp.hardware, 2, 0)
    inputs = comp.graph.tests[0].stacked_inputs()
    res = simulate_circuit(circuit, inputs)
    assert res.deviation is not None
    # finite a0 = 1e7 leaves ~1e-7 relative error; 1e-4 model units is far above it and far
    # below the 5 mV offsets' effect (0.05 model units at v_unit 0.1 V)
    assert max(float(d.max()) for d in res.deviation.values()) < 1e-4


def test_offsets_move_the_settled_state() -> None:
    comp = _compile("xor.dam", offset_sigma="10m")
    inputs = comp.graph.tests[0].stacked_inputs()
    nominal = simulate_circuit(comp.circuit, inputs)
    real = simulate_circuit(realise(comp.circuit, comp.hardware, 0, 0), inputs)
    diff = max(float(np.abs(real.states[k] - nominal.states[k]).max()) for k in real.states)
    assert diff > 1e-3  # 10 mV offsets are 0.1 model units at the summing nodes


def test_netlists_of_a_draw_with_wired_switches_are_refused() -> None:
    # offsets and activation mismatch are written; wires through analog switches not yet
    comp = _compile("parity8.dam", g_sigma="0.02", r_wire="1")
    with pytest.raises(DenseAMCError, match="do not write r_wire on a selected crossbar"):
        emit_netlists(realise(comp.circuit, comp.hardware, 0, 0))


def test_check_with_every_setting_zero_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(EXAMPLES / "xor.dam")
    assert main(["check", model, "--backend", "circuit"]) == 0
    plain = capsys.readouterr().out
    zeros = [x for k in NONIDEAL_KEYS for x in ("--set", f"{k}=0")]
    assert main(["check", model, "--backend", "circuit", *zeros]) == 0
    assert capsys.readouterr().out == plain
