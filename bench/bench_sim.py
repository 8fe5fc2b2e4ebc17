"""Benchmark: the model backend (backends/sim/) vs scipy's solve_ivp on the same ODE.

Setting (a Krotov-Hopfield dense associative memory recalling stored patterns):
  N_v = 128 identity visible neurons, tau_v = 1; N_h = 512 softmax hidden neurons, beta = 20;
  512 random memories xi_mu = s_mu / sqrt(N_v), s_mu in {-1, +1}^N_v (unit norm);
  E = legendre(v) + legendre(h) - h @ xi @ v;
  32 cues, each a stored memory (same scale) with 20% of its signs flipped, as v(0) (h(0) = 0);
  read out at t = 10 tau_v (sign(v) recovers the memory for every cue).
  Two hidden time constants: tau_h = 0.01 (a near-adiabatic hidden layer, the regime in which
  the dense AM reduces to the modern Hopfield energy) and tau_h = 0.1 (the paper's ratio).

Baseline: scipy.integrate.solve_ivp(method="RK45", rtol=1e-6, atol=1e-9) on the batch flattened
into one system, with a lean numpy right-hand side (two matmuls and a softmax per call).
Ours: simulate(graph, ...) end to end (input checks, adiabatic bookkeeping, decoding, energy and
settle time included), at the cheapest (rtol, atol) of a small grid (rtol 1e-4 .. 3e-7, atol =
rtol * 1e-3, 1e-2 or 1e-1) whose error is no larger than scipy's ("equal accuracy"), and at its
defaults rtol = 1e-6, atol = 1e-9.
Accuracy: max |state - reference| over v and h at t = 0.5, 1, 2 and 10, the reference being
scipy's DOP853 at rtol = 1e-12. Times: CPU time (time.process_time) of both in this process,
interleaved, best of `--repeat`. BLAS runs single-threaded (OPENBLAS_NUM_THREADS etc. = 1, set
before numpy is imported) for both: on a shared 2-core machine threaded BLAS made both slower
and noisier.

Run: python bench/bench_sim.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from denseamc.backends.sim import simulate  # noqa: E402
from modelgen import hopfield  # noqa: E402

N_V, N_H, BATCH, BETA, TAU_V, T_END = 128, 512, 32, 20.0, 1.0, 10.0
CHECK_T = [0.5, 1.0, 2.0, T_END]


def problem(tau_h: float, seed: int = 0):
    g = hopfield(N_V, N_H, beta=BETA, tau_v=TAU_V, tau_h=tau_h, seed=seed, readout_t=T_END)
    xi = np.asarray(g.weights("xi").value)
    rng = np.random.default_rng(seed + 1)
    mu = rng.integers(N_H, size=BATCH)
    s = np.sign(xi[mu])
    flip = rng.random((BATCH, N_V)) < 0.2
    cue = np.where(flip, -s, s) / np.sqrt(N_V)
    return g, xi, cue, s


def scipy_rhs(xi: np.ndarray, tau_h: float):
    xit = np.ascontiguousarray(xi.T)
    n = N_V + N_H

    def f(t: float, y: np.ndarray) -> np.ndarray:
        Y = y.reshape(BATCH, n)
        v, h = Y[:, :N_V], Y[:, N_V:]
        z = BETA * h
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        d = np.empty_like(Y)
        d[:, :N_V] = (p @ xi - v) / TAU_V
        d[:, N_V:] = (v @ xit - h) / tau_h
        return d.ravel()

    return f


def run_scipy(xi, cue, tau_h, method="RK45", rtol=1e-6, atol=1e-9):
    y0 = np.zeros((BATCH, N_V + N_H))
    y0[:, :N_V] = cue
    sol = solve_ivp(scipy_rhs(xi, tau_h), (0.0, T_END), y0.ravel(), method=method, rtol=rtol,
                    atol=atol, t_eval=CHECK_T)
    assert sol.success, sol.message
    traj = sol.y.T.reshape(len(CHECK_T), BATCH, N_V + N_H)
    return traj, sol.nfev


def run_ours(g, cue, rtol, atol):
    r = simulate(g, {"cue": cue}, rtol=rtol, atol=atol, record=CHECK_T)
    traj = np.concatenate([r.trajectories["v"], r.trajectories["h"]], axis=2)
    return traj, r


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def bench(tau_h: float, repeat: int) -> list[dict]:
    g, xi, cue, s = problem(tau_h)
    ref, _ = run_scipy(xi, cue, tau_h, method="DOP853", rtol=1e-12, atol=1e-14)
    sp, sp_nfev = run_scipy(xi, cue, tau_h)
    sp_err = float(np.abs(sp - ref).max())
    # the cheapest (rtol, atol) on a small grid at which we are at least as accurate as scipy
    chosen = None
    best_fev = None
    for rtol in (1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7):
        for afac in (1e-3, 1e-2, 1e-1):
            traj, r = run_ours(g, cue, rtol, rtol * afac)
            if float(np.abs(traj - ref).max()) <= sp_err and (
                    best_fev is None or r.stats["fevals"] < best_fev):
                chosen, best_fev = (rtol, rtol * afac), r.stats["fevals"]
    rows = []
    t_sp = None
    for rtol, atol in ([chosen] if chosen is not None else []) + [(1e-6, 1e-9)]:
        traj, r = run_ours(g, cue, rtol, atol)
        err = float(np.abs(traj - ref).max())
        recall = float((np.sign(r.states["v"]) == s).all(axis=1).mean())
        t_ours = t_sp_k = float("inf")
        for _ in range(repeat):  # interleave the two so that load changes hit both
            t_ours = min(t_ours, best_time(
                lambda rtol=rtol, atol=atol: run_ours(g, cue, rtol, atol), 1))
            t_sp_k = min(t_sp_k, best_time(lambda: run_scipy(xi, cue, tau_h), 1))
        t_sp = t_sp_k if t_sp is None else min(t_sp, t_sp_k)
        rows.append(dict(tau_h=tau_h, rtol=rtol, atol=atol, err=err, fevals=r.stats["fevals"],
                         steps=r.stats["steps"], t=t_ours, sp_err=sp_err, sp_nfev=sp_nfev,
                         t_sp=t_sp_k, recall=recall,
                         settle=float(np.median(r.settle_time))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="tau_h = 0.01 only, repeat 3")
    ap.add_argument("--taus", default="0.01,0.1",
                    help="comma-separated tau_h values (0.001 adds ~1 min: scipy is slow there)")
    args = ap.parse_args()
    taus = [0.01] if args.quick else [float(x) for x in args.taus.split(",")]
    repeat = 3 if args.quick else args.repeat
    print(f"recall of {BATCH} cues, N_v = {N_V} (identity, tau_v = {TAU_V}), N_h = {N_H} "
          f"(softmax, beta = {BETA}), t_end = {T_END}; best of {repeat}")
    head = (f"{'tau_h':>6} {'solver':<26} {'rtol':>7} {'atol':>7} {'fevals':>7} {'steps':>6} "
            f"{'max err':>9} {'CPU [ms]':>10} {'speed-up':>9}")
    print(head)
    print("-" * len(head))
    for tau_h in taus:
        rows = bench(tau_h, repeat)
        r0 = rows[0]
        print(f"{tau_h:>6g} {'scipy solve_ivp RK45':<26} {1e-6:>7.0e} {1e-9:>7.0e} "
              f"{r0['sp_nfev']:>7d} {'~' + str((r0['sp_nfev'] - 2) // 6):>6} "
              f"{r0['sp_err']:>9.1e} {1e3 * r0['t_sp']:>10.1f} {'1.0x':>9}")
        for r in rows:
            label = "denseamc sim (equal acc.)" if r is r0 and len(rows) > 1 else \
                "denseamc sim (default)"
            print(f"{tau_h:>6g} {label:<26} {r['rtol']:>7.0e} {r['atol']:>7.0e} {r['fevals']:>7d} "
                  f"{r['steps']:>6d} {r['err']:>9.1e} {1e3 * r['t']:>10.1f} "
                  f"{r['t_sp'] / r['t']:>8.1f}x")
        print(f"{'':>6} (recall {r0['recall']:.0%}, median settle time {r0['settle']:.2f} tau_v; "
              f"speed-up = scipy time / our time, timed back to back)")


# -- extras used by bench/run_all.py: whole process, scaling, GEMM fraction -----------------------

WHOLE_CHILD = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {bench!r})
import bench_sim as b
g, xi, cue, s = b.problem({tau_h})
if {which!r} == "ours":
    b.run_ours(g, cue, {rtol}, {atol})
else:
    b.run_scipy(xi, cue, {tau_h})
print("RESULT", time.perf_counter() - t0)
"""


