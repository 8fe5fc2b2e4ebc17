"""A JSON description of a model's derived dynamics, for tools and for people."""

from __future__ import annotations

import json
from typing import Any

from denseamc.ir import ModelGraph


def dynamics_dict(graph: ModelGraph) -> dict[str, Any]:
    """The ODE `tau dx/dt = sum drives + biases - x` per layer, with inputs and outputs."""
    layers = []
    for layer in graph.layers():
        d = graph.dynamics[layer.name]
        layers.append({
            "name": layer.name,
            "size": layer.size,
            "lagrangian": layer.lagrangian.kind,
            "lagrangian_param": layer.lagrangian.param,
            "tau": layer.tau,
            "adiabatic": layer.tau == 0,
            "init": layer.init,
            "drives": [
                {"source": dr.source, "weights": dr.weights, "coef": dr.coef,
                 "transpose": dr.transpose, "line": dr.loc.line if dr.loc else None}
                for dr in d.drives
            ],
            "biases": [
                {"weights": b.weights, "coef": b.coef, "line": b.loc.line if b.loc else None}
                for b in d.biases
            ],
        })
    return {
        "model": graph.name,
        "equation": "tau * dx/dt = sum(coef * W @ g(source)) + sum(coef * bias) - x",
        "time_unit": "model time (1 = tau_unit seconds in hardware)",
        "readout_t": graph.readout_t,
        "layers": layers,
        "inputs": [
            {"name": i.name, "size": i.size, "mode": i.mode, "layer": i.layer,
             "indices": list(i.indices)}
            for i in graph.inputs()
        ],
        "outputs": [
            {"name": o.name, "size": o.size, "kind": o.kind, "layer": o.layer,
             "indices": list(o.indices)}
            for o in graph.outputs()
        ],
    }


def dynamics_json(graph: ModelGraph) -> str:
    return json.dumps(dynamics_dict(graph), indent=2, sort_keys=True) + "\n"
