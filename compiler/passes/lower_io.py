"""Lower inputs (clamps, initial states) to sources and outputs to readout nets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from denseamc.compiler.passes.circuit_builder import CircuitBuilder, clamped_neurons
from denseamc.ir import warning
from denseamc.ir.circuit import InitialCondition, Readout, VoltageSource, net


@dataclass(frozen=True)
class LowerIO:
    """Clamp inputs -> voltage sources, init inputs -> initial conditions, outputs -> readouts.

    Contract: runs after lower-cells. A clamp input element k on neuron i of L becomes
    `clamp_{input}_{k}` holding L_x_i at -v_unit * input[k] (the neuron has no cell; its
    activation still runs). An init input element becomes `init_{input}_{k}`: the cell driving
    L_x_i starts at -v_unit * input[k]; an init on a clamped neuron or a tau = 0 layer has no
    effect and is warned about. Select inputs need nothing here (their crossbars carry them).
    Each output becomes `out_{name}` reading the gp nets (+v_unit g) of its neurons (the whole
    layer when the output names no slice).
    """

    name: ClassVar[str] = "lower-io"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, circuit: CircuitBuilder, /) -> None:
        graph = circuit.graph
        s = circuit.need_scaling()
        for inp in graph.inputs():
            if inp.layer is None or inp.mode == "select":
                continue
            layer = graph.layer(inp.layer)
            clamped = set(clamped_neurons(graph, inp.layer))
            if inp.mode == "init" and layer.tau == 0:
                circuit.diagnostics.append(warning(
                    f"input '{inp.name}' sets the initial state of layer '{layer.name}', which "
                    "has tau = 0 and so no state to set", inp.loc))
            for k, i in enumerate(inp.indices):
                x_net = net(inp.layer, "x", i)
                if inp.mode == "clamp":
                    circuit.voltage_sources.append(VoltageSource(
                        f"clamp_{inp.name}_{k}", x_net, 0.0, inp.name, k, -s.v_unit,
                        inp.layer, i, inp.loc,
                    ))
                elif i in clamped:
                    circuit.diagnostics.append(warning(
                        f"input '{inp.name}' initialises neuron {i} of '{inp.layer}', which a "
                        "clamp holds", inp.loc))
                elif layer.tau > 0:
                    circuit.initial_conditions.append(InitialCondition(
                        f"init_{inp.name}_{k}", x_net, inp.name, k, -s.v_unit, inp.loc,
                    ))
        for out in graph.outputs():
            size = graph.layer(out.layer).size
            idx = out.indices or tuple(range(size))
            circuit.readouts.append(Readout(
                f"out_{out.name}", out, tuple(net(out.layer, "gp", i) for i in idx), out.loc,
            ))
