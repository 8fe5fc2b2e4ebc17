"""Benchmark: the paper's constant-time claim. Analog latency vs N, predicted and SPICE-measured.

Models (written as .dam files and compiled with the compiler's defaults, `compile_model`):
  identity visible layer v[N] (tau = 1), softmax hidden layer h[N] (beta = 20, tau = 0.1, the
  paper's ratio of 10), N random memories xi_mu = s_mu / sqrt(N), s_mu in {-1, +1}^N (unit norm),
  E = legendre(v) + legendre(h) - h @ xi @ v; the cue (init input of v) is memory 0 with 10% of
  its signs flipped; readout at t = 15 model units. Default hardware: ideal amplifiers in the
  netlists, gbw = 1 GHz, tau_margin = 10, tau_unit = auto.

Columns:
  rate       slowest rate r = min(-Re eig J) of the dynamics linearised at the final state
             (the report's `latency_s` method; J analytic here, checked against the report's
             finite-difference `slowest_rate` up to N = 64), per model time unit
  t_model    predicted settle time ln(1000) / r, in model time units
  ideal      t_model * tau_unit with tau_unit FIXED at its N = 8 value for every N: ideal,
             infinitely fast amplifiers, the same RC constants for every N (the paper's claim)
  GBW        t_model * tau_unit(auto): the compiler's tau_unit = auto keeps every RC constant
             tau_margin x the closed-loop amplifier time constant (1 + fan-in sum |w|) / (2 pi gbw),
             so a 1 GHz amplifier forces slower RC cells as the fan-in grows
  SPICE      settle time measured in ngspice on the compiled netlist (tau_unit auto): the first
             time after which every state (v and h) stays within 1e-3 x max|final state| of its
             final value, from the raw transient (every accepted time point)
  digital    wall time of one inference on the model backend (`simulate`, batch 1, median of 5)

Run: python bench/bench_latency.py [--quick] [--plot docs/latency_vs_n.png]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from denseamc.backends import runners  # noqa: E402
from denseamc.backends.naming import Namer  # noqa: E402
from denseamc.backends.sim import simulate  # noqa: E402
from denseamc.backends.spice import NgspiceEmitter  # noqa: E402
from denseamc.backends.stimulus import stimuli  # noqa: E402
from denseamc.compiler.passes.linearise import slowest_rate  # noqa: E402
from denseamc.compiler.pipeline import Compilation, compile_model  # noqa: E402

BETA, TAU_V, TAU_H, T_READ, FLIP, SETTLE = 20.0, 1.0, 0.1, 15.0, 0.1, 1e-3

DAM = """model hop{n}
layer v[{n}]: identity tau={tau_v}
layer h[{n}]: softmax({beta}) tau={tau_h}
weights xi[{n}, {n}] = load("xi.npy")
energy E = legendre(v) + legendre(h) - h @ xi @ v
input cue[{n}]: init v
output y[{n}]: sign(v)
readout at t = {t}
"""


def hopfield_model(d: Path, n: int, seed: int = 0) -> tuple[Compilation, np.ndarray, np.ndarray]:
    """(compilation, xi, cue[1, n]) of the random Hopfield model of size n, in directory d."""
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 1.0], size=(n, n))
    xi = s / np.sqrt(n)
    np.save(d / "xi.npy", xi)
    (d / "m.dam").write_text(DAM.format(n=n, tau_v=TAU_V, tau_h=TAU_H, beta=BETA, t=T_READ))
    flip = rng.random(n) < FLIP
    cue = np.where(flip, -s[0], s[0])[None, :] / np.sqrt(n)
    return compile_model(d / "m.dam"), xi, cue


def analytic_rate(xi: np.ndarray, v: np.ndarray, h: np.ndarray) -> float:
    """min(-Re eig J) at (v, h): J = [[-I/tau_v, xi^T S/tau_v], [xi/tau_h, -I/tau_h]]."""
    n_h, n_v = xi.shape
    z = BETA * h
    p = np.exp(z - z.max())
    p /= p.sum()
    s_mat = BETA * (np.diag(p) - np.outer(p, p))
    jac = np.zeros((n_v + n_h, n_v + n_h))
    jac[:n_v, :n_v] = -np.eye(n_v) / TAU_V
    jac[:n_v, n_v:] = xi.T @ s_mat / TAU_V
    jac[n_v:, :n_v] = xi / TAU_H
    jac[n_v:, n_v:] = -np.eye(n_h) / TAU_H
    return float(np.min(-np.linalg.eigvals(jac).real))


def settle_time(t: np.ndarray, x: np.ndarray, eps: float = SETTLE) -> float:
    """First time after which every column of x (time along axis 0) stays within eps x
    max|x(end)| of x(end), linearly interpolated between the two samples around it."""
    dev = np.abs(x - x[-1]).max(axis=1)
    thr = eps * float(np.abs(x[-1]).max())
    out = np.nonzero(dev > thr)[0]
    if len(out) == 0:
        return float(t[0])
    k = int(out[-1])
    if k + 1 >= len(t):
        return math.inf
    f = (dev[k] - thr) / (dev[k] - dev[k + 1]) if dev[k] != dev[k + 1] else 1.0
    return float(t[k] + f * (t[k + 1] - t[k]))


def spice_settle(comp: Compilation, cue: np.ndarray, timeout_s: float) -> tuple[float, float, int]:
    """(settle time [s], ngspice wall time [s], time points) of one ngspice transient."""
    circuit = comp.circuit
    stim = stimuli(circuit, {"cue": cue})[0]
    namer = Namer()
    text = NgspiceEmitter(circuit, stim, namer=namer, loc_comments=False,
                          energy_probe=False).format()
    nets = [f"v({namer.net(f'{lay.name}_x_{i}')})" for lay in circuit.layers
            for i in range(lay.size)]
    t0 = time.perf_counter()
    res = runners.run_ngspice(text, timeout_s, expect=nets)
    wall = time.perf_counter() - t0
    x = np.stack([res[v] for v in nets], axis=1)
    return settle_time(res.time, x), wall, res.points


def measure(n: int, spice_timeout: float, do_spice: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_latency_") as tmp:
        comp, xi, cue = hopfield_model(Path(tmp), n)
        g = comp.graph
        grid = np.linspace(0.0, T_READ, 3001)
        r = simulate(g, {"cue": cue}, record=grid)
        v, h = r.states["v"][0], r.states["h"][0]
        rate = analytic_rate(xi, v, h)
        check = None
        if n <= 64:
            check = slowest_rate(g, {"v": v, "h": h}, {}, {"v": (), "h": ()})
        traj = np.concatenate([r.trajectories["v"][:, 0], r.trajectories["h"][:, 0]], axis=1)
        model_settle = settle_time(grid, traj)
        recalled = bool((np.sign(v) == np.sign(xi[0])).all())
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            simulate(g, {"cue": cue})
            times.append(time.perf_counter() - t0)
        digital = statistics.median(times)
        tau_auto = comp.circuit.scaling.tau_unit_s
        row = dict(n=n, rate=rate, rate_check=check, t_model=math.log(1 / SETTLE) / rate,
                   model_settle=model_settle, tau_auto=tau_auto, digital=digital,
                   recalled=recalled, spice=None, spice_wall=None, spice_points=None)
        if do_spice:
            try:
                row["spice"], row["spice_wall"], row["spice_points"] = spice_settle(
                    comp, cue, spice_timeout)
            except runners.SimulatorError as e:
                print(f"  N = {n}: ngspice did not finish: {str(e).splitlines()[0]}", flush=True)
    return row


def run(sizes: list[int], spice_timeout: float = 60.0) -> list[dict]:
    rows = []
    do_spice = True
    for n in sizes:
        row = measure(n, spice_timeout, do_spice)
        rows.append(row)
        if row["spice"] is None:
            do_spice = False  # a larger model will not finish either
        print(f"  N = {n}: t_model {row['t_model']:.3f}, tau_unit {row['tau_auto']:.3g} s, "
              f"spice {row['spice']}, spice wall {row['spice_wall']}, "
              f"digital {row['digital'] * 1e3:.1f} ms", flush=True)
    tau_fixed = rows[0]["tau_auto"]
    for row in rows:
        row["tau_fixed"] = tau_fixed
        row["ideal_s"] = row["t_model"] * tau_fixed
        row["gbw_s"] = row["t_model"] * row["tau_auto"]
    return rows


def _s(x: float | None, scale: float = 1e6, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x * scale, fmt)


def table(rows: list[dict]) -> str:
    out = ["| N_v = N_h | weights | slowest rate [1/t] | predicted t_model [t] | model-backend "
           "settle [t] | ideal amps, fixed tau_unit [us] | GBW-limited, tau_unit auto [us] | "
           "SPICE settle [us] | SPICE / predicted | tau_unit auto [ns] | digital, model backend "
           "[ms/inference] | recalled |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = (r["spice"] / r["gbw_s"]) if r["spice"] is not None else None
        out.append(
            f"| {r['n']} | {2 * r['n'] ** 2:,} | {r['rate']:.4f} | {r['t_model']:.2f} | "
            f"{r['model_settle']:.2f} | {_s(r['ideal_s'])} | {_s(r['gbw_s'])} | "
            f"{_s(r['spice'])} | {'-' if ratio is None else f'{ratio:.2f}'} | "
            f"{r['tau_auto'] * 1e9:.1f} | {r['digital'] * 1e3:.1f} | "
            f"{'yes' if r['recalled'] else 'no'} |")
    return "\n".join(out)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(n, [r["ideal_s"] for r in rows], "o-", label="predicted, ideal amps, fixed tau_unit")
    ax.loglog(n, [r["gbw_s"] for r in rows], "s-", label="predicted, GBW-limited (tau_unit auto)")
    sp = [(r["n"], r["spice"]) for r in rows if r["spice"] is not None]
    if sp:
        ax.loglog(*zip(*sp, strict=True), "^", ms=9, label="ngspice measured (tau_unit auto)")
    ax.loglog(n, [r["digital"] for r in rows], "d--", label="digital: model backend wall time")
    ax.set_xlabel("N_v = N_h (neurons per layer)")
    ax.set_ylabel("time to settle within 1e-3 [s]")
    ax.set_title("Dense AM recall latency vs size (1 GHz amplifiers, tau_margin 10)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--spice-timeout", type=float, default=60.0)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else (
        [8, 16, 32] if a.quick else [8, 16, 32, 64, 128, 256, 512, 1024])
    rows = run(sizes, a.spice_timeout)
    print(table(rows))
    if a.plot:
        plot(rows, Path(a.plot))


if __name__ == "__main__":
    sys.exit(main())
