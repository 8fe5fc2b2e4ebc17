"""Diagnostics: the one way denseamc reports user mistakes, warnings and internal bugs."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from denseamc.ir.span import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message about the user's program, optionally located at a span."""

    severity: Severity
    message: str
    span: Span | None = None
    notes: tuple[str, ...] = ()
    file: str | None = None  # for messages about a file with no span (e.g. unreadable)

    def render(self) -> str:
        """Render as `file:line:col: error: message`, the source line and a caret."""
        if self.span is not None:
            head = f"{self.span.location()}: {self.severity.value}: {self.message}"
            body = "\n" + self.span.excerpt()
        else:
            where = f"{self.file}: " if self.file else ""
            head = f"{where}{self.severity.value}: {self.message}"
            body = ""
        notes = "".join(f"\n  note: {n}" for n in self.notes)
        return head + body + notes


def error(message: str, span: Span | None = None, *notes: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, span, tuple(notes))


def warning(message: str, span: Span | None = None, *notes: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, message, span, tuple(notes))


class DenseAMCError(Exception):
    """A mistake in the user's input: reported with locations, exit status 2, no traceback."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]) -> None:
        diags = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        if not diags:
            raise InternalCompilerError("DenseAMCError raised with no diagnostics")
        self.diagnostics: list[Diagnostic] = diags
        super().__init__("\n".join(d.render() for d in diags))


def usage_error(message: str, *notes: str) -> DenseAMCError:
    """A mistake with no place in a file (a command-line option): exit 2, no location."""
    return DenseAMCError(error(message, None, *notes))


class InternalCompilerError(Exception):
    """A bug in denseamc itself, never the user's fault: reported as such."""


def raise_if_errors(diagnostics: Iterable[Diagnostic]) -> None:
    """Raise one DenseAMCError carrying every error in `diagnostics`, if there is any."""
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise DenseAMCError(errors)
