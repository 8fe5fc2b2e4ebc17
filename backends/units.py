"""The one number formatter of the netlist backends.

Every value a backend prints goes through `num`: a Python float rendered with `repr` (the shortest
text that reads back to the same float), so `1e-05`, `10000.0`, `6.366197723675813e-07`. Never an
SI prefix (SPICE reads `M` as milli and `MEG` as mega; Spectre reads `M` as mega) and never
numpy's repr (`np.float64(...)`). Non-finite values are an internal error: a netlist must not
contain `nan` or `inf`, which the simulators would parse as node names or reject.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from denseamc.ir import InternalCompilerError
from numpy.typing import NDArray

__all__ = ["integer", "join_fields", "num", "num_texts", "nums"]

#: `num_texts` formats each distinct value once when a sample of this many values holds at
#: most half as many distinct ones (quantised conductances, `levels`); else it formats them
#: all (continuous values: the sort that finds the distinct ones would cost more than it saves).
_DISTINCT_SAMPLE = 4096


def num(x: float) -> str:
    """`repr(float(x))`, with -0.0 printed as 0.0; raises on NaN or infinity."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise InternalCompilerError(f"netlist value {x!r} is not a real number")
    v = float(x)
    if not math.isfinite(v):
        raise InternalCompilerError(f"netlist value {v!r} is not finite")
    if v == 0.0:
        return "0.0"
    return repr(v)


def nums(values: np.ndarray) -> list[str]:
    """`[num(x) for x in values]` for a 1-D float array, vectorised (same text, same errors)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f" or not np.isfinite(arr).all():
        return [num(x) for x in arr.tolist()]  # the checks (and their messages) of `num`
    # x + 0.0 turns -0.0 into 0.0; tolist() gives Python floats, whose repr is what num prints
    return list(map(repr, (arr.astype(np.float64) + 0.0).tolist()))


def num_texts(values: NDArray[np.float64]) -> NDArray[np.bytes_]:
    """`nums(values)` (1-D) as an array of ASCII byte strings (numpy dtype S, for
    `join_fields`)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size > _DISTINCT_SAMPLE:
        sample = arr[:_DISTINCT_SAMPLE]
        if 2 * len(np.unique(sample)) <= len(sample):
            distinct, index = np.unique(arr, return_inverse=True)  # -0.0 and 0.0 print alike
            return num_texts(distinct)[index.reshape(-1)]
    if not arr.size or not np.isfinite(arr).all():
        return np.array(nums(arr), dtype="S")  # the errors of `num`; an empty array
    # the repr of the list of Python floats is each float's repr, ", "-separated: the same
    # text as `nums`, without a Python string per value (+ 0.0 prints -0.0 as 0.0)
    text = repr((arr + 0.0).tolist())[1:-1].encode("ascii")
    return np.array(text.split(b", "), dtype="S")


def join_fields(columns: Sequence[bytes | NDArray[np.bytes_]], *, head: str = "",
                tail: str = "") -> str:
    """`head`, then row by row the concatenation of every column's field, then `tail`: the
    rows are `"".join` over i of `column[0][i] + column[1][i] + ...`, built in numpy (one
    packed record per row, its NUL padding dropped) instead of one Python string per field.
    A column is a byte string (the same in every row), an S array of one field per row, or an
    S array of shape (rows, k): k fields per row (ASCII). No field may hold NUL (NUL bytes
    are the padding that is dropped; UTF-8 never uses them in a multi-byte character)."""
    rows = next((len(c) for c in columns if isinstance(c, np.ndarray)), 1)
    fields: list[tuple[str, str, tuple[int, ...]]] = []
    for i, c in enumerate(columns):
        if isinstance(c, bytes):
            fields.append((f"f{i}", f"S{max(len(c), 1)}", ()))
        elif c.size:
            fields.append((f"f{i}", f"S{c.dtype.itemsize}", c.shape[1:]))
    dtype = np.dtype(fields)
    # UTF-8, not ASCII: a non-ASCII name would reach the netlist scan, which refuses it
    head_bytes, tail_bytes = head.encode("utf-8"), tail.encode("utf-8")
    start, end = len(head_bytes), len(head_bytes) + rows * dtype.itemsize
    # head, records and tail in one bytearray, which `translate` reads without a copy (fresh
    # memory is expensive: each copy of a 30 MB include file costs its page faults)
    buffer = bytearray(end + len(tail_bytes))
    buffer[:start] = head_bytes
    buffer[end:] = tail_bytes
    packed = np.frombuffer(buffer, dtype=dtype, count=rows, offset=start)
    for i, c in enumerate(columns):
        if isinstance(c, bytes) or c.size:
            packed[f"f{i}"] = c
    del packed
    text = buffer.translate(None, b"\0")
    del buffer
    return text.decode("utf-8")


def integer(k: int) -> str:
    """A non-negative integer as plain decimal digits."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
        raise InternalCompilerError(f"netlist integer {k!r} is not a non-negative integer")
    return str(int(k))
