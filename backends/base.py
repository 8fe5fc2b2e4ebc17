"""What every netlist printer shares: its inputs, comments, provenance lines and net names.

A printer (`SpiceEmitter`, the Spectre-like top levels of backends/veriloga.py) is built from a
lowered `CircuitIR`, a `Stimulus` (the input values to print) and a `Namer` (the only source of
identifiers), appends lines in `write_*` methods and returns the text from `format()`.
"""

from __future__ import annotations

from typing import ClassVar, TextIO

from denseamc.backends.naming import Namer, provenance
from denseamc.backends.netlists import Stimulus, default_stimulus
from denseamc.ir.circuit import CircuitIR, Loc


class NetlistEmitter:
    """Base printer: subclasses set `comment_prefix` and implement `format()`."""

    dialect: ClassVar[str] = ""
    comment_prefix: ClassVar[str] = "*"

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 namer: Namer | None = None, loc_comments: bool = True) -> None:
        self.circuit = circuit
        self.stimulus = stimulus if stimulus is not None else default_stimulus(circuit)
        self.namer = namer if namer is not None else Namer()
        self.loc_comments = loc_comments
        self.lines: list[str] = []

    def format(self) -> str:
        """The whole netlist as text (ends with a newline)."""
        raise NotImplementedError

    def emit(self, out: TextIO) -> None:
        out.write(self.format())

    def net(self, ir_net: str) -> str:
        return self.namer.net(ir_net)

    def comment(self, text: str) -> None:
        """A comment line; `text` is always ours (fixed words, legal names, numbers)."""
        self.lines.append(f"{self.comment_prefix} {text}" if text else self.comment_prefix)

    def section(self, title: str) -> None:
        self.lines.append("")
        self.comment(f"--- {title}")

    def located(self, loc: Loc) -> None:
        """`from file.dam:12` before a component's lines, when provenance comments are on."""
        if self.loc_comments:
            where = provenance(loc)
            if where:
                self.comment(f"from {where}")
