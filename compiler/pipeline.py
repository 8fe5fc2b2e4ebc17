"""The compiler's stages, top to bottom. Each stage's IR can be dumped with --dump-ir-after.

    parse + elaborate  .dam text -> AST -> graph IR         denseamc.dsl.load_model
    analyze-energy     check the energy, derive dynamics    compiler/passes/energy.py
    lower              graph IR -> circuit IR (SI units)    compiler/lowering.py (five passes)
    emit               IR -> files                          EMITTERS below, backends/*

Lowering runs only when something needs the circuit (`Compilation.circuit`), so a model can be
checked on the behavioural backend even when its hardware settings cannot be met.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from denseamc.compiler.passes.energy import AnalyzeEnergy
from denseamc.dsl import load_model
from denseamc.ir import Diagnostic, InternalCompilerError, ModelGraph
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import Hardware, resolve_hardware
from denseamc.ir.printer import dump, dump_circuit
from denseamc.ir.verify import verify

STAGES = ("elaborate", "analyze-energy", "lower")


@dataclass
class Compilation:
    """One model on its way through the stages; later stages are computed on first use."""

    path: Path
    graph: ModelGraph
    hardware_profile: Path | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    dumps: dict[str, str] = field(default_factory=dict)
    dump_after: Sequence[str] = ()
    _hardware: Hardware | None = None
    _circuit: CircuitIR | None = None

    @property
    def hardware(self) -> Hardware:
        """Defaults < profile file < the model's own `hardware { }` block."""
        if self._hardware is None:
            from denseamc.compiler.profiles import load_profile

            profile = load_profile(self.hardware_profile) if self.hardware_profile else None
            self._hardware = resolve_hardware(self.graph.hardware, profile)
        return self._hardware

    @property
    def circuit(self) -> CircuitIR:
        """The lowered circuit (runs the `lower` stage the first time)."""
        if self._circuit is None:
            from denseamc.compiler.lowering import lower

            self._circuit = lower(self.graph, self.hardware)
            self.warnings += [d for d in self._circuit.diagnostics
                              if d not in self.warnings]
            if _wants(self.dump_after, "lower"):
                self.dumps["lower"] = dump_circuit(self._circuit)
        return self._circuit


def _wants(dump_after: Sequence[str], stage: str) -> bool:
    return stage in dump_after or "all" in dump_after


def compile_model(
    path: Path, dump_after: Sequence[str] = (), hardware_profile: Path | None = None
) -> Compilation:
    """Run the front end on one .dam file: parse, elaborate, analyse the energy."""
    unknown = set(dump_after) - set(STAGES) - {"all"}
    if unknown:
        raise InternalCompilerError(f"unknown stages {sorted(unknown)}")
    graph = load_model(path)
    comp = Compilation(path, graph, hardware_profile, dump_after=dump_after)
    _verify(graph, "elaborate")
    if _wants(dump_after, "elaborate"):
        comp.dumps["elaborate"] = dump(graph)
    comp.warnings += AnalyzeEnergy().run(graph)
    _verify(graph, "analyze-energy")
    if _wants(dump_after, "analyze-energy"):
        comp.dumps["analyze-energy"] = dump(graph)
    return comp


def _verify(graph: ModelGraph, stage: str) -> None:
    """Check the IR invariants after a stage: a violation is our bug, never the user's."""
    problems = verify(graph)
    if problems:
        raise InternalCompilerError(f"after {stage}:\n" + "\n".join(d.render() for d in problems))


# -- outputs --------------------------------------------------------------------------------------

#: An output kind's files, one (relative path, text) at a time.
Emitter = Callable[[Compilation], Iterator[tuple[str, str]]]


def emit_ir(comp: Compilation) -> Iterator[tuple[str, str]]:
    yield "ir.txt", dump(comp.graph)


def emit_dynamics(comp: Compilation) -> Iterator[tuple[str, str]]:
    from denseamc.compiler.describe import dynamics_json

    yield "dynamics.json", dynamics_json(comp.graph)


def emit_circuit(comp: Compilation) -> Iterator[tuple[str, str]]:
    yield "circuit.txt", dump_circuit(comp.circuit)


def emit_report(comp: Compilation) -> Iterator[tuple[str, str]]:
    from denseamc.compiler.report import build_report, render_markdown, report_json

    report = build_report(comp.graph, comp.circuit, comp.hardware, warnings=comp.warnings)
    yield "report.json", report_json(report)
    yield "report.md", render_markdown(report)


#: Output kinds for `--emit`: name -> what it writes, and how (None: a netlist kind, written
#: by one pass of `backends.emit.iter_netlists` over the paths in NETLIST_PREFIXES).
EMITTERS: dict[str, tuple[str, Emitter | None]] = {
    "ir": ("the graph IR as text: ir.txt", emit_ir),
    "dynamics": ("the derived ODE as JSON: dynamics.json", emit_dynamics),
    "circuit": ("the circuit IR as text: circuit.txt", emit_circuit),
    "report": ("components, values, latency, energy, area: report.json, report.md", emit_report),
    "spice": ("the ngspice netlist: spice/", None),
    "veriloga": ("Verilog-A modules with Spectre and VACASK netlists: veriloga/", None),
    "tables": ("conductances to program, one CSV per crossbar: tables/", None),
}
NETLIST_PREFIXES = {
    "spice": ("spice/", "names.json"),
    "veriloga": ("veriloga/", "names.json"),
    "tables": ("tables/",),
}


def emit(comp: Compilation, kinds: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Every requested output file, one (relative path, text) at a time."""
    if _wants(comp.dump_after, "lower"):
        _ = comp.circuit  # lowering records its dump
    for kind in kinds:
        emitter = EMITTERS[kind][1]
        if emitter is not None:
            yield from emitter(comp)
    prefixes = tuple(sorted({p for k in kinds for p in NETLIST_PREFIXES.get(k, ())}))
    if prefixes:
        from denseamc.backends.emit import iter_netlists

        yield from iter_netlists(comp.circuit, prefixes=prefixes)
    for stage, text in comp.dumps.items():
        yield f"ir.after-{stage}.txt", text
