"""`denseamc montecarlo`: how often the compiled circuit still computes the model once built.

The flow of `run_study`, top to bottom:

    points     one per `--sweep` value (or one): the `--set` settings, the swept key on top
    compile    every point first, so a bad setting stops the study before anything runs
    draws      in chunks [start, stop), run where `--workers`/`--scheduler` say
               (`compiler/executor.py`): realise draw k of the seed (`passes.realise`), run
               every test block on the backend, judge it as `check` does (`judge`)
    summarise  per point: accuracy, yield and its Wilson interval, per-vector failure rates,
               settle time and energy per inference, draws that failed (`PointResult.to_json`)

Draw k of seed s is realised from its own random stream, so a draw's result does not depend on
the chunk size, on which other draws run, or on where (this process, a local or a remote Dask
cluster) they run. A draw passes (counts towards the yield) when every test block passes under
its own `tol` and `min_pass`, exactly `check`'s verdict (on a netlist backend that includes the
agreement with the circuit backend, as in `check`); its accuracy is the fraction of all the
model's vectors that pass. A draw whose simulation failed every retry (`executor.FailedDraw`)
is listed by index in `failed_draws`, counts as not passing in the yield, and is left out of
the accuracy, settle-time and energy statistics (which are of the draws that ran).

On the netlist backends (spice: ngspice, veriloga: openvaf-r + VACASK) each draw's realised
circuit is printed as a netlist and run by `check.cosimulate`, the same path as `check
--backend spice|veriloga`; the settle time (hence the energy) is the circuit backend's on the
same realised circuit, since the simulators return the state at the readout time only.

Energy per inference (J), per vector: the nominal circuit's static power from the analysis
(op-amp bias plus crossbar dissipation, W) x that vector's simulated settle time (s), plus the
nominal capacitor energy C_F V^2 at the final state (J).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from denseamc.backends.circuit_result import CircuitSimResult
from denseamc.backends.circuit_sim import simulate_circuits
from denseamc.compiler.executor import FailedDraw, Job, Where, run_jobs
from denseamc.compiler.passes.realise import realise
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.compiler.verdicts import judge
from denseamc.compiler.yieldstats import mean_p95, percentile, wilson_interval
from denseamc.ir import DenseAMCError, Diagnostic, Severity, usage_error
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import KEYS, Hardware, check_value
from denseamc.ir.model import OutputOp, TestBlock

__all__ = ["BACKENDS", "DEFAULT_CHUNK", "NETLIST_CHUNK", "DrawResult", "DrawSetup", "PointResult",
           "Study", "Sweep", "compile_points", "default_chunk", "parse_axis", "parse_sweep",
           "run_draws", "run_study"]

#: The backends `--backend` names: the numpy circuit simulator, ngspice, openvaf-r + VACASK.
BACKENDS = ("circuit", "spice", "veriloga")
#: Draws per chunk (one task) unless `--chunk` says otherwise: on the circuit backend a chunk's
#: draws are integrated together and one draw takes milliseconds, so several share a task; on a
#: netlist backend one draw takes seconds, so each is its own task and a cluster's workers stay
#: evenly loaded (40 draws in chunks of 8 on 2 workers would leave one worker 3 chunks, the
#: other 2).
DEFAULT_CHUNK = 8
NETLIST_CHUNK = 1


def default_chunk(backend: str) -> int:
    """`--chunk`'s default on `backend`."""
    return DEFAULT_CHUNK if backend == "circuit" else NETLIST_CHUNK


@dataclass(frozen=True)
class Sweep:
    """`--sweep KEY=V1,V2,...`: one numeric hardware key and its values, as given."""

    key: str
    values: tuple[str, ...]


def parse_sweep(text: str | None) -> Sweep | None:
    """Parse and check `--sweep` (None when not given): a known numeric key, valid values."""
    if text is None:
        return None
    key, sep, rest = text.partition("=")
    values = tuple(v.strip() for v in rest.split(","))
    if not sep or not key.strip() or not all(values):
        raise usage_error(
            f"--sweep {text}: expected KEY=V1,V2,... e.g. --sweep g_sigma=0,0.02,0.05")
    return parse_axis(key.strip(), values, f"--sweep {text}")


def parse_axis(key: str, values: Sequence[str], option: str) -> Sweep:
    """One axis of a sweep, checked: `key` a known numeric hardware setting, every value valid
    for it; `option` names the command-line text in the messages."""
    if key not in KEYS:
        raise usage_error(f"{option}: unknown hardware setting '{key}'",
                          "known keys: " + ", ".join(sorted(KEYS)))
    if KEYS[key].kind == "enum":
        raise usage_error(f"{option}: '{key}' is not numeric (one of "
                          f"{', '.join(KEYS[key].choices)}); sweep a numeric setting, and run "
                          f"once per choice with --set {key}=...")
    for v in values:
        _, diag = check_value(key, v, None)
        if diag is not None or v == "auto":
            why = diag.message if diag is not None else "auto is not a number"
            raise usage_error(f"{option}: {why}")
    return Sweep(key, tuple(values))


