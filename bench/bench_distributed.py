"""Benchmark: Monte Carlo on a local Dask cluster against the same study in this process (issue
11's goals, on a 2-core machine).

1. ngspice: a 64-neuron Hopfield model (the random model of bench_latency.py, N = 64: identity
   v[64], softmax h[64], cue = memory 0 with 10% of its signs flipped, one test vector: the
   cue must be restored to memory 0's signs), `g_sigma = 0.02`, `--runs` draws (default 40) on
   `montecarlo --backend spice`: each draw's netlist on ngspice, held against the circuit
   backend. In this process vs `--workers 2`. Goal: at least 1.7x faster with 2 workers.
2. Overhead: `--xor-runs` (default 1,000) circuit-backend draws of examples/xor.dam at
   `g_sigma = 0.1`, in this process vs a 2-worker local cluster. Goal: at most 1.5x the
   in-process time.

Each measurement is the wall time of `run_study` (the points are compiled before, not timed),
local cluster start-up and shutdown included; the two sides run one after the other in one
invocation, `--rounds` times alternately (the ratio of each round and their median are
printed: on a shared machine the load drifts between measurements), and their results must be
equal (checked), or the numbers mean nothing. BLAS is
single-threaded (set before numpy is imported), as in the other benchmarks.

Run: python bench/bench_distributed.py [--runs 40] [--xor-runs 1000] [--chunk 8] [--rounds 1]
     [--only spice|xor]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_latency import BETA, DAM, FLIP, T_READ, TAU_H, TAU_V  # noqa: E402
from denseamc.compiler.executor import Where  # noqa: E402
from denseamc.compiler.montecarlo import Study, compile_points, run_study  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def hopfield_with_test(d: Path, n: int, seed: int = 0) -> Path:
    """bench_latency's random Hopfield model of size n, plus a test block: the flipped cue of
    memory 0 must read out as memory 0's signs."""
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 1.0], size=(n, n))
    np.save(d / "xi.npy", s / np.sqrt(n))
    flip = rng.random(n) < FLIP
    cue = np.where(flip, -s[0], s[0]) / np.sqrt(n)
    text = DAM.format(n=n, tau_v=TAU_V, tau_h=TAU_H, beta=BETA, t=T_READ)
    text += (f'test "recall" {{\n    cue = [{", ".join(f"{c:.17g}" for c in cue)}] -> '
             f'y = [{", ".join(f"{v:g}" for v in s[0])}]\n}}\n')
    path = d / "m.dam"
    path.write_text(text)
    return path


def timed(label: str, fn: Callable[[], Study]) -> tuple[float, Study]:
    t0 = time.perf_counter()
    study = fn()
    dt = time.perf_counter() - t0
    print(f"  {label}: {dt:.3g} s", flush=True)
    return dt, study


def side_by_side(title: str, model: Path, settings: dict[str, str], runs: int, chunk: int,
                 backend: str, goal: str, rounds: int) -> None:
    [comp] = compile_points(model, None, settings, None)
    print(f"{title}: {runs} draws, chunk {chunk}, backend {backend} ({goal})", flush=True)
    ratios = []
    for r in range(rounds):
        print(f" round {r + 1}, load average {os.getloadavg()[0]:.2f} (1 min)", flush=True)
        t_in, here = timed("in process", lambda: run_study([comp], runs, 0, chunk, None,
                                                            where=Where(), backend=backend))
        t_w2, there = timed("2 local workers (start-up included)", lambda: run_study(
            [comp], runs, 0, chunk, None, where=Where(workers=2), backend=backend))
        assert here.to_json() == there.to_json(), "the results depend on where they ran"
        point = here.points[0]
        ratios.append(t_in / t_w2)
        print(f"  yield {point.yield_:.3g}, {len(point.failed)} failed draws; in process / "
              f"2 workers = {t_in / t_w2:.3g}x (2 workers take {t_w2 / t_in:.3g}x the time)",
              flush=True)
    print(f" median over {rounds} rounds: in process / 2 workers = "
          f"{statistics.median(ratios):.3g}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--xor-runs", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", choices=["spice", "xor"])
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores; the machine may be shared: see the load average "
          f"{os.getloadavg()[0]:.2f} (1 min) at start", flush=True)
    if args.only in (None, "spice"):
        with tempfile.TemporaryDirectory(prefix="bench_distributed_") as tmp:
            model = hopfield_with_test(Path(tmp), args.n)
            side_by_side(f"ngspice, {args.n}-neuron Hopfield", model, {"g_sigma": "0.02"},
                         args.runs, 1, "spice", "goal: 2 workers >= 1.7x faster", args.rounds)
    if args.only in (None, "xor"):
        side_by_side("circuit backend, xor", EXAMPLES / "xor.dam", {"g_sigma": "0.1"},
                     args.xor_runs, args.chunk, "circuit", "goal: 2 workers <= 1.5x the time",
                     args.rounds)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
