"""Lower an analysed `ModelGraph` to a `CircuitIR`: the passes, in order, in one screen.

    scale              choose R_F per layer and tau_unit (model units -> SI)
    lower-cells        one op-amp leaky integrator per free neuron
    lower-crossbars    drives -> conductance arrays (per scheme), biases -> current sources
    lower-activations  one activation block per layer (needs to know which inverted rails exist)
    lower-io           clamps -> voltage sources, init inputs -> initial conditions, readouts

Then `ir.circuit_verify.verify` checks the invariants; a violation is a compiler bug.
"""

from __future__ import annotations

from denseamc.compiler.passes.circuit_builder import CircuitBuilder
from denseamc.compiler.passes.lower_activations import LowerActivations
from denseamc.compiler.passes.lower_cells import LowerCells
from denseamc.compiler.passes.lower_crossbars import LowerCrossbars
from denseamc.compiler.passes.lower_io import LowerIO
from denseamc.compiler.passes.scale import ScaleToHardware
from denseamc.ir import InternalCompilerError, ModelGraph
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.circuit_verify import verify
from denseamc.ir.hardware import Hardware, resolve_hardware

#: Order matters: scaling first (every value needs it); crossbars before activations (they
#: decide which inverted rails exist); io last (it reads the cells and layers).
LOWERING_PASSES = (
    ScaleToHardware(),
    LowerCells(),
    LowerCrossbars(),
    LowerActivations(),
    LowerIO(),
)


def lower(graph: ModelGraph, hw: Hardware | None = None) -> CircuitIR:
    """Lower `graph` (after analyze-energy) for hardware `hw` (default: the model's own block)."""
    if not graph.dynamics:
        raise InternalCompilerError("lower: run analyze-energy first (graph.dynamics is empty)")
    if hw is None:
        hw = resolve_hardware(graph.hardware)
    builder = CircuitBuilder(graph.name, hw)
    for p in LOWERING_PASSES:
        p.run(graph, builder, hw)
    circuit = builder.freeze(graph)
    problems = verify(circuit)
    if problems:
        raise InternalCompilerError(
            "lowering produced an invalid circuit:\n" + "\n".join(d.render() for d in problems))
    return circuit
