"""Names and diagnostics: the ground floor of the elaborator.

The elaborator is one object built in layers, one file each, every layer using those below:
`Scope` (here: declarations, lookups, the tables filled so far, collected diagnostics) <
`Evaluator` (dsl/evaluate.py: expressions, params and weights) < `LayerElaborator`
(dsl/layers.py), `EnergyElaborator` (dsl/energy_terms.py), `TestElaborator` (dsl/testblocks.py),
`SettingsElaborator` (dsl/settings.py) < `Elaborator` (dsl/elaborate.py: the whole program).

Name resolution is two-phase: `declare` collects every declaration first, so a name may be used
before the statement that declares it (the normative parity program indexes `embed[bits]` before
`input bits` is declared). Errors are collected and raised together: `fail` records one and
abandons the current statement (raising `Failed`), `report` records one and carries on. When a
declaration fails its name goes into `failed`, and its users are skipped silently (`lookup`
raises `Failed` without a message), so one mistake gives one message.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
from denseamc.dsl import ast
from denseamc.ir.diagnostics import Diagnostic, error
from denseamc.ir.model import Array, InputOp, LayerOp, OutputOp, WeightsOp
from denseamc.ir.span import Span

Kind = Literal["param", "weights", "layer", "input", "output"]

KIND_WORDS: dict[str, str] = {
    "param": "a param",
    "weights": "weights",
    "layer": "a layer",
    "input": "an input",
    "output": "an output",
}

#: The statements that declare a name, and the kind of name each declares.
DECLARATIONS: dict[type, Kind] = {
    ast.ParamStmt: "param", ast.WeightsStmt: "weights", ast.LayerStmt: "layer",
    ast.InputStmt: "input", ast.OutputStmt: "output",
}

Declaration = ast.ParamStmt | ast.WeightsStmt | ast.LayerStmt | ast.InputStmt | ast.OutputStmt


class Failed(Exception):
    """A diagnostic has been recorded; abandon the current statement without another."""


@dataclass(slots=True)
class Decl:
    """A declared name: its kind, where it is declared and the statement declaring it."""

    kind: Kind
    ident: ast.Ident
    stmt: Declaration


@dataclass(slots=True)
class Selected:
    """A weights statement `TABLE[INPUT]`: rows of `table` chosen by a select input."""

    table_name: str
    table: Array
    select: str


@dataclass
class Scope:
    """Declarations, what has been elaborated so far, and the diagnostics collected."""

    base_dir: Path  # load("...") paths are relative to it (the .dam file's directory)
    diags: list[Diagnostic] = field(default_factory=list)
    decls: dict[str, Decl] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    weights: dict[str, np.ndarray | Selected] = field(default_factory=dict)
    weights_ops: dict[str, WeightsOp] = field(default_factory=dict)
    layers: dict[str, LayerOp] = field(default_factory=dict)
    inputs: dict[str, InputOp] = field(default_factory=dict)
    outputs: dict[str, OutputOp] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    in_progress: list[str] = field(default_factory=list)  # the chain being evaluated

    # -- reporting -------------------------------------------------------------------------------
    def fail(self, message: str, span: Span | None, *notes: str) -> NoReturn:
        """Record an error and abandon the current statement."""
        self.diags.append(error(message, span, *notes))
        raise Failed

    def report(self, message: str, span: Span | None, *notes: str) -> None:
        """Record an error and carry on."""
        self.diags.append(error(message, span, *notes))

    def each(self, items: Sequence[ast.Statement], fn: Callable[..., object]) -> None:
        """Run `fn` on every item; a failed item does not stop the others."""
        for item in items:
            try:
                fn(item)
            except Failed:
                pass

    # -- names -----------------------------------------------------------------------------------
    def lookup(self, name: str, span: Span, expected: tuple[Kind, ...]) -> Decl:
        """The declaration of `name`, which must be of one of the `expected` kinds."""
        want = " or ".join(KIND_WORDS[k] for k in expected)
        decl = self.decls.get(name)
        if decl is None:
            candidates = [n for n, d in self.decls.items() if d.kind in expected]
            close = difflib.get_close_matches(name, candidates, n=1)
            notes = (f"did you mean '{close[0]}'?",) if close else ()
            self.fail(f"unknown name '{name}': expected {want}", span, *notes)
        if decl.kind not in expected:
            self.fail(
                f"expected {want} here, but '{name}' is {KIND_WORDS[decl.kind]}",
                span,
                f"'{name}' is declared at {decl.ident.span.location()}",
            )
        if name in self.failed:
            raise Failed
        return decl

    def cycle(self, name: str) -> str:
        """The chain of definitions that leads back to `name`: 'a -> b -> a'."""
        chain = [*self.in_progress[self.in_progress.index(name) :], name]
        return " -> ".join(chain)

    def layer(self, ident: ast.Ident) -> LayerOp:
        """The elaborated layer `ident` names (Failed, silently, if its declaration failed)."""
        self.lookup(ident.name, ident.span, ("layer",))
        if ident.name not in self.layers:
            raise Failed
        return self.layers[ident.name]

    # -- collecting declarations -----------------------------------------------------------------
    def declare(self, stmts: list[ast.Statement]) -> None:
        """Record every declaration; a name declared twice is reported at the second."""
        for s in stmts:
            kind = DECLARATIONS.get(type(s))
            if kind is None or not isinstance(s, Declaration):
                continue
            ident = s.name
            first = self.decls.get(ident.name)
            if first is not None:
                self.report(
                    f"'{ident.name}' is already declared as {KIND_WORDS[first.kind]}",
                    ident.span,
                    f"first declared at {first.ident.span.location()}",
                )
                continue
            self.decls[ident.name] = Decl(kind, ident, s)

