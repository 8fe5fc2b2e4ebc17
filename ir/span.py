"""Source files and spans: where in a `.dam` file a thing came from."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, eq=False)
class SourceFile:
    """The text of one input file, with a line index for offset -> (line, col)."""

    name: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """Return the 1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """Return the text of a 1-based line without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@dataclass(frozen=True, slots=True, eq=False)
class Span:
    """A half-open character range [start, end) of a source file."""

    file: SourceFile
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.file.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.file.line_col(self.start)[1]

    def location(self) -> str:
        """Return `file:line:col`."""
        line, col = self.file.line_col(self.start)
        return f"{self.file.name}:{line}:{col}"

    def short(self) -> str:
        """Return `basename:line` for provenance comments (no absolute paths in outputs)."""
        name = self.file.name.replace("\\", "/").rsplit("/", 1)[-1]
        return f"{name}:{self.line}"

    def excerpt(self) -> str:
        """Return the source line and a caret line under this span, numbered like rustc."""
        line, col = self.file.line_col(self.start)
        text = self.file.line_text(line).expandtabs(1)
        end_line, end_col = self.file.line_col(max(self.start, self.end - 1))
        width = (end_col - col + 1) if end_line == line and self.end > self.start else 1
        width = max(1, min(width, len(text) - col + 1))
        gutter = f"{line:>4}"
        printable = "".join(c if c.isprintable() else "?" for c in text)
        return f"{gutter} | {printable}\n{' ' * len(gutter)} | {' ' * (col - 1)}{'^' * width}"
