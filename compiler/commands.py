"""The CLI's commands: each takes parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from denseamc.compiler.outdir import write_output_dir
from denseamc.compiler.outputs import EMITTERS, emit
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.ir import DenseAMCError, Diagnostic, Severity, usage_error

if TYPE_CHECKING:
    from denseamc.compiler.executor import Where
    from denseamc.compiler.montecarlo import PointResult, Study, Sweep
    from denseamc.ir.hardware import Hardware


def _print_warnings(comp: Compilation) -> None:
    for w in comp.warnings:
        print(w.render(), file=sys.stderr)


def parse_settings(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` options -> {KEY: VALUE} (later wins); the values are checked later,
    against the hardware table, by `resolve_hardware`."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise usage_error(f"--set {item!r}: expected KEY=VALUE, e.g. --set g_sigma=0.02")
        out[key.strip()] = value.strip()
    return out


def compile_command(args: argparse.Namespace) -> int:
    kinds = [k.strip() for k in args.emit.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EMITTERS]
    if unknown:
        raise usage_error(f"--emit: unknown output kind(s) {', '.join(unknown)}; "
                           f"expected some of {', '.join(EMITTERS)}")
    comp = compile_model(args.model, dump_after=args.dump_ir_after, hardware_profile=args.hardware,
                         stop_after=args.stop_after, settings=parse_settings(args.set))
    if args.report_draws is not None:
        if args.report_draws < 0:
            raise usage_error(f"--report-draws {args.report_draws}: expected a number >= 0")
        comp.report_draws = args.report_draws
    written = write_output_dir(args.out_dir, emit(comp, kinds, _draw(args, comp)))
    _print_warnings(comp)
    print(f"denseamc: wrote {written} files to {args.out_dir}", file=sys.stderr)
    return 0


def _draw(args: argparse.Namespace, comp: Compilation) -> tuple[int, int] | None:
    """(seed, k) of `--draw K [--seed S]`, or None. A draw needs some non-ideality set: with
    none, every draw is the nominal circuit, and asking for one is a usage error (exit 2)."""
    from denseamc.compiler.passes.realise import NONIDEAL_KEYS, any_nonideal

    if args.draw is None:
        if args.seed is not None:
            raise usage_error("--seed: only with --draw K (the seed of the draw to write)")
        return None
    seed = 0 if args.seed is None else args.seed
    if args.draw < 0 or seed < 0:
        raise usage_error(f"--draw {args.draw} --seed {seed}: expected numbers >= 0")
    if not any_nonideal(comp.hardware):
        raise usage_error(f"--draw {args.draw}: no non-ideality is set, so every draw is the "
                           f"nominal circuit; set one of {', '.join(NONIDEAL_KEYS)}")
    return seed, args.draw


def _warn_nominal(comp: Compilation, command: str, backend: str,
                  hardware: Hardware | None = None) -> None:
    """Non-idealities set (in `hardware`, default the compilation's) but a nominal simulation
    coming: say so (among `comp`'s warnings)."""
    from denseamc.compiler.check import nominal_only_warning

    diag = nominal_only_warning(hardware or comp.hardware, command, backend)
    if diag is not None:
        comp.warn([diag])


def check_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.check import run_checks

    comp = compile_model(args.model, hardware_profile=args.hardware,
                         settings=parse_settings(args.set))
    _warn_nominal(comp, "check", args.backend)
    _print_warnings(comp)
    t0 = time.perf_counter()
    report = run_checks(comp, args.backend, _where(args))
    if args.junit_xml is not None:
        from denseamc.compiler.junit import write_junit  # (and xml.etree) only when asked

        write_junit(args.junit_xml, report, model=comp.graph.name, source=str(args.model),
                    seconds=time.perf_counter() - t0)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def parse_input_arg(text: str) -> tuple[str, np.ndarray]:
    """Parse `NAME=[v, v, ...]` from the command line."""
    name, sep, value = text.partition("=")
    name = name.strip()
    try:
        numbers = json.loads(value)
        arr = np.array(numbers, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None
    if not sep or not name or arr is None or arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise usage_error(f"--input {text!r}: expected NAME=[number, number, ...]")
    return name, arr


def simulate_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.simulate import simulate_one

    comp = compile_model(args.model, hardware_profile=args.hardware,
                         settings=parse_settings(args.set))
    _warn_nominal(comp, "simulate", args.backend)
    _print_warnings(comp)
    given = dict(parse_input_arg(t) for t in args.input)
    result = simulate_one(comp, args.backend, given, t_end=args.t, plot=args.plot)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for name, value in result["outputs"].items():
            print(f"{name} = {value}")
        print(f"settle time = {result['settle_time']:.6g} (model time units)")
        print(f"final energy = {result['energy']:.6g}")
    return 0


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"cannot write: {exc.strerror}",
                                       file=str(path))) from None


def _where(args: argparse.Namespace) -> Where:
    """Where the draws run: `--workers`, `--scheduler` (or DENSEAMC_SCHEDULER), `--retries`,
    `--timeout` (compiler/executor.py)."""
    from denseamc.compiler.executor import Where

    return Where.of(args.workers, args.scheduler, args.retries, args.timeout)


def _check_study_args(args: argparse.Namespace) -> None:
    if args.runs is not None and args.runs < 1:
        raise usage_error(f"--runs {args.runs}: expected at least 1 draw")
    if args.chunk is not None and args.chunk < 1:
        raise usage_error(f"--chunk {args.chunk}: expected at least 1 draw")
    if args.plot is not None:
        from denseamc.compiler.plot import pyplot

        pyplot()  # fail now, not after the draws


def _named(point: PointResult) -> str:
    return ", ".join(f"{k} = {v}" for k, v in point.settings.items()) or "nominal"


def _failed_draws(points: Sequence[PointResult]) -> list[str]:
    """The FAIL lines of draws that failed every retry, by point and index."""
    out = []
    for p in points:
        if p.failed:
            out.append(f"FAIL: {len(p.failed)} draws did not run ({_named(p)}): " + "; ".join(
                f"draw {f.draw}: {f.error}" for f in p.failed))
    return out


def montecarlo_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.montecarlo import compile_points, parse_sweep
    from denseamc.compiler.montecarlo_view import plot_study, table_lines

    _check_study_args(args)
    if args.min_yield is not None and not 0.0 <= args.min_yield <= 1.0:
        raise usage_error(f"--min-yield {args.min_yield}: expected a fraction in [0, 1]")
    where = _where(args)
    sweep = parse_sweep(args.sweep)
    comps = compile_points(args.model, args.hardware, parse_settings(args.set), sweep)
    _print_warnings(comps[0])
    study = _run_study(args, comps, args.runs, sweep, where)
    failures = _failed_draws(study.points)
    for p in study.points:
        if args.min_yield is not None and p.yield_ < args.min_yield:
            failures.append(f"FAIL: yield {p.yield_:.4g} below --min-yield "
                            f"{args.min_yield:.4g} ({_named(p)})")
    return _study_outputs(args, study.to_json(), lambda path: plot_study(study, path),
                          table_lines(study), failures)


def _run_study(args: argparse.Namespace, comps: list[Compilation], runs: int,
               axes: Sweep | Sequence[Sweep] | None,
               where: Where, nominal: bool = False) -> Study:
    """`run_study` of `montecarlo` and `sweep`, with the progress bar on stderr."""
    from denseamc.compiler.montecarlo import default_chunk, run_study
    from denseamc.compiler.progress import Progress

    progress = Progress(runs * len(comps), "draws", quiet=args.quiet)
    try:
        chunk = args.chunk if args.chunk is not None else default_chunk(args.backend)
        return run_study(comps, runs, args.seed, chunk, axes, progress, where,
                         args.backend, nominal=nominal)
    finally:
        progress.close()


def sweep_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.montecarlo import compile_points
    from denseamc.compiler.passes.realise import any_nonideal
    from denseamc.compiler.sweep import SweepResult, parse_grid, plot_sweep, sweep_lines

    _check_study_args(args)
    where = _where(args)
    grid = parse_grid(args.set)
    comps = compile_points(args.model, args.hardware, grid.fixed, grid.axes)
    checked = args.runs is None
    if checked:  # a non-ideality anywhere in the grid is not applied without --runs
        nonideal = [c for c in comps if any_nonideal(c.hardware)]
        if nonideal:
            _warn_nominal(comps[0], "sweep without --runs", args.backend, nonideal[0].hardware)
    _print_warnings(comps[0])
    study = _run_study(args, comps, 1 if checked else args.runs, grid.axes, where,
                       nominal=checked)
    result = SweepResult.of(study, comps, checked)
    return _study_outputs(args, result.to_json(), lambda path: plot_sweep(result, path),
                          sweep_lines(result), _failed_draws(study.points))


def _study_outputs(args: argparse.Namespace, data: dict[str, Any],
                   plot: Callable[[Path], None], table: list[str], failures: list[str]) -> int:
    """What `montecarlo` and `sweep` write: `--json`, `--plot`, the table and the failures on
    stdout; exit status 1 when anything failed."""
    if args.json is not None:
        _write_text(args.json, json.dumps(data, indent=2, sort_keys=True) + "\n")
    if args.plot is not None:
        plot(args.plot)
    for line in [*table, *failures]:
        print(line)
    return 1 if failures else 0


def harden_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.harden.command import harden_command as run_harden

    return run_harden(args)
