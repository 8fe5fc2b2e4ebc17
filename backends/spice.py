"""SPICE backend: print a circuit IR as an ngspice netlist.

`SpiceEmitter` holds the element recipes, written in SPICE3 syntax plus behavioural B-sources;
`NgspiceEmitter` adds what is specific to ngspice (its `.options` names). Both print one netlist
for one `Stimulus` (input values: clamp voltages, initial states, select levels; see
backends/stimulus.py), through the shared walk of backends/base.py: this file holds only the
SPICE line templates, the realisations of cells and activations, the energy probe and the
analysis. Every identifier comes from a `Namer` and every number from `units.num`;
no model text is printed, not even in comments (a comment names only `<legal file name>:<line>`).

Element recipes (nets as in ir/circuit.py; V(x) = -v_unit x, V(gp) = +v_unit g):

* Integrator cells (also summing stages and inverters), one subcircuit per layer
  (`cells_<layer>`, base.write_cells): per cell an instance of the op-amp subcircuit
  `dam_opamp` (ports in+ in- out vdd vss; in+ on the port ref, in- on the summing node) with
  R_F and C_F from the summing node to the output (C_F = 0 for tau = 0 layers and inverters:
  V(out) = -R_F I_in). `dam_opamp` (`OPAMP_SUBCKT`, written once at the top) is a behavioural
  macro-model: a0, a dominant pole at gbw/a0, slew rate, soft rails at the supply nets vdd and
  vss (+-v_rail), output resistance r_out, input offset v_os (a realised draw's, per instance).
  Ideal amplifiers: the same subcircuit with a0 = 1e7, no pole, no rails
  (netlist_facts.IDEAL_OPAMP_A0).
  `--set opamp=FILE` replaces it with the user's own subcircuit (`user_opamp`).
* Initial states: `.ic v(node)={p_ic_node}` on both ends of every capacitor cell's C_F (the
  output at its initial voltage, the summing node where the op-amp holds it,
  `netlist_facts.cell_initial_voltages`; every input-dependent value is a `.param`), so the
  transient starts from the `Stimulus`'s initial voltages (init inputs, `init=settled` targets,
  otherwise 0 V) rather than from the DC operating point, which would be the settled state of
  every layer.
* Activations, one subcircuit per block (`act_<layer>`; ideal behavioural blocks against the
  port ref, x = -V(in)/v_unit; every expression comes from the layer's Lagrangian class,
  ir/lagrangians.py): a linear kind (identity) is a VCVS of its
  `spice_gain`; other elementwise kinds are B-sources of `spice_activation`; softmax is the
  translinear normaliser of the Verilog-A cell: a tail current i_tail (hardware key) into the
  common node s, neuron i drawing (i_tail/N) exp(-beta (V(in_i) - V(s))/v_unit) out of it, so
  V(s) = -(v_unit/beta) ln mean_j exp(beta x_j) (between the smallest and the mean input
  voltage) and V(gp_i) = v_unit softmax_i; no current exceeds i_tail. An inverted rail is
  a VCVS of gain -1 on gp.
* Crossbars: one resistor R = 1/G per nonzero conductance, row net to column (summing) net.
* Selected crossbars (weights `TABLE[INPUT]`): real analog switches, as in hardware. Every
  selected line has one switch per option (a memoryless B-source switch, `switch_line`: on
  r_on, off r_off, hardware keys) from the line's net to a private node that carries that
  option's resistors (the circuit backend reduces that star exactly: backends/ir_drop.switched);
  switch k of element j of a select input is controlled by the net `sel_<input>_<j>_<k>`,
  driven by a DC source `vs_sel_<input>_<j>_<k>` of value `{p_vs_sel_<input>_<j>_<k>}`: vdd/2
  (the supply rail) when input[j] == k and 0 V otherwise (a one-hot decoder; threshold vdd/4).
  Input vectors therefore differ only in parameter values (clamps, initial states and these
  control levels: `NetlistEmitter.input_parameters`), which a testbench sets per vector.
* Biases: DC current sources into the summing nodes. Clamps: DC voltage sources.
* Energy probe: `b_energy` drives the net `energy` with E(t) in model units (one volt = one
  unit), the expression of `energy_probe.energy_probe_terms` (Legendre terms, interaction and bias
  energy read back from the realised conductances, a selected crossbar's options weighted by
  their switch controls v(sel_*)/vdd, so it follows whatever drives the controls).
* Analysis: `.tran` from 0 to the readout time, print step t/1000, maximum step t/200, with
  tight tolerances; `.save` of every layer's x, gp and gn nets and of `energy`. There is never
  a `.control` block (ngspice -b then reports failures through its exit status).
"""

