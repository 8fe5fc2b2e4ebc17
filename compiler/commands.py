"""The CLI's commands: each takes parsed arguments and returns an exit status."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from denseamc.compiler.outdir import write_output_dir
from denseamc.compiler.outputs import EMITTERS, emit
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.ir import DenseAMCError, Diagnostic, Severity, usage_error


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


def _warn_nominal(comp: Compilation, command: str, backend: str) -> None:
    """Non-idealities set but a nominal simulation coming: say so (among the warnings)."""
    from denseamc.compiler.check import nominal_only_warning

    diag = nominal_only_warning(comp.hardware, command, backend)
    if diag is not None:
        comp.warn([diag])


def check_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.check import run_checks
    from denseamc.compiler.junit import write_junit

    comp = compile_model(args.model, hardware_profile=args.hardware,
                         settings=parse_settings(args.set))
    _warn_nominal(comp, "check", args.backend)
    _print_warnings(comp)
    t0 = time.perf_counter()
    report = run_checks(comp, args.backend)
    if args.junit_xml is not None:
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


def _check_montecarlo_args(args: argparse.Namespace) -> None:
    from denseamc.compiler.montecarlo import SUPPORTED

    if args.backend not in SUPPORTED:
        raise usage_error(f"montecarlo --backend {args.backend}: not supported yet (only "
                           f"{', '.join(SUPPORTED)}; one draw's netlists are written by "
                           "`denseamc MODEL.dam -o OUT --draw K`)")
    if args.runs < 1:
        raise usage_error(f"--runs {args.runs}: expected at least 1 draw")
    if args.chunk < 1:
        raise usage_error(f"--chunk {args.chunk}: expected at least 1 draw")
    if args.jobs < 1:
        raise usage_error(f"--jobs {args.jobs}: expected at least 1 worker")
    if args.min_yield is not None and not 0.0 <= args.min_yield <= 1.0:
        raise usage_error(f"--min-yield {args.min_yield}: expected a fraction in [0, 1]")


def montecarlo_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.montecarlo import compile_points, parse_sweep, run_study
    from denseamc.compiler.montecarlo_view import plot_study, table_lines
    from denseamc.compiler.plot import pyplot
    from denseamc.compiler.progress import Progress

    _check_montecarlo_args(args)
    if args.plot is not None:
        pyplot()  # fail now, not after the draws
    sweep = parse_sweep(args.sweep)
    comps = compile_points(args.model, args.hardware, parse_settings(args.set), sweep)
    _print_warnings(comps[0])
    progress = Progress(args.runs * len(comps), "draws", quiet=args.quiet)
    study = run_study(comps, args.runs, args.seed, args.chunk, sweep, progress, args.jobs)
    progress.close()
    if args.json is not None:
        _write_text(args.json, json.dumps(study.to_json(), indent=2, sort_keys=True) + "\n")
    if args.plot is not None:
        plot_study(study, args.plot)
    for line in table_lines(study):
        print(line)
    if args.min_yield is None:
        return 0
    missed = [p for p in study.points if p.yield_ < args.min_yield]
    for p in missed:
        print(f"FAIL: yield {p.yield_:.4g} below --min-yield {args.min_yield:.4g} "
              f"({', '.join(f'{k} = {v}' for k, v in p.settings.items()) or 'nominal'})")
    return 1 if missed else 0


def harden_command(args: argparse.Namespace) -> int:
    from denseamc.compiler.harden.command import harden_command as run_harden

    return run_harden(args)
