"""Benchmark: what a user waits for, whole process, side by side in one run.

Rows (each command a fresh process; wall time from spawn to exit and CPU time (user + system,
from the kernel's accounting of the finished child), each the median (or `--stat best`: the
minimum) of `--repeat` runs, the commands of a row alternating so that load changes hit all of
them; on a loaded machine the CPU time is the steadier of the two):

  help      `denseamc --help`, against the previous release.
  check     `denseamc check big.dam --backend model` on a 128 x 512 model with 32 test vectors
            (128 numbers each), against a plain scipy script doing the same recall and against
            the previous release. The model: identity v[128] (tau 1), softmax h[512] (beta 20,
            tau 0.1, the paper's ratio), memories xi = +-1/sqrt(128) loaded from xi.npy, 32 cues
            = stored memories with 20% of their signs flipped (4 significant digits in the file),
            init v, output sign(v), read out at t = 10; every vector is recalled. The scipy
            script loads the same xi and cues (.npy), integrates tau dx/dt = -x + W g(x) with
            `solve_ivp(method="RK45", rtol=1e-6, atol=1e-9)` (denseamc's default tolerances) on
            the batch flattened into one system, and compares sign(v) with the memories.
  compile   `denseamc EXAMPLE.dam -o OUT` (every emitter) on the three examples, against the
            previous release.
  parse     `denseamc big1000.dam -o OUT --emit ir`: a 1,000 x 128 test block (the same model,
            1,000 cues), against the previous release (one run when a run takes over 5 s).

The previous release is the tree of commit `PREVIOUS` (`git archive`, no change to the
repository), run from a symlinked package tree on PYTHONPATH by the same interpreter with the
same installed dependencies; this tree runs as the installed `denseamc` console script. Without
git or that commit the previous-release column is left empty.

Run: python bench/bench_startup.py [--repeat 5] [--stat median|best] [--only help,check,...]
     [--previous 963d6e2] [--no-previous]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS = "963d6e2"
EXAMPLES = ("xor", "hamming74", "parity8")
N_V, N_H, BETA, TAU_H, T_END, FLIP = 128, 512, 20.0, 0.1, 10.0, 0.2
SLOW_S = 5.0  # a command slower than this is run once
ROWS = ("help", "check", "compile", "parse")

DAM = """model big
param beta = {beta:g}
layer v[{nv}]: identity tau=1
layer h[{nh}]: softmax(beta) tau={tau_h:g}
weights xi[{nh}, {nv}] = load("xi.npy")
energy E = legendre(v) + legendre(h) - h @ xi @ v
input cue[{nv}]: init v
output y[{nv}]: sign(v)
readout at t = {t_end:g}

test "recall" {{
{vectors}
}}
"""

SCIPY = """import sys
import numpy as np
from scipy.integrate import solve_ivp

xi = np.load("xi.npy")
cues = np.load("cues.npy")
memories = np.load("memories.npy")
batch, n_v = cues.shape
n = n_v + xi.shape[0]
beta, tau_h = {beta!r}, {tau_h!r}


def rhs(t, y):
    v, h = y.reshape(batch, n)[:, :n_v], y.reshape(batch, n)[:, n_v:]
    z = beta * h
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return np.concatenate([p @ xi - v, (v @ xi.T - h) / tau_h], axis=1).ravel()


