"""The compiler's passes, in order: the one place to read what runs, and when.

Each pass is a small class with a `name` and one `run` (the contract: compiler/passes/base.py).
After every pass the IR in hand is verified (graph: `ir.verify`, circuit:
`ir.circuit_verify.verify`), dumped as `ir.after-NAME.txt` when `--dump-ir-after NAME|all`
asks, and the compile stops there when `--stop-after NAME` asks. The stages run on demand: the
front end always; `lower` only when an output, a dump or a backend needs the circuit (so a model
can be checked on the behavioural backend even when its hardware settings cannot be met);
`analyze` only for the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denseamc.compiler.checkpoints import dump_ir, verify_ir
from denseamc.compiler.passes.analyze_circuit import AnalyzeCircuit, CircuitAnalysis
from denseamc.compiler.passes.base import Lowered, Pass
from denseamc.compiler.passes.circuit_builder import CircuitBuilder
from denseamc.compiler.passes.energy import AnalyzeEnergy
from denseamc.compiler.passes.frontend import Elaborate, Parse
from denseamc.compiler.passes.lower_activations import LowerActivations
from denseamc.compiler.passes.lower_cells import LowerCells
from denseamc.compiler.passes.lower_crossbars import LowerCrossbars
from denseamc.compiler.passes.lower_io import LowerIO
from denseamc.compiler.passes.scale import ScaleToHardware
from denseamc.ir import Diagnostic, InternalCompilerError, ModelGraph
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import Hardware, resolve_hardware

STAGES: tuple[tuple[str, tuple[Pass[Any, Any], ...]], ...] = (
    ("frontend", (
        Parse(),             # .dam file -> AST
        Elaborate(),         # AST -> graph IR (names, shapes, values)
        AnalyzeEnergy(),     # check the energy's form, derive the dynamics (graph.dynamics)
    )),
    ("lower", (              # graph IR -> circuit IR in SI units
        ScaleToHardware(),   # first: every value needs R_F and tau_unit
        LowerCells(),        # one integrator per free neuron
        LowerCrossbars(),    # before activations: it decides which inverted rails exist
        LowerActivations(),  # one activation block per layer
        LowerIO(),           # last: reads the cells and layers; the circuit is now complete
    )),
    ("analyze", (
        AnalyzeCircuit(),    # latency, stability, amplifier limits, power, energy, area
    )),
)

#: Every pass by name, in pipeline order (the names `--dump-ir-after`/`--stop-after` accept).
PASSES: dict[str, type[Pass[Any, Any]]] = {p.name: type(p) for _, ps in STAGES for p in ps}
_STAGE_OF = {p.name: stage for stage, ps in STAGES for p in ps}


class _Stopped(Exception):
    """`--stop-after` reached: nothing after that pass runs."""


@dataclass
class Compilation:
    """One model on its way through the passes; `lower` and `analyze` run on first use.

    `warnings` collects every pass's warnings, each once, in the order found; `dumps` the IR
    text after each pass asked for.
    """

    path: Path
    hardware_profile: Path | None = None
    dump_after: Sequence[str] = ()
    stop_after: str | None = None
    #: `--set KEY=VALUE` overrides, winning over the profile and the model's block.
    settings: Mapping[str, str] = field(default_factory=dict)
    #: Monte Carlo draws behind the report's yield (`--report-draws`; None: REPORT_DRAWS).
    report_draws: int | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    dumps: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    _graph: ModelGraph | None = None
    _hardware: Hardware | None = None
    _circuit: CircuitIR | None = None
    _analysis: CircuitAnalysis | None = None

    @property
    def graph(self) -> ModelGraph:
        """The analysed graph IR (the front end's output)."""
        if self._graph is None:
            raise InternalCompilerError("the front end stopped before the graph was built")
        return self._graph

    @property
    def hardware(self) -> Hardware:
        """Defaults < profile file < the model's own `hardware { }` block < `--set`."""
        if self._hardware is None:
            profile = None
            if self.hardware_profile:  # only then pay for the YAML reader
                from denseamc.compiler.profiles import load_profile

                profile = load_profile(self.hardware_profile)
            self._hardware = resolve_hardware(self.graph.hardware, profile, self.settings)
        return self._hardware

    @property
    def circuit(self) -> CircuitIR:
        """The lowered circuit (runs the `lower` stage the first time)."""
        if self._circuit is None:
            self._circuit = self._lower(self.graph, self.hardware)
        return self._circuit

    @property
    def analysis(self) -> CircuitAnalysis:
        """What the report shows (runs the `analyze` stage the first time)."""
        if self._analysis is None:
            lowered = Lowered(self.graph, self.hardware, self.circuit)
            _, results = self._run("analyze", lowered)
            self._analysis = next(r for r in results if isinstance(r, CircuitAnalysis))
        return self._analysis

    def warn(self, diags: Sequence[Diagnostic]) -> None:
        """Add warnings not seen yet: a warning reaches the user once however often found."""
        self.warnings += [d for d in diags if d not in self.warnings]

    def run_requested(self) -> None:
        """Run every stage a dump or `--stop-after` asks for, up to the stop."""
        if self.stopped:
            return
        wanted = {_STAGE_OF[n] for n in [*self.dump_after, self.stop_after] if n in _STAGE_OF}
        if "all" in self.dump_after:
            wanted = set(dict(STAGES))
        try:
            if "analyze" in wanted:
                _ = self.analysis
            elif "lower" in wanted:
                _ = self.circuit
        except _Stopped:
            self.stopped = True

    def _front_end(self) -> None:
        try:
            self._graph, _ = self._run("frontend", self.path)
        except _Stopped:
            self.stopped = True

    def _lower(self, graph: ModelGraph, hw: Hardware) -> CircuitIR:
        builder, _ = self._run("lower", CircuitBuilder(graph, hw))
        circuit: CircuitIR = builder.freeze()
        self.warn(circuit.diagnostics)
        return circuit

    def _run(self, stage: str, ir: Any) -> tuple[Any, list[Any]]:
        """Run the passes of `stage` in order from `ir`: return the IR they leave and the
        analyses' results. After each pass: verify (the stage's IR is complete only after its
        last pass), dump, stop, as asked."""
        passes = dict(STAGES)[stage]
        results: list[Any] = []
        for p in passes:
            out = p.run(ir)
            if p.kind == "analysis":
                results.append(out)
                self.warn(out.diagnostics)
            elif isinstance(out, list):  # changed in place; these are its warnings
                self.warn(out)
            elif out is not None:  # a new IR
                ir = out
            verify_ir(p.name, ir, complete=p is passes[-1])
            if p.name in self.dump_after or "all" in self.dump_after or p.name == self.stop_after:
                self.dumps[p.name] = out.dump() if p.kind == "analysis" else dump_ir(ir)
            if p.name == self.stop_after:
                raise _Stopped
        return ir, results


def compile_model(path: Path, dump_after: Sequence[str] = (), hardware_profile: Path | None = None,
                  stop_after: str | None = None,
                  settings: Mapping[str, str] | None = None) -> Compilation:
    """Run the front end on one .dam file: parse, elaborate, analyse the energy."""
    unknown = set(dump_after) - set(PASSES) - {"all"}
    if unknown or (stop_after is not None and stop_after not in PASSES):
        raise InternalCompilerError(f"unknown passes {sorted(unknown) or [stop_after]}")
    comp = Compilation(path, hardware_profile, dump_after, stop_after, dict(settings or {}))
    comp._front_end()
    if comp.settings and not comp.stopped:
        _ = comp.hardware  # a bad --set is an error even when no stage reads the hardware
    return comp


def lower(graph: ModelGraph, hw: Hardware | None = None) -> CircuitIR:
    """Run the `lower` stage alone on an analysed graph (default hardware: its own block)."""
    if not graph.dynamics:
        raise InternalCompilerError("lower: run analyze-energy first (graph.dynamics is empty)")
    comp = Compilation(Path(graph.source_name), _graph=graph)
    return comp._lower(graph, hw if hw is not None else resolve_hardware(graph.hardware))
