"""The front end as two passes: `parse` (file -> AST) and `elaborate` (AST -> graph IR).

The language itself lives in `denseamc.dsl`; these passes only give its two steps a name in the
pipeline, so each can be stopped after and dumped. `dump_ast` is the AST's text form for
`--dump-ir-after parse`: one node a line, indented by depth, with its `file:line:col`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from denseamc.dsl import ast, elaborate_file, parse_file
from denseamc.ir import ModelGraph
from denseamc.ir.span import Span


@dataclass(frozen=True)
class Parse:
    """Read a `.dam` file and parse it; every failure (unreadable, not text, syntax) is located."""

    name: ClassVar[str] = "parse"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, path: Path, /) -> ast.Program:
        return parse_file(path)


@dataclass(frozen=True)
class Elaborate:
    """Give a parsed program its meaning: the graph IR (names resolved, shapes checked).

    `load("...")` paths are relative to the program's own file; the graph is named after it.
    """

    name: ClassVar[str] = "elaborate"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, program: ast.Program, /) -> ModelGraph:
        return elaborate_file(program)


def dump_ast(node: object) -> str:
    """The AST as text: one node a line (`Kind @file:line:col field=value`), children below."""
    lines: list[str] = []
    _dump_node(node, 0, lines)
    return "\n".join(lines) + "\n"


def _dump_node(node: object, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        lines.append(f"{pad}{node!r}")
        return
    span = getattr(node, "span", None)
    where = f" @{span.short()}:{span.col}" if isinstance(span, Span) else ""
    leaves, children = [], []
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value) or (
                isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value)):
            children.append((f.name, value))
        else:
            leaves.append(f"{f.name}={value!r}")
    lines.append(f"{pad}{type(node).__name__}{where} {' '.join(leaves)}".rstrip())
    for fname, value in children:
        lines.append(f"{pad}  .{fname}")
        for child in value if isinstance(value, tuple) else (value,):
            _dump_node(child, depth + 2, lines)