from __future__ import annotations

import re

from denseamc.backends.base import NetlistEmitter
from denseamc.backends.crossbar_text import DeviceValues
from denseamc.backends.energy_probe import ENERGY_PROBE_MAX_DEVICES, energy_probe_terms
from denseamc.backends.naming import Namer
from denseamc.backends.netlist_facts import cell_tag, opamp_settings, rail_errors, switch_ohms
from denseamc.backends.netlist_lines import TRAN_MAX_STEP_DIVISOR, TRAN_POINTS
from denseamc.backends.netlist_safety import UnsafeNetlistError, check_netlist
from denseamc.backends.stimulus import Stimulus
from denseamc.backends.units import integer, num
from denseamc.ir import DenseAMCError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell
from denseamc.ir.hardware import KEYS
from denseamc.ir.lagrangians import Softmax

__all__ = ["NgspiceEmitter", "SpiceEmitter", "user_opamp"]

_TERMS_PER_LINE = 6

#: The op-amp macro-model (fixed text; `{defaults}` and `{sat}` are formatted numbers). Inside:
#: the differential input plus the offset, vd = V(in+) - V(in-) + v_os, drives a
#: transconductance into the gain node p (rp || cp): DC gain a0, dominant pole at gbw / a0, and
#: the current limited to vlim / rp through a tanh so that dV(p)/dt never exceeds `slew_rate`.
#: gbw = 0: no capacitor, V(p) = a0 vd (the ideal amplifier). The output stage follows p with
#: soft saturation at the supply ports (sat = 1), a smooth clip vmid + d / (1 + (d/vh)^8)^(1/8)
#: with d = V(p) - vmid (slope 0.99 at 56 % of the rail, where a tanh's 0.68 would cut the loop
#: gain by a third), through r_out.
OPAMP_SUBCKT = """\
.subckt dam_opamp inp inn out vdd vss {defaults} v_os=0.0 sat={sat}
.param rp=1000000.0
.param tp={{gbw > 0 ? a0/(6.283185307179586*gbw) : 0}}
.param vlim={{gbw > 0 ? slew_rate*tp : 1e+30}}
bgm 0 p i = {{vlim/rp}}*tanh({{a0}}*(v(inp,inn)+{{v_os}})/{{vlim}})
rp p 0 {{rp}}
cp p 0 {{tp/rp}}
bout o 0 v = {{sat}} > 0.5 ? (v(vdd)+v(vss)+(2*v(p)-v(vdd)-v(vss))
+/pow(1+pow(abs((2*v(p)-v(vdd)-v(vss))/max(v(vdd)-v(vss), 1e-3)), 8), 0.125))/2 : v(p)
rout o out {{r_out}}
.ends dam_opamp"""


#: Lines a user's op-amp file may not hold: analyses, outputs, initial conditions and `.end`
#: belong to the netlist around it.
_NOT_IN_AN_OPAMP_FILE = re.compile(
    r"^\s*\.(end|tran|op|ac|dc|noise|tf|pz|disto|sens|meas\w*|print|plot|save|probe|ic|"
    r"nodeset|four|options?|temp|width)\s*($|\s)", re.I | re.M)
_OPAMP_SUBCKT_LINE = re.compile(r"^\s*\.subckt\s+dam_opamp((\s+[^\s=]+){5})(\s+\S+=\S+)*\s*$",
                                re.I | re.M)


def user_opamp(text: str, origin: str) -> str:
    """The user's op-amp file `text` (read from `origin`), checked to be a SPICE subcircuit
    `dam_opamp` with five ports (in+ in- out vdd vss) and nothing the netlist runs or reads: the
    safety scan of every netlist (no `.control`, `.include`, `shell`, ...), no analysis, output
    or `.end` line. A located error (the file) otherwise."""
    problems = []
    try:
        check_netlist(text, dialect="ngspice")
    except UnsafeNetlistError as exc:
        problems.append(str(exc).split(": ", 1)[-1].split(" (this is")[0])
    if not _OPAMP_SUBCKT_LINE.search(text):
        problems.append("no '.subckt dam_opamp INP INN OUT VDD VSS' line (five ports)")
    elif not re.search(r"^\s*\.ends\b", text, re.I | re.M):
        problems.append("no '.ends' line")
    bad = _NOT_IN_AN_OPAMP_FILE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        problems.append(f"line {line} is '{bad.group(0).strip()}': analyses, outputs, initial "
                        "conditions and .end belong to the netlist, not to the op-amp file")
    if problems:
        raise DenseAMCError(error(f"op-amp file {origin} (--set opamp=...): "
                                  + "; ".join(problems)))
    return text


