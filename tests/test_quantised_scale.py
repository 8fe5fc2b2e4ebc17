"""r_f = auto on a level grid (issue #12): `scale` searches R_F in [r_min, 2 r_min] for the
smallest RMS weight error of each layer's weights (compiler/passes/scale.py, module rules).

On generated models (parity8's architecture with random, signed and non-negative selected
tables behind select switches; random two-layer models with clamps) and several level counts:

* the chosen R_F is in [r_min, R_F_SEARCH_SPAN r_min]; its RMS error is <= the naive R_F's
  (r_min), and <= the best of a brute-force grid of 4001 candidates over the same span plus
  BRUTE_TOL (1%) of the naive R_F's RMS error;
* the search's error is the lowered circuit's: at the chosen R_F the worst error it computes
  is the largest `max error` of the lowered crossbars into that layer;
* the lowered circuit's RMS errors are no worse than with the search turned off;
* levels = 0: R_F is max|w| / g_max (or the switch headroom) exactly; a user-set r_f is used
  as is, levels or not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from circuitgen import parity_like_graph, random_graph
from denseamc.compiler.passes import scale
from denseamc.compiler.passes.circuit_builder import max_abs_drive_weight
from denseamc.compiler.pipeline import lower
from denseamc.ir import ModelGraph
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import Hardware, resolve_hardware

#: The search (3 stages of 128 candidates) against a 4001-point grid: within this fraction of
#: the naive R_F's RMS error of the grid's best (the search may also beat the grid).
BRUTE_TOL = 0.01
BRUTE_POINTS = 4001


def graphs() -> list[tuple[str, ModelGraph]]:
    out = [(f"parity_like{s}", parity_like_graph(s)) for s in range(3)]
    out += [(f"parity_like_signed{s}", parity_like_graph(s, signed=True)) for s in range(2)]
    out += [(f"random{s}", random_graph(s)) for s in range(4)]
    return out


GRAPHS = graphs()


def r_min(graph: ModelGraph, hw: Hardware, layer: str) -> float:
    """The naive R_F (the rule without levels): largest weight at g_max, switch headroom."""
    wmax = max((max_abs_drive_weight(graph, d) for d in graph.dynamics[layer].drives),
               default=0.0)
    return max(wmax / hw.g_max, scale._switch_headroom(graph, hw, layer))


def driven_layers(graph: ModelGraph) -> list[str]:
    return [lay.name for lay in graph.layers() if graph.dynamics[lay.name].drives]


def rms(graph: ModelGraph, hw: Hardware, layer: str, r_f: float) -> float:
    tables = scale.layer_tables(graph, hw, layer)
    return float(scale.quantisation_errors(tables, np.array([r_f]), hw)[1][0])


@pytest.mark.parametrize("levels", [8, 32])
@pytest.mark.parametrize(("name", "graph"), GRAPHS, ids=[n for n, _ in GRAPHS])
def test_search_beats_naive_and_matches_brute_force(name: str, graph: ModelGraph,
                                                    levels: int) -> None:
    hw = resolve_hardware(graph.hardware, {"levels": levels, "g_min": 2e-6, "r_on": 200.0})
    circuit = lower(graph, hw)
    for layer in driven_layers(graph):
        lo = r_min(graph, hw, layer)
        chosen = circuit.scaling.r_f_of(layer)
        assert lo * (1 - 1e-12) <= chosen <= lo * scale.R_F_SEARCH_SPAN * (1 + 1e-12)
        tables = scale.layer_tables(graph, hw, layer)
        grid = np.linspace(lo, lo * scale.R_F_SEARCH_SPAN, BRUTE_POINTS)
        brute = scale.quantisation_errors(tables, grid, hw)[1]
        naive, got = rms(graph, hw, layer, lo), rms(graph, hw, layer, chosen)
        assert got <= naive
        assert got <= float(brute.min()) + BRUTE_TOL * naive, (layer, got, brute.min(), naive)
        # the search's worst error is what lowering realises into this layer
        w_got = float(scale.quantisation_errors(tables, np.array([chosen]), hw)[0][0])
        lowered = max(m.max_abs_error for m in circuit.mappings
                      if m.crossbar.endswith(f"_{layer}"))
        assert math.isclose(w_got, lowered, rel_tol=1e-9, abs_tol=1e-9)


def squared_error(graph: ModelGraph, circuit: CircuitIR, layer: str) -> float:
    """Sum of squared weight errors (model units^2) of the lowered crossbars into `layer`, each
    drive's table counted once (a selected one is lowered once per line): the search's RMS
    measure times its weight count."""
    total = 0.0
    for m in circuit.mappings:
        d = next((d for d in graph.dynamics[layer].drives
                  if m.crossbar.endswith(f"_{d.weights}_{d.source}_{layer}")), None)
        if d is not None:
            total += m.rms_error**2 * scale.device_table(graph, d, layer).size
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_search_improves_the_lowered_circuit(seed: int, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """Per layer, the lowered crossbars' squared weight error is no worse than with the search
    off (span 1: R_F = r_min), and better for at least one layer of the model."""
    graph = parity_like_graph(seed)
    hw = resolve_hardware(graph.hardware, {"levels": 32, "g_min": 2e-6, "r_on": 200.0})
    after = lower(graph, hw)
    monkeypatch.setattr(scale, "R_F_SEARCH_SPAN", 1.0)
    before = lower(graph, hw)
    better = False
    for layer in driven_layers(graph):
        b, a = (squared_error(graph, c, layer) for c in (before, after))
        assert a <= b * (1 + 1e-9) + 1e-18
        better |= a < b * (1 - 1e-3)
    assert better


@pytest.mark.parametrize(("name", "graph"), GRAPHS[:1] + GRAPHS[-2:],
                         ids=[n for n, _ in GRAPHS[:1] + GRAPHS[-2:]])
def test_without_levels_r_f_is_the_naive_rule(name: str, graph: ModelGraph) -> None:
    hw = resolve_hardware(graph.hardware, {"levels": 0, "g_min": 2e-6, "r_on": 200.0})
    circuit = lower(graph, hw)
    for layer in driven_layers(graph):
        assert circuit.scaling.r_f_of(layer) == r_min(graph, hw, layer)


@pytest.mark.parametrize("levels", [0, 32])
def test_user_r_f_is_kept(levels: int) -> None:
    graph = parity_like_graph(0)
    hw = resolve_hardware(graph.hardware, {"levels": levels, "r_f": 47e3})
    circuit = lower(graph, hw)
    assert {r for _, r in circuit.scaling.r_f} == {47e3}


def test_quantise_is_the_nearest_level() -> None:
    """The computed level index is the nearest level (as a search over the levels finds)."""
    hw = Hardware(g_min=2e-6, g_max=1e-4, levels=32)
    g = np.random.default_rng(0).uniform(0, 1.2e-4, 5000)
    g[:10] = 0.0
    levels = np.linspace(hw.g_min, hw.g_max, hw.levels)
    want = np.where(g > 0, levels[np.abs(g[:, None] - levels[None, :]).argmin(axis=1)], 0.0)
    np.testing.assert_array_equal(scale.quantise(g, hw), want)
