"""The `denseamc` command line.

    denseamc MODEL.dam -o OUT/              compile (same as `denseamc compile ...`)
    denseamc check MODEL.dam --backend B    run the model's test vectors on backend B
    denseamc simulate MODEL.dam --input x=[1,-1]
    denseamc montecarlo MODEL.dam --runs N  accuracy and yield over realised circuits
    denseamc sweep MODEL.dam --set K=V1,V2  the grid of hardware settings, each point checked
    denseamc harden MODEL.dam -o OUT/       fine-tune the weights under sampled non-idealities

Exit status: 0 success, 1 a test vector failed, 2 a mistake in the input (located message, no
traceback), 70 an internal error (a bug in denseamc: please report it).
"""

from __future__ import annotations

import argparse
import gc
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

# Only the standard library at import time: `denseamc --help` must not pay for numpy, networkx
# or lark. A command's own options (which list pass names, output kinds, backends) are built
# only when that command runs, and the package is imported only then.

EXIT_OK, EXIT_FAIL, EXIT_USER, EXIT_INTERNAL = 0, 1, 2, 70


class _Version(argparse.Action):
    """`--version`: looked up only when asked (importlib.metadata costs ~10 ms per start)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("denseamc")
        except PackageNotFoundError:
            text = "unknown (not installed)"
        parser.exit(message=f"denseamc {text}\n")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the .dam file")
    p.add_argument("--hardware", type=Path, metavar="PROFILE",
                   help="hardware profile: a built-in name (ideal, rram_cmos) or a YAML file; "
                   "the model's own hardware { } block overrides it (see docs/hardware.md)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set",
                   help="set one hardware key, over the profile and the model's hardware { } "
                   "block (e.g. --set g_sigma=0.02 --set r_wire=1ohm); repeatable")


def _compile_options(comp: argparse.ArgumentParser) -> None:
    from denseamc.compiler.outputs import EMITTERS
    from denseamc.compiler.pipeline import PASSES

    comp.add_argument("-o", "--out-dir", type=Path, required=True, metavar="OUT",
                      help="output directory (replaced only when the compile succeeds)")
    comp.add_argument("--emit", default=",".join(EMITTERS), metavar="KINDS",
                      help="comma-separated outputs to write: " + ", ".join(
                          f"{k} ({v.help})" for k, v in EMITTERS.items()) + " (default: all)")
    comp.add_argument("--draw", type=int, metavar="K",
                      help="write the netlists and tables of Monte Carlo draw K of the set "
                      "non-idealities (circuit.txt and the report stay nominal)")
    comp.add_argument("--seed", type=int, metavar="S",
                      help="the seed of --draw (default 0; the same as montecarlo --seed)")
    comp.add_argument("--report-draws", type=int, metavar="N",
                      help="Monte Carlo draws behind the report's yield when a non-ideality is "
                      "set (default 10; 0 skips the study; see docs/hardware.md)")
    comp.add_argument("--dump-ir-after", action="append", default=[], metavar="PASS",
                      choices=[*PASSES, "all"],
                      help="also write the IR after PASS as ir.after-PASS.txt "
                      f"({', '.join(PASSES)}, or all); repeatable")
    comp.add_argument("--stop-after", choices=list(PASSES), metavar="PASS",
                      help="run the passes up to PASS and write only the IR after it "
                      "(ir.after-PASS.txt) and any --dump-ir-after dumps")


def _check_options(chk: argparse.ArgumentParser) -> None:
    from denseamc.compiler.check import BACKENDS

    chk.add_argument("--backend", default="model", choices=list(BACKENDS),
                     help="model (behavioural ODE), circuit (component-level numpy), "
                     "spice (ngspice), veriloga (OpenVAF + VACASK); default model")
    chk.add_argument("--junit-xml", type=Path, metavar="FILE",
                     help="also write the results as JUnit XML, one test case per vector")
    _executor_options(chk)


def _executor_options(p: argparse.ArgumentParser) -> None:
    """Where the simulations run (compiler/executor.py; see docs/distributed.md)."""
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="start a local Dask cluster of N worker processes (default 0: run in "
                   "this process); results do not depend on it")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster (default: $DENSEAMC_SCHEDULER)")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="run a failed chunk of work again up to N times (default 2)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="time limit of one simulator run, s (netlist backends; default 300)")


def _simulate_options(sim: argparse.ArgumentParser) -> None:
    sim.add_argument("--input", action="append", default=[], metavar="NAME=[v, ...]",
                     help="an input vector, e.g. --input x=[1,-1]; repeat for each input")
    sim.add_argument("--backend", default="model", choices=["model", "circuit"])
    sim.add_argument("--t", type=float, default=None, metavar="T",
                     help="simulate to model time T instead of the readout time")
    sim.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sim.add_argument("--plot", type=Path, metavar="FILE.png",
                     help="draw state trajectories and E(t) (needs matplotlib)")


def _study_options(p: argparse.ArgumentParser) -> None:
    """What `montecarlo` and `sweep` share: draws, backend, outputs, where they run."""
    from denseamc.compiler.montecarlo import BACKENDS, DEFAULT_CHUNK, NETLIST_CHUNK

    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed; draw k of seed S is the same in every run (default 0)")
    p.add_argument("--backend", default="circuit", choices=list(BACKENDS),
                   help="circuit (component-level numpy, default), spice (each draw's netlist "
                   "on ngspice), veriloga (on openvaf-r + VACASK)")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="write the results as JSON (sorted keys; same seed, same bytes)")
    p.add_argument("--chunk", type=int, metavar="N",
                   help=f"draws per task (default {DEFAULT_CHUNK} on the circuit backend, "
                   f"{NETLIST_CHUNK} on spice and veriloga); results do not depend on it")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _executor_options(p)


def _montecarlo_options(mc: argparse.ArgumentParser) -> None:
    mc.add_argument("--runs", type=int, required=True, metavar="N",
                    help="draws (realised circuits) per sweep point")
    mc.add_argument("--sweep", metavar="KEY=V1,V2,...",
                    help="run the study once per value of one numeric hardware setting")
    mc.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="draw accuracy and yield against the swept setting (needs matplotlib)")
    mc.add_argument("--min-yield", type=float, metavar="Y",
                    help="exit 1 when the yield of any point is below Y (0..1)")
    _study_options(mc)


def _sweep_options(sw: argparse.ArgumentParser) -> None:
    sw.add_argument("--runs", type=int, metavar="N",
                    help="Monte Carlo: N realised draws per point (default: check the nominal "
                    "circuit once per point)")
    sw.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="draw latency, energy, accuracy and yield against the first swept "
                    "setting (needs matplotlib)")
    _study_options(sw)


def _harden_options(hd: argparse.ArgumentParser) -> None:
    hd.add_argument("-o", "--out-dir", type=Path, required=True, metavar="OUT",
                    help="output directory: NAME.dam, NAME.npz, montecarlo.md (replaced only "
                    "when everything succeeds)")
    hd.add_argument("--data", type=Path, metavar="TRAIN.npz|csv",
                    help="training vectors named like the model's inputs and outputs (default: "
                    "the model's test vectors, with a warning)")
    hd.add_argument("--draws-per-step", type=int, default=8, metavar="N",
                    help="sampled chips averaged in every step (default 8)")
    hd.add_argument("--steps", type=int, default=200, metavar="N",
                    help="optimiser steps (default 200)")
    hd.add_argument("--seed", type=int, default=0, metavar="S",
                    help="seed of the training draws and of the Monte Carlo (default 0)")
    hd.add_argument("--lr", type=float, default=3e-3, metavar="LR",
                    help="Adam learning rate, relative to each array's largest entry "
                    "(default 0.003)")
    hd.add_argument("--margin", type=float, metavar="M",
                    help="hinge margin of the decision, in activation units (default: the "
                    "median margin of the nominal model's correct training vectors)")
    hd.add_argument("--freeze", default="", metavar="NAMES",
                    help="comma-separated weights to hold at their values (default: none)")
    hd.add_argument("--mc-runs", type=int, default=50, metavar="N",
                    help="Monte Carlo draws of the before/after table (default 50)")
    hd.add_argument("--name", metavar="NAME",
                    help="stem of the written .dam and .npz (default MODEL_hardened)")
    hd.add_argument("--quiet", action="store_true", help="no progress on stderr")


#: command -> (one-line help, its own options)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "compile": ("compile a model into an output directory", _compile_options),
    "check": ("run every test vector of the model on a backend", _check_options),
    "simulate": ("simulate one input vector and print the outputs", _simulate_options),
    "montecarlo": ("accuracy and yield of the test vectors over realised (non-ideal) circuits",
                   _montecarlo_options),
    "sweep": ("the grid of --set K=V1,V2,... hardware settings, each point checked (or "
              "Monte-Carlo'd with --runs)", _sweep_options),
    "harden": ("fine-tune the weights so the circuit survives sampled non-idealities (JAX)",
               _harden_options),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with `command`'s own options (None: the commands' names only, enough
    for `denseamc --help`)."""
    top = argparse.ArgumentParser(
        prog="denseamc",
        description="Compile a Dense Associative Memory (.dam) into an analog circuit: "
        "behavioural and circuit-level simulation, SPICE netlist, Verilog-A.",
        epilog="`denseamc MODEL.dam -o OUT/` is short for `denseamc compile MODEL.dam -o OUT/`. "
        "Exit status: 0 ok, 1 a test vector failed, 2 input error, 70 internal error.",
    )
    top.add_argument("--version", action=_Version)
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, (text, options) in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        _add_common(p)
        if name == command:
            options(p)
    return top


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """Let `denseamc MODEL.dam ...` mean `denseamc compile MODEL.dam ...`."""
    args = list(argv)
    if args and args[0] not in COMMANDS and not args[0].startswith("-"):
        args.insert(0, "compile")
    return args


