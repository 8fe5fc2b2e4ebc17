"""Benchmark: the compiler on large random models, end to end, vs numpy.savetxt of the weights.

Model: identity visible layer N_v, softmax hidden layer N_h = 4 N_v (beta = 4, tau 0.1 / 0.01),
random weights xi[N_h, N_v] = +-u / sqrt(N_v), u uniform in [0, 1) (so some fall below g_min and
the rounding diagnostics run too), loaded with `load("w.npy")`, one init input, one sign output,
no test block. Every emitter: `denseamc MODEL.dam -o OUT` (ir, dynamics, circuit, report, spice,
veriloga, tables).

Measured, per size, in fresh subprocesses run back to back:
  compile   wall time of the whole `denseamc m.dam -o out` process (interpreter start, imports,
            parse, energy check, lowering, every emitter, writing the files), its CPU time
            (user + system, from getrusage of the finished child) and its peak resident memory
            (VmHWM in /proc/self/status at exit, in the process; see PEAK);
  savetxt   the same for a process that loads w.npy and writes it with numpy.savetxt (the same
            interpreter start and numpy import, so the ratio compares the work).
Ratio = compile / savetxt, the median of `--repeat` pairs (>= 3 for a claim), in wall time (what
the goal is about) and in CPU time (steadier when other jobs share the machine: the wall time of
both then includes waiting for a core). The goal line says whether the median wall-time ratio
is within `GOAL_RATIO` and the peak memory under `GOAL_PEAK_GB`. Also the in-process time of
each stage at one size (`--stages N_V`).

Run: python bench/bench_compile.py [--quick] [--sizes 64,128,...] [--repeat 3] [--stages 512]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The goals of issue 12 item 6 for the 1M-weight (512 x 2048) model.
GOAL_RATIO = 10.0
GOAL_PEAK_GB = 2.0

DAM = """model big
param beta = 4
layer v[{nv}]: identity tau=0.1
layer h[{nh}]: softmax(beta) tau=0.01
weights xi[{nh}, {nv}] = load("w.npy")
energy E = legendre(v) + legendre(h) - h @ xi @ v
input cue[{nv}]: init v
output y[{nv}]: sign(v)
readout at t = 1
"""

# Peak RSS of this process: VmHWM of /proc/self/status (its own address space since exec).
# getrusage's ru_maxrss is not used for the number: Linux carries the forked parent's high-water
# mark across exec, so a child of a big parent would report the parent's size.
PEAK = """
import resource
def peak():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

CHILD_COMPILE = PEAK + """
import sys, time
t0 = time.perf_counter()
from denseamc.compiler.cli import main
code = main([sys.argv[1], "-o", sys.argv[2]])
print("RESULT", code, time.perf_counter() - t0, peak())
"""

CHILD_SAVETXT = PEAK + """
import sys, time
t0 = time.perf_counter()
import numpy as np
np.savetxt(sys.argv[2], np.load(sys.argv[1]))
print("RESULT", 0, time.perf_counter() - t0, peak())
"""

CHILD_STAGES = """
import json, sys, time
from pathlib import Path
t = {}
t0 = time.perf_counter()
from denseamc.compiler.outputs import EMITTERS, emit
from denseamc.compiler.pipeline import compile_model
from denseamc.compiler.outdir import write_output_dir
t["imports"] = time.perf_counter() - t0
t0 = time.perf_counter(); comp = compile_model(Path(sys.argv[1]))
t["parse + elaborate + energy"] = time.perf_counter() - t0
t0 = time.perf_counter(); comp.circuit; t["lower"] = time.perf_counter() - t0
files = {}
netlists = ["spice", "veriloga", "tables"]  # one pass builds them all (shared names)
for kinds in [[k] for k in EMITTERS if k not in netlists] + [netlists]:
    t0 = time.perf_counter(); files.update(emit(comp, kinds))
    t["emit " + " + ".join(kinds)] = time.perf_counter() - t0
t0 = time.perf_counter(); write_output_dir(Path(sys.argv[2]), files.items())
t["write files"] = time.perf_counter() - t0
t["MB written"] = sum(len(v) for v in files.values()) / 1e6
print("RESULT " + json.dumps(t))
"""


