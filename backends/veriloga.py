"""Verilog-A backend: the primitive modules a circuit uses, and top-level netlists around them.

Files (see `netlists.emit_netlists`):

* `<module>.va`: the fixed primitives of backends/va_primitives.py that the circuit needs, and
  only those (`va_modules`). Nothing from the model is substituted into them; every value is an
  instance parameter set on a netlist line.
* a VACASK netlist (`VacaskEmitter`, run by the `veriloga` check backend through openvaf-r and
  VACASK): `load` of the compiled `.osdi` files and of VACASK's built-in resistor, crossbar
  devices as resistor instances, `abort always` in the control block.
* a Spectre netlist (`SpectreEmitter`, for Cadence users; checked by golden files only, since
  Spectre cannot run here): `ahdl_include` of the `.va` files, the same instances.

Both top levels share the instance syntax `name (nodes) master param=value ...` and the same
element recipes (nets as in ir/circuit.py):

* integrator cell: `dam_integrator` (sum out) with r_f, c_f, and for capacitor cells the
  initial output v0 (`use_ic=1` forces it at the transient's initial point; init inputs and
  `init=settled` targets come from the `Stimulus`); summing stages (C_F = 0) use `use_ic=0`.
  Non-ideal amplifiers set a0, gbw and vmax = v_rail (single pole, clipped output).
* activation: one `dam_<kind>` per neuron (in out_p out_n); rectpoly(n) is `dam_rectpoly` with
  the integer power n - 1 (g = relu(x)^(n-1)); softmax is one `dam_softmax_cell` per neuron
  sharing a mean-reference node and a sum node, plus the 1-ohm sum resistor per layer. A rail
  the circuit does not use goes to a private net `<block>_nc_<i>` (identity's inverted rail is
  the cell output itself).
* crossbars: `resistor` instances r = 1/G. Selected crossbars: `dam_switch` per (line,
  option), controlled by the one-hot select levels, as in backends/spice.py.
* biases: `isource` into the summing node; clamps: `vsource`.

The energy is not computed inside these netlists (VACASK has no behavioural sources); the
`veriloga` backend evaluates it from the saved node voltages in numpy
(`netlists.circuit_energy`), with the same formula as the SPICE probe.
"""

from __future__ import annotations

from denseamc.backends import va_primitives
from denseamc.backends.base import NetlistEmitter
from denseamc.backends.spice import (
    SWITCH_ROFF,
    SWITCH_RON,
    TRAN_MAX_STEP_FRACTION,
    TRAN_POINTS,
    crossbar_elements,
    saved_nets,
    select_control_net,
)
from denseamc.backends.units import integer, num
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import Activation, CircuitIR, IntegratorCell, Loc, loc_spans

__all__ = ["SpectreEmitter", "VacaskEmitter", "activation_module", "va_modules"]

_ACT_MODULES = {
    "identity": "dam_identity",
    "tanh": "dam_tanh",
    "sigmoid": "dam_sigmoid",
    "relu": "dam_relu",
    "rectpoly": "dam_rectpoly",
    "softmax": "dam_softmax_cell",
}


def activation_module(act: Activation) -> str:
    try:
        return _ACT_MODULES[act.kind]
    except KeyError:
        raise DenseAMCError(error(f"the Verilog-A backend has no module for activation "
                                  f"{act.kind!r}", _span(act.loc))) from None


def modules_used(circuit: CircuitIR) -> list[str]:
    """Names of the primitive modules the circuit instantiates, sorted."""
    used = set()
    if circuit.cells:
        used.add("dam_integrator")
    for act in circuit.activations:
        used.add(activation_module(act))
    if circuit.selected_crossbars:
        used.add("dam_switch")
    return sorted(used)


def va_modules(circuit: CircuitIR) -> dict[str, str]:
    """`<module>.va` -> source text, for every primitive the circuit uses."""
    return {f"{m}.va": va_primitives.ALL_MODULES[m] for m in modules_used(circuit)}


def _span(loc: Loc):  # type: ignore[no-untyped-def]
    spans = loc_spans(loc)
    return spans[0] if spans else None


