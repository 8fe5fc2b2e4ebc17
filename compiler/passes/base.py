"""The pass contract: what every pass in `compiler/pipeline.py` promises.

A pass is a small frozen dataclass with a kebab-case `name` (the one `--dump-ir-after` and
`--stop-after` take) and one method, `run(ir)`. Its options are its fields; it keeps no state
between runs, so one instance may run on any number of models.

Two kinds, told apart by `kind`:

- a **transform** takes the IR in hand and returns the next IR (`parse`: path -> AST,
  `elaborate`: AST -> graph), or changes the IR in place and returns what it found to warn about
  (`analyze-energy` fills the graph's dynamics; each lowering pass adds components to the circuit
  under construction, and records its warnings on it, so they become the circuit's diagnostics);
- an **analysis** reads the IR and returns a frozen result object; it never changes the IR. Its
  warnings travel in the result.

The pipeline, not the pass, verifies the IR after every pass and dumps it when asked.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple, Protocol, TypeVar

from denseamc.ir import ModelGraph
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import Hardware

In = TypeVar("In", contravariant=True)
Out = TypeVar("Out", covariant=True)


class Pass(Protocol[In, Out]):
    """One step of the pipeline: `run` maps the IR in hand to the next IR, or to a result."""

    name: ClassVar[str]
    kind: ClassVar[Literal["transform", "analysis"]]

    def run(self, ir: In, /) -> Out: ...


class Lowered(NamedTuple):
    """The IR in hand after lowering: the analysed graph, the hardware and its circuit."""

    graph: ModelGraph
    hardware: Hardware
    circuit: CircuitIR
