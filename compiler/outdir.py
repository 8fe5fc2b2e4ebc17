"""Write an output directory all at once: a temporary sibling, renamed into place on success."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from denseamc.ir import DenseAMCError, Diagnostic, Severity


def write_output_dir(out_dir: Path, files: Iterable[tuple[str, str | bytes]]) -> int:
    """Replace `out_dir` with exactly `files` (relative path, content), or leave all as it was.

    The files, produced one at a time (so only one need be in memory), go to a fresh sibling
    directory first; only when all are written is the old directory moved aside and the new one
    renamed into place, so a failure (here or in whatever produces `files`) leaves no
    half-written output and an existing directory survives a failed compile. Returns the number
    of files written.
    """
    out_dir = out_dir.resolve()
    parent = out_dir.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise DenseAMCError(Diagnostic(Severity.ERROR, "output path exists and is not a directory",
                                       file=str(out_dir)))
    created = _first_missing(parent)  # removed again if the compile fails
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; an output dir is not
    except OSError as exc:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"cannot create the output directory: "
                                       f"{exc.strerror}", file=str(out_dir))) from None
    written = 0
    try:
        for rel, content in files:
            written += 1
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                _write_text(target, content)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.rename(out_dir, old / "x")
        os.rename(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        _discard(tmp, created)
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"cannot write the output directory: "
                                       f"{exc.strerror}", file=str(out_dir))) from None
    except BaseException:
        _discard(tmp, created)
        raise
    return written


#: Characters per write: a large text is encoded and written a slice at a time, so no copy of a
#: 30 MB file is ever made (fresh memory is slow: each new page is a page fault).
_WRITE_CHUNK = 1 << 20


def _write_text(target: Path, content: str) -> None:
    """`target.write_text(content, encoding="utf-8", newline="\\n")`, in slices."""
    with open(target, "wb") as f:
        for at in range(0, len(content), _WRITE_CHUNK):
            f.write(content[at:at + _WRITE_CHUNK].encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_missing(path: Path) -> Path | None:
    """The outermost ancestor of `path` (or `path`) that does not exist yet."""
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing


def _discard(tmp: Path, created: Path | None) -> None:
    shutil.rmtree(created if created is not None else tmp, ignore_errors=True)