def _gained(expr: str, gain: float, offset: float) -> str:
    """gain * (expr) + offset as a B-source expression (the plain expression when nominal)."""
    if (gain, offset) == (1.0, 0.0):
        return expr
    return f"{num(gain)}*({expr}){' - ' if offset < 0 else ' + '}{num(abs(offset))}"


class SpiceEmitter(NetlistEmitter):
    """Print one SPICE netlist for `circuit` with the input values of `stimulus`.

    `format()` returns the text. `loc_comments` adds `* from f.dam:12` before each component's
    elements. `energy_probe` adds the `b_energy` B-source.
    """

    dialect = "spice"
    comment_prefix = "*"
    isource_line = "{name} {a} {b} dc {value}"
    vsource_line = "{name} {a} {b} dc {value}"
    #: A memoryless switch: a B-source current V/r_on when the control is above the threshold,
    #: V/r_off below it (`switch_value`). ngspice's own `S` switch keeps a state that, once its
    #: control source is changed after the circuit was loaded (`alterparam` + `reset`, or
    #: `alter`: every testbench vector but the first), can start the transient inconsistent
    #: with the operating point ("timestep too small" at t = 6.4 ps on parity8 vector 5).
    switch_line = "{name} {a} {b} i = v({a},{b})/(v({ctl}) > {value})"
    switch_prefix = "b"
    resistor_line = "{0} {1} {2} {3}"
    include_line = ".include {path}"
    include_ext = ".inc"
    continued_prefix = "+ "
    param_line = ".param {name}={value}"
    param_ref = "{{{name}}}"
    save_prefix = ".save "
    save_probe = "v({})"
    cells_title = ("integrator cells, one subcircuit per layer (dam_opamp with R_F || C_F, "
                   "inverting)")
    activations_title = ("activation blocks (behavioural), one subcircuit each, x = "
                         "-V(in)/v_unit")

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 namer: Namer | None = None, loc_comments: bool = True,
                 energy_probe: bool = True, opamp: str | None = None,
                 includes: str = "inline",
                 device_values: dict[str, DeviceValues] | None = None) -> None:
        super().__init__(circuit, stimulus, namer=namer, loc_comments=loc_comments,
                         energy_probe=energy_probe, includes=includes,
                         device_values=device_values)
        #: the user's `dam_opamp` subcircuit (`user_opamp`), or None for the built-in one
        self.opamp = opamp

    def subckt_lines(self, name: str, ports: list[str], body: str) -> list[str]:
        return [*self.wrapped(f".subckt {name}", ports, ""), body, f".ends {name}"]

    def subckt_instance(self, inst: str, nodes: list[str], subckt: str) -> list[str]:
        return self.wrapped(inst, nodes, f" {subckt}")

    def add(self, *fields: str) -> None:
        self.lines.append(" ".join(fields))

    # -- header and cells -----------------------------------------------------------------------
    def write_header_details(self) -> None:
        op = opamp_settings(self.circuit)
        if self.opamp is not None:
            self.comment("amplifiers: the user's dam_opamp subcircuit (--set opamp=FILE)")
        elif self.circuit.amplifier.ideal:
            self.comment(f"amplifiers: ideal (dam_opamp with a0 = {num(op['a0'])}, no pole, no "
                         "slew limit, no rails)")
        else:
            self.comment(f"amplifiers: dam_opamp with a0 = {num(op['a0'])}, gbw = "
                         f"{num(op['gbw'])} Hz, slew rate {num(op['slew_rate'])} V/s, r_out = "
                         f"{num(op['r_out'])} ohm, soft rails at vdd and vss")

    def cell_lines(self, cell: IntegratorCell, s: str, out: str) -> list[str]:
        """`dam_opamp` (in+ = ref, in- = the summing node `s`) with R_F and C_F from `s` to
        `out`; local names suffixed by `cell_tag` (xop_3, rf_3, cf_3)."""
        tag = cell_tag(cell)
        fields = [f"xop_{tag}", "ref", s, out, "vdd", "vss", "dam_opamp"]
        if cell.v_offset and self.opamp is not None:
            raise DenseAMCError(error(
                "a draw's op-amp offsets (offset_sigma) go on the built-in dam_opamp's v_os "
                "parameter; with --set opamp=FILE set offset_sigma to 0 (or model the offset "
                "in your own subcircuit)"))
        if cell.v_offset:
            fields.append(f"v_os={num(cell.v_offset)}")
        lines = [" ".join(fields), f"rf_{tag} {s} {out} {num(cell.r_f)}"]
        if cell.c_f > 0:
            lines.append(f"cf_{tag} {s} {out} {num(cell.c_f)}")
        return lines

    def write_prologue(self) -> None:
        self.write_opamp_subckt()

    def write_opamp_subckt(self) -> None:
        """The `dam_opamp` subcircuit, with this circuit's amplifier settings as defaults, or
        the user's own (`--set opamp=FILE`, checked by `user_opamp`)."""
        if not self.circuit.cells:
            return
        if self.opamp is not None:
            self.section("dam_opamp: the user's op-amp subcircuit (--set opamp=FILE)")
            self.lines += self.opamp.rstrip("\n").splitlines()
            return
        self.section("dam_opamp: behavioural op-amp macro-model (ports in+ in- out vdd vss)")
        op = opamp_settings(self.circuit)
        defaults = " ".join(f"{k}={num(op[k])}" for k in ("a0", "gbw", "slew_rate", "r_out"))
        self.lines += OPAMP_SUBCKT.format(defaults=defaults, sat=integer(int(op["sat"]))
                                          ).splitlines()

    # -- activations ----------------------------------------------------------------------------
    def activation_lines(self, act: Activation, ports: dict[str, str]) -> list[str]:
        """Every neuron's out_p rail (and its own out_n rail), from the ideal expression of
        +v_unit g (`_rail_expressions`), against the port `ref`. Nominal: a linear kind is a
        VCVS and out_n a VCVS of -1 on out_p; a realised draw's gain and offset errors make
        each rail a B-source gain * (+-v_unit g) + offset."""
        lines, exprs = self._rail_expressions(act, ports)
        n_rail = dict(zip(act.out_p_nets, act.out_n_nets, strict=False))
        inputs = set(act.in_nets)  # a set: `in` on the tuple is quadratic in the layer size
        for i, (vin, vp) in enumerate(zip(act.in_nets, act.out_p_nets, strict=True)):
            gain_p, off_p, gain_n, off_n = rail_errors(act, i)
            nominal = (gain_p, off_p, gain_n, off_n) == (1.0, 0.0, 1.0, 0.0)
            spice_gain = act.lagrangian.spice_gain
            if nominal and spice_gain is not None:
                lines.append(f"ea_{i} {ports[vp]} ref {ports[vin]} ref {num(spice_gain)}")
            else:
                lines.append(f"ba_{i} {ports[vp]} ref v = {_gained(exprs[i], gain_p, off_p)}")
            vn = n_rail.get(vp)
            if vn is None or vn in inputs:
                continue  # identity: the inverted rail is the cell output itself
            if nominal:
                lines.append(f"en_{i} {ports[vn]} ref {ports[vp]} ref -1.0")
            else:
                lines.append(f"bn_{i} {ports[vn]} ref v = {_gained(exprs[i], -gain_n, off_n)}")
        return lines

    def _rail_expressions(self, act: Activation, ports: dict[str, str]
                          ) -> tuple[list[str], list[str]]:
        """(lines written first, +v_unit g_i of every neuron as a B-source expression over the
        subcircuit's ports); a softmax block's normaliser (its tail source and one share per
        neuron) is those lines (`_softmax`)."""
        lag = act.lagrangian
        if isinstance(lag, Softmax):
            return self._softmax(act, lag, ports)
        out = []
        for vin in act.in_nets:
            v = f"v({ports[vin]},ref)"
            out.append(f"{num(lag.spice_gain)}*{v}" if lag.spice_gain is not None
                       else lag.spice_activation(v, act.v_unit, num))
        return [], out

    def _softmax(self, act: Activation, lag: Softmax, ports: dict[str, str]
                 ) -> tuple[list[str], list[str]]:
        """The translinear normaliser of va_primitives.DAM_SOFTMAX_CELL with B-sources: the tail
        current i_tail into the common node s, neuron i drawing its share (i_tail/N) exp(-beta
        (V(in_i) - V(s))/v_unit) out of s, so V(s) = -(v_unit/beta) ln mean_j exp(beta x_j)
        and every share is i_tail softmax_i; returns out_p_i = v_unit share_i / i_tail."""
        i_tail = float(self.circuit.meta.get("i_tail", float(KEYS["i_tail"].default or 0.0)))
        lines = [f"it ref s dc {num(i_tail)}"]
        out = []
        for i, vin in enumerate(act.in_nets):
            share = (lag.spice_exponent(f"v({ports[vin]})", "v(s)", act.v_unit, num)
                     + f"/{integer(len(act.in_nets))}")
            lines.append(f"bi_{i} s ref i = {num(i_tail)}*{share}")
            out.append(f"{num(act.v_unit)}*{share}")
        return lines, out

    # -- selected crossbars ---------------------------------------------------------------------
    def write_switch_model(self) -> None:
        r_on, r_off = switch_ohms(self.circuit)
        self.section(f"analog switches of the selected crossbars: r_on = {num(r_on)} ohm above "
                     f"the control threshold {num(self.switch_threshold())} V, r_off = "
                     f"{num(r_off)} ohm below it")

    def switch_value(self) -> str:
        """The switch's `threshold ? r_on : r_off` (volts, ohm), in `switch_line`."""
        r_on, r_off = switch_ohms(self.circuit)
        return f"{num(self.switch_threshold())} ? {num(r_on)} : {num(r_off)}"

    # -- energy probe ---------------------------------------------------------------------------
    def energy_terms(self) -> list[tuple[float, str]]:
        """(coefficient, factor expression) whose sum is E in model units
        (`energy_probe.energy_probe_terms` on this netlist's v(net) probes)."""
        return energy_probe_terms(self.circuit, lambda n: f"v({self.net(n)})")

    def write_energy_probe(self) -> None:
        self.section("energy probe: V(energy) = E(t) in model units")
        terms = [(w, f) for w, f in self.energy_terms() if w != 0.0]
        parts = [(" - " if w < 0 else " + ") + f"{num(abs(w))}*{f}" for w, f in terms]
        if not parts:
            parts = [" + 0.0"]
        first = parts[0][3:] if parts[0].startswith(" + ") else "-" + parts[0][3:]
        chunks = [first + "".join(parts[1:_TERMS_PER_LINE])]
        for k in range(_TERMS_PER_LINE, len(parts), _TERMS_PER_LINE):
            chunks.append("+" + "".join(parts[k:k + _TERMS_PER_LINE]))
        self.add(self.inst("b", "energy"), self.net("energy"), "0", "v = " + chunks[0])
        self.lines.extend(chunks[1:])

    # -- analysis -------------------------------------------------------------------------------
    def write_epilogue(self) -> None:
        if self.energy_probe:
            self.write_energy_probe()
        elif self.probe_omitted:
            self.section(f"no energy probe: more than {ENERGY_PROBE_MAX_DEVICES} crossbar "
                         "devices (denseamc computes E from the saved voltages instead)")
        ics = self.initial_states()
        if ics:
            self.section("initial states p_ic_* (.ic holds them during the initial operating "
                         "point)")
            for node, ref in ics:
                self.add(".ic", f"v({node})={ref}")
        self.section("saved vectors")
        self.write_saves(["energy"] if self.energy_probe else [])
        t = self.param("t_read", self.circuit.readout_time_s)
        self.section("transient to the readout time t_read")
        self.add(".tran", f"{{t_read/{integer(TRAN_POINTS)}}}", t, "0.0",
                 f"{{t_read/{integer(TRAN_MAX_STEP_DIVISOR)}}}")
        self.lines.append(".end")


class NgspiceEmitter(SpiceEmitter):
    """ngspice 39+ (Debian): tight tolerances for comparisons at 1e-4 of v_unit."""

    dialect = "ngspice"

    def write_prologue(self) -> None:
        self.add(".options", "reltol=1e-06", "abstol=1e-15", "vntol=1e-09")
        super().write_prologue()
