"""SPICE backend: print a circuit IR as an ngspice netlist.

`SpiceEmitter` holds the element recipes, written in SPICE3 syntax plus behavioural B-sources;
`NgspiceEmitter` adds what is specific to ngspice (its `.options` names). Both print one netlist
for one `Stimulus` (input values: clamp voltages, initial states, select levels; see
backends/netlists.py). Every identifier comes from a `Namer` and every number from `units.num`;
no model text is printed, not even in comments (a comment names only `<legal file name>:<line>`).

Element recipes (nets as in ir/circuit.py; V(x) = -v_unit x, V(gp) = +v_unit g):

* Integrator cell, ideal amplifier: the summing node is held at 0 V by a 0-V source `vg_*`
  whose current (the total current I_in into the node) a CCCS `fx_*` draws out of a state node
  `st` loaded by R_F || C_F; a unity VCVS `eo_*` buffers the state onto the cell output:
      C_F dV(st)/dt = -V(st)/R_F - I_in,   V(out) = V(st).
  C_F = 0 (tau = 0 layers, differential inverters) leaves out the capacitor: V(out) = -R_F I_in.
* Integrator cell, non-ideal amplifier (`circuit.amplifier.ideal` is False): R_F || C_F from
  `sum` to `out` around a single-pole op-amp macromodel: a VCCS of a0 siemens from the summing
  node into a pole node `p` loaded by 1 ohm || a0/(2 pi gbw) farad (DC gain a0, unity-gain
  frequency gbw), and a B-source output clipped to +-v_rail. Slew rate is not modelled.
* Initial states: `.ic` on every capacitor cell's state node (ideal: `st`; non-ideal: `p`, and
  the summing node at -V0/a0, as the amplifier would hold it), so the transient starts from
  the `Stimulus`'s initial voltages (init inputs, `init=settled` targets, otherwise 0 V) rather
  than from the DC operating point, which would be the settled state of every layer.
* Activations (ideal behavioural blocks, x = -V(in)/v_unit): identity is a VCVS of gain -1;
  tanh, sigmoid, relu and rectpoly are B-sources; softmax is mean-referenced like the
  Verilog-A cell: V(ref) = mean of the inputs, e_i = exp(beta (x_i - x_ref)), V(s) = sum e_i,
  V(gp_i) = v_unit e_i / max(V(s), 1e-9). An inverted rail is a VCVS of gain -1 on gp.
* Crossbars: one resistor R = 1/G per nonzero conductance, row net to column (summing) net.
* Selected crossbars (weights `TABLE[INPUT]`): real analog switches, as in hardware. Every
  selected line has one switch per option (an `S` element, on 0.01 ohm, off 1e12 ohm) from the
  line's net to a private node that carries that option's resistors; switch k of element j of
  a select input is controlled by the net `sel_<input>_<j>_<k>`, driven by a DC source at 1 V
  when input[j] == k and 0 V otherwise (a one-hot decoder). One netlist per input vector
  therefore differs only in source values, initial conditions and these control levels.
* Biases: DC current sources into the summing nodes. Clamps: DC voltage sources.
* Energy probe: `b_energy` drives the net `energy` with E(t) in model units (one volt = one
  unit): per layer the Legendre term (softmax: sum x_i g_i - x_ref - ln(V(s))/beta, the
  log-sum-exp taken from the block's own sum node), plus the interaction and bias energy read
  back from the realised conductances (netlists.energy_coefficients; pairs of clamped neurons
  contribute a constant that is left out).
* Analysis: `.tran` from 0 to the readout time, print step t/1000, maximum step t/200, with
  tight tolerances; `.save` of every layer's x, gp and gn nets and of `energy`. There is never
  a `.control` block (ngspice -b then reports failures through its exit status).
"""

from __future__ import annotations

import math