def make_model(d: Path, nv: int, nh: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w = rng.choice([-1.0, 1.0], size=(nh, nv)) * rng.random((nh, nv)) / np.sqrt(nv)
    np.save(d / "w.npy", w)
    (d / "m.dam").write_text(DAM.format(nv=nv, nh=nh))
    return d / "m.dam"


def _child(code: str, *args: str, timeout: float = 3600) -> tuple[float, float, int, str]:
    """(wall s, CPU s, peak RSS bytes, the RESULT line) of `python -c code args` as a fresh
    process (CPU: user + system time of the finished child, from getrusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError(
            f"child failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    parts = line.split()
    rss = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0
    return wall, cpu, rss, line


def scaling(sizes: list[int], repeat: int) -> list[dict]:
    rows = []
    for nv in sizes:
        nh = 4 * nv
        with tempfile.TemporaryDirectory(prefix="bench_compile_") as tmp:
            d = Path(tmp)
            model = make_model(d, nv, nh)
            comp_t, sav_t, comp_cpu, sav_cpu, rss, out_mb = [], [], [], [], 0, 0.0
            for k in range(repeat):
                out = d / f"out{k}"
                w, c, r, _ = _child(CHILD_COMPILE, str(model), str(out))
                comp_t.append(w)
                comp_cpu.append(c)
                rss = max(rss, r)
                out_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
                w, c, _, _ = _child(CHILD_SAVETXT, str(d / "w.npy"), str(d / "w.txt"))
                sav_t.append(w)
                sav_cpu.append(c)
                for f in out.rglob("*"):
                    if f.is_file():
                        f.unlink()
            txt_mb = (d / "w.txt").stat().st_size / 1e6
        rows.append(dict(
            nv=nv, nh=nh, weights=nv * nh, repeat=repeat, compile_s=statistics.median(comp_t),
            savetxt_s=statistics.median(sav_t),
            ratio=statistics.median(c / s for c, s in zip(comp_t, sav_t, strict=True)),
            compile_cpu_s=statistics.median(comp_cpu), savetxt_cpu_s=statistics.median(sav_cpu),
            cpu_ratio=statistics.median(c / s for c, s in zip(comp_cpu, sav_cpu, strict=True)),
            rss_gb=rss / 1e9, out_mb=out_mb, txt_mb=txt_mb))
        r = rows[-1]
        print(f"  {nv} x {nh}: {r['compile_s']:.2f} s vs savetxt {r['savetxt_s']:.2f} s "
              f"({r['ratio']:.1f}x wall; CPU {r['compile_cpu_s']:.2f} s vs "
              f"{r['savetxt_cpu_s']:.2f} s, {r['cpu_ratio']:.1f}x), peak {r['rss_gb']:.2f} GB",
              flush=True)
    return rows


def stages(nv: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_compile_") as tmp:
        d = Path(tmp)
        model = make_model(d, nv, 4 * nv)
        line = _child(CHILD_STAGES, str(model), str(d / "out"))[3]
    return json.loads(line.split(" ", 1)[1])


def scaling_table(rows: list[dict]) -> str:
    out = ["| weights | N_v x N_h | compile, all emitters [s] | numpy.savetxt [s] | "
           "ratio (wall) | compile CPU [s] | savetxt CPU [s] | ratio (CPU) | s per 1M weights | "
           "peak RSS [GB] | output [MB] | savetxt file [MB] |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['weights']:,} (2^{int(np.log2(r['weights']))}) | {r['nv']} x {r['nh']} "
                   f"| {r['compile_s']:.2f} | {r['savetxt_s']:.2f} | {r['ratio']:.1f}x | "
                   f"{r['compile_cpu_s']:.2f} | {r['savetxt_cpu_s']:.2f} | {r['cpu_ratio']:.1f}x | "
                   f"{r['compile_s'] / r['weights'] * 2**20:.1f} | {r['rss_gb']:.2f} | "
                   f"{r['out_mb']:.0f} | {r['txt_mb']:.0f} |")
    for r in rows:
        if r["weights"] == 2**20:
            met = r["ratio"] <= GOAL_RATIO and r["rss_gb"] < GOAL_PEAK_GB
            out.append(f"\nGoal at 2^20 weights (wall-time ratio <= {GOAL_RATIO:g}x, peak RSS < "
                       f"{GOAL_PEAK_GB:g} GB): {'met' if met else 'missed'}, {r['ratio']:.1f}x "
                       f"and {r['rss_gb']:.2f} GB (median of {r['repeat']} pairs).")
    return "\n".join(out)


def stages_table(t: dict) -> str:
    out = ["| stage | time [s] |", "|---|---|"]
    for k, v in t.items():
        if k != "MB written":
            out.append(f"| {k} | {v:.2f} |")
    out.append(f"| (output size) | {t['MB written']:.0f} MB |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None, help="comma-separated N_v (N_h = 4 N_v)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--stages", type=int, default=None, help="N_v of the per-stage breakdown")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else (
        [64, 128] if a.quick else [64, 128, 256, 512, 1024])
    repeat = a.repeat or (1 if a.quick else 3)
    print(scaling_table(scaling(sizes, repeat)))
    print(stages_table(stages(a.stages or (128 if a.quick else 512))))


if __name__ == "__main__":
    main()
