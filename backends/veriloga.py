"""Verilog-A backend: the primitive modules a circuit uses, and top-level netlists around them.

Files (see `emit.emit_netlists`):

* `<module>.va`: the fixed primitives of backends/va_primitives.py that the circuit needs, and
  only those (`va_modules`). Nothing from the model is substituted into them; every value is an
  instance parameter set on a netlist line. Plus `dam_energy.va`, the energy probe generated
  for the circuit (numbers only; see below).
* a VACASK netlist (`VacaskEmitter`, run by the `veriloga` check backend through openvaf-r and
  VACASK): `load` of the compiled `.osdi` files and of VACASK's built-in resistor, crossbar
  devices as resistor instances, `abort always` in the control block.
* a Spectre netlist (`SpectreEmitter`, for Cadence users; checked by golden files only, since
  Spectre cannot run here): `ahdl_include` of the `.va` files, the same instances.

Both top levels share the instance syntax `name (nodes) master param=value ...`, the walk of
backends/base.py and these element recipes (nets as in ir/circuit.py):

* integrator cells, one subcircuit `cells_<layer>` per layer (base.write_cells): per cell
  `dam_opamp` (ref sum out vdd vss) with the circuit's amplifier parameters
  (ideal amplifiers: a0 = 1e7, gbw = 0, sat = 0) and a realised draw's offset `v_os`, plus
  `resistor` R_F and `capacitor` C_F from sum to out; a capacitor cell's initial state is an
  initial condition on both ends of C_F, each a parameter p_ic_<node> (Spectre: `ic`
  statements of the netlist parameters; VACASK: the transient's `ic={...}` list of control
  variables, forced during its initial operating point).
* activation block, one subcircuit `act_<layer>` each: one instance of the Lagrangian's
  `va_module` per neuron (in out_p out_n), with its
  `va_params` (rectpoly(n) is `dam_rectpoly` with the integer power n - 1: g = relu(x)^(n-1))
  and a realised draw's rail gains and offsets (`gain_p off_p gain_n off_n`); a coupled kind
  (softmax) is one `dam_softmax_cell` per neuron sharing the common node `s`, plus the layer's
  tail current source `it` of `i_tail` into `s` (a translinear normaliser: no current above
  i_tail, V(s) a soft minimum of the inputs). A rail the circuit does not use goes to a private
  node `nc_<i>` of the subcircuit (identity's inverted rail is the cell output itself).
* crossbars: `resistor` instances r = 1/G. Selected crossbars: `dam_switch` per (line,
  option) with the hardware's r_on and r_off, controlled by the one-hot select levels, as in
  backends/spice.py.
* biases: `isource` into the summing node; clamps: `vsource`.

The energy probe (VACASK and Spectre have no behavioural sources) is `dam_energy.va`, generated for
the circuit (`energy_probe_module`: the expression of `energy_probe.energy_probe_terms`, the SPICE
probe's), instantiated as `xe_energy` on the nets it reads and `energy`. The `veriloga` check
backend leaves it out (`energy_probe=False`) and evaluates E from the saved node voltages in numpy
(`circuit_energy`), the same formula.
"""

from __future__ import annotations

from denseamc.backends import va_primitives
from denseamc.backends.base import NetlistEmitter
from denseamc.backends.energy_probe import ENERGY_PROBE_MAX_DEVICES, energy_probe_terms
from denseamc.backends.netlist_facts import (
    cell_tag,
    initial_node_voltages,
    opamp_settings,
    rail_errors,
    switch_ohms,
)
from denseamc.backends.netlist_lines import TRAN_MAX_STEP_DIVISOR, TRAN_POINTS
from denseamc.backends.units import integer, num
from denseamc.ir import DenseAMCError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell
from denseamc.ir.hardware import KEYS
from denseamc.ir.loc import first_span

__all__ = ["SpectreEmitter", "VacaskEmitter", "va_modules"]


