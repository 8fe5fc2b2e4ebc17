"""Judge decoded outputs against a test block: the one verdict every backend is held to.

Rules (language reference, section 3): `sign` and `argmax` outputs must match exactly; `value`
outputs must be within the block's `tol` (absolute, per component). A block passes when at least
the fraction `min_pass` of its vectors pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from denseamc.ir import InternalCompilerError, OutputOp, TestBlock
from denseamc.ir.span import Span
from numpy.typing import NDArray

Array = NDArray[np.float64]


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
class VectorResult:
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
class BlockResult:
    """The verdict on one test block."""

    name: str
    results: tuple[VectorResult, ...]
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


def _kinds(outputs: list[OutputOp]) -> dict[str, str]:
    return {o.name: o.kind for o in outputs}


def judge_vectors(
    block: TestBlock,
    got: Mapping[str, Array],
    kinds: Mapping[str, str],
) -> list[VectorResult]:
    """Judge every vector of `block`; `got[name]` has shape (len(block.vectors), size).

    `kinds` maps output name -> "sign" | "argmax" | "value" (sign and argmax exactly, value
    within the block's tol).
    """
    results: list[VectorResult] = []
    n = len(block.vectors)
    for name, arr in got.items():
        if np.asarray(arr).shape[0] != n:
            raise InternalCompilerError(
                f"backend returned {np.asarray(arr).shape[0]} rows for output {name!r}, "
                f"block {block.name!r} has {n} vectors")
    for i, vec in enumerate(block.vectors):
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
            kind = kinds[name]
            exact = kind in ("sign", "argmax")
            if val.shape != exp.shape:
                err = float("inf")
                ok = False
            else:
                diff = np.abs(val - exp)
                err = float(diff.max()) if diff.size else 0.0
                if not np.all(np.isfinite(val)):
                    err, ok = float("inf"), False
                elif exact:
                    ok = bool(np.array_equal(val, exp))
                else:
                    ok = err <= block.tol
            if not ok:
                mismatches.append(OutputMismatch(name, exp, val, "exact" if exact else "tol", err))
        results.append(VectorResult(block.name, i, not mismatches, tuple(mismatches), row,
                                    vec.loc, dict(vec.inputs)))
    return results


def judge(block: TestBlock, got: Mapping[str, Array], outputs: list[OutputOp]) -> BlockResult:
    """Judge a block: `got[name]` is (len(block.vectors), size) from a backend's decoder; the
    output kinds (sign, argmax, value) come from the graph's `outputs`."""
    results = judge_vectors(block, got, _kinds(outputs))
    return BlockResult(block.name, tuple(results), block.min_pass, block.tol, block.loc)