y0 = np.zeros((batch, n))
y0[:, :n_v] = cues
sol = solve_ivp(rhs, (0.0, {t_end!r}), y0.ravel(), method="RK45", rtol=1e-6, atol=1e-9)
v = sol.y[:, -1].reshape(batch, n)[:, :n_v]
passed = int((np.sign(v) == memories).all(axis=1).sum())
print(f"{{passed}}/{{batch}} recalled")
sys.exit(0 if passed == batch else 1)
"""


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.4g}" for x in values) + "]"


def make_models(d: Path, batch: int = 32, big_batch: int = 1000, seed: int = 0) -> None:
    """Write xi.npy, big.dam (`batch` vectors), big1000.dam (`big_batch`), cues.npy and
    memories.npy (the first `batch` cues, for the scipy script) into `d`."""
    rng = np.random.default_rng(seed)
    xi = rng.choice([-1.0, 1.0], size=(N_H, N_V)) / np.sqrt(N_V)
    memories = np.sign(xi[rng.integers(N_H, size=big_batch)])
    flip = rng.random(memories.shape) < FLIP
    cues = np.array([[float(f"{x:.4g}") for x in row]  # exactly what the .dam file says
                     for row in np.where(flip, -memories, memories) / np.sqrt(N_V)])
    np.save(d / "xi.npy", xi)
    np.save(d / "cues.npy", cues[:batch])
    np.save(d / "memories.npy", memories[:batch])
    (d / "recall.py").write_text(SCIPY.format(beta=BETA, tau_h=TAU_H, t_end=T_END))
    lines = [f"    cue = {_row(c)} -> y = {_row(m)}" for c, m in zip(cues, memories, strict=True)]
    for name, n in (("big.dam", batch), ("big1000.dam", big_batch)):
        (d / name).write_text(DAM.format(beta=BETA, nv=N_V, nh=N_H, tau_h=TAU_H, t_end=T_END,
                                         vectors="\n".join(lines[:n])))


def previous_release(commit: str, d: Path) -> Path | None:
    """A package tree of `commit` for PYTHONPATH (denseamc/<pkg> -> the commit's folders)."""
    src = d / "src"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    tree = d / "tree"
    (tree / "denseamc").mkdir(parents=True)
    for pkg in ("dsl", "ir", "compiler", "backends"):
        (tree / "denseamc" / pkg).symlink_to(src / pkg)
    return tree


@dataclass
class Row:
    """One command, timed for this tree and its references: label -> every run's wall time and
    CPU time [s], in the order run."""

    what: str
    goal: str
    walls: dict[str, list[float]] = field(default_factory=dict)
    cpus: dict[str, list[float]] = field(default_factory=dict)

    def wall(self, label: str, stat: str) -> float:
        return _stat(self.walls.get(label, []), stat)

    def cpu(self, label: str, stat: str) -> float:
        return _stat(self.cpus.get(label, []), stat)


def _stat(samples: list[float], stat: str) -> float:
    if not samples:
        return float("nan")
    return min(samples) if stat == "best" else statistics.median(samples)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `cmd`."""
    c0, t0 = _children_cpu(), time.perf_counter()
    run = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {run.returncode}:\n{run.stdout[-1500:]}"
                           f"\n{run.stderr[-1500:]}")
    return wall, cpu


def measure(row: Row, variants: dict[str, tuple[list[str], dict[str, str]]], cwd: Path,
            repeat: int) -> Row:
    """`repeat` runs of every variant (label -> (command, environment)), alternating."""
    row.walls = {label: [] for label in variants}
    row.cpus = {label: [] for label in variants}
    for k in range(repeat):
        for label, (cmd, env) in variants.items():
            wall, cpu = _timed(cmd, cwd, env)
            row.walls[label].append(wall)
            row.cpus[label].append(cpu)
        if k == 0 and max(w[0] for w in row.walls.values()) > SLOW_S:
            break
    return row


def run(repeat: int, previous: str | None, only: Sequence[str] = ROWS) -> list[Row]:
    exe = str(Path(sys.executable).parent / "denseamc")
    # a user's Python caches compiled modules; with PYTHONDONTWRITEBYTECODE (set on some
    # machines) every run would recompile every module and time the byte-compiler instead
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        d = Path(tmp)
        make_models(d)
        tree = previous_release(previous, d) if previous else None
        old_env = {**env, "PYTHONPATH": str(tree)} if tree else env
        launch = [sys.executable, "-c", "from denseamc.compiler.cli import main; main()"]

        def variants(args: list[str], extra: dict[str, list[str]] | None = None) -> dict[
                str, tuple[list[str], dict[str, str]]]:
            out = {"denseamc": ([exe, *args], env)}
            if tree is not None:
                out[f"previous ({previous})"] = ([*launch, *args], old_env)
            for label, cmd in (extra or {}).items():
                out[label] = (cmd, env)
            return out

        rows = []
        if "help" in only:
            rows.append(measure(Row("`denseamc --help`", "< 0.3 s"), variants(["--help"]), d,
                                repeat))
        if "check" in only:
            rows.append(measure(
                Row("`denseamc check` 128 x 512, 32 vectors, `--backend model`",
                    ">= 1.5x the scipy script (goal 2x)"),
                variants(["check", "big.dam", "--backend", "model"],
                         {"scipy RK45 script": [sys.executable, "recall.py"]}), d, repeat))
        for name in EXAMPLES if "compile" in only else ():
            model = str(ROOT / "examples" / f"{name}.dam")
            goal = "< 0.5 s" if name == "xor" else ""
            rows.append(measure(Row(f"`denseamc {name}.dam -o OUT`", goal),
                                variants([model, "-o", str(d / f"out-{name}")]), d, repeat))
        if "parse" in only:
            rows.append(measure(
                Row("`denseamc MODEL.dam -o OUT --emit ir`, 1,000 x 128 test block",
                    "< 0.5 s parse"),
                variants(["big1000.dam", "-o", str(d / "out-big"), "--emit", "ir"]), d, repeat))
    return rows


def _ratio(ref: float, ours: float) -> str:
    return "-" if math.isnan(ref) else f"{ref / ours:.2f}x"


def table(rows: list[Row], stat: str = "median") -> str:
    out = ["| command | denseamc wall [s] | denseamc CPU [s] | reference | reference wall [s] | "
           "reference CPU [s] | reference / denseamc, wall | CPU | goal |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        wall, cpu = r.wall("denseamc", stat), r.cpu("denseamc", stat)
        refs = [k for k in r.walls if k != "denseamc"] or ["-"]
        for i, label in enumerate(refs):
            ref_wall, ref_cpu = r.wall(label, stat), r.cpu(label, stat)
            ours = [r.what, f"{wall:.3f}", f"{cpu:.3f}"] if i == 0 else ["", "", ""]
            out.append("| " + " | ".join([
                *ours, label, f"{ref_wall:.3f}", f"{ref_cpu:.3f}", _ratio(ref_wall, wall),
                _ratio(ref_cpu, cpu), r.goal if i == 0 else ""]) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5, help="runs of each command")
    ap.add_argument("--stat", choices=("median", "best"), default="median",
                    help="what the table shows of the runs (default median)")
    ap.add_argument("--only", default=",".join(ROWS),
                    help=f"comma-separated rows to run, of {', '.join(ROWS)} (default all)")
    ap.add_argument("--previous", default=PREVIOUS, help="commit of the previous release")
    ap.add_argument("--no-previous", action="store_true", help="absolute times only")
    a = ap.parse_args()
    only = [r.strip() for r in a.only.split(",") if r.strip()]
    unknown = sorted(set(only) - set(ROWS))
    if unknown:
        ap.error(f"--only: unknown rows {', '.join(unknown)}; expected some of {', '.join(ROWS)}")
    rows = run(a.repeat, None if a.no_previous else a.previous, only)
    print(f"whole process, wall and CPU time, each the {a.stat} of {a.repeat} runs (alternating); "
          "BLAS single-threaded")
    print(table(rows, a.stat))


if __name__ == "__main__":
    main()
