"""Which weights `harden` may change, how the model's arrays are tied to them, and the new .dam.

A *parameter* is a `weights` declaration whose right-hand side is a `load(...)` or a literal:
the numbers written in (or next to) the program. Everything else follows from parameters:

- a selected array `T[I]` is tied to parameter T (its table);
- an argmax output whose decoder (or offset) is the bare name of a parameter is tied to it;
- a parameter used inside any other expression (a derived array, a computed decoder) is held at
  its value (`frozen`): training it would make the derived array disagree with its re-elaborated
  value.

Parameters of bilinear terms are crossbar devices: an entry that is 0 has no device and stays 0
(the circuit keeps its device count and sparsity). Biases (current sources, one per neuron) and
decoders (digital numbers) train freely.

The new .dam is the input text with every `load(...)` and every trained literal replaced by
`load("NAME.npz", "KEY")`; nothing else changes (comments, layout, tests).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from denseamc.dsl import ast
from denseamc.ir import BilinearTerm, ModelGraph
from denseamc.ir.span import Span
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Param:
    """One parameter: its value, the span of its right-hand side, whether it is a load(), and
    which entries may change (`free`, same shape as the value)."""

    name: str
    value: Array
    span: Span
    loaded: bool
    free: NDArray[np.bool_]


@dataclass(frozen=True)
class Decoder:
    """An argmax output's decoder and offset: each a parameter's name or None (a constant);
    `offset_sign` is -1 for `dec @ g - off`."""

    decoder: str | None
    offset: str | None
    offset_sign: float


@dataclass(frozen=True)
class Tying:
    """The parameters and how the model's weights and decoders read them."""

    params: Mapping[str, Param]
    #: weights op name -> parameter (a constant array is its own parameter; T[I] reads T)
    weights: Mapping[str, str]
    decoders: Mapping[str, Decoder]
    frozen: tuple[str, ...]

    @property
    def trained(self) -> list[str]:
        """The parameters that training may change, in declaration order."""
        return [n for n, p in self.params.items() if n not in self.frozen and p.free.any()]


def _names(expr: object) -> Iterator[str]:
    """Every name an expression mentions."""
    if isinstance(expr, ast.Name):
        yield expr.name
    for slot in getattr(expr, "__slots__", ()):
        child = getattr(expr, slot, None)
        if isinstance(child, tuple):
            for c in child:
                yield from _names(c)
        elif isinstance(child, ast.Name | ast.Unary | ast.Binary | ast.Attribute | ast.Index
                        | ast.ListLiteral):
            yield from _names(child)


def tie(program: ast.Program, graph: ModelGraph) -> Tying:
    """Find the parameters of `program` (elaborated as `graph`) and tie the model to them."""
    candidates: dict[str, tuple[Span, bool]] = {}
    weights: dict[str, str] = {}
    frozen: set[str] = set()
    decoders: dict[str, Decoder] = {}
    for stmt in program.statements:
        if isinstance(stmt, ast.WeightsStmt):
            rhs, name = stmt.value, stmt.name.name
            if isinstance(rhs, ast.Load | ast.ListLiteral | ast.NumberList):
                candidates[name] = (rhs.span, isinstance(rhs, ast.Load))
                weights[name] = name
            elif isinstance(rhs, ast.Index) and isinstance(rhs.operand, ast.Name):
                weights[name] = rhs.operand.name
            else:
                frozen.update(_names(rhs))
        elif isinstance(stmt, ast.OutputStmt) and stmt.readout.kind == "argmax":
            ro = stmt.readout
            parts: list[str | None] = []
            for expr in (ro.decoder, ro.offset):
                if isinstance(expr, ast.Name):
                    parts.append(expr.name)
                else:
                    parts.append(None)
                    frozen.update(_names(expr) if expr is not None else ())
            decoders[stmt.name.name] = Decoder(parts[0], parts[1], float(ro.offset_sign))
    weights = {w: p for w, p in weights.items() if p in candidates}
    for name, dec in decoders.items():
        decoders[name] = Decoder(dec.decoder if dec.decoder in candidates else None,
                                 dec.offset if dec.offset in candidates else None,
                                 dec.offset_sign)
    devices = {weights[t.weights] for t in graph.terms()
               if isinstance(t, BilinearTerm) and t.weights in weights}
    params: dict[str, Param] = {}
    for name, (span, loaded) in candidates.items():
        value = np.asarray(graph.weights(name).value, dtype=np.float64)
        free = value != 0 if name in devices else np.ones(value.shape, dtype=bool)
        params[name] = Param(name, value, span, loaded, free)
    return Tying(params, weights, decoders, tuple(sorted(frozen & set(candidates))))


def rewrite_dam(text: str, tying: Tying, trained: Mapping[str, Array], npz_name: str
                ) -> tuple[str, dict[str, Array]]:
    """The new .dam text and the arrays of its weights file: every load() and every trained
    literal now reads `npz_name`; everything else in `text` is kept byte for byte."""
    edits: list[tuple[int, int, str]] = []
    arrays: dict[str, Array] = {}
    for name, p in tying.params.items():
        if not (p.loaded or name in trained):
            continue
        arrays[name] = np.asarray(trained.get(name, p.value), dtype=np.float64)
        edits.append((p.span.start, p.span.end, f'load("{npz_name}", "{name}")'))
    out = text
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
    return out, arrays


def npz_bytes(arrays: Mapping[str, Array]) -> bytes:
    """An .npz of `arrays` (keys sorted) with fixed timestamps: the same arrays, the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                        member.getvalue())
    return buf.getvalue()
