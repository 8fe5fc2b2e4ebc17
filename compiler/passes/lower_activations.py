"""Lower every layer's activation g = dL/dx to one activation block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from denseamc.compiler.passes.circuit_builder import CircuitBuilder
from denseamc.compiler.passes.lower_crossbars import neg_rail_net
from denseamc.ir.circuit import Activation, net


@dataclass(frozen=True)
class LowerActivations:
    """Add `act_{L}` per layer: reads the `x` nets (-v_unit x), drives `gp` (+v_unit g).

    Contract: runs after lower-crossbars, which marks the layers whose inverted rail (-v_unit g)
    some negative weight hangs on (`neg_rail_layers`); only those get `out_n_nets`. For identity
    layers the inverted rail is the cell output itself (no device). Every layer gets a block, so
    every layer can be read out. See `ir.circuit.Activation` for each kind's realisation.
    """

    name: ClassVar[str] = "lower-activations"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, circuit: CircuitBuilder, /) -> None:
        graph = circuit.graph
        s = circuit.need_scaling()
        for layer in graph.layers():
            n = layer.size
            neg = layer.name in circuit.neg_rail_layers
            circuit.activations.append(Activation(
                name=f"act_{layer.name}", layer=layer.name, kind=layer.lagrangian.kind,
                param=layer.lagrangian.param,
                in_nets=tuple(net(layer.name, "x", i) for i in range(n)),
                out_p_nets=tuple(net(layer.name, "gp", i) for i in range(n)),
                out_n_nets=tuple(neg_rail_net(graph, layer.name, i) for i in range(n)) if neg
                else (),
                v_unit=s.v_unit, loc=layer.loc,
            ))
