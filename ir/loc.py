"""Provenance of circuit components: a `Loc` is the `.dam` span(s) a component came from.

A component lowered from one statement keeps its span; one fused from several keeps a tuple of
them (MLIR's FusedLoc); a component with no source keeps None. Every reader goes through the
functions here: `loc_spans` (all spans), `first_span` (the one a diagnostic points at),
`loc_short` ("file.dam:12", comma-joined for fused locs) and `fuse_locs` (join provenances).
`Located` is the mixin every component shares; `REALISED` marks its realised-value fields.
"""

from __future__ import annotations

from typing import TypeAlias

from denseamc.ir.span import Span

Loc: TypeAlias = Span | tuple[Span, ...] | None

#: The metadata of a component's realised-value field (a draw's device or amplifier value):
#: the circuit dump prints it only when it is not at its ideal default (ir/printer.py).
REALISED = {"dump": "unless_default"}


def loc_spans(loc: Loc) -> tuple[Span, ...]:
    """Every span of `loc`, in order (empty when unknown)."""
    if loc is None:
        return ()
    return loc if isinstance(loc, tuple) else (loc,)


def first_span(loc: Loc) -> Span | None:
    """The span a diagnostic about a component points at: the first of `loc`, or None."""
    spans = loc_spans(loc)
    return spans[0] if spans else None


def loc_short(loc: Loc) -> str:
    """`file.dam:12` (or comma-joined, without repeats, for fused locs); "" when unknown."""
    seen: list[str] = []
    for s in loc_spans(loc):
        t = s.short()
        if t not in seen:
            seen.append(t)
    return ",".join(seen)


def fuse_locs(*locs: Loc) -> Loc:
    """Join several provenances into one (MLIR FusedLoc): a tuple, or a single span, or None."""
    spans: list[Span] = []
    for loc in locs:
        for s in loc_spans(loc):
            if not any(s is t for t in spans):
                spans.append(s)
    if not spans:
        return None
    return spans[0] if len(spans) == 1 else tuple(spans)


class Located:
    """Mixin of every circuit component: `source_line` renders its `loc` as "file.dam:12"."""

    __slots__ = ()
    loc: Loc

    @property
    def source_line(self) -> str:
        return loc_short(self.loc)
