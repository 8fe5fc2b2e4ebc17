"""`denseamc montecarlo`: how often the compiled circuit still computes the model once built.

The flow of `run_study`, top to bottom:

    points     one per `--sweep` value (or one): the `--set` settings, the swept key on top
    compile    every point first, so a bad setting stops the study before anything runs
    draws      in chunks [start, stop): realise draw k of the seed (`passes.realise`), simulate
               every test block on the circuit backend, judge it as `check` does (`judge`)
    summarise  per point: accuracy, yield and its Wilson interval, per-vector failure rates,
               settle time and energy per inference (`PointResult.to_json`)

Draw k of seed s is realised from its own random stream, so a draw's result does not depend on
the chunk size, on which other draws run, or on how many worker processes (`--jobs`) run them.
A draw passes (counts towards the yield) when every test block passes under its own `tol` and
`min_pass`, exactly `check`'s verdict; its accuracy is the fraction of all the model's vectors
that pass.

Energy per inference (J), per vector: the nominal circuit's static power from the analysis
(op-amp bias plus crossbar dissipation, W) x that vector's simulated settle time (s), plus the
nominal capacitor energy C_F V^2 at the final state (J).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from denseamc.backends.circuit_sim import simulate_circuits
from denseamc.compiler.passes.realise import realise
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.compiler.verdicts import judge
from denseamc.compiler.yieldstats import mean_p95, percentile, wilson_interval
from denseamc.ir import DenseAMCError, Diagnostic, Severity, usage_error
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import KEYS, Hardware, check_value
from denseamc.ir.model import OutputOp, TestBlock

__all__ = ["BACKENDS", "DEFAULT_CHUNK", "SUPPORTED", "DrawResult", "DrawSetup", "PointResult",
           "Study", "Sweep", "compile_points", "parse_sweep", "run_draws", "run_study"]

#: The backends `--backend` names; only these run today (the netlist ones need item 5).
BACKENDS = ("circuit", "spice", "veriloga")
SUPPORTED = ("circuit",)
#: Draws simulated per chunk unless `--chunk` says otherwise.
DEFAULT_CHUNK = 8


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
    key = key.strip()
    values = tuple(v.strip() for v in rest.split(","))
    if not sep or not key or not all(values):
        raise usage_error(
            f"--sweep {text}: expected KEY=V1,V2,... e.g. --sweep g_sigma=0,0.02,0.05")
    if key not in KEYS:
        raise usage_error(f"--sweep {text}: unknown hardware setting '{key}'",
                     "known keys: " + ", ".join(sorted(KEYS)))
    if KEYS[key].kind == "enum":
        raise usage_error(f"--sweep {text}: '{key}' is not numeric (one of "
                     f"{', '.join(KEYS[key].choices)}); sweep a numeric setting, and run once "
                     f"per choice with --set {key}=...")
    for v in values:
        _, diag = check_value(key, v, None)
        if diag is not None or v == "auto":
            why = diag.message if diag is not None else "auto is not a number"
            raise usage_error(f"--sweep {text}: {why}")
    return Sweep(key, values)


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
    settings, the test blocks and outputs, and the nominal power (W) and capacitor energy (J).
    Small and picklable: worker processes get it rather than compiling the model again."""

    circuit: CircuitIR
    hardware: Hardware
    tests: tuple[TestBlock, ...]
    outputs: tuple[OutputOp, ...]
    power_w: float
    capacitors_j: float

    @classmethod
    def of(cls, comp: Compilation) -> DrawSetup:
        power = comp.analysis.power
        return cls(comp.circuit, comp.hardware, tuple(comp.graph.tests),
                   tuple(comp.graph.outputs()), power.total_w, power.capacitors_j)


def run_draws(point: Compilation | DrawSetup, seed: int, start: int, stop: int
              ) -> list[DrawResult]:
    """Draws start..stop-1 of `seed` on the circuit backend (each independent of the others)."""
    setup = point if isinstance(point, DrawSetup) else DrawSetup.of(point)
    outputs = list(setup.outputs)
    out: list[DrawResult] = []
    circuits = [realise(setup.circuit, setup.hardware, seed, k) for k in range(start, stop)]
    # per block, every draw at once (each draw's numbers are its own: simulate_circuits)
    sims = {block.name: simulate_circuits(circuits, block.stacked_inputs(), swing=False)
            for block in setup.tests}
    for i, k in enumerate(range(start, stop)):
        passed: dict[str, tuple[bool, ...]] = {}
        settle: list[float] = []
        ok = True
        for block in setup.tests:
            sim = sims[block.name][i]
            verdict = judge(block, sim.outputs, outputs)
            passed[block.name] = tuple(r.passed for r in verdict.results)
            ok &= verdict.passed
            settle += [float(t) for t in sim.settle_time_s]
        energy = tuple(setup.power_w * t + setup.capacitors_j for t in settle)
        out.append(DrawResult(k, passed, ok, tuple(settle), energy))
    return out