@dataclass(frozen=True)
class DrawResult:
    """One draw: each block's per-vector verdicts, check's verdict on the whole draw (`ok`),
    and per vector (blocks in order) the settle time (s) and the energy per inference (J)."""

    draw: int
    passed: Mapping[str, tuple[bool, ...]]
    ok: bool
    settle_s: tuple[float, ...]
    energy_j: tuple[float, ...]

    @property
    def accuracy(self) -> float:
        """The fraction of all the model's vectors that pass in this draw."""
        flags = [f for block in self.passed.values() for f in block]
        return sum(flags) / len(flags)


@dataclass(frozen=True)
class DrawSetup:
    """What the draws of one point need of its compilation: the nominal circuit, the hardware
    settings, the test blocks and outputs, and the nominal power (W) and capacitor energy (J);
    the backend that runs them and its simulator time limit (s); `nominal`: run the nominal
    circuit itself (draw k is then draw 0, `sweep` without `--runs`). Small and picklable:
    worker processes get it rather than compiling the model again."""

    circuit: CircuitIR
    hardware: Hardware
    tests: tuple[TestBlock, ...]
    outputs: tuple[OutputOp, ...]
    power_w: float
    capacitors_j: float
    backend: str = "circuit"
    timeout_s: float = 300.0
    nominal: bool = False

    @classmethod
    def of(cls, comp: Compilation) -> DrawSetup:
        power = comp.analysis.power
        return cls(comp.circuit, comp.hardware, tuple(comp.graph.tests),
                   tuple(comp.graph.outputs()), power.total_w, power.capacitors_j)


def run_draws(point: Compilation | DrawSetup, seed: int, start: int, stop: int
              ) -> list[DrawResult]:
    """Draws start..stop-1 of `seed` on the setup's backend (each independent of the others)."""
    setup = point if isinstance(point, DrawSetup) else DrawSetup.of(point)
    draws = range(start, stop)
    circuits = [setup.circuit if setup.nominal else realise(setup.circuit, setup.hardware, seed, k)
                for k in draws]
    runs = {block.name: _block_runs(setup, circuits, block) for block in setup.tests}
    return [_draw_result(setup, k, {name: r[i] for name, r in runs.items()})
            for i, k in enumerate(draws)]


#: One draw's run of one test block: decoded outputs, whether a netlist agreed with the circuit
#: backend (always True on the circuit backend), and the circuit backend's result.
BlockRun = tuple[Mapping[str, Any], bool, CircuitSimResult]


def _block_runs(setup: DrawSetup, circuits: list[CircuitIR], block: TestBlock) -> list[BlockRun]:
    inputs = block.stacked_inputs()
    if setup.backend == "circuit":  # every draw at once; each draw's numbers are its own
        return [(sim.outputs, True, sim)
                for sim in simulate_circuits(circuits, inputs, swing=False)]
    from denseamc.compiler.check import cosimulate

    out: list[BlockRun] = []
    for circuit in circuits:  # the draw's netlist on the real simulator, held against the circuit
        run, sim = cosimulate(setup.backend, circuit, inputs, setup.timeout_s)
        out.append((run.outputs, run.ok, sim))
    return out


def _draw_result(setup: DrawSetup, k: int, runs: Mapping[str, BlockRun]) -> DrawResult:
    outputs = list(setup.outputs)
    passed: dict[str, tuple[bool, ...]] = {}
    settle: list[float] = []
    ok = True
    for block in setup.tests:
        got, agrees, sim = runs[block.name]
        verdict = judge(block, got, outputs)
        passed[block.name] = tuple(r.passed for r in verdict.results)
        ok &= verdict.passed and agrees
        settle += [float(t) for t in sim.settle_time_s]
    energy = tuple(setup.power_w * t + setup.capacitors_j for t in settle)
    return DrawResult(k, passed, ok, tuple(settle), energy)


