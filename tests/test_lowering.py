"""Lowering to the circuit IR: node equations = -dE/dg up to scaling, device window, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from circuitgen import (
    KINDS,
    ideal_switches,
    parity_like_graph,
    random_graph,
    random_inputs,
    xor_graph,
)
from denseamc.backends.circuit_sim import cell_equation_rhs
from denseamc.compiler.pipeline import compile_model, lower
from denseamc.ir import BiasTerm, BilinearTerm, DenseAMCError, ModelGraph
from denseamc.ir.circuit import net, parse_net, read_only
from denseamc.ir.circuit_verify import verify
from denseamc.ir.hardware import resolve_hardware
from denseamc.ir.loc import loc_short
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SCHEMES = ("dual_rail", "differential", "nonnegative")


def energy_gradient(graph: ModelGraph, x: dict[str, np.ndarray], sel: dict) -> dict:
    """-dE/dg for every layer straight from the declared energy terms (E is linear in each g
    apart from the legendre terms, whose g-derivative is x): central differences on g."""
    acts = {lay.name: lay.lagrangian.activation(x[lay.name]) for lay in graph.layers()}

    def interaction(a: dict) -> float:
        e = 0.0
        for t in graph.terms():
            if isinstance(t, BilinearTerm):
                w = graph.weights(t.weights).resolve(sel)
                w = w[0] if w.ndim == 3 else w
                e += t.coef * a[t.a] @ w @ a[t.b]
            elif isinstance(t, BiasTerm):
                e += t.coef * graph.weights(t.weights).resolve() @ a[t.layer]
        return float(e)

    out = {}
    for lay in graph.layers():
        grad = np.zeros(lay.size)
        for i in range(lay.size):
            up = {k: v.copy() for k, v in acts.items()}
            dn = {k: v.copy() for k, v in acts.items()}
            up[lay.name][i] += 1e-3
            dn[lay.name][i] -= 1e-3
            grad[i] = (interaction(up) - interaction(dn)) / 2e-3
        out[lay.name] = -grad  # -dE/dg without the legendre part (that gives -x)
    return out


def check_node_equations(graph: ModelGraph, hw_model: dict, seed: int) -> None:
    """Random states x -> cell outputs -v_unit x; circuit dV/dt == -v_unit dx/dt / tau_unit."""
    hw = resolve_hardware(None, {"g_min": 0.0, **hw_model})
    circuit = ideal_switches(lower(graph, hw))  # what lowering preserves: test_switches.py
    rng = np.random.default_rng(seed)
    inputs = random_inputs(graph, 1, seed)
    sel = {k: v.astype(np.int64) for k, v in inputs.items()
           if graph.input(k).mode == "select"}
    x = {lay.name: rng.normal(0, 1, lay.size) for lay in graph.layers()}
    for inp in graph.inputs():  # clamped neurons sit at their input values
        if inp.mode == "clamp":
            x[inp.layer][list(inp.indices)] = inputs[inp.name][0]
    # tau = 0 layers: at their target (the circuit solves them algebraically)
    for _ in range(50):
        tgt = energy_gradient(graph, x, sel)
        for lay in graph.layers():
            if lay.tau == 0:
                x[lay.name] = tgt[lay.name]
    s = circuit.scaling
    v_out = np.array([[-s.v_unit * x[c.layer][c.index] if c.role == "neuron" else 0.0
                       for c in circuit.cells]])
    got = cell_equation_rhs(circuit, v_out, inputs)[0]
    tgt = energy_gradient(graph, x, sel)
    dyn = [c for c in circuit.cells if c.c_f > 0]
    want = np.array([-s.v_unit * (tgt[c.layer][c.index] - x[c.layer][c.index])
                     / (graph.layer(c.layer).tau * s.tau_unit_s) for c in dyn])
    scale = s.v_unit / s.tau_unit_s
    # energy_gradient's central differences are exact for E linear in each g, up to rounding
    # ~1e-16 |E| / 1e-3 (measured 2e-11 after scaling)
    np.testing.assert_allclose(got / scale, want / scale, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("adiabatic", [False, True])
def test_node_equations_are_minus_energy_gradient(scheme: str, kind: tuple, adiabatic: bool
                                                  ) -> None:
    for seed in range(3):
        g = random_graph(seed, hidden_kind=kind, adiabatic=adiabatic,
                         signed=scheme != "nonnegative")
        check_node_equations(g, {"scheme": scheme}, seed)


@pytest.mark.parametrize("scheme", ["dual_rail", "differential", "nonnegative"])
def test_node_equations_with_selected_crossbars(scheme: str) -> None:
    for seed in range(3):
        check_node_equations(parity_like_graph(seed), {"scheme": scheme}, seed)


def test_node_equations_with_explicit_r_f_and_tau_unit() -> None:
    g = random_graph(4, hidden_kind=("tanh", 1.0))
    check_node_equations(g, {"r_f": 5e3, "g_max": 1e-3, "tau_unit": 1e-6}, 4)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scheme=st.sampled_from(SCHEMES),
       g_min=st.sampled_from([0.0, 1e-6, 5e-6, 2e-5]), levels=st.sampled_from([0, 2, 8, 64]),
       r_f=st.sampled_from(["auto", 3e3, 1e4, 1e5]))
def test_conductances_inside_the_device_window(seed: int, scheme: str, g_min: float,
                                               levels: int, r_f: object) -> None:
    g = random_graph(seed, signed=scheme != "nonnegative")
    hw = resolve_hardware(None, {"scheme": scheme, "g_min": g_min, "levels": levels,
                                 "r_f": r_f, "g_max": 1e-4})
    c = lower(g, hw)
    assert verify(c) == []
    lv = np.linspace(g_min, 1e-4, levels) if levels else None
    for xb in c.crossbars:
        nz = xb.conductance[xb.conductance != 0]
        # the window, with 1e-12 relative room for rounding
        assert np.all(nz >= g_min * (1 - 1e-12)) and np.all(nz <= 1e-4 * (1 + 1e-12))
        if lv is not None:  # on a level, up to rounding (1e-15 S is 1e-11 of g_max)
            assert np.all(np.min(np.abs(nz[:, None] - lv), axis=1) < 1e-15)
    for m in c.mappings:
        assert np.isfinite(m.max_abs_error) and m.lost + m.raised + m.clipped <= m.entries


def test_auto_r_f_maps_the_largest_weight_to_g_max() -> None:
    c = lower(xor_graph())
    assert c.scaling.r_f == (("v", 1e4), ("h", 1e4))
    assert max(float(xb.conductance.max()) for xb in c.crossbars) == pytest.approx(1e-4)  # rounding


def test_explicit_r_f_clips_and_reports() -> None:
    g = xor_graph({"r_f": 2e4})  # |w| = 1 -> 50 uS ... fits; make g_max small to clip
    hw = resolve_hardware(g.hardware, {"g_max": 2e-5})
    c = lower(g, hw)
    # one mapping for xi into v (4 devices: only v[2] is free) and one for xi into h (12),
    # every placed device clipped
    assert [(m.clipped, m.entries) for m in c.mappings] == [(4, 4), (12, 12)]
    assert sum(m.devices for m in c.mappings) == c.counts()["conductance_devices"]
    msgs = [d.message for d in c.diagnostics]
    assert any("clipped to g_max" in m for m in msgs)
    assert c.diagnostics[0].span is not None and c.diagnostics[0].span.line == 9  # the r_f line


def test_weights_below_g_min_are_rounded_and_reported() -> None:
    g = parity_like_graph(1)
    c = lower(g, resolve_hardware(None, {"g_min": 5e-6}))
    assert sum(m.lost for m in c.mappings) > 0
    assert any("lost" in d.message for d in c.diagnostics)


def test_nonnegative_scheme_rejects_negative_weight_with_location() -> None:
    with pytest.raises(DenseAMCError) as exc:
        lower(xor_graph({"scheme": "nonnegative"}))
    d = exc.value.diagnostics[0]
    assert d.span is not None and d.span.line == 6  # the bilinear term
    assert "scheme nonnegative cannot build a negative weight: 'xi'" in d.message
    assert any("declared at gen.dam:5:1" in n for n in d.notes)


def test_tau_unit_auto_meets_the_gbw_margin() -> None:
    c = lower(xor_graph())
    s = c.scaling
    fan_in_h = 3.0  # |xi| row sums into h
    # the fastest layer (h, tau 0.01) with fan-in 3 sets the unit
    # approx: the same formula in another order, rounding only
    assert s.tau_unit_s == pytest.approx(10 * (1 + fan_in_h) / (2 * np.pi * 1e9) / 0.01)
    for cell in c.cells:
        assert cell.tau_s == pytest.approx(c.layer(cell.layer).tau * s.tau_unit_s)


def test_short_tau_unit_warns_amplifier_limited() -> None:
    c = lower(xor_graph({"tau_unit": 1e-9}))
    assert any("amplifier-limited" in d.message for d in c.diagnostics)


def test_clamps_become_sources_and_have_no_cell() -> None:
    c = lower(xor_graph())
    assert [v.net for v in c.voltage_sources] == ["v_x_0", "v_x_1"]
    v_unit = c.scaling.v_unit  # auto: 0.24 V for xor (test_v_unit_auto.py)
    assert [v.gain_v for v in c.voltage_sources] == [-v_unit, -v_unit]
    assert {(cell.layer, cell.index) for cell in c.cells} == {("v", 2)} | {
        ("h", i) for i in range(4)}
    # the crossbar into v only has the free neuron's column
    into_v = [xb for xb in c.crossbars if xb.target == "v"]
    assert [xb.col_nets for xb in into_v] == [("v_sum_2",)] * 2  # the pos and neg crossbars


def test_dual_rail_uses_inverted_rails_and_identity_rail_is_the_cell_output() -> None:
    c = lower(xor_graph())
    neg = {xb.name: xb for xb in c.crossbars if xb.polarity == "neg"}
    assert neg["xb1_xi_v_h_neg"].row_nets == ("v_x_0", "v_x_1", "v_x_2")
    assert neg["xb0_xi_h_v_neg"].row_nets == ("h_gn_0", "h_gn_1", "h_gn_2", "h_gn_3")


def test_every_component_has_provenance() -> None:
    c = lower(parity_like_graph())
    for comp in c.components():
        assert comp.source_line.startswith("gen.dam:"), comp.name
    assert loc_short(c.crossbars[0].loc) == "gen.dam:14,gen.dam:6"


def test_net_names_round_trip() -> None:
    assert parse_net(net("my_layer", "gp", 12)) == ("my_layer", "gp", 12)
    with pytest.raises(ValueError):
        parse_net("foo_bar_1")


def test_verify_reports_out_of_window_conductance() -> None:
    c = lower(xor_graph())
    bad = dataclasses.replace(c.crossbars[0], conductance=read_only(
        np.full(c.crossbars[0].conductance.shape, 5e-4)))
    c2 = dataclasses.replace(c, crossbars=(bad, *c.crossbars[1:]))
    msgs = [d.message for d in verify(c2)]
    assert any("outside [1e-06, 0.0001] S" in m for m in msgs)
    c3 = dataclasses.replace(c, cells=c.cells[1:])
    assert any("not the summing node of a cell" in d.message for d in verify(c3))


def test_lowering_is_deterministic() -> None:
    a, b = lower(parity_like_graph(2)), lower(parity_like_graph(2))
    assert [x.name for x in a.components()] == [x.name for x in b.components()]
    for xa, xb in zip(a.crossbars, b.crossbars, strict=True):
        assert np.array_equal(xa.conductance, xb.conductance)


def test_weight_mappings_count_the_devices_the_circuit_places() -> None:
    """One device count: a mapping counts the devices of its crossbars (no column into a
    clamped neuron; a selected table once per selected line), as CircuitIR.counts does."""
    for path in ("xor.dam", "parity8.dam", "hamming74.dam"):
        c = compile_model(EXAMPLES / path).circuit
        for m in c.mappings:
            mine = [a for a in c.arrays if a.name in (f"{m.crossbar}_pos", f"{m.crossbar}_neg")]
            assert m.devices == sum(a.devices for a in mine), (path, m.crossbar)
        assert sum(m.devices for m in c.mappings) == c.counts()["conductance_devices"]
