"""What `denseamc montecarlo` shows: the table on stdout and the `--plot` figure.

Every number in the table carries its unit (accuracy and yield are fractions, 0..1). The plot
draws accuracy (mean, minimum, 5th percentile) and yield with its 95% Wilson interval against
the swept setting (against the point's index when nothing is swept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denseamc.compiler.montecarlo import PointResult, Study
from denseamc.compiler.plot import pyplot, save_figure

__all__ = ["plot_study", "table_lines"]


def _g(x: float) -> str:
    return f"{x:.4g}"


def _settings(point: PointResult) -> str:
    if not point.settings:
        return "settings of the profile and the model"
    return ", ".join(f"{k} = {v}" for k, v in point.settings.items())


def _fragile(rates: list[float]) -> str:
    worst = sorted(((r, i) for i, r in enumerate(rates) if r > 0), key=lambda t: (-t[0], t[1]))
    if not worst:
        return "none"
    return ", ".join(f"vector {i + 1} ({100 * r:.3g}% of draws)" for r, i in worst[:8]) + (
        f" and {len(worst) - 8} more" if len(worst) > 8 else "")


def _point_lines(point: PointResult) -> list[str]:
    j: dict[str, Any] = point.to_json()
    if not point.draws:
        return [f"{_settings(point)}:", f"  no draw ran: all {point.runs} failed"]
    n_vec = sum(len(v) for v in j["vector_failure_rate"].values())
    passing = sum(d.ok for d in point.draws)
    lo, hi = j["yield_ci95"]
    lines = [
        f"{_settings(point)}:",
        f"  accuracy: mean {_g(j['accuracy_mean'])}, min {_g(j['accuracy_min'])}, "
        f"p05 {_g(j['accuracy_p05'])} (fraction of {n_vec} vectors passing)",
        f"  yield: {_g(j['yield'])} ({passing} of {point.runs} draws pass every test "
        f"block), 95% Wilson interval [{_g(lo)}, {_g(hi)}] (fraction)",
    ]
    for block, rates in j["vector_failure_rate"].items():
        lines.append(f"  test \"{block}\": accuracy mean {_g(point.block_accuracy(block))} "
                     f"(fraction of {len(rates)} vectors); failing: {_fragile(rates)}")
    st, en = j["settle_time_s"], j["energy_j"]
    lines.append(f"  settle time: mean {_g(st['mean'])} s, p95 {_g(st['p95'])} s")
    lines.append(f"  energy per inference: mean {_g(en['mean'])} J, p95 {_g(en['p95'])} J")
    if point.failed:
        lines.append(f"  failed draws (not run, counted as not passing): "
                     f"{', '.join(str(f.draw) for f in point.failed)}")
    return lines


def table_lines(study: Study) -> list[str]:
    """The readable summary: one paragraph per sweep point."""
    out = [f"Monte Carlo: {study.model} on backend {study.backend}, {study.runs} draws per "
           f"point, seed {study.seed}"]
    for point in study.points:
        out += _point_lines(point)
    return out


def plot_study(study: Study, path: Path) -> None:
    """Accuracy and yield against the swept setting, written to `path` (PNG)."""
    plt = pyplot()
    key = study.sweep_key
    xs = [float(p.settings[key]) if key else float(i) for i, p in enumerate(study.points)]
    js = [p.to_json() for p in study.points if p.draws]
    xs = [x for x, p in zip(xs, study.points, strict=True) if p.draws]
    fig, (ax_a, ax_y) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    ax_a.plot(xs, [j["accuracy_mean"] for j in js], "o-", label="mean")
    ax_a.plot(xs, [j["accuracy_p05"] for j in js], "s--", label="5th percentile")
    ax_a.plot(xs, [j["accuracy_min"] for j in js], "v:", label="minimum")
    ax_a.set_ylabel("accuracy (fraction)")
    ax_a.set_ylim(-0.02, 1.02)
    ax_a.legend(loc="lower left")
    ys = [j["yield"] for j in js]
    err = [[y - j["yield_ci95"][0] for y, j in zip(ys, js, strict=True)],
           [j["yield_ci95"][1] - y for y, j in zip(ys, js, strict=True)]]
    ax_y.errorbar(xs, ys, yerr=err, fmt="o-", capsize=3, label="yield, 95% Wilson interval")
    ax_y.set_ylabel("yield (fraction)")
    ax_y.set_ylim(-0.02, 1.02)
    ax_y.legend(loc="lower left")
    ax_y.set_xlabel(key if key else "point")
    fig.suptitle(f"{study.model}: {study.runs} draws per point, seed {study.seed}, "
                 f"backend {study.backend}")
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