def modules_used(circuit: CircuitIR, energy_probe: bool = False) -> list[str]:
    """Names of the modules the circuit instantiates, sorted; `energy_probe`: with the
    generated `dam_energy` (when the circuit is small enough for a probe)."""
    used = set()
    if energy_probe and probe_fits(circuit):
        used.add("dam_energy")
    if circuit.cells:
        used.add("dam_opamp")
    for act in circuit.activations:
        used.add(act.lagrangian.va_module)
    if circuit.selected_crossbars:
        used.add("dam_switch")
    return sorted(used)


def va_modules(circuit: CircuitIR, energy_probe: bool = True) -> dict[str, str]:
    """`<module>.va` -> source text, for every primitive the circuit uses and, with
    `energy_probe`, its generated `dam_energy` (`energy_probe_module`)."""
    out = {f"{m}.va": va_primitives.ALL_MODULES[m] for m in modules_used(circuit)}
    if energy_probe and probe_fits(circuit):
        out["dam_energy.va"] = energy_probe_module(circuit)[1]
    return dict(sorted(out.items()))


def probe_fits(circuit: CircuitIR) -> bool:
    """Whether the energy probe is written (a circuit with layers, at most
    `ENERGY_PROBE_MAX_DEVICES` crossbar devices)."""
    return bool(circuit.layers) and (circuit.counts()["conductance_devices"]
                                     <= ENERGY_PROBE_MAX_DEVICES)


def energy_probe_module(circuit: CircuitIR) -> tuple[list[str], str]:
    """(the IR nets `dam_energy` reads, in port order in_0, in_1, ...; its source): the
    expression of `energy_probe.energy_probe_terms` over V(in_k)."""
    nets: dict[str, int] = {}

    def probe(ir_net: str) -> str:
        return f"V(in_{nets.setdefault(ir_net, len(nets))})"

    terms = energy_probe_terms(circuit, probe)
    return list(nets), va_primitives.energy_module(terms, len(nets))


def _parenthesised(items: list[str]) -> list[str]:
    """`items` with "(" before the first and ")" after the last (a node or port list)."""
    if not items:
        return ["()"]
    return ["(" + items[0], *items[1:-1], items[-1] + ")"] if len(items) > 1 else [
        f"({items[0]})"]


