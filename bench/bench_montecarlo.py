"""Benchmark: Monte Carlo draws per second on the circuit backend (issue 10's goal: at least 20
draws/s for examples/parity8.dam, 52 vectors a draw, on a 2-core machine).

Setting: `denseamc montecarlo examples/MODEL.dam --set g_sigma=0.02` without the CLI, for each
`--models` example: the point is compiled once (not timed), then `run_study` runs `--runs` draws
in chunks of 8 (a chunk's draws are integrated together where their circuits allow it:
`backends.circuit_sim.simulate_circuits`), in this process (workers 0) and on each `--workers`
count of local Dask worker processes (cluster start-up included). Wall time,
best of `--repeat`; BLAS single-threaded (set before numpy is imported), as in the other
benchmarks. Every run must give the same draws (checked), or the numbers mean nothing. With one
job the process's CPU time is printed too (draws per CPU-second): on a shared machine it moves far
less with the load than the wall time does.

To compare two versions side by side, run this file against each (e.g. PYTHONPATH at a tree of
symlinks `denseamc/{dsl,ir,compiler,backends}` into an old checkout), interleaved, on an
otherwise idle machine.

Run: python bench/bench_montecarlo.py [--models parity8,xor,hamming74] [--runs 40]
     [--repeat 3] [--workers 0,2]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from denseamc.compiler.executor import Where  # noqa: E402
from denseamc.compiler.montecarlo import DEFAULT_CHUNK, compile_points, run_study  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOAL = 20.0  # draws per second, parity8


def bench_model(name: str, runs: int, repeat: int, jobs_list: list[int]) -> None:
    """Print the best draws/s of `name` for every job count."""
    [comp] = compile_points(EXAMPLES / f"{name}.dam", None, {"g_sigma": "0.02"}, None)
    reference = None
    print(f"{name}, g_sigma = 0.02, {runs} draws, chunk {DEFAULT_CHUNK}, best of {repeat}"
          + (f" (goal {GOAL:g} draws/s)" if name == "parity8" else ""))
    for jobs in jobs_list:
        best = best_cpu = float("inf")
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            study = run_study([comp], runs, 0, DEFAULT_CHUNK, None, where=Where(workers=jobs))
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
            draws = study.points[0].draws
            reference = reference or draws
            assert draws == reference, "the draws depend on where they ran"
        # in this process: its CPU time too, which other users of the machine disturb far less
        cpu = f", {runs / best_cpu:.3g} draws per CPU-second" if jobs == 0 else ""
        print(f"  workers {jobs}: {runs / best:.3g} draws/s ({best:.3g} s){cpu}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="parity8,xor,hamming74")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="0,2")
    args = ap.parse_args()
    jobs_list = [int(j) for j in args.workers.split(",")]
    for name in args.models.split(","):
        bench_model(name, args.runs, args.repeat, jobs_list)


if __name__ == "__main__":
    main()
