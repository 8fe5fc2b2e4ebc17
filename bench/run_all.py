"""Run every benchmark and write docs/benchmarks.md and docs/latency_vs_n.png.

    python3 bench/run_all.py            # the full run (~15-20 min on 2 shared cores)
    python3 bench/run_all.py --quick    # a smoke run (small sizes, one repeat; ~2 min)

Each table in docs/benchmarks.md names the command that reproduces it alone. Timing noise on
the shared 2-core machine these were written for is about +-30%, so every comparison is a ratio
of two measurements taken side by side in one run (best or median of several, as stated).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_compile  # noqa: E402
import bench_latency  # noqa: E402
import bench_sim  # noqa: E402
import bench_simulators  # noqa: E402
import bench_startup  # noqa: E402
import numpy as np  # noqa: E402


def section_sim(quick: bool) -> str:
    repeat = 2 if quick else 5
    out = ["## 1. Model backend vs scipy `solve_ivp`", ""]
    out.append(f"Command: `python bench/bench_sim.py --repeat {repeat}` (the first table; the "
               "others are `bench_sim.whole_process`, `scaling` and `gemm_fraction`, called from "
               "`bench/run_all.py`). Setting: see `bench/README.md` (N_v = 128 identity, N_h = 512 "
               "softmax, beta = 20, 32 cues, t_end = 10 tau_v). CPU time in one process, "
               f"interleaved, best of {repeat}; BLAS single-threaded for both.")
    out += ["", "| tau_h | solver | rtol | atol | RHS evaluations | max error | CPU [ms] | "
            "speed-up vs RK45 |", "|---|---|---|---|---|---|---|---|"]
    taus = [0.01] if quick else [0.01, 0.1]
    eq = None
    for tau_h in taus:
        rows = bench_sim.bench(tau_h, repeat)
        r0 = rows[0]
        out.append(f"| {tau_h:g} | scipy RK45 (batch flattened) | 1e-6 | 1e-9 | {r0['sp_nfev']} | "
                   f"{r0['sp_err']:.1e} | {1e3 * r0['t_sp']:.0f} | 1.0x |")
        for r in rows:
            label = ("denseamc sim, equal accuracy" if r is r0 and len(rows) > 1
                     else "denseamc sim, defaults")
            out.append(f"| {tau_h:g} | {label} | {r['rtol']:.0e} | {r['atol']:.0e} | "
                       f"{r['fevals']} | {r['err']:.1e} | {1e3 * r['t']:.0f} | "
                       f"**{r['t_sp'] / r['t']:.1f}x** |")
        if eq is None:
            eq = (r0["rtol"], r0["atol"])
    rtol, atol = eq
    o, s = bench_sim.whole_process(0.01, rtol, atol, 1 if quick else 3)
    out += ["", "**Whole process** (a fresh `python` doing one recall of the 32 cues, tau_h = "
            "0.01, interpreter start, imports and problem set-up included; wall time, median of "
            f"{1 if quick else 3}): denseamc {o:.2f} s, scipy {s:.2f} s: **{s / o:.1f}x**. "
            "Start-up (numpy, scipy, denseamc imports) is most of both.", ""]
    configs = ([(64, 256, 8), (128, 512, 32)] if quick else
               [(64, 256, 32), (128, 512, 32), (256, 1024, 32), (512, 2048, 32),
                (128, 512, 1), (128, 512, 8), (128, 512, 128), (128, 512, 512)])
    rows = bench_sim.scaling(configs, 0.01, rtol, atol, 1 if quick else 3,
                             scipy_max_weights_batch=2**23)
    out += ["### How time grows with N_v, N_h and batch", "",
            "tau_h = 0.01, N_h = 4 N_v, ours at the equal-accuracy tolerances above "
            f"(rtol {rtol:g}, atol {atol:g}), RK45 at rtol 1e-6; CPU time, best of "
            f"{1 if quick else 3}; scipy "
            "skipped above N_v N_h batch = 2^23.", "",
            "| N_v | N_h | batch | ours [ms] | ours, evaluations | ours [us per evaluation] | "
            "RK45 [ms] | RK45 evaluations | speed-up |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sp = "-" if r["t_sp"] is None else f"{1e3 * r['t_sp']:.0f}"
        su = "-" if r["t_sp"] is None else f"{r['t_sp'] / r['t']:.1f}x"
        out.append(f"| {r['n_v']} | {r['n_h']} | {r['batch']} | {1e3 * r['t']:.0f} | "
                   f"{r['fevals']} | {1e6 * r['t'] / r['fevals']:.0f} | {sp} | "
                   f"{r['sp_nfev'] or '-'} | {su} |")
    out.append("")
    gf = [bench_sim.gemm_fraction(nv, nh, b, 0.01, rtol, atol, 2 if quick else 3)
          for nv, nh, b in ([(128, 512, 256)] if quick else [(128, 512, 256), (256, 1024, 512)])]
    out += ["### Fraction of the machine's GEMM rate", "",
            "Simulator flops = 4 x batch x N_v x N_h per right-hand-side evaluation (its two "
            "matmuls; softmax and integrator vector work not counted) x evaluations / CPU time, "
            "vs np.matmul on the same two shapes (one thread, best of 3).", "",
            "| N_v | N_h | batch | np.matmul [GFLOP/s] | simulator [GFLOP/s] | fraction |",
            "|---|---|---|---|---|---|"]
    for g in gf:
        out.append(f"| {g['n_v']} | {g['n_h']} | {g['batch']} | {g['gemm_gflops']:.1f} | "
                   f"{g['sim_gflops']:.1f} | **{g['fraction']:.0%}** |")
    return "\n".join(out) + "\n"


def section_compile(quick: bool) -> str:
    sizes = [64, 128] if quick else [64, 128, 256, 512, 1024]
    rows = []
    for nv in sizes:
        rep = 1 if quick or nv >= 512 else 3
        rows += bench_compile.scaling([nv], rep)
    st_n = 128 if quick else 512
    st = bench_compile.stages(st_n)
    cmd = f"python bench/bench_compile.py --sizes {','.join(map(str, sizes))}"
    return "\n".join([
        "## 2. Compiler: every emitter, vs `numpy.savetxt` of the weights", "",
        f"Command: `{cmd}` (repeat 3 up to 2^18 weights, 1 above; the ratio is the median of "
        "the per-pair ratios). `denseamc m.dam -o out` with all seven emitters, in a fresh "
        "process, vs a fresh process doing `np.savetxt(np.load('w.npy'))`; identity N_v, softmax "
        "N_h = 4 N_v, random weights from `load(\"w.npy\")`. Peak memory: VmHWM of the compiling "
        "process (getrusage ru_maxrss would include the forking parent's size: Linux keeps it "
        "across exec).", "",
        bench_compile.scaling_table(rows), "",
        f"Per stage at {st_n} x {4 * st_n} (`python bench/bench_compile.py --stages {st_n}`, "
        "in-process wall time):", "",
        bench_compile.stages_table(st), ""])


def section_simulators(quick: bool) -> str:
    sizes = [8, 16, 32] if quick else [8, 16, 32, 64, 128, 256]
    rows = bench_simulators.run(sizes, 60.0)
    return "\n".join([
        "## 3. What a simulation costs: ngspice, VACASK, circuit and model backends", "",
        f"Command: `python bench/bench_simulators.py --sizes {','.join(map(str, sizes))}`. One "
        "inference (batch 1) of the random Hopfield models of section 4 to t = 15 model units; "
        "wall time of each backend's public entry point, one run each; a backend is dropped "
        "once it needs more than 60 s.", "",
        bench_simulators.table(rows), ""])


def section_latency(quick: bool, plot: Path) -> str:
    sizes = [8, 16, 32] if quick else [8, 16, 32, 64, 128, 256, 512, 1024]
    rows = bench_latency.run(sizes, 60.0)
    bench_latency.plot(rows, plot)
    checks = [(r["n"], r["rate"], r["rate_check"]) for r in rows if r["rate_check"] is not None]
    worst = max(abs(a - b) / abs(b) for _, a, b in checks) if checks else float("nan")
    return "\n".join([
        "## 4. The constant-time claim: latency vs N", "",
        f"Command: `python bench/bench_latency.py --sizes {','.join(map(str, sizes))} --plot "
        f"docs/latency_vs_n.png`. Plot: [`latency_vs_n.png`](latency_vs_n.png). Model and "
        "columns: see the docstring of `bench/bench_latency.py` (identity v[N], softmax h[N], "
        "beta 20, tau_v 1, tau_h 0.1, memories +-1/sqrt(N), cue = memory 0 with 10% flips). "
        f"The fixed tau_unit is the N = 8 auto value, {rows[0]['tau_auto'] * 1e9:.1f} ns. The "
        "analytic slowest rate agrees with the report's finite-difference `slowest_rate` to "
        f"{worst:.1e} (relative) for N <= 64.", "",
        bench_latency.table(rows), "",
        "![latency vs N](latency_vs_n.png)", ""])


def section_startup(quick: bool) -> str:
    repeat = 2 if quick else 5
    rows = bench_startup.run(repeat, bench_startup.PREVIOUS)
    return "\n".join([
        "## 5. Start-up: what a user waits for, whole process", "",
        f"Command: `python bench/bench_startup.py --repeat {repeat}`. Each command a fresh "
        f"process, wall and CPU time, the median of {repeat} runs (a command over "
        f"{bench_startup.SLOW_S:g} s once), the commands of a row alternating. The check model "
        "(128 x 512, 32 vectors of 128 numbers), the scipy RK45 script and the previous release "
        f"(commit {bench_startup.PREVIOUS}, same interpreter and dependencies) are described in "
        "the docstring of `bench/bench_startup.py`.", "",
        bench_startup.table(rows), ""])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--only", default="sim,compile,simulators,latency,startup")
    a = ap.parse_args()
    out = Path(a.out)
    plot = out.parent / "latency_vs_n.png"
    only = a.only.split(",")
    t0 = time.time()
    parts = [
        "# Benchmarks", "",
        f"Generated by `python3 bench/run_all.py{' --quick' if a.quick else ''}` (`make bench`) on "
        f"{datetime.date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores "
        f"(shared; timing noise about +-30%), Python {platform.python_version()}, numpy "
        f"{np.__version__}; BLAS single-threaded. Every comparison is a ratio of two "
        "measurements taken side by side in the same run.", ""]
    sections = {"sim": lambda: section_sim(a.quick),
                "compile": lambda: section_compile(a.quick),
                "simulators": lambda: section_simulators(a.quick),
                "latency": lambda: section_latency(a.quick, plot),
                "startup": lambda: section_startup(a.quick)}
    for name in ("sim", "compile", "simulators", "latency", "startup"):
        if name in only:
            t1 = time.time()
            print(f"== {name}", flush=True)
            parts.append(sections[name]())
            print(f"   ({time.time() - t1:.0f} s)", flush=True)
    parts.append("What these numbers say (goals met and missed, where constant time holds): "
                 "[`bench/README.md`](../bench/README.md).\n")
    parts.append(f"_Total benchmark time: {time.time() - t0:.0f} s._\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts))
    print(f"wrote {out} and {plot}")


if __name__ == "__main__":
    main()
