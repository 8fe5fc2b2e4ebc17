"""Weight files: `load("w.npy")`, `load("w.npz", "key")` and `load("w.csv")` -> float64 arrays.

Every problem (no such file, wrong extension or key, not numbers, ragged CSV rows) is a located
diagnostic at the path string; paths are relative to the .dam file's directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from denseamc.dsl import ast
from denseamc.dsl.scope import Failed, Scope
from denseamc.dsl.wording import plural
from denseamc.ir.span import Span


def load_array(scope: Scope, node: ast.Load) -> np.ndarray:
    """The array `load(...)` reads (relative to the .dam file's directory), as float64."""
    rel = node.path.value
    path = scope.base_dir / rel
    suffix = path.suffix.lower()
    span = node.path.span
    if suffix not in (".npy", ".npz", ".csv"):
        scope.fail(f"load() reads .npy, .npz and .csv files, not '{rel}'", span)
    if suffix != ".npz" and node.key is not None:
        scope.fail(f"'{rel}' holds one array, so load() takes no key here", node.key.span)
    if not path.is_file():
        scope.fail(f"cannot read '{rel}': no such file", span,
                  f"paths are relative to the .dam file's directory ({scope.base_dir})")
    if suffix == ".csv":
        return _load_csv(scope, path, rel, span)
    try:
        if suffix == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            raw = _npz_member(scope, node, path, rel)
    except Failed:
        raise
    except Exception as exc:
        scope.fail(f"cannot read '{rel}': {exc}", span)
    arr = np.asarray(raw)
    if arr.dtype.kind not in "biuf":
        scope.fail(f"'{rel}' does not hold real numbers (its dtype is {arr.dtype})", span)
    if arr.ndim == 0:
        scope.fail(f"'{rel}' holds a single number, not an array", span)
    return np.array(arr, dtype=np.float64)


def _npz_member(scope: Scope, node: ast.Load, path: Path, rel: str) -> np.ndarray:
    """The array `node.key` names in the .npz archive at `path`."""
    with np.load(path, allow_pickle=False) as archive:
        files = list(archive.files)
        if node.key is None:
            scope.fail(
                f"'{rel}' holds several arrays: name one, "
                f'e.g. load("{rel}", "{files[0] if files else "key"}")',
                node.span,
                "it holds: " + (", ".join(files) if files else "nothing"),
            )
        if node.key.value not in files:
            scope.fail(
                f"'{rel}' has no array named '{node.key.value}'",
                node.key.span,
                "it holds: " + (", ".join(files) if files else "nothing"),
            )
        return np.asarray(archive[node.key.value])


def _load_csv(scope: Scope, path: Path, rel: str, span: Span) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        scope.fail(f"cannot read '{rel}': {exc}", span)
    rows: list[list[float]] = []
    first_line = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        row = []
        for cell in stripped.split(","):
            try:
                row.append(float(cell))
            except ValueError:
                scope.fail(f"'{rel}' line {lineno}: '{cell.strip()}' is not a number", span)
        if rows and len(row) != len(rows[0]):
            scope.fail(
                f"'{rel}' line {lineno} has {plural(len(row), 'number')} but line "
                f"{first_line} has {len(rows[0])}",
                span,
            )
        if not rows:
            first_line = lineno
        rows.append(row)
    if not rows:
        scope.fail(f"'{rel}' holds no numbers", span)
    return np.array(rows, dtype=np.float64)
