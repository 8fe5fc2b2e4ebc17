"""Benchmark: what one inference costs on each backend as the model grows.

Models: the random Hopfield models of bench_latency.py (identity v[N], softmax h[N], 2 N^2
weights, tau_unit auto, ideal amplifiers), one cue (batch 1), simulated to the readout time
(15 model units). Backends, each through its public entry point:
  ngspice   denseamc.backends.cosim.run_spice (emit the netlist, run ngspice, read the
            raw file, compare nothing): wall time of the call, and ngspice's own run time
  VACASK    run_veriloga (openvaf-r compilation of the modules happens once, before timing)
  circuit   denseamc.backends.circuit_sim.simulate_circuit(ideal=True), numpy, node voltages
  model     denseamc.backends.sim.simulate, the behavioural ODE
Wall times in seconds, one run each (the spread between runs here is +-30%); a backend is not
run at larger N once it has needed more than `--budget` seconds (default 60).

Run: python bench/bench_simulators.py [--quick] [--sizes 8,16,...]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_latency import hopfield_model  # noqa: E402
from denseamc.backends.circuit_sim import simulate_circuit  # noqa: E402
from denseamc.backends.cosim import run_spice, run_veriloga  # noqa: E402
from denseamc.backends.runners import SimulatorError  # noqa: E402
from denseamc.backends.sim import simulate  # noqa: E402

BACKENDS = ("ngspice", "vacask", "circuit", "model")


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(sizes: list[int], budget: float) -> list[dict]:
    alive = dict.fromkeys(BACKENDS, True)
    rows = []
    for n in sizes:
        row: dict = {"n": n}
        with tempfile.TemporaryDirectory(prefix="bench_simulators_") as tmp:
            comp, _, cue = hopfield_model(Path(tmp), n)
            circuit = comp.circuit
            inputs = {"cue": cue}
            calls = {  # each called in this iteration only; the defaults bind this size's model
                "ngspice": lambda c=circuit, i=inputs: run_spice(c, i, timeout_s=budget),
                "vacask": lambda c=circuit, i=inputs: run_veriloga(c, i, timeout_s=budget),
                "circuit": lambda c=circuit, i=inputs: simulate_circuit(c, i, ideal=True),
                "model": lambda g=comp.graph, i=inputs: simulate(g, i),
            }
            for name in BACKENDS:
                if not alive[name]:
                    row[name] = None
                    continue
                try:
                    wall, out = _timed(calls[name])
                except SimulatorError as e:
                    print(f"  N = {n}: {name} failed: {str(e).splitlines()[0]}", flush=True)
                    wall, out = None, None
                row[name] = wall
                if name in ("ngspice", "vacask") and out is not None:
                    row[name + "_sim"] = float(out.wall_s.max())
                if wall is None or wall > budget:
                    alive[name] = False
        rows.append(row)
        print("  " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in row.items()), flush=True)
    return rows


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def table(rows: list[dict]) -> str:
    out = ["| N_v = N_h | devices (2 N^2 weights, dual rail) | ngspice, run_spice [s] "
           "(ngspice itself) | VACASK, run_veriloga [s] (VACASK itself) | circuit backend "
           "(numpy) [s] | model backend [s] | ngspice / model | circuit / model |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def both(k: str, r: dict = r) -> str:
            if r.get(k) is None:
                return "-"
            return f"{r[k]:.3f} ({r.get(k + '_sim', 0.0):.3f})"
        ratio_s = (f"{r['ngspice'] / r['model']:.0f}x" if r.get("ngspice") and r.get("model")
                   else "-")
        ratio_c = (f"{r['circuit'] / r['model']:.1f}x" if r.get("circuit") and r.get("model")
                   else "-")
        out.append(f"| {r['n']} | {2 * r['n'] ** 2:,} | {both('ngspice')} | {both('vacask')} | "
                   f"{_f(r.get('circuit'))} | {_f(r.get('model'))} | {ratio_s} | {ratio_c} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--budget", type=float, default=60.0)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else (
        [8, 16, 32] if a.quick else [8, 16, 32, 64, 128, 256, 512])
    print(table(run(sizes, a.budget)))


if __name__ == "__main__":
    main()
