"""The output set of the netlist backends: every file `denseamc MODEL.dam -o OUT/` writes for a
circuit, built with one shared `Namer` and scanned for forbidden constructs before it is handed
out (see `iter_netlists` for the list of files)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping

from denseamc.backends.base import INCLUDE_DIR, NetlistEmitter
from denseamc.backends.crossbar_text import DeviceValues
from denseamc.backends.naming import Namer
from denseamc.backends.netlist_safety import (
    UnsafeNetlistError,
    check_decode_script,
    check_include_file,
    check_netlist,
    check_testbench,
    without_generated_includes,
)
from denseamc.backends.spectre_statistics import monte_carlo_netlist
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import default_stimulus
from denseamc.backends.tables import conductance_tables
from denseamc.backends.testbench import DECODE_SCRIPT, testbench_files
from denseamc.backends.veriloga import SpectreEmitter, VacaskEmitter, va_modules
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import Hardware

__all__ = ["emit_netlists", "iter_netlists", "scan_emitted"]


def emit_netlists(circuit: CircuitIR, loc_comments: bool = True, *,
                  opamp: str | None = None, mismatch: Hardware | None = None
                  ) -> dict[str, str]:
    """Every netlist file for `circuit`: relative path -> text (see `iter_netlists`)."""
    return dict(iter_netlists(circuit, loc_comments, opamp=opamp, mismatch=mismatch))


def iter_netlists(circuit: CircuitIR, loc_comments: bool = True,
                  prefixes: tuple[str, ...] = ("",), *,
                  opamp: str | None = None, mismatch: Hardware | None = None
                  ) -> Iterator[tuple[str, str]]:
    """The netlist files for `circuit`, one (relative path, text) at a time, each scanned for
    forbidden constructs before it is yielded. Only paths starting with one of `prefixes` are
    built; one file in memory at a time keeps a million-weight model's peak memory down.

        spice/<model>.cir        ngspice netlist (B-source activations, energy probe)
        spice/crossbars/xb_<crossbar>.inc   each crossbar's subcircuit, its devices
                                 (`.include`d by the .cir)
        veriloga/<module>.va     the Verilog-A primitives the circuit uses, and dam_energy.va
                                 (the energy probe generated for it)
        veriloga/<model>.scs     Spectre top level (ahdl_include of the .va files)
        veriloga/<model>.sim     VACASK top level (load of the compiled .osdi files)
        veriloga/<model>_mc.scs  Spectre Monte Carlo top level: the nominal circuit with a
                                 statistics block of `mismatch`'s variation settings (only
                                 when it has some; backends/spectre_statistics.py)
        veriloga/crossbars/xb_<crossbar>.scs   each crossbar's subcircuit, `include`d by both
                                 the .scs and the .sim (the same syntax in both simulators)
        spice/<model>_tb.cir, veriloga/<model>_tb.sim (+ <model>_tb_decode.py),
        veriloga/<model>_tb.scs  testbenches that run every test vector (backends/testbench.py;
                                 none when the model has no test vectors)
        tables/<crossbar>.csv    conductances to program, one file per crossbar
        names.json               IR name -> netlist identifier, for the names legalisation changed

    `opamp`: the user's `dam_opamp` subcircuit text (`spice.user_opamp`, `--set opamp=FILE`)
    for the ngspice netlist; None: the built-in macro-model. Input-dependent values are those
    of `default_stimulus` (each netlist's header says which). `mismatch`: the hardware whose
    variation settings `<model>_mc.scs` varies (None: no such file; never with a draw).
    Identifiers are registered in this order whatever `prefixes` asks for, so every file is the
    same whether it is emitted alone or with the others.

    A realised circuit (`circuit.draw` set) is written with its draw's values (device
    conductances, each selected line's own devices, capacitors, wire resistors); the emitters
    refuse a draw with what they do not write yet (`netlist_facts.unwritable`).
    """
    stim = default_stimulus(circuit)
    namer = Namer()
    model = namer.name(circuit.name)
    modules = va_modules(circuit)

    def wanted(path: str) -> bool:
        return path.startswith(prefixes)

    includes: set[str] = set()  # every include file's path (the scan allows only these)

    def scanned(path: str, text: str) -> tuple[str, str]:
        scan_emitted({path: text}, modules=set(modules), includes=includes)
        return path, text

    # the VACASK top level includes the Spectre one's files ("refer"): written once
    emitters: list[tuple[str, type[NetlistEmitter], str]] = [
        (f"spice/{model}.cir", NgspiceEmitter, "write"),
        (f"veriloga/{model}.scs", SpectreEmitter, "write"),
        (f"veriloga/{model}.sim", VacaskEmitter, "refer"),
    ]
    values: dict[str, DeviceValues] = {}  # each crossbar's values, formatted once
    for path, emitter, mode in emitters:
        if emitter is NgspiceEmitter:
            em: NetlistEmitter = NgspiceEmitter(circuit, stim, namer=namer,
                                                loc_comments=loc_comments, includes=mode,
                                                device_values=values, opamp=opamp)
        else:
            em = emitter(circuit, stim, namer=namer, loc_comments=loc_comments, includes=mode,
                         device_values=values)
        text = em.format()
        folder = path.rsplit("/", 1)[0]
        included = {f"{folder}/{rel}": inc for rel, inc in em.include_files.items()}
        includes.update(included)
        if wanted(path):  # built either way: it registers the names the later files use
            yield scanned(path, text)
            for inc_path, inc_text in included.items():
                yield scanned(inc_path, inc_text)
        del text, em, included
    if mismatch is not None and wanted(mc_path := f"veriloga/{model}_mc.scs"):
        mc = monte_carlo_netlist(circuit, stim, namer, mismatch, loc_comments=loc_comments,
                                 device_values=values)
        if mc is not None:
            yield scanned(mc_path, mc)
    for path, text in testbench_files(circuit, namer, wanted, loc_comments):
        yield scanned(path, text)
    for name, text in modules.items():
        if wanted(f"veriloga/{name}"):
            yield scanned(f"veriloga/{name}", text)
    tables = conductance_tables(circuit, namer, values)
    del values
    for name, text in tables.items():
        if wanted(f"tables/{name}.csv"):
            yield scanned(f"tables/{name}.csv", text)
    if wanted("names.json"):
        yield "names.json", json.dumps(namer.mapping(), indent=2, sort_keys=True) + "\n"


def scan_emitted(files: Mapping[str, str], modules: set[str] | None = None,
                 includes: Iterable[str] | None = None) -> None:
    """Re-scan emitted netlists for forbidden constructs (an emitter bug if any is found).

    The same scan `runners` applies before running anything: no `.control`, `.include`, `.lib`,
    `source`, backquote, `;`, `shell`, `postprocess`, `embed`, ... For Spectre, the only
    `ahdl_include` lines allowed name our own emitted modules. The only include lines allowed
    name the emitted include files `includes` (paths in the file set, e.g.
    spice/crossbars/xb_w.inc; default: those of `files`) by their generated path relative to
    the netlist; each include file is scanned too (`check_include_file`).
    """
    if modules is None:
        modules = {p.rsplit("/", 1)[-1] for p in files if p.endswith(".va")}
    if includes is None:
        includes = [p for p in files if f"/{INCLUDE_DIR}/" in p]
    osdi = {m[:-3] + ".osdi" for m in modules}
    for path, full in files.items():
        folder, _, rel = path.partition("/")
        if rel.startswith(f"{INCLUDE_DIR}/"):
            check_include_file(rel, full, dialect="ngspice" if rel.endswith(".inc") else "vacask")
            continue
        text = without_generated_includes(
            full, [p[len(folder) + 1:] for p in includes if p.startswith(f"{folder}/")])
        if path.endswith("_tb_decode.py"):
            check_decode_script(full, DECODE_SCRIPT)
        elif path.endswith("_tb.cir"):
            check_testbench(text, dialect="ngspice", netlist=rel.replace("_tb.cir", ".cir"))
        elif path.endswith("_tb.sim"):
            check_testbench(text, dialect="vacask", allowed_loads=osdi)
        elif path.endswith(".cir"):
            check_netlist(text, dialect="ngspice")
        elif path.endswith(".sim"):
            check_netlist(text, dialect="vacask", allowed_loads=osdi)
        elif path.endswith(".scs"):
            check_netlist(_without_our_includes(text, modules), dialect="ngspice")
        elif not text.isascii():
            raise UnsafeNetlistError(f"internal error: {path} contains non-ASCII text")


#: Characters other than \n that str.splitlines treats as line breaks.
_OTHER_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _without_our_includes(text: str, modules: set[str]) -> str:
    """A Spectre top level without the `ahdl_include` lines of our own modules."""
    if "\n" in text and not any(c in text for c in _OTHER_LINE_BREAKS):
        # the line loop below in one regex pass (only \n breaks lines here)
        def keep(m: re.Match[str]) -> str:
            return "" if m.group(1) in modules else m.group(0)
        return re.sub(r'^ahdl_include "([a-z_]+\.va)"$\n?', keep, text, flags=re.MULTILINE)
    rest = []
    for line in text.splitlines():
        m = re.fullmatch(r'ahdl_include "([a-z_]+\.va)"', line)
        if m is None or m.group(1) not in modules:
            rest.append(line)
    return "\n".join(rest)
