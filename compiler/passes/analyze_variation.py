"""The report's yield under non-idealities: with a non-ideality set (`realise.any_nonideal`),
`analyze_variation` adds to the nominal analysis (`analyze_circuit.py`) what the built circuit
would do: a small Monte Carlo study of the test blocks (`REPORT_DRAWS` draws of seed
`REPORT_SEED` unless told otherwise, `compile --report-draws N`; the draws and the verdicts are
`denseamc montecarlo`'s own, `compiler/montecarlo.py`), so the report states the yield and
accuracy under those settings rather than the ideal result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from denseamc.compiler.passes.analyze_circuit import CircuitAnalysis
from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.passes.realise import NONIDEAL_KEYS, any_nonideal

__all__ = ["REPORT_DRAWS", "REPORT_SEED", "BlockVariation", "VariationResult",
           "analyze_variation"]

#: Monte Carlo draws behind the report's yield when a non-ideality is set. Measured on the
#: development machine (2 cores; CPU time of `--emit report`): 10 draws add 1.3 s to a compile of
#: xor, 1.6 s to hamming74 and 4.7 s to parity8 (52 vectors a draw); the yield's 95% interval at
#: 10 draws is about +-0.3, so `denseamc montecarlo --runs N` is the tool for a number to quote.
REPORT_DRAWS = 10
#: The seed of those draws: draw k of it is draw k of `denseamc montecarlo --seed 0`.
REPORT_SEED = 0


@dataclass(frozen=True)
class BlockVariation:
    """One test block over the draws: the mean fraction of its vectors that pass, and how many
    of its vectors failed in at least one draw (the fragile inputs)."""

    name: str
    vectors: int
    accuracy_mean: float
    fragile: int


@dataclass(frozen=True)
class VariationResult:
    """The test blocks on `draws` realised circuits of seed `seed` under `settings` (the nonzero
    non-idealities, SI units). `yield_` is the fraction of draws in which every block passes
    (check's verdict), with its 95% Wilson interval; accuracies are per draw the fraction of all
    the model's vectors that pass: mean, minimum and 5th percentile over the draws."""

    draws: int
    seed: int
    settings: Mapping[str, float]
    yield_: float
    yield_ci95: tuple[float, float]
    accuracy_mean: float
    accuracy_min: float
    accuracy_p05: float
    blocks: tuple[BlockVariation, ...]


def analyze_variation(ir: Lowered, analysis: CircuitAnalysis, *, draws: int = REPORT_DRAWS,
                      seed: int = REPORT_SEED) -> VariationResult | None:
    """The yield and accuracy of the test blocks under `ir.hardware`'s non-idealities, from
    draws 0..draws-1 of `seed` on the circuit backend; None when every non-ideality is 0 or the
    model has no test block (the nominal result then holds as it is)."""
    if not (any_nonideal(ir.hardware) and ir.graph.tests):
        return None
    # imported here: the study runs on a compilation, and the pipeline imports this pass
    from denseamc.compiler.montecarlo import PointResult, run_draws
    from denseamc.compiler.pipeline import Compilation

    comp = Compilation(Path(ir.graph.source_name), _graph=ir.graph, _hardware=ir.hardware,
                       _circuit=ir.circuit, _analysis=analysis)
    settings = {k: float(getattr(ir.hardware, k)) for k in NONIDEAL_KEYS
                if getattr(ir.hardware, k) != 0}
    point = PointResult(settings, tuple(run_draws(comp, seed, 0, draws)))
    summary = point.to_json()
    rates = point.failure_rates()
    blocks = tuple(BlockVariation(b, len(r), point.block_accuracy(b), sum(f > 0 for f in r))
                   for b, r in rates.items())
    lo, hi = summary["yield_ci95"]
    return VariationResult(draws, seed, settings, point.yield_, (lo, hi),
                           summary["accuracy_mean"], summary["accuracy_min"],
                           summary["accuracy_p05"], blocks)