def whole_process(tau_h: float, rtol: float, atol: float, repeat: int) -> tuple[float, float]:
    """Median wall time [s] of a fresh `python` process doing the recall: (ours, scipy's).
    Both include interpreter start-up, imports and building the problem."""
    import statistics
    import subprocess

    def one(which: str) -> float:
        code = WHOLE_CHILD.format(bench=str(Path(__file__).resolve().parent), tau_h=tau_h,
                                  which=which, rtol=rtol, atol=atol)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - t0

    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(one("ours"))
        theirs.append(one("scipy"))
    return statistics.median(ours), statistics.median(theirs)


def _problem_sized(n_v: int, n_h: int, batch: int, tau_h: float, seed: int = 0):
    g = hopfield(n_v, n_h, beta=BETA, tau_v=TAU_V, tau_h=tau_h, seed=seed, readout_t=T_END)
    xi = np.asarray(g.weights("xi").value)
    rng = np.random.default_rng(seed + 1)
    s = np.sign(xi[rng.integers(n_h, size=batch)])
    cue = np.where(rng.random((batch, n_v)) < 0.2, -s, s) / np.sqrt(n_v)
    return g, xi, cue


def _scipy_sized(xi, cue, tau_h):
    batch, n_v = cue.shape
    n = n_v + xi.shape[0]
    xit = np.ascontiguousarray(xi.T)

    def f(t, y):
        y2 = y.reshape(batch, n)
        v, h = y2[:, :n_v], y2[:, n_v:]
        z = BETA * h
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        d = np.empty_like(y2)
        d[:, :n_v] = (p @ xi - v) / TAU_V
        d[:, n_v:] = (v @ xit - h) / tau_h
        return d.ravel()

    y0 = np.zeros((batch, n))
    y0[:, :n_v] = cue
    sol = solve_ivp(f, (0.0, T_END), y0.ravel(), method="RK45", rtol=1e-6, atol=1e-9,
                    t_eval=[T_END])
    return sol.nfev


