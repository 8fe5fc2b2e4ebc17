"""The `harden` command: read the data, train, judge before and after by Monte Carlo, write.

OUT/ gets NAME.dam (the input with its weights read from NAME.npz), NAME.npz and montecarlo.md
(the circuit backend's Monte Carlo of the input model and of the hardened one, same settings,
same seed, `compiler.montecarlo`). Everything is written at once, or nothing.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from denseamc.compiler.harden import require_jax
from denseamc.compiler.harden.params import npz_bytes, rewrite_dam, tie
from denseamc.compiler.montecarlo import Study, compile_points, run_study
from denseamc.compiler.montecarlo_view import table_lines
from denseamc.compiler.outdir import write_output_dir
from denseamc.compiler.pipeline import Compilation, compile_model
from denseamc.ir import DenseAMCError, Diagnostic, ModelGraph, Severity, usage_error, warning
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _data_error(path: Path, message: str) -> DenseAMCError:
    return DenseAMCError(Diagnostic(Severity.ERROR, message, file=str(path)))


def _columns(graph: ModelGraph) -> dict[str, int]:
    """Every input and output name -> its size."""
    return {**{i.name: i.size for i in graph.inputs()}, **{o.name: o.size for o in graph.outputs()}}


def read_data(path: Path, graph: ModelGraph) -> dict[str, Array]:
    """Training data: an .npz with one (N, size) array per input and output name, or a CSV whose
    header names columns NAME (size 1) or NAME[i]."""
    sizes = _columns(graph)
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path) as f:
                raw = {k: np.asarray(f[k], dtype=np.float64) for k in f.files}
        except (OSError, ValueError) as exc:
            raise _data_error(path, f"cannot read the training data: {exc}") from None
    elif path.suffix.lower() == ".csv":
        raw = _read_csv(path, sizes)
    else:
        raise _data_error(path, "training data must be an .npz or a .csv file")
    out: dict[str, Array] = {}
    n = None
    for name, size in sizes.items():
        if name not in raw:
            raise _data_error(path, f"the training data has no '{name}' (it needs every input "
                              f"and output of the model: {', '.join(sizes)})")
        a = raw[name].reshape(len(raw[name]), -1) if raw[name].ndim else raw[name][None, None]
        if a.shape[1] != size or (n is not None and len(a) != n) or not np.isfinite(a).all():
            raise _data_error(path, f"'{name}' must be {n or 'N'} rows of {size} finite "
                              f"numbers, got shape {list(a.shape)}")
        n = len(a)
        out[name] = a
    return out


def _read_csv(path: Path, sizes: Mapping[str, int]) -> dict[str, Array]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise _data_error(path, f"cannot read the training data: {exc}") from None
    if len(rows) < 2:
        raise _data_error(path, "expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    try:
        table = np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    except ValueError as exc:
        raise _data_error(path, f"not a number: {exc}") from None
    out: dict[str, Array] = {}
    for name, size in sizes.items():
        cols = [name] if size == 1 and name in header else [f"{name}[{i}]" for i in range(size)]
        if all(c in header for c in cols):
            out[name] = table[:, [header.index(c) for c in cols]]
    return out


def test_data(graph: ModelGraph) -> dict[str, Array]:
    """Every test vector of every block, stacked: the fallback when --data is not given."""
    out: dict[str, list[Array]] = {}
    for block in graph.tests:
        for v in block.vectors:
            for k, x in {**v.inputs, **v.outputs}.items():
                out.setdefault(k, []).append(np.asarray(x, dtype=np.float64))
    return {k: np.stack(v) for k, v in out.items()}


def _strip_numbers(text: str) -> str:
    return re.sub(r"[-+]?\d[\d.eE+-]*", "#", text)


def new_warnings(before: Compilation, after: Compilation) -> list[Diagnostic]:
    """Warnings of the hardened model that the input model did not have (numbers aside)."""
    old = {_strip_numbers(w.message) for w in before.warnings}
    return [w for w in after.warnings if _strip_numbers(w.message) not in old]


def _summary(before: Study, after: Study) -> list[str]:
    lines = ["| model | accuracy mean | accuracy min | accuracy p05 | yield | yield 95% CI |",
             "|---|---|---|---|---|---|"]
    for label, study in (("input", before), ("hardened", after)):
        j = study.points[0].to_json()
        lo, hi = j["yield_ci95"]
        lines.append(f"| {label} | {j['accuracy_mean']:.4g} | {j['accuracy_min']:.4g} | "
                     f"{j['accuracy_p05']:.4g} | {j['yield']:.4g} | [{lo:.3g}, {hi:.3g}] |")
    return lines


def harden_command(args: argparse.Namespace) -> int:
    require_jax()
    from denseamc.compiler.commands import parse_settings
    from denseamc.compiler.harden.dynamics import JaxModel
    from denseamc.compiler.harden.train import TrainSettings, train
    from denseamc.compiler.passes.realise import NONIDEAL_KEYS, any_nonideal
    from denseamc.dsl.elaborate import parse_file

    for opt, value in (("--steps", args.steps), ("--draws-per-step", args.draws_per_step),
                       ("--mc-runs", args.mc_runs)):
        if value < 1:
            raise usage_error(f"{opt} {value}: expected at least 1")
    if not (args.lr > 0 and (args.margin is None or args.margin >= 0)):
        raise usage_error(f"--lr {args.lr} --margin {args.margin}: expected lr > 0, margin >= 0")
    name = args.name or f"{args.model.stem}_hardened"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise usage_error(f"--name {name}: expected a file name of letters, digits, _ . -")
    settings = parse_settings(args.set)
    comp = compile_model(args.model, hardware_profile=args.hardware, settings=settings)
    hw = comp.hardware
    if not any_nonideal(hw):
        raise usage_error("harden: no non-ideality is set, so there is nothing to harden "
                          f"against; set one of {', '.join(NONIDEAL_KEYS)} (e.g. --set "
                          "g_sigma=0.03)")
    graph = comp.graph
    tying = tie(parse_file(args.model), graph)
    freeze = [n.strip() for n in args.freeze.split(",") if n.strip()]
    unknown = [n for n in freeze if n not in tying.params]
    if unknown:
        raise usage_error(f"--freeze {args.freeze}: no trainable weights {', '.join(unknown)}",
                          "trainable: " + ", ".join(tying.params))
    tying = replace(tying, frozen=tuple(sorted({*tying.frozen, *freeze})))
    if not tying.trained:
        raise usage_error("harden: the model has no weights to train (a weights declaration "
                          "with load(...) or a literal, not used inside an expression)")
    if args.data is not None:
        data = read_data(args.data, graph)
    else:
        data = test_data(graph)
        if not data:
            raise usage_error("harden: no --data and no test vectors to train on")
        comp.warn([warning("no --data: fitting the model's own test vectors, so the "
                           "before/after test results are not held out", None)])
    for w in comp.warnings:
        print(w.render(), file=sys.stderr)

    def log(text: str) -> None:
        if not args.quiet:
            print(f"harden: {text}", file=sys.stderr)

    inputs = {i.name: data[i.name] for i in graph.inputs()}
    targets = {o.name: data[o.name] for o in graph.outputs()}
    model = JaxModel(graph, tying, inputs, hw, comp.circuit.scaling.v_unit)
    log(f"training {', '.join(tying.trained)} on {len(next(iter(inputs.values())))} vectors, "
        f"{args.draws_per_step} chips a step, {args.steps} steps")
    t0 = time.perf_counter()
    result = train(model, hw, targets, TrainSettings(args.steps, args.draws_per_step, args.seed,
                                                     args.lr, args.margin, None), log)
    log(f"trained in {time.perf_counter() - t0:.1f} s")
    text, arrays = rewrite_dam(args.model.read_text(encoding="utf-8"), tying, result.params,
                               f"{name}.npz")
    weights = npz_bytes(arrays)
    with tempfile.TemporaryDirectory() as tmp:
        dam = Path(tmp) / f"{name}.dam"
        dam.write_text(text, encoding="utf-8")
        (Path(tmp) / f"{name}.npz").write_bytes(weights)
        hardened = compile_model(dam, hardware_profile=args.hardware, settings=settings)
        for w in new_warnings(comp, hardened):
            print("harden: the hardened model has a new warning: " + w.render(), file=sys.stderr)
        log(f"Monte Carlo of the input and the hardened model, {args.mc_runs} draws each")
        studies = [run_study(compile_points(m, args.hardware, settings, None), args.mc_runs,
                             args.seed, 8, None) for m in (args.model, dam)]
    report = [f"# harden: {graph.name}", "",
              f"Trained {', '.join(tying.trained)}: {args.steps} steps of {args.draws_per_step} "
              f"sampled chips, seed {args.seed}, learning rate {args.lr}, hinge margin "
              f"{result.margin:.4g} (activation units).",
              f"Loss on {args.draws_per_step} fixed chips: {result.loss_before:.4g} "
              f"before, {result.loss_after:.4g} after (dimensionless).",
              f"Trained on {'--data ' + args.data.name if args.data else 'the test vectors'}.",
              "", "Circuit-backend Monte Carlo, same settings and seed for both:", "",
              *_summary(*studies), "", "## Input model", "", "```",
              *table_lines(studies[0]), "```", "", "## Hardened model", "", "```",
              *table_lines(studies[1]), "```"]
    written = write_output_dir(args.out_dir, [(f"{name}.dam", text), (f"{name}.npz", weights),
                                              ("montecarlo.md", "\n".join(report) + "\n")])
    for line in _summary(*studies):
        print(line)
    print(f"denseamc: wrote {written} files to {args.out_dir}", file=sys.stderr)
    return 0
