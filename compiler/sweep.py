"""`denseamc sweep`: the grid of hardware settings, each point checked (or Monte-Carlo'd).

    denseamc sweep MODEL.dam --set K=V1,V2,... [--set K2=...] [--runs N] [--backend B]

A `--set` with several comma-separated values is an axis of the grid; one with a single value
is a fixed setting of every point. Every point of the grid (every combination of the axes'
values) is compiled first (a bad value stops the sweep before anything runs), then its draws run
through `montecarlo.run_study`, the same compilation, draws and summary as `denseamc montecarlo`:
without `--runs`, one run of the nominal circuit per point (check's verdict); with `--runs N`,
N realised draws per point. Per point the table gives the predicted latency (s, the analysis of
the compile), the simulated settle time and energy per inference (s, J), the accuracy and the
yield (fractions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denseamc.compiler.montecarlo import Study, Sweep, parse_axis
from denseamc.compiler.pipeline import Compilation
from denseamc.ir import usage_error
from denseamc.ir.hardware import KEYS

__all__ = ["Grid", "SweepResult", "parse_grid", "sweep_lines"]


@dataclass(frozen=True)
class Grid:
    """`--set` options split into the fixed settings and the swept axes (in the given order)."""

    fixed: dict[str, str]
    axes: tuple[Sweep, ...]


def parse_grid(items: Sequence[str]) -> Grid:
    """`--set K=V` (fixed) and `--set K=V1,V2,...` (an axis), checked; later fixed values win,
    a key given twice as an axis or both ways is a usage error."""
    fixed: dict[str, str] = {}
    axes: dict[str, Sweep] = {}
    for item in items:
        key, sep, rest = item.partition("=")
        key = key.strip()
        values = tuple(v.strip() for v in rest.split(","))
        if not sep or not key or not all(values):
            raise usage_error(f"--set {item}: expected KEY=VALUE or KEY=V1,V2,... e.g. "
                              "--set g_sigma=0,0.02,0.05")
        if key in axes or (len(values) > 1 and key in fixed):
            raise usage_error(f"--set {item}: '{key}' is set more than once")
        if len(values) > 1:
            axes[key] = parse_axis(key, values, f"--set {item}")
        else:
            fixed[key] = values[0]
    clash = sorted(set(fixed) & set(axes))
    if clash:
        raise usage_error(f"--set {clash[0]}: set more than once")
    return Grid(fixed, tuple(axes.values()))


@dataclass(frozen=True)
class SweepResult:
    """The study over the grid and each point's predicted latency (s, None when unknown)."""

    study: Study
    latency_s: tuple[float | None, ...]
    checked: bool  # True: one nominal run per point (no --runs)

    def to_json(self) -> dict[str, Any]:
        data = self.study.to_json()
        data["runs"] = None if self.checked else self.study.runs
        data["axes"] = list(self.study.axes)
        for point, latency in zip(data["points"], self.latency_s, strict=True):
            point["latency_s"] = latency
        return data

    @classmethod
    def of(cls, study: Study, comps: Sequence[Compilation], checked: bool) -> SweepResult:
        return cls(study, tuple(c.analysis.latency_s for c in comps), checked)


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


COLUMNS = ("latency (s)", "settle p95 (s)", "energy mean (J)", "accuracy mean", "yield",
           "failed draws")


def sweep_lines(result: SweepResult) -> list[str]:
    """The table: one row per grid point; the swept keys, then the measures with their units."""
    study = result.study
    what = ("nominal circuit, check's verdict" if result.checked
            else f"{study.runs} draws per point, seed {study.seed}")
    head = [f"{a} ({KEYS[a].unit})" if KEYS[a].unit else a for a in study.axes] + list(COLUMNS)
    rows = []
    for point, latency in zip(study.points, result.latency_s, strict=True):
        j = point.to_json()
        settle, energy = j["settle_time_s"], j["energy_j"]
        rows.append([*(_g(float(point.settings[a])) for a in study.axes), _g(latency),
                     _g(settle and settle["p95"]), _g(energy and energy["mean"]),
                     _g(j["accuracy_mean"]), _g(j["yield"]),
                     ", ".join(str(f.draw) for f in point.failed) or "none"])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    out = [f"Sweep: {study.model} on backend {study.backend}, {len(study.points)} points ({what})",
           fmt.format(*head)]
    out += [fmt.format(*r) for r in rows]
    return out


PANELS = ("latency (s)", "energy per inference (J)", "accuracy (fraction)", "yield (fraction)")


def _panel_value(panel: str, j: dict[str, Any], latency: float | None) -> float | None:
    """The value a plot panel shows for one point (None: unknown, not drawn)."""
    if panel == PANELS[0]:
        return latency
    if panel == PANELS[1]:
        return j["energy_j"]["mean"] if j["energy_j"] else None
    return j["accuracy_mean"] if panel == PANELS[2] else j["yield"]  # type: ignore[no-any-return]


def plot_sweep(result: SweepResult, path: Path) -> None:
    """Latency, energy, accuracy and yield against the first axis, one line per combination of
    the other axes' values."""
    from denseamc.compiler.plot import pyplot, save_figure

    plt = pyplot()
    study = result.study
    key = study.sweep_key
    lines: dict[str, list[tuple[float, dict[str, Any], float | None]]] = {}
    for i, (point, latency) in enumerate(zip(study.points, result.latency_s, strict=True)):
        label = ", ".join(f"{a} = {point.settings[a]}" for a in study.axes[1:])
        x = float(point.settings[key]) if key else float(i)
        lines.setdefault(label, []).append((x, point.to_json(), latency))
    fig, axs = plt.subplots(4, 1, figsize=(6, 9), sharex=True)
    for ax, label in zip(axs, PANELS, strict=True):
        for name, pts in lines.items():
            xy = [(x, _panel_value(label, j, lat)) for x, j, lat in pts]
            ax.plot([x for x, y in xy if y is not None], [y for _, y in xy if y is not None],
                    "o-", label=name or None)
        ax.set_ylabel(label)
        if "fraction" in label:
            ax.set_ylim(-0.02, 1.02)
    if len(lines) > 1:
        axs[0].legend(loc="best", fontsize="small")
    axs[-1].set_xlabel((f"{key} ({KEYS[key].unit})" if KEYS[key].unit else key) if key
                       else "point")
    fig.suptitle(f"{study.model}: sweep on backend {study.backend}")
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
