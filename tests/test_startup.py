"""Start-up: what a short command imports, and the graph IR's networkx view built on demand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from denseamc.compiler.pipeline import compile_model
from denseamc.ir import ModelGraph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Modules `denseamc check --backend model` must not import: graph algorithms, the circuit
#: simulator and the netlist backends, scipy, plotting, YAML (no profile given), lark (the
#: generated parser runs without it), XML (no --junit-xml).
NOT_ON_THE_CHECK_PATH = ("networkx", "scipy", "matplotlib", "yaml", "lark", "xml",
                         "denseamc.backends.circuit_sim", "denseamc.backends.circuit_plan",
                         "denseamc.backends.circuit_stack", "denseamc.backends.circuit_result",
                         "denseamc.backends.cosim", "denseamc.backends.runners")

_PROBE = """
import json, sys
from denseamc.compiler.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_check_on_the_model_backend_imports_only_what_it_uses() -> None:
    model = EXAMPLES / "hamming74.dam"
    run = subprocess.run([sys.executable, "-c", _PROBE, "check", str(model), "--backend", "model"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["code"] == 0, run.stdout
    assert "PASS" in run.stdout
    loaded = [m for m in result["modules"]
              if any(m == bad or m.startswith(bad + ".") for bad in NOT_ON_THE_CHECK_PATH)]
    assert loaded == []


@pytest.mark.parametrize("name", ["xor", "hamming74", "parity8"])
def test_networkx_view_is_the_ir(name: str) -> None:
    graph: ModelGraph = compile_model(EXAMPLES / f"{name}.dam").graph  # drive edges included
    g = graph.nx
    assert list(g.nodes) == graph.node_ids()
    assert [g.nodes[n]["order"] for n in g.nodes] == list(range(len(graph.node_ids())))
    assert all(g.nodes[n]["op"] is graph.op(n) for n in g.nodes)
    for src, dst, port, data in g.edges(keys=True, data=True):
        assert data["port"] == port
        assert graph.has(src) and graph.has(dst)
    assert any(graph.drive_sources(layer.name) for layer in graph.layers())
    for layer in graph.layers():
        drives = sorted(src.split(".", 1)[1]
                        for src, _, port in g.in_edges(f"layer.{layer.name}", keys=True)
                        if port == "drive")
        assert drives == graph.drive_sources(layer.name)
    # every term is wired to the layers (and weights) it names
    for n in g.nodes:
        if n.startswith("term."):
            assert g.out_degree(n) >= 1
    # a view, not the storage: changing it leaves the IR as it was
    g.remove_nodes_from(list(g.nodes))
    assert graph.node_ids() == list(graph.nx.nodes)


def test_edges_are_kept_once_per_port() -> None:
    graph = compile_model(EXAMPLES / "xor.dam").graph
    layer = graph.layers()[0].name
    before = graph.nx.number_of_edges()
    had_drive = layer in graph.drive_sources(layer)
    graph.add_drive_edge(layer, layer)
    graph.add_drive_edge(layer, layer)
    assert graph.nx.number_of_edges() == before + (0 if had_drive else 1)
    assert graph.drive_sources(layer).count(layer) == 1