class _TopLevel(NetlistEmitter):
    """Shared instance printing for the Spectre-like top levels (VACASK and Spectre)."""

    comment_prefix = "//"

    # -- entry points -----------------------------------------------------------------------------
    def format(self) -> str:
        self.lines = []
        self.write_header()
        self.write_prologue()
        self.write_cells()
        self.write_activations()
        self.write_crossbars()
        self.write_selected_crossbars()
        self.write_resistors()
        self.write_current_sources()
        self.write_voltage_sources()
        self.write_analysis()
        return "\n".join(self.lines) + "\n"

    # -- helpers ----------------------------------------------------------------------------------
    def instance(self, prefix: str, ir_name: str, nodes: list[str], master: str,
                 **params: str) -> None:
        fields = [self.namer.inst(prefix, ir_name), "(" + " ".join(nodes) + ")", master]
        fields += [f"{k}={v}" for k, v in params.items()]
        self.lines.append(" ".join(fields))

    # -- sections ---------------------------------------------------------------------------------
    def write_prologue(self) -> None:
        raise NotImplementedError

    def write_cells(self) -> None:
        if not self.circuit.cells:
            return
        self.section("integrator cells (dam_integrator: R_F || C_F around an op-amp)")
        for cell in self.circuit.cells:
            self.located(cell.loc)
            self.instance("x", cell.name, [self.net(cell.sum_net), self.net(cell.out_net)],
                          "dam_integrator", **self.format_cell_params(cell))

    def format_cell_params(self, cell: IntegratorCell) -> dict[str, str]:
        p = {"r_f": num(cell.r_f), "c_f": num(cell.c_f)}
        if cell.c_f > 0:
            try:
                p["v0"] = num(self.stimulus.cell_v0[cell.name])
            except KeyError:
                raise InternalCompilerError(f"no initial value for cell {cell.name}") from None
            p["use_ic"] = integer(1)
        else:
            p["use_ic"] = integer(0)
        amp = self.circuit.amplifier
        if not amp.ideal:
            p.update(a0=num(amp.a0), gbw=num(amp.gbw_hz), vmax=num(amp.v_rail))
        return p

    def write_activations(self) -> None:
        self.section("activation blocks, x = -V(in)/v_unit, out_p = v_unit g, out_n = -v_unit g")
        for act in self.circuit.activations:
            self.located(act.loc)
            module = activation_module(act)
            params = {"v_unit": num(act.v_unit)}
            if act.kind in ("tanh", "sigmoid"):
                assert act.param is not None
                params["gain"] = num(act.param)
            elif act.kind == "rectpoly":
                assert act.param is not None
                power = act.param - 1.0
                if power != round(power) or power < 1:
                    raise DenseAMCError(error(
                        f"the Verilog-A backend realises rectpoly(n) only for integer n >= 2, "
                        f"got n = {act.param!r}", _span(act.loc)))
                params["n"] = integer(round(power))
            elif act.kind == "softmax":
                assert act.param is not None
                params["beta"] = num(act.param)
            n_rail = dict(zip(act.out_p_nets, act.out_n_nets, strict=False))
            ref = self.net(f"{act.name}_ref")
            s = self.net(f"{act.name}_s")
            for i, (vin, vp) in enumerate(zip(act.in_nets, act.out_p_nets, strict=True)):
                vn = n_rail.get(vp)
                neg = (self.net(vn) if vn is not None and vn not in act.in_nets
                       else self.net(f"{act.name}_nc_{i}"))
                nodes = [self.net(vin)]
                if act.kind == "softmax":
                    nodes += [ref, s]
                nodes += [self.net(vp), neg]
                self.instance("xa", f"{act.name}_{i}", nodes, module, **params)
            if act.kind == "softmax":
                self.instance("rs", act.name, [s, "0"], "resistor", r="1.0")

    def write_crossbars(self) -> None:
        for xb in self.circuit.crossbars:
            rows, cols = xb.conductance.shape
            self.section(f"crossbar {self.namer.name(xb.name)}: {rows} x {cols}, "
                         f"{xb.devices} devices, polarity {xb.polarity}")
            self.located(xb.loc)
            devices = crossbar_elements(self.namer, xb)
            self.lines += [f"{i} ({a} {b}) resistor r={r}"
                           for i, a, b, r in zip(*devices, strict=True)]

    def write_selected_crossbars(self) -> None:
        if not self.circuit.selected_crossbars:
            return
        controls: dict[str, float] = {}
        for sx in self.circuit.selected_crossbars:
            self.section(f"selected crossbar {self.namer.name(sx.name)}: {sx.n_options} options "
                         f"x {len(sx.lines)} selected {sx.axis}, polarity {sx.polarity}")
            self.located(sx.loc)
            sel = self.stimulus.selects.get(sx.select)
            if sel is None:
                raise InternalCompilerError(f"no select values for {sx.name}")
            line_nets = sx.row_nets if sx.axis == "rows" else sx.col_nets
            other = sx.col_nets if sx.axis == "rows" else sx.row_nets
            for li, (line_net, j) in enumerate(zip(line_nets, sx.lines, strict=True)):
                for k in range(sx.n_options):
                    ctl = select_control_net(sx.select, j, k)
                    controls[ctl] = 1.0 if sel[j] == k else 0.0
                    node = self.net(f"{sx.name}_l{li}_o{k}")
                    self.instance("s", f"{sx.name}_{li}_{k}",
                                  [self.net(line_net), node, self.net(ctl)], "dam_switch",
                                  ron=num(SWITCH_RON), roff=num(SWITCH_ROFF))
                    for o, onet in enumerate(other):
                        g = float(sx.table[k, o])
                        if g > 0:
                            self.instance("r", f"{sx.name}_{li}_{k}_{o}", [node, self.net(onet)],
                                          "resistor", r=num(1.0 / g))
        self.section("switch controls: 1 V closes switch k of element j when select[j] == k")
        for ctl in sorted(controls, key=_natural):
            self.instance("vs", ctl, [self.net(ctl), "0"], "vsource", dc=num(controls[ctl]))

    def write_resistors(self) -> None:
        if not self.circuit.resistors:
            return
        self.section("resistors")
        for r in self.circuit.resistors:
            self.located(r.loc)
            self.instance("r", r.name, [self.net(r.net_a), self.net(r.net_b)], "resistor",
                          r=num(r.ohms))

    def write_current_sources(self) -> None:
        if not self.circuit.current_sources:
            return
        self.section("bias currents into the summing nodes (flowing from 0 into the node)")
        for cs in self.circuit.current_sources:
            self.located(cs.loc)
            self.instance("i", cs.name, ["0", self.net(cs.net)], "isource", dc=num(cs.amps))

    def write_voltage_sources(self) -> None:
        if not self.circuit.voltage_sources:
            return
        self.section("clamps: V = -v_unit * input")
        for vs in self.circuit.voltage_sources:
            self.located(vs.loc)
            self.instance("v", vs.name, [self.net(vs.net), "0"], "vsource",
                          dc=num(self.stimulus.source_volts[vs.name]))

    def saved(self) -> list[str]:
        return [self.net(n) for n in saved_nets(self.circuit)]

    def tran_times(self) -> tuple[float, float, float]:
        t = self.circuit.readout_time_s
        return t / TRAN_POINTS, t, t * TRAN_MAX_STEP_FRACTION

    def write_analysis(self) -> None:
        raise NotImplementedError