def run(argv: Sequence[str], resume_gc: bool = False) -> int:
    """Run one command line; `resume_gc`: the garbage collector was paused for start-up (see
    `main`) and is to be resumed once the command's modules are loaded."""
    args_list = _normalise_argv(argv)
    command = args_list[0] if args_list and args_list[0] in COMMANDS else None
    parser = build_parser(command)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return EXIT_USER
    from denseamc.compiler import commands

    if resume_gc:
        gc.freeze()  # the modules' objects live as long as the process: never trace them again
        gc.enable()

    run_command: Callable[[argparse.Namespace], int] = {
        "compile": commands.compile_command,
        "check": commands.check_command,
        "simulate": commands.simulate_command,
        "montecarlo": commands.montecarlo_command,
        "sweep": commands.sweep_command,
        "harden": commands.harden_command,
    }[args.command]
    return run_command(args)


def _failure(exc: Exception) -> int:
    """Report an exception that ended a command: a user mistake (located messages, exit 2) or a
    bug (exit 70, said to be one, with the trace)."""
    from denseamc.ir import DenseAMCError

    if isinstance(exc, DenseAMCError):
        for d in exc.diagnostics:
            print(d.render(), file=sys.stderr)
        return EXIT_USER
    print(f"denseamc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print("This is a bug in denseamc, not in your model. Please report it with the input "
          "and this trace:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user mistakes exit 2 with located messages; bugs exit 70 and say so."""
    # Importing the command's modules creates some 10^5 objects that live until the process
    # ends; the cyclic garbage collector would trace them again every time their number grew by
    # a quarter (~0.05 s of a 0.5 s `check`). As the process's entry point (argv None), pause it
    # until they are loaded; a caller in the same process (the tests) keeps its collector as is.
    resume_gc = argv is None and gc.isenabled()
    if resume_gc:
        gc.disable()
    try:
        code = run(sys.argv[1:] if argv is None else argv, resume_gc)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        code = _failure(exc)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