@dataclass(frozen=True)
class PointResult:
    """The draws of one sweep point; `settings` the values it ran with (resolved); `failed`
    the draws whose simulation failed every retry (not in `draws`)."""

    settings: Mapping[str, Any]
    draws: tuple[DrawResult, ...]
    failed: tuple[FailedDraw, ...] = ()

    @property
    def runs(self) -> int:
        return len(self.draws) + len(self.failed)

    @property
    def yield_(self) -> float:
        """Passing draws over all draws: a failed draw is not a pass."""
        return sum(d.ok for d in self.draws) / self.runs

    def failure_rates(self) -> dict[str, list[float]]:
        """Per block, per vector: the fraction of draws in which the vector failed."""
        if not self.draws:
            return {}
        first = self.draws[0].passed
        n = len(self.draws)
        return {b: [sum(not d.passed[b][i] for d in self.draws) / n for i in range(len(v))]
                for b, v in first.items()}

    def block_accuracy(self, block: str) -> float:
        """The mean over draws of the fraction of `block`'s vectors that pass."""
        return float(np.mean([sum(d.passed[block]) / len(d.passed[block]) for d in self.draws]))

    def to_json(self) -> dict[str, Any]:
        acc = [d.accuracy for d in self.draws]
        lo, hi = wilson_interval(sum(d.ok for d in self.draws), self.runs)
        ran = bool(self.draws)
        return {
            "settings": dict(self.settings),
            "accuracy_mean": float(np.mean(acc)) if ran else None,
            "accuracy_min": float(min(acc)) if ran else None,
            "accuracy_p05": percentile(acc, 5.0) if ran else None,
            "yield": self.yield_,
            "yield_ci95": [lo, hi],
            "vector_failure_rate": self.failure_rates(),
            "settle_time_s": mean_p95([t for d in self.draws for t in d.settle_s])
            if ran else None,
            "energy_j": mean_p95([e for d in self.draws for e in d.energy_j]) if ran else None,
            "failed_draws": [{"draw": f.draw, "error": f.error} for f in self.failed],
        }


@dataclass(frozen=True)
class Study:
    """A whole study: what `--json` writes (`to_json`) and the table prints; `axes` the swept
    keys, in the order given."""

    model: str
    backend: str
    runs: int
    seed: int
    axes: tuple[str, ...]
    points: tuple[PointResult, ...]

    @property
    def sweep_key(self) -> str | None:
        return self.axes[0] if self.axes else None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "backend": self.backend, "runs": self.runs,
                "seed": self.seed, "points": [p.to_json() for p in self.points]}


def _axes(sweep: Sweep | Sequence[Sweep] | None) -> tuple[Sweep, ...]:
    if sweep is None:
        return ()
    return (sweep,) if isinstance(sweep, Sweep) else tuple(sweep)


def _point_settings(settings: Mapping[str, str], axes: Sequence[Sweep]) -> list[dict[str, str]]:
    """The grid: every combination of the axes' values (the last axis varying fastest), on top
    of the fixed settings."""
    return [{**settings, **{a.key: v for a, v in zip(axes, values, strict=True)}}
            for values in itertools.product(*(a.values for a in axes))]


def compile_points(model: Path, profile: Path | None, settings: Mapping[str, str],
                   sweep: Sweep | Sequence[Sweep] | None) -> list[Compilation]:
    """Compile every point of the sweep (one axis, several: their grid, or none: one point) up
    to its analysed circuit: any bad setting raises before a draw."""
    comps = []
    for point in _point_settings(settings, _axes(sweep)):
        comp = compile_model(model, hardware_profile=profile, settings=point)
        if not comp.graph.tests:
            raise DenseAMCError(Diagnostic(Severity.ERROR, "the model has no test blocks to "
                                           "run a Monte Carlo study on", file=str(model)))
        _ = comp.analysis
        comps.append(comp)
    return comps


def run_study(comps: list[Compilation], runs: int, seed: int, chunk: int,
              sweep: Sweep | Sequence[Sweep] | None,
              progress: Callable[[int, int], None] = lambda done, failed: None,
              where: Where | None = None, backend: str = "circuit",
              nominal: bool = False) -> Study:
    """Run `runs` draws of every compiled point on `backend`, in chunks of `chunk` draws, where
    `where` says (default: this process); `progress(done, failed)` is told how many draws (over
    all points) have finished and failed. The results are the same for any chunk size and
    wherever they run. `nominal`: every draw is the nominal circuit (a check per point)."""
    where = where or Where()
    setups = [replace(DrawSetup.of(c), backend=backend, timeout_s=where.timeout_s,
                      nominal=nominal) for c in comps]
    spans = [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]
    tasks = [(setup, seed) for setup in setups]  # one payload per point, shipped once
    jobs = [Job(_draw_chunk, task, a, b) for task in tasks for a, b in spans]
    outcomes = iter(run_jobs(jobs, where, progress))
    points = []
    for comp in comps:
        per_draw = [o for _ in spans for o in next(outcomes)]  # this point's jobs, in order
        keys = sorted(comp.settings)
        points.append(PointResult(
            {k: getattr(comp.hardware, k) for k in keys},
            tuple(d for d in per_draw if isinstance(d, DrawResult)),
            tuple(d for d in per_draw if isinstance(d, FailedDraw))))
    return Study(comps[0].graph.name, backend, runs, seed, tuple(a.key for a in _axes(sweep)),
                 tuple(points))


def _draw_chunk(task: tuple[DrawSetup, int], start: int, stop: int) -> list[DrawResult]:
    """One chunk of draws of a point (what the executor runs)."""
    setup, seed = task
    return run_draws(setup, seed, start, stop)
