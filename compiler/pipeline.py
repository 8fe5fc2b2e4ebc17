"""The compiler's stages, top to bottom. Each stage's IR can be dumped with --dump-ir-after.

    parse          .dam text -> AST                         denseamc.dsl.parse
    elaborate      AST -> graph IR (names, shapes, weights)  denseamc.dsl.elaborate
    analyze-energy check the energy, derive the dynamics     compiler/passes/energy.py
    lower          graph IR -> circuit IR (scaled, in SI)    compiler/lowering.py
    emit           circuit IR -> files                       backends/*
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denseamc.compiler.passes.energy import AnalyzeEnergy
from denseamc.dsl import load_model
from denseamc.ir import Diagnostic, InternalCompilerError, ModelGraph
from denseamc.ir.printer import dump

FRONT_STAGES = ("elaborate", "analyze-energy")


@dataclass
class Compilation:
    """What the front end produced: the analysed graph, its warnings, and requested IR dumps."""

    path: Path
    graph: ModelGraph
    warnings: list[Diagnostic] = field(default_factory=list)
    dumps: dict[str, str] = field(default_factory=dict)
    hardware_profile: Path | None = None


def compile_model(
    path: Path, dump_after: Sequence[str] = (), hardware_profile: Path | None = None
) -> Compilation:
    """Run the front end on one .dam file: parse, elaborate, analyse the energy."""
    unknown = set(dump_after) - set(FRONT_STAGES) - {"all"}
    if unknown:
        raise InternalCompilerError(f"unknown stages {sorted(unknown)}")
    graph = load_model(path)
    comp = Compilation(path, graph, hardware_profile=hardware_profile)
    _maybe_dump(comp, "elaborate", dump_after)
    comp.warnings += AnalyzeEnergy().run(graph)
    _maybe_dump(comp, "analyze-energy", dump_after)
    return comp


def _maybe_dump(comp: Compilation, stage: str, dump_after: Sequence[str]) -> None:
    if stage in dump_after or "all" in dump_after:
        comp.dumps[stage] = dump(comp.graph)


#: Output files the compiler can write: name -> (description, builder(compilation) -> text).
Emitter = Callable[[Compilation], dict[str, str]]


def emit_ir(comp: Compilation) -> dict[str, str]:
    return {"ir.txt": dump(comp.graph)}


def emit_dynamics(comp: Compilation) -> dict[str, str]:
    from denseamc.compiler.describe import dynamics_json

    return {"dynamics.json": dynamics_json(comp.graph)}


EMITTERS: dict[str, tuple[str, Emitter]] = {
    "ir": ("the graph IR as text (ir.txt)", emit_ir),
    "dynamics": ("the derived dynamics as JSON (dynamics.json)", emit_dynamics),
}


def emit(comp: Compilation, kinds: Sequence[str]) -> dict[str, str]:
    """Build every requested output file in memory: relative path -> text."""
    files: dict[str, str] = {}
    for kind in kinds:
        files.update(EMITTERS[kind][1](comp))
    for stage, text in comp.dumps.items():
        files[f"ir.after-{stage}.txt"] = text
    return files


def describe_emitters() -> dict[str, Any]:
    return {k: v[0] for k, v in EMITTERS.items()}