def scaling(configs, tau_h: float, rtol: float, atol: float, repeat: int,
            scipy_max_weights_batch: float = 2**22) -> list[dict]:
    """CPU time [s] of ours (at (rtol, atol)) and scipy RK45 per (n_v, n_h, batch), best of
    `repeat`, interleaved; scipy is skipped above `scipy_max_weights_batch` = n_v n_h batch."""
    rows = []
    for n_v, n_h, batch in configs:
        g, xi, cue = _problem_sized(n_v, n_h, batch, tau_h)
        r = simulate(g, {"cue": cue}, rtol=rtol, atol=atol)
        do_sp = n_v * n_h * batch <= scipy_max_weights_batch
        t_o = t_s = float("inf")
        nfev = None
        for _ in range(repeat):
            t_o = min(t_o, best_time(
                lambda g=g, cue=cue: simulate(g, {"cue": cue}, rtol=rtol, atol=atol), 1))
            if do_sp:
                t0 = time.process_time()
                nfev = _scipy_sized(xi, cue, tau_h)
                t_s = min(t_s, time.process_time() - t0)
        rows.append(dict(n_v=n_v, n_h=n_h, batch=batch, t=t_o, fevals=r.stats["fevals"],
                         t_sp=t_s if do_sp else None, sp_nfev=nfev))
    return rows


def gemm_fraction(n_v: int, n_h: int, batch: int, tau_h: float, rtol: float, atol: float,
                  repeat: int) -> dict:
    """Flop rate of the simulator on a large batch vs this machine's np.matmul rate.

    Simulator flops = 4 batch n_v n_h per right-hand-side evaluation (the two matmuls
    p @ xi and v @ xi^T; softmax and the integrator's vector work are not counted) x evaluations
    / CPU time. GEMM rate: best of `repeat` of the same two matmul shapes back to back."""
    g, xi, cue = _problem_sized(n_v, n_h, batch, tau_h)
    p = np.random.default_rng(0).random((batch, n_h))
    v = np.random.default_rng(1).random((batch, n_v))
    xit = np.ascontiguousarray(xi.T)
    t_mm = float("inf")
    t_sim = float("inf")
    fev = 0
    for _ in range(repeat):
        t0 = time.process_time()
        for _k in range(10):
            _ = p @ xi
            _ = v @ xit
        t_mm = min(t_mm, (time.process_time() - t0) / 10)
        t0 = time.process_time()
        r = simulate(g, {"cue": cue}, rtol=rtol, atol=atol)
        t_sim = min(t_sim, time.process_time() - t0)
        fev = r.stats["fevals"]
    flops = 4.0 * batch * n_v * n_h
    return dict(n_v=n_v, n_h=n_h, batch=batch, gemm_gflops=flops / t_mm / 1e9,
                sim_gflops=flops * fev / t_sim / 1e9, fevals=fev, t=t_sim,
                fraction=(flops * fev / t_sim) / (flops / t_mm))


if __name__ == "__main__":
    main()
