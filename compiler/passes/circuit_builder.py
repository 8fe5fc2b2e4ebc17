"""The mutable workbench the lowering passes fill, and the model facts they share.

`CircuitBuilder` collects components pass by pass; `freeze` turns it into the immutable
`CircuitIR`. `drive_matrix` is the one definition of a drive's effective weights (coef
included, oriented [target, source]) that scaling, crossbar lowering and the tests share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from denseamc.ir import Diagnostic, Drive, InternalCompilerError, ModelGraph
from denseamc.ir.circuit import (
    Activation,
    CircuitIR,
    CircuitLayer,
    CurrentSource,
    InitialCondition,
    IntegratorCell,
    Readout,
    Resistor,
    VoltageSource,
    WeightMapping,
)
from denseamc.ir.crossbars import Crossbar, SelectedCrossbar
from denseamc.ir.hardware import Hardware
from denseamc.ir.model import Array
from denseamc.ir.scaling import AmplifierModel, Scaling


@dataclass
class CircuitBuilder:
    """The circuit under construction: the IR in hand during lowering.

    It holds the graph being lowered and the hardware it is lowered for, and the components
    gathered so far. Passes append in deterministic order; nobody reorders.
    """

    graph: ModelGraph
    hw: Hardware
    scaling: Scaling | None = None
    layers: list[CircuitLayer] = field(default_factory=list)
    cells: list[IntegratorCell] = field(default_factory=list)
    activations: list[Activation] = field(default_factory=list)
    crossbars: list[Crossbar] = field(default_factory=list)
    selected_crossbars: list[SelectedCrossbar] = field(default_factory=list)
    resistors: list[Resistor] = field(default_factory=list)
    current_sources: list[CurrentSource] = field(default_factory=list)
    voltage_sources: list[VoltageSource] = field(default_factory=list)
    initial_conditions: list[InitialCondition] = field(default_factory=list)
    readouts: list[Readout] = field(default_factory=list)
    mappings: list[WeightMapping] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: layers whose activation must also drive the inverted rail (-v_unit g)
    neg_rail_layers: set[str] = field(default_factory=set)

    def need_scaling(self) -> Scaling:
        if self.scaling is None:
            raise InternalCompilerError("lowering: the scale pass must run first")
        return self.scaling

    def freeze(self) -> CircuitIR:
        """The circuit built so far as an immutable `CircuitIR` (the last lowering pass's output;
        a snapshot for dumping and verifying in between)."""
        graph = self.graph
        s = self.need_scaling()
        hw = self.hw
        amp = AmplifierModel(
            ideal=hw.amplifier == "ideal", a0=hw.a0, gbw_hz=hw.gbw, v_rail=hw.v_rail,
            slew_v_per_s=hw.slew,
        )
        return CircuitIR(
            name=graph.name,
            layers=tuple(self.layers),
            cells=tuple(self.cells),
            activations=tuple(self.activations),
            crossbars=tuple(self.crossbars),
            selected_crossbars=tuple(self.selected_crossbars),
            resistors=tuple(self.resistors),
            current_sources=tuple(self.current_sources),
            voltage_sources=tuple(self.voltage_sources),
            initial_conditions=tuple(self.initial_conditions),
            readouts=tuple(self.readouts),
            inputs=tuple(graph.inputs()),
            amplifier=amp,
            scaling=s,
            readout_t=float(graph.readout_t),
            readout_time_s=float(graph.readout_t) * s.tau_unit_s,
            mappings=tuple(self.mappings),
            tests=tuple(graph.tests),
            diagnostics=tuple(self.diagnostics),
            source_name=graph.source_name,
            # settings only the netlists use (backends/netlist_facts.py, spice.py, veriloga.py)
            meta={"r_out": hw.r_out, "i_tail": hw.i_tail},
        )


def clamped_neurons(graph: ModelGraph, layer: str) -> tuple[int, ...]:
    """Neuron indices of `layer` held by clamp inputs, sorted."""
    out: set[int] = set()
    for inp in graph.layer_of_input(layer, "clamp"):
        out.update(inp.indices)
    return tuple(sorted(out))


def free_neurons(graph: ModelGraph, layer: str) -> tuple[int, ...]:
    """Neuron indices of `layer` that get an integrator cell (not clamped)."""
    clamped = set(clamped_neurons(graph, layer))
    return tuple(i for i in range(graph.layer(layer).size) if i not in clamped)


def drive_matrix(graph: ModelGraph, d: Drive) -> Array:
    """`coef * (W or W^T)` as [target, source] for a constant weight; InternalError if selected."""
    w = graph.weights(d.weights)
    if w.is_selected or w.value is None:
        raise InternalCompilerError(f"drive_matrix on selected weights {d.weights!r}")
    m = np.asarray(w.value, dtype=np.float64)
    return d.coef * (m.T if d.transpose else m)


def drive_table(graph: ModelGraph, d: Drive) -> Array:
    """For selected weights W = TABLE[sel]: `coef * TABLE`, shape (options, |other layer|)."""
    w = graph.weights(d.weights)
    if w.table is None:
        raise InternalCompilerError(f"drive_table on constant weights {d.weights!r}")
    return d.coef * np.asarray(w.table, dtype=np.float64)


def max_abs_drive_weight(graph: ModelGraph, d: Drive) -> float:
    w = graph.weights(d.weights)
    arr = drive_table(graph, d) if w.is_selected else drive_matrix(graph, d)
    return float(np.max(np.abs(arr))) if arr.size else 0.0


def fan_in(graph: ModelGraph, layer: str) -> Array:
    """Worst-case sum_j |w_ij| per neuron of `layer` over every drive (selected: largest row)."""
    total = np.zeros(graph.layer(layer).size)
    for d in graph.dynamics[layer].drives:
        w = graph.weights(d.weights)
        if not w.is_selected:
            total += np.abs(drive_matrix(graph, d)).sum(axis=1)
            continue
        t = np.abs(drive_table(graph, d))  # (options, other)
        if d.transpose:
            # target = W's columns; driver j (W row j) contributes |TABLE[sel_j, i]|
            total += w.shape[0] * t.max(axis=0)
        else:
            total += t.sum(axis=1).max()
    return total