class VacaskEmitter(_TopLevel):
    """The VACASK top level: run with `vacask -sp -se --tomlfile OURS net.sim` (runners.py)."""

    dialect = "vacask"

    def write_prologue(self) -> None:
        self.comment("compile each .va file first: openvaf-r <module>.va  (writes <module>.osdi)")
        self.lines.append("")
        self.lines.append("ground 0")
        mods = modules_used(self.circuit)
        for m in mods:
            self.lines.append(f'load "{m}.osdi"')
        self.lines.append('load "resistor.osdi"')
        for m in [*mods, "resistor", "vsource", "isource"]:
            self.lines.append(f"model {m} {m}")

    def write_analysis(self) -> None:
        step, stop, tmax = self.tran_times()
        self.section("transient to the readout time")
        self.lines += ["control", "  abort always",
                       '  options rawfile="binary" reltol=1e-06 vntol=1e-09']
        names = self.saved()
        for k in range(0, len(names), 8):
            self.lines.append("  save " + " ".join(f"v({n})" for n in names[k:k + 8]))
        self.lines.append(f"  analysis tran1 tran stop={num(stop)} step={num(step)} "
                          f"maxstep={num(tmax)}")
        self.lines.append("endc")


class SpectreEmitter(_TopLevel):
    """The Spectre top level (Cadence): `spectre <model>.scs` next to the .va files."""

    dialect = "spectre"

    def write_prologue(self) -> None:
        self.lines.append("")
        self.lines.append("simulator lang=spectre")
        self.lines.append("global 0")
        for m in modules_used(self.circuit):
            self.lines.append(f'ahdl_include "{m}.va"')

    def write_analysis(self) -> None:
        step, stop, tmax = self.tran_times()
        self.section("transient to the readout time")
        self.lines.append("simulator_options options reltol=1e-06 vabstol=1e-09 iabstol=1e-15")
        self.lines.append(f"tran1 tran stop={num(stop)} step={num(step)} maxstep={num(tmax)}")
        names = self.saved()
        for k in range(0, len(names), 8):
            self.lines.append("save " + " ".join(names[k:k + 8]))


def _natural(text: str) -> tuple[str, ...]:
    import re

    return tuple(t.zfill(12) if t.isdigit() else t for t in re.split(r"(\d+)", text))