@dataclass(frozen=True)
class PointResult:
    """The draws of one sweep point; `settings` the values it ran with (resolved)."""

    settings: Mapping[str, Any]
    draws: tuple[DrawResult, ...]

    @property
    def yield_(self) -> float:
        return sum(d.ok for d in self.draws) / len(self.draws)

    def failure_rates(self) -> dict[str, list[float]]:
        """Per block, per vector: the fraction of draws in which the vector failed."""
        first = self.draws[0].passed
        n = len(self.draws)
        return {b: [sum(not d.passed[b][i] for d in self.draws) / n for i in range(len(v))]
                for b, v in first.items()}

    def block_accuracy(self, block: str) -> float:
        """The mean over draws of the fraction of `block`'s vectors that pass."""
        return float(np.mean([sum(d.passed[block]) / len(d.passed[block]) for d in self.draws]))

    def to_json(self) -> dict[str, Any]:
        acc = [d.accuracy for d in self.draws]
        lo, hi = wilson_interval(sum(d.ok for d in self.draws), len(self.draws))
        return {
            "settings": dict(self.settings),
            "accuracy_mean": float(np.mean(acc)),
            "accuracy_min": float(min(acc)),
            "accuracy_p05": percentile(acc, 5.0),
            "yield": self.yield_,
            "yield_ci95": [lo, hi],
            "vector_failure_rate": self.failure_rates(),
            "settle_time_s": mean_p95([t for d in self.draws for t in d.settle_s]),
            "energy_j": mean_p95([e for d in self.draws for e in d.energy_j]),
        }


@dataclass(frozen=True)
class Study:
    """A whole study: what `--json` writes (`to_json`) and the table prints."""

    model: str
    backend: str
    runs: int
    seed: int
    sweep_key: str | None
    points: tuple[PointResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "backend": self.backend, "runs": self.runs,
                "seed": self.seed, "points": [p.to_json() for p in self.points]}


def _point_settings(settings: Mapping[str, str], sweep: Sweep | None) -> list[dict[str, str]]:
    if sweep is None:
        return [dict(settings)]
    return [{**settings, sweep.key: v} for v in sweep.values]


def compile_points(model: Path, profile: Path | None, settings: Mapping[str, str],
                   sweep: Sweep | None) -> list[Compilation]:
    """Compile every point up to its analysed circuit: any bad setting raises before a draw."""
    comps = []
    for point in _point_settings(settings, sweep):
        comp = compile_model(model, hardware_profile=profile, settings=point)
        if not comp.graph.tests:
            raise DenseAMCError(Diagnostic(Severity.ERROR, "the model has no test blocks to "
                                           "run a Monte Carlo study on", file=str(model)))
        _ = comp.analysis
        comps.append(comp)
    return comps


def run_study(comps: list[Compilation], runs: int, seed: int, chunk: int,
              sweep: Sweep | None, progress: Callable[[int], None] = lambda n: None,
              jobs: int = 1) -> Study:
    """Run `runs` draws of every compiled point in chunks of `chunk` draws, on `jobs` worker
    processes when more than 1; `progress(n)` is told after every chunk how many draws (over all
    points) have run. The draws, hence the results, are the same for any chunk and job count."""
    points = []
    done = 0
    with _executor(jobs) as pool:
        for comp in comps:
            spans = [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]
            setup = DrawSetup.of(comp)
            if pool is None:
                parts: Iterable[list[DrawResult]] = (run_draws(setup, seed, a, b)
                                                     for a, b in spans)
            else:
                parts = pool.map(_worker_draws, [(setup, seed, a, b) for a, b in spans])
            draws: list[DrawResult] = []
            for part in parts:  # in draw order, whichever worker ran it
                draws += part
                done += len(part)
                progress(done)
            keys = sorted(comp.settings)
            points.append(PointResult({k: getattr(comp.hardware, k) for k in keys},
                                      tuple(draws)))
    return Study(comps[0].graph.name, "circuit", runs, seed, sweep.key if sweep else None,
                 tuple(points))


@contextmanager
def _executor(jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    if jobs <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield pool


def _worker_draws(job: tuple[DrawSetup, int, int, int]) -> list[DrawResult]:
    setup, seed, start, stop = job
    return run_draws(setup, seed, start, stop)
