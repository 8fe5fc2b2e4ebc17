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

import numpy as np
from denseamc.ir import InternalCompilerError

__all__ = ["integer", "num", "nums"]


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


def integer(k: int) -> str:
    """A non-negative integer as plain decimal digits."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
        raise InternalCompilerError(f"netlist integer {k!r} is not a non-negative integer")
    return str(int(k))
