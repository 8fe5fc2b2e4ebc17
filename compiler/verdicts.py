"""Judge decoded outputs against a test block: the one verdict every backend is held to.

Rules (language reference, section 3): `sign` and `argmax` outputs must match exactly; `value`
outputs must be within the block's `tol` (absolute, per component). A block passes when at least
the fraction `min_pass` of its vectors pass. A backend that returns the wrong number of rows or
misses an output is a bug in denseamc (`InternalCompilerError`), not a failed vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from denseamc.ir import InternalCompilerError, OutputOp, TestBlock
from denseamc.ir.span import Span
from numpy.typing import NDArray

__all__ = ["BlockVerdict", "OutputMismatch", "VectorVerdict", "judge"]

Array = NDArray[np.float64]

#: Output kinds that must match exactly; every other kind (`value`) must be within `tol`.
EXACT_KINDS = ("sign", "argmax")


def _fmt(a: Array) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(a, dtype=float).ravel()) + "]"


@dataclass(frozen=True)
class OutputMismatch:
    """One output of one vector that did not match."""

    output: str
    expected: Array
    got: Array
    kind: str  # "exact" (sign/argmax) or "tol" (value)
    error: float  # max |got - expected| over the output's components

    def describe(self) -> str:
        how = "exactly" if self.kind == "exact" else f"within tol (max error {self.error:.3g})"
        return (f"{self.output}: expected {_fmt(self.expected)}, got {_fmt(self.got)} "
                f"(must match {how})")


@dataclass(frozen=True)
class VectorVerdict:
    """The verdict on one test vector (index = its position in the block, from 0)."""

    block: str
    index: int
    passed: bool
    mismatches: tuple[OutputMismatch, ...] = ()
    got: Mapping[str, Array] = field(default_factory=dict)
    loc: Span | None = None
    inputs: Mapping[str, Array] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the CLI: where the vector is, its inputs, and what differed."""
        where = f"{self.loc.location()}: " if self.loc is not None else ""
        given = ", ".join(f"{k} = {_fmt(v)}" for k, v in self.inputs.items())
        what = "; ".join(m.describe() for m in self.mismatches) if self.mismatches else "ok"
        verdict = "pass" if self.passed else "FAIL"
        return (f"{where}{verdict}: test \"{self.block}\" vector {self.index + 1}: "
                f"{given + ' -> ' if given else ''}{what}")


@dataclass(frozen=True)
class BlockVerdict:
    """The verdict on one test block: one `VectorVerdict` per vector, in order."""

    name: str
    results: tuple[VectorVerdict, ...]
    min_pass: float = 1.0
    tol: float = 0.01
    loc: Span | None = None

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def n_total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> bool:
        # a small epsilon so that e.g. min_pass = 0.9 with 9/10 passes despite rounding
        return self.n_passed >= self.min_pass * self.n_total - 1e-9

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        need = "" if self.min_pass >= 1.0 else f" (needs {self.min_pass:.4g})"
        return (f"{verdict}: test \"{self.name}\": {self.n_passed}/{self.n_total} vectors "
                f"passed{need}")


def judge(block: TestBlock, got: Mapping[str, Array], outputs: list[OutputOp]) -> BlockVerdict:
    """Judge a block: `got[name]` is (len(block.vectors), size) from a backend's decoder; the
    output kinds (sign, argmax, value) come from the graph's `outputs`."""
    kinds = {o.name: o.kind for o in outputs}
    n = len(block.vectors)
    for name, arr in got.items():
        if np.asarray(arr).shape[0] != n:
            raise InternalCompilerError(
                f"backend returned {np.asarray(arr).shape[0]} rows for output {name!r}, "
                f"block {block.name!r} has {n} vectors")
    results = tuple(_judge_vector(block, i, got, kinds) for i in range(n))
    return BlockVerdict(block.name, results, block.min_pass, block.tol, block.loc)


def _judge_vector(block: TestBlock, i: int, got: Mapping[str, Array],
                  kinds: Mapping[str, str]) -> VectorVerdict:
    vec = block.vectors[i]
    mismatches: list[OutputMismatch] = []
    row: dict[str, Array] = {}
    for name, expected in vec.outputs.items():
        if name not in got:
            raise InternalCompilerError(f"backend returned no output {name!r}")
        exp = np.asarray(expected, dtype=float).ravel()
        val = np.asarray(got[name][i], dtype=float).ravel()
        row[name] = val
        if name not in kinds:
            raise InternalCompilerError(f"no output kind for {name!r}")
        mismatch = _compare(name, exp, val, kinds[name] in EXACT_KINDS, block.tol)
        if mismatch is not None:
            mismatches.append(mismatch)
    return VectorVerdict(block.name, i, not mismatches, tuple(mismatches), row, vec.loc,
                         dict(vec.inputs))


def _compare(name: str, exp: Array, val: Array, exact: bool, tol: float) -> OutputMismatch | None:
    """The mismatch of one output of one vector, or None when it matches."""
    if val.shape != exp.shape:
        err, ok = float("inf"), False
    else:
        diff = np.abs(val - exp)
        err = float(diff.max()) if diff.size else 0.0
        if not np.all(np.isfinite(val)):
            err, ok = float("inf"), False
        elif exact:
            ok = bool(np.array_equal(val, exp))
        else:
            ok = err <= tol
    return None if ok else OutputMismatch(name, exp, val, "exact" if exact else "tol", err)
