"""Read SPICE raw files written by ngspice and VACASK (binary or ascii, real, one plot).

The format is a text header of ``Key: value`` lines, a ``Variables:`` table with one
``<index> <name> <type>`` line per vector, then either ``Binary:`` followed by little-endian float64
values (point-major: all vectors of point 0, then point 1, ...) or ``Values:`` followed by
whitespace-separated numbers where each point starts with its index.  Only real transient or
operating-point plots are supported; complex (AC) plots raise ``RawFileError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


class RawFileError(ValueError):
    """The file is not a raw file this reader understands."""


@dataclass(frozen=True)
class RawResult:
    """Vectors of one simulation plot.

    ``names`` lists every vector except the scale (``time``), in file order; ngspice names are
    lowercased (``v(out)``, ``i(vsrc)``), VACASK names are kept as written (``out``,
    ``x1:flow(vg)``).  ``time`` is the scale vector (an empty array for a plot without one).
    """

    names: list[str]
    time: NDArray[np.float64]
    vectors: dict[str, NDArray[np.float64]] = field(repr=False)
    points: int = 0

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        return self.vectors[name]


def read_raw(path: str | Path, *, lowercase: bool = False) -> RawResult:
    """Parse the first plot of the raw file at ``path``; ``lowercase`` folds vector names."""
    data = Path(path).read_bytes()
    header, names, section, pos = _read_header(data, path, lowercase)
    if "complex" in header.get("flags", "").lower():
        raise RawFileError(f"{path}: complex plots are not supported")
    nvar = _int_field(header, "no. variables", path)
    npts = _int_field(header, "no. points", path)
    if len(names) != nvar:
        raise RawFileError(f"{path}: {len(names)} variable lines, header says {nvar}")
    read = _binary_values if section == "binary" else _ascii_values
    arr = read(data, pos, nvar, npts, path)
    vectors = {n: np.array(arr[:, j]) for j, n in enumerate(names)}
    scale = names[0] if names and names[0].lower() in ("time", "frequency") else None
    time = vectors.pop(scale) if scale else np.zeros(0)
    return RawResult([n for n in names if n != scale], time, vectors, npts)


def _read_header(data: bytes, path: str | Path,
                 lowercase: bool) -> tuple[dict[str, str], list[str], str, int]:
    """The ``Key: value`` fields (keys lowercased), the vector names, the data section's kind
    (``binary`` or ``values``) and the offset where its data starts."""
    header: dict[str, str] = {}
    names: list[str] = []
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise RawFileError(f"{path}: header ends before the data section")
        key, _, value = data[pos:end].decode("latin-1").partition(":")
        pos = end + 1
        key = key.strip().lower()
        if key == "variables":
            for _ in range(_int_field(header, "no. variables", path)):
                end = data.index(b"\n", pos)
                cols = data[pos:end].decode("latin-1").split()
                pos = end + 1
                if len(cols) < 2:
                    raise RawFileError(f"{path}: malformed variable line {cols!r}")
                names.append(cols[1].lower() if lowercase else cols[1])
        elif key in ("binary", "values"):
            return header, names, key, pos
        else:
            header[key] = value.strip()


def _binary_values(data: bytes, pos: int, nvar: int, npts: int,
                   path: str | Path) -> NDArray[np.float64]:
    """(points, vectors) from little-endian float64 values, point-major."""
    need = nvar * npts * 8
    if len(data) - pos < need:
        raise RawFileError(f"{path}: truncated binary data ({len(data) - pos} < {need} bytes)")
    return np.frombuffer(data, dtype="<f8", count=nvar * npts, offset=pos).reshape(npts, nvar)


def _ascii_values(data: bytes, pos: int, nvar: int, npts: int,
                  path: str | Path) -> NDArray[np.float64]:
    """(points, vectors) from whitespace-separated numbers, each point led by its index."""
    toks = data[pos:].split()
    if len(toks) < npts * (nvar + 1):
        raise RawFileError(f"{path}: truncated ascii data")
    table = np.array(toks[: npts * (nvar + 1)], dtype=np.float64).reshape(npts, nvar + 1)
    return table[:, 1:]  # column 0 is the point index


def _int_field(header: dict[str, str], key: str, path: str | Path) -> int:
    try:
        return int(header[key])
    except (KeyError, ValueError):
        raise RawFileError(f"{path}: header field {key!r} missing or not an integer") from None