class _TopLevel(NetlistEmitter):
    """The Spectre-like top levels (VACASK and Spectre): instance lines and the module recipes."""

    comment_prefix = "//"
    isource_line = "{name} ({a} {b}) isource dc={value}"
    vsource_line = "{name} ({a} {b}) vsource dc={value}"
    switch_line = "{name} ({a} {b} {ctl}) dam_switch vt={value}"
    cells_title = ("integrator cells, one subcircuit per layer (dam_opamp with R_F || C_F "
                   "from the summing node to out)")
    activations_title = ("activation blocks, one subcircuit each, x = -V(in)/v_unit, "
                         "out_p = v_unit g, "
                         "out_n = -v_unit g")
    isources_title = "bias currents into the summing nodes (flowing from 0 into the node)"
    resistor_line = "{0} ({1} {2}) resistor r={3}"
    # one include file serves both simulators (the same syntax; VACASK's `resistor` is the
    # model the top level declares)
    include_line = 'include "{path}"'
    include_ext = ".scs"
    continues_suffix = " \\"

    def modules(self) -> list[str]:
        """The modules this netlist loads or includes (`modules_used`)."""
        return modules_used(self.circuit, self.energy_probe)

    def write_energy_probe(self) -> None:
        """The `dam_energy` instance on the nets it reads and `energy` (`energy_probe_module`),
        or why there is none."""
        if self.probe_omitted:
            self.section(f"no energy probe: more than {ENERGY_PROBE_MAX_DEVICES} crossbar "
                         "devices (denseamc computes E from the saved voltages instead)")
        if not self.energy_probe or not self.circuit.layers:
            return
        self.section("energy probe: V(energy) = E(t) in model units (dam_energy.va)")
        nets, _ = energy_probe_module(self.circuit)
        nodes = [self.net(n) for n in (*nets, "energy")]
        self.lines += self.wrapped(self.inst("xe", "energy"), _parenthesised(nodes),
                                   " dam_energy")

    def probe_saves(self) -> list[str]:
        """The energy net when the probe drives it (saved with the states)."""
        return ["energy"] if self.energy_probe and self.circuit.layers else []

    def subckt_lines(self, name: str, ports: list[str], body: str) -> list[str]:
        return [*self.wrapped(f"subckt {name}", _parenthesised(ports), ""), body,
                f"ends {name}"]

    def subckt_instance(self, inst: str, nodes: list[str], subckt: str) -> list[str]:
        return self.wrapped(inst, _parenthesised(nodes), f" {subckt}")

    def switch_value(self) -> str:
        """Every `dam_switch` instance carries the switches' r_on and r_off (hardware keys)."""
        r_on, r_off = switch_ohms(self.circuit)
        return f"{super().switch_value()} ron={num(r_on)} roff={num(r_off)}"

    def module_instance(self, name: str, nodes: list[str], master: str,
                        params: dict[str, str]) -> str:
        """One instance of Verilog-A module `master` (an op-amp or an activation cell) inside a
        subcircuit; the Spectre Monte Carlo netlist wraps it (backends/spectre_statistics.py)."""
        return _instance(name, nodes, master, params)

    def cell_lines(self, cell: IntegratorCell, s: str, out: str) -> list[str]:
        """`dam_opamp` (in+ = ref, in- = the summing node `s`) with the circuit's amplifier
        parameters and the cell's own offset, R_F and C_F from `s` to `out` (local names
        suffixed by `cell_tag`)."""
        tag = cell_tag(cell)
        op = opamp_settings(self.circuit)
        params = {k: num(op[k]) for k in ("a0", "gbw", "slew_rate", "r_out")}
        params["sat"] = integer(int(op["sat"]))
        if cell.v_offset:
            params["v_os"] = num(cell.v_offset)
        lines = [self.module_instance(f"xop_{tag}", ["ref", s, out, "vdd", "vss"], "dam_opamp",
                                      params),
                 self.format_resistor(f"rf_{tag}", s, out, num(cell.r_f))]
        if cell.c_f > 0:
            lines.append(f"cf_{tag} ({s} {out}) capacitor c={num(cell.c_f)}")
        return lines

    def activation_lines(self, act: Activation, ports: dict[str, str]) -> list[str]:
        """One instance of the Lagrangian's module per neuron (in, [s,] out_p, out_n) with its
        parameters and a realised draw's rail errors; an unused inverted rail goes to the
        private node nc_<i>; a coupled kind adds the tail current source `it` into s."""
        lag = act.lagrangian
        problem = lag.va_problem()
        if problem is not None:
            raise DenseAMCError(error(problem, first_span(act.loc)))
        params = {"v_unit": num(act.v_unit), **lag.va_params(num, integer)}
        i_tail = float(self.circuit.meta.get("i_tail", float(KEYS["i_tail"].default or 0)))
        if not lag.elementwise:
            params["i_tail"] = num(i_tail)
            params["n"] = integer(len(act.in_nets))
        n_rail = dict(zip(act.out_p_nets, act.out_n_nets, strict=False))
        # a coupled module (softmax) also connects the layer's common node
        shared = [] if lag.elementwise else ["s"]
        lines = []
        inputs = set(act.in_nets)  # a set: `in` on the tuple is quadratic in the layer size
        for i, (vin, vp) in enumerate(zip(act.in_nets, act.out_p_nets, strict=True)):
            vn = n_rail.get(vp)
            neg = ports[vn] if vn is not None and vn not in inputs else f"nc_{i}"
            errs = dict(zip(("gain_p", "off_p", "gain_n", "off_n"), rail_errors(act, i),
                            strict=True))
            realised = {k: num(v) for k, v in errs.items()
                        if v != (1.0 if k.startswith("gain") else 0.0)}
            lines.append(self.module_instance(f"xa_{i}", [ports[vin], *shared, ports[vp], neg],
                                              lag.va_module, {**params, **realised}))
        if not lag.elementwise:
            lines.append(self.isource_line.format(name="it", a="ref", b="s", ctl="",
                                                  value=num(i_tail)))
        return lines


def _instance(name: str, nodes: list[str], master: str, params: dict[str, str]) -> str:
    """`name (nodes) master k=v ...`: one instance line."""
    return " ".join([name, "(" + " ".join(nodes) + ")", master,
                     *(f"{k}={v}" for k, v in params.items())])


