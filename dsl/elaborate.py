"""Syntax tree -> graph IR: give a parsed `.dam` program its meaning.

`elaborate(program, base_dir)` resolves names, evaluates params and weight expressions, loads
weight files relative to `base_dir`, checks every shape, size, slice and test vector, folds the
energy's coefficients into terms and returns a `ModelGraph`. It does not judge the energy's form
(one `legendre` per layer, shapes of terms, convexity of the whole): the energy-analysis pass
does that. `load_model(path)` reads, decodes, parses and elaborates a file.

The work is done by one `Elaborator`, built in layers, one file each (see dsl/scope.py); this
file holds its top floor, the walk over the whole program in dependency order. Errors are
collected per statement and raised together as one DenseAMCError.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from denseamc.dsl import ast
from denseamc.dsl.energy_terms import EnergyElaborator, Term
from denseamc.dsl.layers import LayerElaborator
from denseamc.dsl.parser import parse
from denseamc.dsl.scope import Declaration, Failed
from denseamc.dsl.settings import SettingsElaborator
from denseamc.dsl.testblocks import TestElaborator
from denseamc.ir.diagnostics import (
    DenseAMCError,
    Diagnostic,
    InternalCompilerError,
    Severity,
    error,
)
from denseamc.ir.model import ModelGraph, TestBlock
from denseamc.ir.span import SourceFile, Span

S = TypeVar("S", bound=ast.Statement)


class Elaborator(LayerElaborator, EnergyElaborator, TestElaborator, SettingsElaborator):
    """Elaborate a whole program: declarations first, then each kind of statement in turn."""

    __test__ = False  # not a pytest test class

    def run(self, program: ast.Program) -> ModelGraph:
        """The model graph of `program`; DenseAMCError listing every mistake found."""
        stmts = list(program.statements)
        model = self.check_model(stmts, program.span)
        self.declare(stmts)
        singles = self.singletons(stmts)
        self.each(self.of(stmts, ast.ParamStmt), lambda s: self.param(s.name.name, s.name.span))
        self.each(self.of(stmts, ast.LayerStmt), self.layer_stmt)
        driven: dict[tuple[str, int], ast.InputStmt] = {}
        self.each(self.of(stmts, ast.InputStmt), lambda s: self.input_stmt(s, driven))
        self.each(self.of(stmts, ast.WeightsStmt),
                  lambda s: self.weights_value(s.name.name, s.name.span))
        energy = singles.get(ast.EnergyStmt)
        terms = self.energy(energy) if isinstance(energy, ast.EnergyStmt) else []
        self.each(self.of(stmts, ast.OutputStmt), self.output_stmt)
        readout_t, readout_loc = 1.0, None
        ro = singles.get(ast.ReadoutStmt)
        if isinstance(ro, ast.ReadoutStmt):
            try:
                readout_t, readout_loc = self.readout(ro), ro.span
            except Failed:
                pass
        hw = singles.get(ast.HardwareStmt)
        hardware = self.hardware(hw) if isinstance(hw, ast.HardwareStmt) else {}
        tests = self.tests(self.of(stmts, ast.TestStmt))
        if model is not None and energy is None and not self.diags:  # (else it is just noise)
            self.report(f"model '{model.name.name}' has no energy statement", model.span,
                        "e.g. 'energy E = legendre(v) + legendre(h) - h @ W @ v'")
        if self.diags or model is None:
            if not self.diags:
                raise InternalCompilerError("elaborate: no model and no diagnostic")
            raise DenseAMCError(self.diags)
        assert isinstance(energy, ast.EnergyStmt)
        graph = ModelGraph(model.name.name, readout_t=readout_t, readout_loc=readout_loc)
        graph.energy_name = energy.name.name
        graph.hardware = hardware
        graph.tests = tests
        self.fill(graph, stmts, terms)
        return graph

    def of(self, stmts: list[ast.Statement], kind: type[S]) -> list[S]:
        """Statements of one kind, minus duplicate declarations (already reported)."""
        return [
            s for s in stmts
            if isinstance(s, kind)
            and (not isinstance(s, Declaration) or self.decls[s.name.name].stmt is s)
        ]

    def tests(self, stmts: list[ast.TestStmt]) -> list[TestBlock]:
        """The test blocks; a second block of the same name is reported and skipped."""
        tests: list[TestBlock] = []
        names: dict[str, ast.TestStmt] = {}
        for t in stmts:
            if t.name.value in names:
                self.report(f"test '{t.name.value}' is declared twice", t.name.span,
                            f"first declared at {names[t.name.value].span.location()}")
                continue
            names[t.name.value] = t
            try:
                tests.append(self.test_stmt(t))
            except Failed:
                pass
        return tests

    def fill(self, graph: ModelGraph, stmts: list[ast.Statement], terms: list[Term]) -> None:
        """Add the elaborated ops to `graph`, each kind in source order."""
        graph.params = {s.name.name: self.params[s.name.name]
                        for s in self.of(stmts, ast.ParamStmt)}
        for layer in self.of(stmts, ast.LayerStmt):
            graph.add(self.layers[layer.name.name])
        for inp in self.of(stmts, ast.InputStmt):
            graph.add(self.inputs[inp.name.name])
        for w in self.of(stmts, ast.WeightsStmt):
            graph.add(self.weights_ops[w.name.name])
        for term in terms:
            graph.add(term)
        for out in self.of(stmts, ast.OutputStmt):
            graph.add(self.outputs[out.name.name])

    def check_model(self, stmts: list[ast.Statement], whole: Span) -> ast.ModelStmt | None:
        """The model statement; a missing, late or second one is reported."""
        if not stmts:
            self.report("the file is empty: a .dam file starts with 'model NAME'", whole)
            return None
        first = stmts[0]
        models = [s for s in stmts if isinstance(s, ast.ModelStmt)]
        if not isinstance(first, ast.ModelStmt):
            self.report("a .dam file starts with 'model NAME'", first.span)
        for extra in models[1:]:
            self.report("a file declares exactly one model", extra.span,
                        f"the model is declared at {models[0].span.location()}")
        return models[0] if models else None

    def singletons(self, stmts: list[ast.Statement]) -> dict[type, ast.Statement]:
        """The energy, readout and hardware statements; a second of any is reported."""
        words = {ast.EnergyStmt: "energy", ast.ReadoutStmt: "readout",
                 ast.HardwareStmt: "hardware"}
        out: dict[type, ast.Statement] = {}
        for s in stmts:
            kind = type(s)
            if kind not in words:
                continue
            if kind in out:
                self.report(f"only one '{words[kind]}' statement is allowed", s.span,
                            f"the first is at {out[kind].span.location()}")
                continue
            out[kind] = s
        return out


def elaborate(program: ast.Program, base_dir: Path) -> ModelGraph:
    """Give a parsed program its meaning; raise one DenseAMCError listing every mistake found.

    `base_dir` is the directory `load("...")` paths are relative to (the .dam file's).
    """
    return Elaborator(Path(base_dir)).run(program)


def _decode(data: bytes, name: str) -> str:
    """Bytes of a .dam file -> text; NUL bytes and invalid UTF-8 are located errors."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    bad_at: int | None = None
    message = ""
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start
        message = f"the file is not valid UTF-8 text (byte 0x{data[exc.start]:02x})"
        text = ""
    if nul >= 0 and (bad_at is None or nul < bad_at):
        bad_at, message = nul, "the file contains a NUL byte; is it a binary file?"
    if bad_at is None:
        return text
    shown = data.decode("utf-8", errors="replace")
    offset = len(data[:bad_at].decode("utf-8", errors="replace"))
    source = SourceFile(name, shown)
    raise DenseAMCError(error(message, Span(source, offset, offset + 1)))


def parse_file(path: Path | str) -> ast.Program:
    """Read and parse a .dam file; an unreadable file, bad text or bad syntax is a located error."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DenseAMCError(
            Diagnostic(Severity.ERROR, f"cannot read the file: {reason}", file=name)
        ) from None
    return parse(_decode(data, name), name)


def elaborate_file(program: ast.Program) -> ModelGraph:
    """Elaborate a program parsed from a file: `load("...")` paths are relative to that file,
    and the graph is named after it."""
    source = program.span.file.name
    graph = elaborate(program, Path(source).parent)
    graph.source_name = source
    return graph


def load_model(path: Path | str) -> ModelGraph:
    """Read, parse and elaborate a .dam file; every failure is a DenseAMCError."""
    return elaborate_file(parse_file(path))
