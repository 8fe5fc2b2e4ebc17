"""The output kinds `--emit` chooses from, in one table, and the files each writes.

A kind either writes its own files (`write`) or names the paths it wants from the one pass of
`backends.emit.iter_netlists` (`netlist_paths`), which builds every netlist file once
however many netlist kinds ask (they share the name map `names.json`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from denseamc.compiler.pipeline import Compilation
from denseamc.ir.printer import dump, dump_circuit

#: An output kind's own files, one (relative path, text) at a time.
Writer = Callable[[Compilation], Iterator[tuple[str, str]]]


@dataclass(frozen=True)
class OutputKind:
    """What `--emit KIND` writes (for `--help`), and how."""

    help: str
    write: Writer | None = None
    netlist_paths: tuple[str, ...] = ()


def write_ir(comp: Compilation) -> Iterator[tuple[str, str]]:
    yield "ir.txt", dump(comp.graph)


def write_dynamics(comp: Compilation) -> Iterator[tuple[str, str]]:
    from denseamc.compiler.describe import dynamics_json

    yield "dynamics.json", dynamics_json(comp.graph)


def write_circuit(comp: Compilation) -> Iterator[tuple[str, str]]:
    yield "circuit.txt", dump_circuit(comp.circuit)


def write_report(comp: Compilation) -> Iterator[tuple[str, str]]:
    from denseamc.compiler.passes.analyze_variation import REPORT_DRAWS, analyze_variation
    from denseamc.compiler.passes.base import Lowered
    from denseamc.compiler.report import build_report, render_markdown, report_json

    analysis = comp.analysis  # first: its warnings join the list the report shows
    lowered = Lowered(comp.graph, comp.hardware, comp.circuit)
    draws = REPORT_DRAWS if comp.report_draws is None else comp.report_draws
    # None when every non-ideality is 0 (or no draw is asked for)
    variation = analyze_variation(lowered, analysis, draws=draws) if draws else None
    report = build_report(lowered, analysis, comp.warnings, variation)
    yield "report.json", report_json(report)
    yield "report.md", render_markdown(report)


EMITTERS: dict[str, OutputKind] = {
    "ir": OutputKind("the graph IR as text: ir.txt", write_ir),
    "dynamics": OutputKind("the derived ODE as JSON: dynamics.json", write_dynamics),
    "circuit": OutputKind("the circuit IR as text: circuit.txt", write_circuit),
    "report": OutputKind("components, values, latency, energy, area: report.json, report.md",
                         write_report),
    "spice": OutputKind("the ngspice netlist: spice/", netlist_paths=("spice/", "names.json")),
    "veriloga": OutputKind("Verilog-A modules with Spectre and VACASK netlists: veriloga/",
                           netlist_paths=("veriloga/", "names.json")),
    "tables": OutputKind("conductances to program, one CSV per crossbar: tables/",
                         netlist_paths=("tables/",)),
}


def emit(comp: Compilation, kinds: Sequence[str], draw: tuple[int, int] | None = None
         ) -> Iterator[tuple[str, str]]:
    """Every requested output file, then the IR dumps, one (relative path, text) at a time.

    `draw` = (seed, k): the netlists and tables are those of Monte Carlo draw k of `seed`
    (compiler/passes/realise.py); ir.txt, circuit.txt and the report stay nominal.
    After `--stop-after`, only the dumps: the outputs need passes that did not run.
    """
    comp.run_requested()
    if not comp.stopped:
        yield from _outputs(comp, kinds, draw)
    for name, text in comp.dumps.items():
        yield f"ir.after-{name}.txt", text


def _outputs(comp: Compilation, kinds: Sequence[str], draw: tuple[int, int] | None
             ) -> Iterator[tuple[str, str]]:
    for kind in kinds:
        write = EMITTERS[kind].write
        if write is not None:
            yield from write(comp)
    paths = tuple(sorted({p for k in kinds for p in EMITTERS[k].netlist_paths}))
    if paths:
        from denseamc.backends.emit import iter_netlists
        from denseamc.compiler.passes.realise import realise

        circuit = comp.circuit if draw is None else realise(comp.circuit, comp.hardware, *draw)
        # a draw's netlists are that draw's; a nominal compile also gets Spectre's Monte Carlo
        yield from iter_netlists(circuit, prefixes=paths, opamp=_user_opamp(comp),
                                 mismatch=comp.hardware if draw is None else None)


def _user_opamp(comp: Compilation) -> str | None:
    """The text of `--set opamp=FILE` (checked), or None for the built-in op-amp."""
    path = comp.hardware.opamp
    if not path:
        return None
    from denseamc.backends.spice import user_opamp
    from denseamc.ir import DenseAMCError, error

    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DenseAMCError(error(f"op-amp file {path} (--set opamp=...): cannot read it "
                                  f"as ASCII text ({exc.__class__.__name__})")) from None
    return user_opamp(text, path)