import numpy as np
from denseamc.backends.base import NetlistEmitter
from denseamc.backends.circuit_energy import energy_coefficients
from denseamc.backends.naming import Namer
from denseamc.backends.stimulus import Stimulus
from denseamc.backends.units import integer, num, nums
from denseamc.ir import DenseAMCError, InternalCompilerError, error
from denseamc.ir.circuit import (
    Activation,
    CircuitIR,
    Crossbar,
    IntegratorCell,
    Loc,
    SelectedCrossbar,
    net,
)

__all__ = [
    "SWITCH_ROFF",
    "SWITCH_RON",
    "NgspiceEmitter",
    "SpiceEmitter",
    "saved_nets",
    "select_control_net",
]

#: Analog switch on/off resistances (both backends). 0.01 ohm in series with a line's devices
#: (at most ~1e-3 S in total here) changes a current by ~1e-5 relative; 1e12 ohm leaks ~1e-8.
SWITCH_RON = 0.01
SWITCH_ROFF = 1e12
#: Transient output step and maximum internal step, as fractions of the readout time.
TRAN_POINTS = 1000
TRAN_MAX_STEP_FRACTION = 1.0 / 200
SOFTMAX_SMIN = 1e-9
#: Above this many crossbar devices the energy probe (one B-source term per device pair) is
#: left out: a B-source of millions of terms costs ngspice more than the rest of the circuit,
#: and `check --backend spice` evaluates E from the saved node voltages in numpy anyway.
ENERGY_PROBE_MAX_DEVICES = 20_000
_TERMS_PER_LINE = 6


def select_control_net(select: str, element: int, option: int) -> str:
    """IR-style name of the control net of switch `option` of element `element` of `select`."""
    return f"sel_{select}_{element}_{option}"


def saved_nets(circuit: CircuitIR) -> list[str]:
    """Every layer's x, gp and own gn nets (IR names), in circuit order; with non-ideal
    amplifiers also every summing node (ideal ones are held at exactly 0 V)."""
    out: list[str] = []
    for layer in circuit.layers:
        out += [net(layer.name, "x", i) for i in range(layer.size)]
    for act in circuit.activations:
        out += list(act.out_p_nets)
        out += [n for n in act.out_n_nets if n not in act.in_nets]
    if not circuit.amplifier.ideal:
        out += [c.sum_net for c in circuit.cells]
    return out