class VacaskEmitter(_TopLevel):
    """The VACASK top level: run with `vacask -sp -se --tomlfile OURS net.sim` (runners.py).
    Clamps and select levels are circuit parameters; the control block cannot read those, so
    the initial states there are control variables (`var p_ic_*`) and the readout time a
    number."""

    dialect = "vacask"
    param_line = "parameters {name}={value}"
    save_prefix = "  save "
    save_probe = "v({})"

    def write_prologue(self) -> None:
        self.comment("compile each .va file first: openvaf-r <module>.va  (writes <module>.osdi)")
        self.lines.append("")
        self.lines.append("ground 0")
        mods = self.modules()
        for m in mods:
            self.lines.append(f'load "{m}.osdi"')
        self.lines.append('load "resistor.osdi"')
        self.lines.append('load "capacitor.osdi"')
        for m in [*mods, "resistor", "capacitor", "vsource", "isource"]:
            self.lines.append(f"model {m} {m}")

    def write_epilogue(self) -> None:
        self.write_energy_probe()
        self.section("transient to the readout time")
        self.lines += self.control_head()
        self.write_saves(self.probe_saves())
        ics = initial_node_voltages(self.circuit, self.stimulus)
        self.lines += self.ic_vars(ics)
        self.lines.append(self.tran_line("tran1", [n for n, _ in ics]))
        self.lines.append("endc")

    def control_head(self) -> list[str]:
        """The control block's first lines: `abort always` and the options."""
        # nr_force: the conductance that forces `ic` nodes during the initial operating point;
        # VACASK's default left an ideal (then a0 = 1e8) integrator 0.7 % off its initial state,
        # 1e6 S leaves 7e-5 of it; from 1e7 S the operating point of a draw with op-amp
        # offsets no longer converges (tests/test_runners.py, tests/test_draw_netlists.py)
        return ["control", "  abort always",
                '  options rawfile="binary" reltol=1e-06 vntol=1e-09 nr_force=1000000.0']

    def ic_vars(self, ics: list[tuple[str, float]]) -> list[str]:
        """One `var p_ic_<node>=volts` line per initial state (IR net, volts): the initial
        states are control variables, since the control block cannot read circuit
        parameters."""
        return [f"  var {self.ic_param(n)}={num(v)}" for n, v in ics]

    def tran_line(self, name: str, ic_nodes: list[str]) -> str:
        """The transient `name` to the readout time, its `ic` list forcing each of `ic_nodes`
        (IR nets) to its variable p_ic_<node> during the initial operating point (icmode
        "op"); VACASK writes <name>.raw."""
        step, stop, tmax = self.tran_times()
        ic = ""
        if ic_nodes:
            ic = " ic={" + ", ".join(f'"{self.net(n)}", {self.ic_param(n)}'
                                     for n in ic_nodes) + "}"
        return (f"  analysis {name} tran stop={num(stop)} step={num(step)} "
                f"maxstep={num(tmax)}{ic}")


class SpectreEmitter(_TopLevel):
    """The Spectre top level (Cadence): `spectre <model>.scs` next to the .va files."""

    dialect = "spectre"
    param_line = "parameters {name}={value}"
    save_prefix = "save "

    def write_prologue(self) -> None:
        self.lines.append("")
        self.lines.append("simulator lang=spectre")
        self.lines.append("global 0")
        for m in self.modules():
            self.lines.append(f'ahdl_include "{m}.va"')

    def write_epilogue(self) -> None:
        self.write_energy_probe()
        ics = self.initial_states()
        if ics:
            self.section("initial states p_ic_*: both ends of every integration capacitor")
            for node, ref in ics:
                self.lines.append(f"ic {node}={ref}")
        t = self.param("t_read", self.circuit.readout_time_s)
        self.section("transient to the readout time t_read")
        self.lines.append("simulator_options options reltol=1e-06 vabstol=1e-09 iabstol=1e-15")
        self.lines.append(f"tran1 tran stop={t} step={t}/{integer(TRAN_POINTS)} "
                          f"maxstep={t}/{integer(TRAN_MAX_STEP_DIVISOR)}")
        self.write_saves(self.probe_saves())
