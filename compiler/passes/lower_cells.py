"""Lower every free neuron to an op-amp leaky integrator cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from denseamc.compiler.passes.circuit_builder import CircuitBuilder, clamped_neurons
from denseamc.ir.circuit import CircuitLayer, IntegratorCell, net


@dataclass(frozen=True)
class LowerCells:
    """Give each neuron that no clamp holds an integrator cell `cell_{L}_{i}`.

    Contract: needs `circuit.scaling`. Appends one `CircuitLayer` per layer and, per free neuron
    i of layer L (declaration order, then index), `IntegratorCell(sum_net=L_sum_i,
    out_net=L_x_i, r_f=R_F(L), c_f=tau * tau_unit / R_F(L))`; tau = 0 gives c_f = 0 (a summing
    stage). Clamped neurons get no cell: the io pass drives their `x` net from a source. The
    cell starts at 0 V unless the layer is `init=settled` (the simulator and netlists then
    start it at its target) or an init input sets it (the io pass adds an InitialCondition).
    """

    name: ClassVar[str] = "lower-cells"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, circuit: CircuitBuilder, /) -> None:
        graph = circuit.graph
        s = circuit.need_scaling()
        for layer in graph.layers():
            clamped = clamped_neurons(graph, layer.name)
            circuit.layers.append(CircuitLayer(
                layer.name, layer.size, layer.lagrangian, layer.tau, layer.init, clamped,
                layer.loc,
            ))
            r_f = s.r_f_of(layer.name)
            c_f = layer.tau * s.tau_unit_s / r_f
            for i in range(layer.size):
                if i in clamped:
                    continue
                circuit.cells.append(IntegratorCell(
                    name=f"cell_{layer.name}_{i}", layer=layer.name, index=i,
                    sum_net=net(layer.name, "sum", i), out_net=net(layer.name, "x", i),
                    r_f=r_f, c_f=c_f, v0=0.0, init=layer.init, role="neuron", loc=layer.loc,
                ))