def crossbar_elements(
    namer: Namer, xb: Crossbar
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(instance, row net, column net, ohms) of every device of `xb`, row-major, vectorised.

    Every printer formats these in its own syntax. Nets are registered with `namer` rows first,
    then columns, then the device instances, in that order.
    """
    g = np.asarray(xb.conductance, dtype=np.float64)
    rr, cc = np.nonzero(g > 0)
    ohms = 1.0 / g[rr, cc]
    if not np.isfinite(ohms).all():
        raise InternalCompilerError(f"crossbar {xb.name}: a conductance too small to invert")
    rows = [namer.net(n) for n in xb.row_nets]
    cols = [namer.net(n) for n in xb.col_nets]
    r_list, c_list = rr.tolist(), cc.tolist()
    insts = namer.inst_many(
        "r", [f"{xb.name}_{r}_{c}" for r, c in zip(r_list, c_list, strict=True)])
    return (insts, [rows[r] for r in r_list], [cols[c] for c in c_list], nums(ohms))


class SpiceEmitter(NetlistEmitter):
    """Print one SPICE netlist for `circuit` with the input values of `stimulus`.

    `format()` returns the text; `emit(out)` writes it. `loc_comments` adds `* from f.dam:12`
    before each component's elements. `energy_probe` adds the `b_energy` B-source.
    """

    dialect = "spice"
    comment_prefix = "*"

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 namer: Namer | None = None, loc_comments: bool = True,
                 energy_probe: bool = True) -> None:
        super().__init__(circuit, stimulus, namer=namer, loc_comments=loc_comments)
        devices = circuit.counts()["conductance_devices"]
        self.probe_omitted = energy_probe and devices > ENERGY_PROBE_MAX_DEVICES
        self.energy_probe = energy_probe and not self.probe_omitted
        self.ics: list[tuple[str, float]] = []

    # -- entry points -----------------------------------------------------------------------------
    def format(self) -> str:
        """The whole netlist as text (ends with a newline)."""
        self.lines = []
        self.ics = []
        self.write_header()
        self.write_options()
        self.write_cells()
        self.write_activations()
        self.write_crossbars()
        self.write_selected_crossbars()
        self.write_resistors()
        self.write_current_sources()
        self.write_voltage_sources()
        if self.energy_probe:
            self.write_energy_probe()
        elif self.probe_omitted:
            self.section(f"no energy probe: more than {ENERGY_PROBE_MAX_DEVICES} crossbar "
                         "devices (denseamc computes E from the saved voltages instead)")
        self.write_initial_conditions()
        self.write_saves()
        self.write_analysis()
        self.lines.append(".end")
        return "\n".join(self.lines) + "\n"

    # -- helpers ----------------------------------------------------------------------------------
    def inst(self, prefix: str, ir_name: str) -> str:
        return self.namer.inst(prefix, ir_name)

    def add(self, *fields: str) -> None:
        self.lines.append(" ".join(fields))

    # -- sections ---------------------------------------------------------------------------------
    def write_header_details(self) -> None:
        amp = self.circuit.amplifier
        if amp.ideal:
            self.comment("amplifiers: ideal (virtual-ground integrator cells)")
        else:
            self.comment(f"amplifiers: a0 = {num(amp.a0)}, gbw = {num(amp.gbw_hz)} Hz, output "
                         f"clipped to +-{num(amp.v_rail)} V (slew rate not modelled)")

    def write_options(self) -> None:
        pass

    def write_cells(self) -> None:
        if not self.circuit.cells:
            return
        self.section("integrator cells (R_F || C_F around an op-amp, inverting)")
        for cell in self.circuit.cells:
            self.located(cell.loc)
            if self.circuit.amplifier.ideal:
                self._ideal_cell(cell)
            else:
                self._opamp_cell(cell)

    def _state_net(self, cell: IntegratorCell) -> str:
        return self.net(f"{cell.name}_st")

    def _ideal_cell(self, cell: IntegratorCell) -> None:
        vg, st = self.inst("vg", cell.name), self._state_net(cell)
        self.add(vg, self.net(cell.sum_net), "0", "dc", "0.0")
        self.add(self.inst("fx", cell.name), st, "0", vg, "1.0")
        self.add(self.inst("rf", cell.name), st, "0", num(cell.r_f))
        if cell.c_f > 0:
            self.add(self.inst("cf", cell.name), st, "0", num(cell.c_f))
            self.ics.append((st, self._v0(cell)))
        self.add(self.inst("eo", cell.name), self.net(cell.out_net), "0", st, "0", "1.0")

    def _opamp_cell(self, cell: IntegratorCell) -> None:
        amp = self.circuit.amplifier
        s, out, p = self.net(cell.sum_net), self.net(cell.out_net), self._state_net(cell)
        self.add(self.inst("ga", cell.name), p, "0", s, "0", num(amp.a0))
        self.add(self.inst("rp", cell.name), p, "0", "1.0")
        if amp.gbw_hz > 0:
            self.add(self.inst("cp", cell.name), p, "0", num(amp.a0 / (2 * math.pi * amp.gbw_hz)))
        rail = num(amp.v_rail)
        self.add(self.inst("bo", cell.name), out, "0", f"v = min(max(v({p}), -{rail}), {rail})")
        self.add(self.inst("rf", cell.name), s, out, num(cell.r_f))
        if cell.c_f > 0:
            self.add(self.inst("cf", cell.name), s, out, num(cell.c_f))
            v0 = self._v0(cell)
            self.ics.append((p, v0))
            self.ics.append((s, -v0 / amp.a0))

    def _v0(self, cell: IntegratorCell) -> float:
        try:
            return self.stimulus.cell_v0[cell.name]
        except KeyError:
            raise InternalCompilerError(f"no initial value for cell {cell.name}") from None

    def write_activations(self) -> None:
        self.section("activation blocks (behavioural), x = -V(in)/v_unit")
        for act in self.circuit.activations:
            self.located(act.loc)
            if act.kind == "softmax":
                self._softmax(act)
            else:
                for i, (vin, vout) in enumerate(zip(act.in_nets, act.out_p_nets, strict=True)):
                    name = f"{act.name}_{i}"
                    if act.kind == "identity":
                        self.add(self.inst("ea", name), self.net(vout), "0", self.net(vin), "0",
                                 "-1.0")
                    else:
                        self.add(self.inst("ba", name), self.net(vout), "0",
                                 "v = " + self.format_activation(act, f"v({self.net(vin)})"))
            for i, (vp, vn) in enumerate(zip(act.out_p_nets, act.out_n_nets, strict=False)):
                if vn in act.in_nets:
                    continue  # identity: the inverted rail is the cell output itself
                self.add(self.inst("en", f"{act.name}_{i}"), self.net(vn), "0", self.net(vp), "0",
                         "-1.0")

    def format_activation(self, act: Activation, vin: str) -> str:
        """B-source expression for +v_unit g(x) of an elementwise activation of input `vin`."""
        vu = act.v_unit
        p = act.param
        if act.kind == "tanh":
            assert p is not None
            return f"{num(vu)}*tanh({num(-p / vu)}*{vin})"
        if act.kind == "sigmoid":
            assert p is not None
            return f"{num(vu / 2)}*(1.0+tanh({num(-p / (2 * vu))}*{vin}))"
        if act.kind == "relu":
            return f"max(-{vin}, 0.0)"
        if act.kind == "rectpoly":
            assert p is not None
            base = f"max({num(-1.0 / vu)}*{vin}, 0.0)"
            m = p - 1.0
            if m == round(m) and 1 <= m <= 8:
                return f"{num(vu)}*" + "*".join([base] * int(m))
            return f"{num(vu)}*pow({base}, {num(m)})"
        raise DenseAMCError(error(f"the SPICE backend has no realisation of activation "
                                  f"{act.kind!r}", _first_span(act.loc)))

    def _softmax_nets(self, act: Activation) -> tuple[str, str, list[str]]:
        ref = self.net(f"{act.name}_ref")
        s = self.net(f"{act.name}_s")
        e = [self.net(f"{act.name}_e_{i}") for i in range(len(act.in_nets))]
        return ref, s, e

    def _softmax(self, act: Activation) -> None:
        assert act.param is not None
        n = len(act.in_nets)
        ref, s, e = self._softmax_nets(act)
        ins = [f"v({self.net(v)})" for v in act.in_nets]
        self.add(self.inst("bm", act.name), ref, "0",
                 f"v = ({'+'.join(ins)})/{integer(n)}")
        k = num(-act.param / act.v_unit)
        for i in range(n):
            self.add(self.inst("be", f"{act.name}_{i}"), e[i], "0",
                     f"v = exp({k}*({ins[i]}-v({ref})))")
        self.add(self.inst("bs", act.name), s, "0", "v = " + "+".join(f"v({x})" for x in e))
        for i, vout in enumerate(act.out_p_nets):
            self.add(self.inst("ba", f"{act.name}_{i}"), self.net(vout), "0",
                     f"v = {num(act.v_unit)}*v({e[i]})/max(v({s}), {num(SOFTMAX_SMIN)})")

    def write_crossbars(self) -> None:
        for xb in self.circuit.crossbars:
            rows, cols = xb.conductance.shape
            self.section(f"crossbar {self.namer.name(xb.name)}: {rows} x {cols}, "
                         f"{xb.devices} devices, polarity {xb.polarity}")
            self.located(xb.loc)
            devices = crossbar_elements(self.namer, xb)
            self.lines += [f"{i} {a} {b} {r}" for i, a, b, r in zip(*devices, strict=True)]

    def write_selected_crossbars(self) -> None:
        if not self.circuit.selected_crossbars:
            return
        self.section("analog switches of the selected crossbars")
        self.write_switch_model()
        controls: dict[str, float] = {}
        for sx in self.circuit.selected_crossbars:
            self.section(f"selected crossbar {self.namer.name(sx.name)}: {sx.n_options} options "
                         f"x {len(sx.lines)} selected {sx.axis}, polarity {sx.polarity}")
            self.located(sx.loc)
            sel = self._selects(sx)
            for li, (line_net, j) in enumerate(self._lines(sx)):
                for k in range(sx.n_options):
                    ctl = select_control_net(sx.select, j, k)
                    controls[ctl] = 1.0 if sel[j] == k else 0.0
                    node = self.net(f"{sx.name}_l{li}_o{k}")
                    self.write_switch(f"{sx.name}_{li}_{k}", line_net, node, self.net(ctl))
                    for o, other in enumerate(self._others(sx)):
                        g = float(sx.table[k, o])
                        if g > 0:
                            self.add(self.inst("r", f"{sx.name}_{li}_{k}_{o}"), node, other,
                                     num(1.0 / g))
        self.section("switch controls: 1 V closes switch k of element j when select[j] == k")
        for ctl in sorted(controls, key=_natural):
            self.add(self.inst("vs", ctl), self.net(ctl), "0", "dc", num(controls[ctl]))

    def _selects(self, sx: SelectedCrossbar) -> tuple[int, ...]:
        try:
            return self.stimulus.selects[sx.select]
        except KeyError:
            raise InternalCompilerError(f"no select values for {sx.name}") from None

    def _lines(self, sx: SelectedCrossbar) -> list[tuple[str, int]]:
        """(netlist net, select element) of every selected line."""
        nets = sx.row_nets if sx.axis == "rows" else sx.col_nets
        return [(self.net(n), j) for n, j in zip(nets, sx.lines, strict=True)]

    def _others(self, sx: SelectedCrossbar) -> list[str]:
        nets = sx.col_nets if sx.axis == "rows" else sx.row_nets
        return [self.net(n) for n in nets]

    def write_switch_model(self) -> None:
        self.add(".model", "dam_switch", "sw", "vt=0.5", "vh=0.0", f"ron={num(SWITCH_RON)}",
                 f"roff={num(SWITCH_ROFF)}")

    def write_switch(self, ir_name: str, a: str, b: str, ctl: str) -> None:
        self.add(self.inst("s", ir_name), a, b, ctl, "0", "dam_switch")

    def write_resistors(self) -> None:
        if not self.circuit.resistors:
            return
        self.section("resistors")
        for r in self.circuit.resistors:
            self.located(r.loc)
            self.add(self.inst("r", r.name), self.net(r.net_a), self.net(r.net_b), num(r.ohms))

    def write_current_sources(self) -> None:
        if not self.circuit.current_sources:
            return
        self.section("bias currents into the summing nodes")
        for cs in self.circuit.current_sources:
            self.located(cs.loc)
            # SPICE: the current flows from the first node through the source to the second.
            self.add(self.inst("i", cs.name), "0", self.net(cs.net), "dc", num(cs.amps))

    def write_voltage_sources(self) -> None:
        if not self.circuit.voltage_sources:
            return
        self.section("clamps: V = -v_unit * input")
        for vs in self.circuit.voltage_sources:
            self.located(vs.loc)
            self.add(self.inst("v", vs.name), self.net(vs.net), "0", "dc",
                     num(self.stimulus.source_volts[vs.name]))

    # -- energy probe -----------------------------------------------------------------------------
    def energy_terms(self) -> list[tuple[float, str]]:
        """(coefficient, factor expression) whose sum is E in model units."""
        c = self.circuit
        vu = c.scaling.v_unit
        terms: list[tuple[float, str]] = []
        acts = {a.layer: a for a in c.activations}
        for layer in c.layers:
            xs = [f"v({self.net(net(layer.name, 'x', i))})" for i in range(layer.size)]
            gs = [f"v({self.net(net(layer.name, 'gp', i))})" for i in range(layer.size)]
            lag = layer.lagrangian
            p = lag.param
            if lag.kind == "identity":
                terms += [(0.5 / vu**2, f"{x}*{x}") for x in xs]
            elif lag.kind == "relu":
                terms += [(0.5 / vu**2, f"{g}*{g}") for g in gs]
            elif lag.kind == "rectpoly":
                assert p is not None
                terms += [(1.0 - 1.0 / p, f"pow(max({num(-1.0 / vu)}*{x}, 0.0), {num(p)})")
                          for x in xs]
            elif lag.kind in ("tanh", "sigmoid"):
                assert p is not None
                terms += [(-1.0 / vu**2, f"{x}*{g}") for x, g in zip(xs, gs, strict=True)]
                z = f"{num(-p / vu)}*{{}}"
                inner = "ln(cosh({}))" if lag.kind == "tanh" else "ln(1.0+exp({}))"
                terms += [(-1.0 / p, inner.format(z.format(x))) for x in xs]
            elif lag.kind == "softmax":
                assert p is not None
                ref, s, _ = self._softmax_nets(acts[layer.name])
                terms += [(-1.0 / vu**2, f"{x}*{g}") for x, g in zip(xs, gs, strict=True)]
                terms.append((1.0 / vu, f"v({ref})"))
                terms.append((-1.0 / p, f"ln(max(v({s}), 1e-300))"))
            else:
                raise DenseAMCError(error(f"no energy expression for {lag.kind!r}",
                                          _first_span(layer.loc)))
        gp = {(k, i): f"v({self.net(net(layer.name, 'gp', i))})"
              for k, layer in enumerate(c.layers) for i in range(layer.size)}
        coef = energy_coefficients(c, self.stimulus.selects)
        for (a, b), w in coef.pairs:
            terms.append((w / vu**2, f"{gp[a]}*{gp[b]}"))
        for a, w in coef.bias:
            terms.append((w / vu, gp[a]))
        return terms

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

    # -- analysis ---------------------------------------------------------------------------------
    def write_initial_conditions(self) -> None:
        if not self.ics:
            return
        self.section("initial states (.ic holds them during the initial operating point)")
        for node, v in self.ics:
            self.add(".ic", f"v({node})={num(v)}")

    def write_saves(self) -> None:
        self.section("saved vectors")
        names = [self.net(n) for n in saved_nets(self.circuit)]
        if self.energy_probe:
            names.append(self.net("energy"))
        for k in range(0, len(names), 8):
            self.add(".save", *(f"v({n})" for n in names[k:k + 8]))

    def tran_times(self) -> tuple[float, float, float]:
        """(print step, stop time, maximum internal step) in seconds."""
        t = self.circuit.readout_time_s
        return t / TRAN_POINTS, t, t * TRAN_MAX_STEP_FRACTION

    def write_analysis(self) -> None:
        step, stop, tmax = self.tran_times()
        self.section("transient to the readout time")
        self.add(".tran", num(step), num(stop), "0.0", num(tmax))


class NgspiceEmitter(SpiceEmitter):
    """ngspice 39+ (Debian): tight tolerances for comparisons at 1e-4 of v_unit."""

    dialect = "ngspice"

    def write_options(self) -> None:
        self.add(".options", "reltol=1e-06", "abstol=1e-15", "vntol=1e-09")


def _first_span(loc: Loc):  # type: ignore[no-untyped-def]
    from denseamc.ir.circuit import loc_spans

    spans = loc_spans(loc)
    return spans[0] if spans else None


def _natural(text: str) -> tuple[str, ...]:
    """Sort key: digit runs compare as numbers (zero-padded), so sel_x_10 follows sel_x_9."""
    import re

    return tuple(t.zfill(12) if t.isdigit() else t for t in re.split(r"(\d+)", text))
