"""Benchmark: Monte Carlo draws per second on the circuit backend (issue 10's goal: at least 20
draws/s for examples/parity8.dam, 52 vectors a draw, on a 2-core machine).

Setting: `denseamc montecarlo examples/parity8.dam --set g_sigma=0.02` without the CLI: the
point is compiled once (not timed), then `run_study` runs `--runs` draws in chunks of 8, on 1
and on 2 worker processes (worker start-up and their own compile included). Wall time, best of
`--repeat`; BLAS single-threaded (set before numpy is imported), as in the other benchmarks.
Every run must give the same draws (checked), or the numbers mean nothing.

Run: python bench/bench_montecarlo.py [--runs 40] [--repeat 3] [--jobs 1,2]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from denseamc.compiler.montecarlo import DEFAULT_CHUNK, compile_points, run_study  # noqa: E402

PARITY8 = Path(__file__).resolve().parent.parent / "examples" / "parity8.dam"
GOAL = 20.0  # draws per second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", default="1,2")
    args = ap.parse_args()
    [comp] = compile_points(PARITY8, None, {"g_sigma": "0.02"}, None)
    reference = None
    print(f"parity8, g_sigma = 0.02, {args.runs} draws, chunk {DEFAULT_CHUNK}, "
          f"best of {args.repeat} (goal {GOAL:g} draws/s)")
    for jobs in (int(j) for j in args.jobs.split(",")):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            study = run_study([comp], args.runs, 0, DEFAULT_CHUNK, None, jobs=jobs)
            best = min(best, time.perf_counter() - t0)
            draws = study.points[0].draws
            reference = reference or draws
            assert draws == reference, "the draws depend on the job count"
        print(f"  jobs {jobs}: {args.runs / best:.3g} draws/s ({best:.3g} s)")


if __name__ == "__main__":
    main()
