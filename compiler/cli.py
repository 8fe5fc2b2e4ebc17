"""The `denseamc` command line.

    denseamc MODEL.dam -o OUT/              compile (same as `denseamc compile ...`)
    denseamc check MODEL.dam --backend B    run the model's test vectors on backend B
    denseamc simulate MODEL.dam --input x=[1,-1]

Exit status: 0 success, 1 a test vector failed, 2 a mistake in the input (located message, no
traceback), 70 an internal error (a bug in denseamc: please report it).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from denseamc.ir import DenseAMCError, Diagnostic, InternalCompilerError

EXIT_OK, EXIT_FAIL, EXIT_USER, EXIT_INTERNAL = 0, 1, 2, 70
COMMANDS = ("compile", "check", "simulate")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("denseamc")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="the .dam file")
    p.add_argument("--hardware", type=Path, metavar="PROFILE",
                   help="hardware profile: a built-in name (ideal, rram_cmos) or a YAML file; "
                   "the model's own hardware { } block overrides it (see docs/hardware.md)")


def build_parser() -> argparse.ArgumentParser:
    from denseamc.compiler.outputs import EMITTERS
    from denseamc.compiler.pipeline import PASSES

    top = argparse.ArgumentParser(
        prog="denseamc",
        description="Compile a Dense Associative Memory (.dam) into an analog circuit: "
        "behavioural and circuit-level simulation, SPICE netlist, Verilog-A.",
        epilog="`denseamc MODEL.dam -o OUT/` is short for `denseamc compile MODEL.dam -o OUT/`. "
        "Exit status: 0 ok, 1 a test vector failed, 2 input error, 70 internal error.",
    )
    top.add_argument("--version", action="version", version=f"denseamc {_version()}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    comp = sub.add_parser("compile", help="compile a model into an output directory")
    _add_common(comp)
    comp.add_argument("-o", "--out-dir", type=Path, required=True, metavar="OUT",
                      help="output directory (replaced only when the compile succeeds)")
    comp.add_argument("--emit", default=",".join(EMITTERS), metavar="KINDS",
                      help="comma-separated outputs to write: " + ", ".join(
                          f"{k} ({v.help})" for k, v in EMITTERS.items()) + " (default: all)")
    comp.add_argument("--dump-ir-after", action="append", default=[], metavar="PASS",
                      choices=[*PASSES, "all"],
                      help="also write the IR after PASS as ir.after-PASS.txt "
                      f"({', '.join(PASSES)}, or all); repeatable")
    comp.add_argument("--stop-after", choices=list(PASSES), metavar="PASS",
                      help="run the passes up to PASS and write only the IR after it "
                      "(ir.after-PASS.txt) and any --dump-ir-after dumps")

    chk = sub.add_parser("check", help="run every test vector of the model on a backend")
    _add_common(chk)
    chk.add_argument("--backend", default="model",
                     choices=["model", "circuit", "spice", "veriloga"],
                     help="model (behavioural ODE), circuit (component-level numpy), "
                     "spice (ngspice), veriloga (OpenVAF + VACASK); default model")
    chk.add_argument("--junit-xml", type=Path, metavar="FILE",
                     help="also write the results as JUnit XML, one test case per vector")

    sim = sub.add_parser("simulate", help="simulate one input vector and print the outputs")
    _add_common(sim)
    sim.add_argument("--input", action="append", default=[], metavar="NAME=[v, ...]",
                     help="an input vector, e.g. --input x=[1,-1]; repeat for each input")
    sim.add_argument("--backend", default="model", choices=["model", "circuit"])
    sim.add_argument("--t", type=float, default=None, metavar="T",
                     help="simulate to model time T instead of the readout time")
    sim.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sim.add_argument("--plot", type=Path, metavar="FILE.png",
                     help="draw state trajectories and E(t) (needs matplotlib)")
    return top


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """Let `denseamc MODEL.dam ...` mean `denseamc compile MODEL.dam ...`."""
    args = list(argv)
    if args and args[0] not in COMMANDS and not args[0].startswith("-"):
        args.insert(0, "compile")
    return args


def print_diagnostics(diags: Sequence[Diagnostic]) -> None:
    for d in diags:
        print(d.render(), file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(argv))
    if args.command is None:
        parser.print_help()
        return EXIT_USER
    if args.command == "compile":
        from denseamc.compiler.commands import compile_command
        return compile_command(args)
    if args.command == "check":
        from denseamc.compiler.commands import check_command
        return check_command(args)
    from denseamc.compiler.commands import simulate_command
    return simulate_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user mistakes exit 2 with located messages; bugs exit 70 and say so."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except DenseAMCError as exc:
        print_diagnostics(exc.diagnostics)
        code = EXIT_USER
    except KeyboardInterrupt:
        code = 130
    except (InternalCompilerError, Exception) as exc:
        print(f"denseamc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("This is a bug in denseamc, not in your model. Please report it with the input "
              "and this trace:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        code = EXIT_INTERNAL
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
