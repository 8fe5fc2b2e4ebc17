"""The one walk over a circuit that every netlist printer shares; dialects only format lines.

A printer is built from a lowered `CircuitIR`, a `Stimulus` (the input values to print) and a
`Namer` (the only source of identifiers). `NetlistEmitter.format()` walks the circuit once, in a
fixed order (header, the dialect's prologue, cells, activations, crossbars, selected crossbars,
resistors, bias currents, clamps, the dialect's epilogue). For every element the walk first
legalises its names and formats its numbers, then hands them to the dialect:

* passive elements and sources are one line each: a resistor from the dialect's
  `resistor_line`, the others filled from its templates (`isource_line`, `vsource_line`,
  `switch_line`; fields `name`, `a`, `b`, `ctl`, `value`, all legal text; a switch's `value` is
  its threshold);
* every crossbar and selected crossbar is a subcircuit (the dialect's `subckt_lines`),
  instantiated once (`subckt_instance`); its definition goes inline or into an include file
  per crossbar (`includes`, `place_subckt`), so each device is written once per dialect. A
  plain crossbar's devices have local names (ports row_*, col_*; `crossbar_devices` in
  backends/crossbar_text.py) and are formatted in bulk, without the `Namer`;
* every layer's integrator cells are one subcircuit `cells_<layer>` (ports `cell_ports`, then
  ref, vdd, vss) and every activation block one subcircuit `act_<layer>` (`activation_ports`,
  then ref, vdd, vss; both ports in backends/netlist_facts.py), defined inline and
  instantiated once on the top-level nets (their names do not change, so initial conditions
  and saves name them); each dialect writes the bodies, `cell_lines` per cell with its own
  values and `activation_lines`;
* the energy probe's expression (`energy_probe_terms`, backends/energy_probe.py) is the same
  for every dialect, over the dialect's voltage probes;
* `write_prologue` and `write_epilogue` add what comes before and after the components.

The lines themselves (comments, element lines, wrapped lines, saves, the input values as
netlist parameters) are written with `NetlistLines` (backends/netlist_lines.py), the
emitter's base.

Names are registered with the `Namer` in the walk's order, so a file set that shares one `Namer`
(backends/emit.py) gets the same identifiers whichever printer asks first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import ClassVar, TypeVar

from denseamc.backends.crossbar_text import (
    DeviceValues,
    crossbar_devices,
    crossbar_ports,
    device_values,
    wired_crossbar_devices,
)
from denseamc.backends.energy_probe import ENERGY_PROBE_MAX_DEVICES
from denseamc.backends.naming import Namer
from denseamc.backends.netlist_facts import (
    activation_ports,
    cell_ports,
    select_control_net,
    select_levels,
    unwritable,
)
from denseamc.backends.netlist_lines import NetlistLines, natural_key
from denseamc.backends.stimulus import Stimulus, default_stimulus
from denseamc.backends.units import num
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell
from denseamc.ir.crossbars import Crossbar, SelectedCrossbar
from denseamc.ir.loc import Located

__all__ = ["INCLUDE_DIR", "NetlistEmitter"]

C = TypeVar("C", bound=Located)
#: The folder of the crossbar include files, relative to the top-level netlist including them.
INCLUDE_DIR = "crossbars"
#: How an emitter places each crossbar's subcircuit (`NetlistEmitter` `includes`).
INCLUDE_MODES = ("inline", "write", "refer")


#: Where a crossbar subcircuit's devices go among its lines (`NetlistEmitter.crossbar_subckt`).
_BODY = "\x00devices"


class NetlistEmitter(NetlistLines):
    """The shared walk (module docstring); a dialect sets the templates and writes its parts."""

    dialect: ClassVar[str] = ""
    #: One-line element templates (fields: name, a, b, ctl, value).
    isource_line: ClassVar[str] = ""
    #: A resistor line (positional fields: name, a, b, ohms).
    resistor_line: ClassVar[str] = ""
    vsource_line: ClassVar[str] = ""
    switch_line: ClassVar[str] = ""
    #: The element prefix of a switch instance (ngspice decides a line's element by it).
    switch_prefix: ClassVar[str] = "s"
    #: Section titles that differ between dialects.
    cells_title: ClassVar[str] = ""
    activations_title: ClassVar[str] = ""
    isources_title: ClassVar[str] = "bias currents into the summing nodes"
    #: Subcircuits: the include line (field path) and the include files' extension.
    include_line: ClassVar[str] = ""
    include_ext: ClassVar[str] = ""

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 namer: Namer | None = None, loc_comments: bool = True,
                 energy_probe: bool = True, includes: str = "inline",
                 device_values: dict[str, DeviceValues] | None = None) -> None:
        """`energy_probe`: drive the net `energy` with E(t) (`energy_probe_terms`; left out,
        with a comment, above `ENERGY_PROBE_MAX_DEVICES`). `includes`: where each crossbar's
        subcircuit goes: "inline" in the netlist itself (one self-contained text, what the
        runners simulate), "write" in an include file
        (`include_files`, path relative to the netlist: crossbars/<subckt><include_ext>) that
        the netlist includes, "refer" the same include line without building the file (it is
        another emitter's: Spectre and VACASK share theirs). `device_values`: crossbar name ->
        its formatted devices, shared by the emitters of one file set (filled on first use)."""
        if includes not in INCLUDE_MODES:
            raise InternalCompilerError(f"unknown include mode {includes!r}")
        self.circuit = circuit
        self.stimulus = stimulus if stimulus is not None else default_stimulus(circuit)
        self.namer = namer if namer is not None else Namer()
        self.loc_comments = loc_comments
        self.probe_omitted = energy_probe and (circuit.counts()["conductance_devices"]
                                               > ENERGY_PROBE_MAX_DEVICES)
        self.energy_probe = energy_probe and not self.probe_omitted
        self.includes = includes
        self.device_values = device_values if device_values is not None else {}
        self.lines: list[str] = []
        #: include path (relative to the netlist) -> text, filled by `format()`
        self.include_files: dict[str, str] = {}

    # -- entry point ------------------------------------------------------------------------------
    def format(self) -> str:
        """The whole netlist as text (ends with a newline).

        A realised circuit whose draw has something no netlist writes yet is refused
        (`unwritable`): a netlist without it would silently simulate another circuit.
        """
        missing = unwritable(self.circuit)
        if missing:
            seed, draw = self.circuit.draw or (0, 0)
            raise DenseAMCError(error(
                f"netlists of a realised draw (draw {draw} of seed {seed}) do not write "
                f"{'; '.join(missing)} yet: set them to 0 to write the draw's netlists"))
        self.lines = []
        self.include_files = {}
        self.params: list[tuple[str, float]] = []
        self.write_header()
        self.write_prologue()
        params_at = len(self.lines)
        for write in (self.write_supplies,
                      self.write_cells, self.write_activations, self.write_crossbars,
                      self.write_selected_crossbars, self.write_resistors,
                      self.write_current_sources, self.write_voltage_sources):
            write()
        self.write_epilogue()
        self.lines[params_at:params_at] = self.parameter_lines()
        return "\n".join(self.lines) + "\n"

    # -- dialect parts --------------------------------------------------------------------------
    def write_header_details(self) -> None:
        """Dialect-specific header lines (none by default)."""

    def write_prologue(self) -> None:
        """What comes between the header and the components."""

    def format_resistor(self, name: str, a: str, b: str, ohms: str) -> str:
        """One resistor line."""
        return self.resistor_line.format(name, a, b, ohms)

    def subckt_lines(self, name: str, ports: list[str], body: str) -> list[str]:
        """A subcircuit definition: `name` with `ports`, then `body` (lines), then its end."""
        raise NotImplementedError

    def subckt_instance(self, inst: str, nodes: list[str], subckt: str) -> list[str]:
        """The lines of instance `inst` of subcircuit `subckt` on `nodes`."""
        raise NotImplementedError

    def cell_lines(self, cell: IntegratorCell, s: str, out: str) -> list[str]:
        """The lines of `cell` inside its layer's subcircuit: op-amp, R_F, C_F between the
        local nets `s` (summing node) and `out`, in+ on `ref`, supplies `vdd`, `vss`."""
        raise NotImplementedError

    def activation_lines(self, act: Activation, ports: dict[str, str]) -> list[str]:
        """The body of `act`'s subcircuit; `ports` maps each IR net it connects to its port
        (`activation_ports`); the reference is the port `ref`."""
        raise NotImplementedError

    def write_switch_model(self) -> None:
        """What the selected crossbars' switches need before the first of them (none)."""

    def switch_value(self) -> str:
        """`switch_line`'s value: the control threshold (V); a dialect whose switch instances
        carry r_on and r_off adds them."""
        return num(self.switch_threshold())

    def write_epilogue(self) -> None:
        """What comes after the components: the analysis."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------
    def switch_threshold(self) -> float:
        """The select switches' control threshold: half way between off (0 V) and on (vdd)."""
        return self.circuit.amplifier.v_rail / 2

    # -- the walk -------------------------------------------------------------------------------
    def write_header(self) -> None:
        """The header every netlist starts with: what it is, its units, its input values."""
        c, s = self.circuit, self.circuit.scaling
        self.comment(f"denseamc {self.dialect} netlist for model {self.model_name()}")
        self.comment("generated by denseamc: every name is generated, every value in SI units")
        self.comment(f"v_unit = {num(s.v_unit)} V per model unit: V(L_x_i) = -v_unit x_i, "
                     "V(L_gp_i) = +v_unit g_i")
        self.comment(f"tau_unit = {num(s.tau_unit_s)} s per model time unit, readout at "
                     f"t = {num(c.readout_t)} = {num(c.readout_time_s)} s")
        if c.draw is not None:
            self.comment(f"realised circuit: Monte Carlo draw {c.draw[1]} of seed {c.draw[0]} "
                         "(device values of that draw, not the nominal ones)")
        self.write_header_details()
        self.comment(f"input values (clamps, initial states, select levels): "
                     f"{self.stimulus.origin}")

    def components(self, title: str, components: Sequence[C]) -> Iterator[C]:
        """Each of `components` after its provenance comment, under a section `title` (no
        section when there are none)."""
        if components:
            self.section(title)
        for comp in components:
            self.located(comp.loc)
            yield comp

    def write_supplies(self) -> None:
        """The op-amps' supply rails vdd = +v_rail and vss = -v_rail around the reference (0)."""
        if not self.circuit.cells and not self.circuit.activations:
            return
        self.section("op-amp supplies: vdd and vss around the reference 0")
        rail = self.circuit.amplifier.v_rail
        self.element(self.vsource_line, self.inst("v", "vdd"), self.net("vdd"), "0", num(rail))
        self.element(self.vsource_line, self.inst("v", "vss"), self.net("vss"), "0", num(-rail))

    def write_cells(self) -> None:
        """Per layer: one subcircuit of its integrator cells (neurons, and the differential
        scheme's inverters), defined here and instantiated once on the layer's top-level nets.
        Ports: every cell's summing node and output (`cell_ports`), then ref (the op-amps' in+,
        the reference 0), vdd and vss; each cell inside is the dialect's `cell_lines` with its
        own values (R_F, C_F, a draw's op-amp offset). Initial states stay on the top-level
        nets (`initial_states`)."""
        by_layer: dict[str, list[IntegratorCell]] = {}
        for cell in self.circuit.cells:
            by_layer.setdefault(cell.layer, []).append(cell)
        if by_layer:
            self.section(self.cells_title)
        for layer, cells in by_layer.items():
            subckt = self.namer.name(f"cells_{layer}")
            self.lines.append("")
            self.comment(f"layer {self.namer.name(layer)}, cells: {len(cells)}, subcircuit "
                         f"{subckt} (ports: summing nodes, outputs, ref, vdd, vss)")
            self.located_all([c.loc for c in cells])
            ports = cell_ports(cells)
            body: list[str] = []
            for cell in cells:
                body += self.cell_lines(cell, ports[cell.sum_net], ports[cell.out_net])
            self.lines += self.subckt_lines(subckt, [*ports.values(), "ref", "vdd", "vss"],
                                            "\n".join(body))
            nodes = [self.net(n) for n in ports] + ["0", self.net("vdd"), self.net("vss")]
            self.lines += self.subckt_instance(self.inst("x", f"cells_{layer}"), nodes, subckt)

    def write_activations(self) -> None:
        """Per activation block: one subcircuit, defined here and instantiated once. Ports: its
        inputs (in_i, the cell outputs), its rails (out_p_i, and out_n_i where the block drives
        its own), a coupled block's common node s (read by the energy probe), then ref, vdd and
        vss (`activation_ports`); the body is the dialect's `activation_lines`."""
        self.section(self.activations_title)
        for act in self.circuit.activations:
            subckt = self.namer.name(f"act_{act.layer}")
            self.lines.append("")
            ports = activation_ports(act)
            kinds = dict.fromkeys(re.sub(r"_\d+$", "_*", p) for p in ports.values())
            self.comment(f"block {self.namer.name(act.name)}, {act.lagrangian.kind}, neurons: "
                         f"{len(act.in_nets)}, subcircuit {subckt} (ports: "
                         f"{', '.join([*kinds, 'ref', 'vdd', 'vss'])})")
            self.located(act.loc)
            body = self.activation_lines(act, ports)
            self.lines += self.subckt_lines(subckt, [*ports.values(), "ref", "vdd", "vss"],
                                            "\n".join(body))
            nodes = [self.net(n) for n in ports] + ["0", self.net("vdd"), self.net("vss")]
            self.lines += self.subckt_instance(self.inst("x", act.name), nodes, subckt)

    def write_crossbars(self) -> None:
        """Per crossbar: its subcircuit (ports row_*, col_*; `crossbar_subckt`), inline or in an
        include file (`place_subckt`), and one instance of it on the crossbar's row and column
        nets."""
        for xb in self.circuit.crossbars:
            rows, cols = xb.conductance.shape
            subckt = self.namer.name(f"xb_{xb.name}")
            self.section(f"crossbar {self.namer.name(xb.name)}: {rows} x {cols}, "
                         f"{xb.devices} devices, polarity {xb.polarity}: subcircuit {subckt}")
            self.located(xb.loc)
            self.place_subckt(subckt, partial(self.crossbar_subckt, xb, subckt))
            nodes = [self.net(n) for n in (*xb.row_nets, *xb.col_nets)]
            self.lines += self.subckt_instance(self.inst("x", xb.name), nodes, subckt)

    def place_subckt(self, subckt: str, definition: Callable[..., list[str]]) -> None:
        """Subcircuit `subckt`'s definition (built by `definition` only when needed) inline, or
        in the include file crossbars/<subckt><include_ext> with an include line here
        (`includes`). `definition()`: its lines; `definition(end="\\n")`: the same with the
        last line ending in a newline, as a file's does (a plain crossbar's definition is one
        string, so the file's text is that string, not a copy of it)."""
        if self.includes == "inline":
            self.lines += definition()
            return
        path = f"{INCLUDE_DIR}/{subckt}{self.include_ext}"
        self.comment(f"its devices: {path} (replace that file to reprogram the weights)")
        self.lines.append(self.include_line.format(path=path))
        if self.includes == "write":
            self.include_files[path] = "\n".join(definition(end="\n"))

    def crossbar_subckt(self, xb: Crossbar, subckt: str, *, end: str = "") -> list[str]:
        """`xb`'s subcircuit `subckt`, ending in `end`: what it is, then its definition (ports
        `crossbar_ports`, devices `crossbar_devices` or, with wire resistance,
        `wired_crossbar_devices`). Without wire resistance it is one string (one list item),
        built with the devices in one go."""
        rows, cols = xb.conductance.shape
        head = [f"{self.comment_prefix} crossbar subcircuit {subckt}: {rows} x {cols}, "
                f"{xb.devices} devices (resistance in ohm = 1/conductance)",
                f"{self.comment_prefix} ports row_0 .. row_{rows - 1} (the rows, driven), "
                f"col_0 .. col_{cols - 1} (the columns, to the summing nodes)"]
        if xb.r_wire > 0:
            head.append(f"{self.comment_prefix} wire resistance {num(xb.r_wire)} ohm per cell "
                        "segment: rows driven at their first column, columns read at their "
                        "last row")
            lines = head + self.subckt_lines(subckt, crossbar_ports(xb),
                                             wired_crossbar_devices(xb, self.resistor_line))
            return [*lines[:-1], lines[-1] + end]
        values = self.device_values.get(xb.name)
        if values is None:
            values = device_values(xb, self.device_values.values())
            self.device_values[xb.name] = values
        lines = head + self.subckt_lines(subckt, crossbar_ports(xb), _BODY)
        at = lines.index(_BODY)
        return [crossbar_devices(xb, self.resistor_line, values,
                                 head="".join(line + "\n" for line in lines[:at]),
                                 tail="\n".join(lines[at + 1:]) + end)]

    def write_selected_crossbars(self) -> None:
        if not self.circuit.selected_crossbars:
            return
        self.write_switch_model()
        for sx in self.circuit.selected_crossbars:
            subckt = self.namer.name(f"xb_{sx.name}")
            self.section(f"selected crossbar {self.namer.name(sx.name)}: {sx.n_options} options "
                         f"x {len(sx.lines)} selected {sx.axis}, polarity {sx.polarity}: "
                         f"subcircuit {subckt}")
            self.located(sx.loc)
            # its switches and devices, written by the walk, become the subcircuit's body; its
            # ports are the nets they share with the rest (lines, others, switch controls)
            start = len(self.lines)
            self._write_selected(sx)
            body = self.lines[start:]
            del self.lines[start:]
            ctls = [select_control_net(sx.select, j, k) for j in sx.lines
                    for k in range(sx.n_options)]
            nodes = [n for n in dict.fromkeys(self.net(n) for n in
                                              (*sx.line_nets, *sx.other_nets, *ctls)) if n != "0"]
            self.place_subckt(subckt, partial(self.selected_subckt, subckt, nodes, body))
            self.lines += self.subckt_instance(self.inst("x", sx.name), nodes, subckt)
        self.section("switch controls: vdd closes switch k of element j when select[j] == k")
        levels = select_levels(self.circuit, self.stimulus)
        for ctl in sorted(levels, key=natural_key):
            self.element(self.vsource_line, self.inst("vs", ctl), self.net(ctl), "0",
                         self.param(self.select_param(ctl), levels[ctl]))

    def selected_subckt(self, subckt: str, ports: list[str], body: list[str], *,
                        end: str = "") -> list[str]:
        """A selected crossbar's subcircuit `subckt`: what it is, then its definition, the last
        line ending in `end`."""
        lines = [f"{self.comment_prefix} selected crossbar subcircuit {subckt}: analog switches "
                 "and option devices (resistance in ohm = 1/conductance)",
                 f"{self.comment_prefix} ports: the selected lines, the other nets, the switch "
                 "controls (named as the nets they connect to)",
                 *self.subckt_lines(subckt, ports, "\n".join(body))]
        return [*lines[:-1], lines[-1] + end]

    def _write_selected(self, sx: SelectedCrossbar) -> None:
        """The switches and option devices of one selected crossbar (the same for every
        input: the select levels are the control sources' values)."""
        line_nets = [self.net(n) for n in sx.line_nets]
        for li, (line_net, j) in enumerate(zip(line_nets, sx.lines, strict=True)):
            for k in range(sx.n_options):
                ctl = select_control_net(sx.select, j, k)
                node = self.net(f"{sx.name}_l{li}_o{k}")
                ctl_net = self.net(ctl)
                self.element(self.switch_line,
                             self.inst(self.switch_prefix, f"{sx.name}_{li}_{k}"), line_net,
                             node, ctl=ctl_net, value=self.switch_value())
                others = [self.net(n) for n in sx.other_nets]
                table = sx.table if sx.line_tables is None else sx.line_tables[li]
                for o, other in enumerate(others):
                    g = float(table[k, o])
                    if g > 0:
                        self.lines.append(self.format_resistor(
                            self.inst("r", f"{sx.name}_{li}_{k}_{o}"), node, other, num(1.0 / g)))

    def write_resistors(self) -> None:
        for r in self.components("resistors", self.circuit.resistors):
            self.lines.append(self.format_resistor(self.inst("r", r.name), self.net(r.net_a),
                                                   self.net(r.net_b), num(r.ohms)))

    def write_current_sources(self) -> None:
        for cs in self.components(self.isources_title, self.circuit.current_sources):
            # the current flows from the first node through the source into the second
            self.element(self.isource_line, self.inst("i", cs.name), "0", self.net(cs.net),
                         num(cs.amps))

    def write_voltage_sources(self) -> None:
        for vs in self.components("clamps: V = -v_unit * input", self.circuit.voltage_sources):
            self.element(self.vsource_line, self.inst("v", vs.name), self.net(vs.net), "0",
                         self.param(self.clamp_param(vs.name),
                                    self.stimulus.source_volts[vs.name]))
