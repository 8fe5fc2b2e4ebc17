"""Spectre's own Monte Carlo: `veriloga/<model>_mc.scs`, the nominal circuit plus a `statistics`
block whose mismatch `vary` statements are this compile's variation settings.

Written (backends/emit.py) when a compile that is not a draw (`--draw`) has some setting of
`MISMATCHES` non-zero. A Cadence user runs Spectre's `montecarlo` analysis on it (the netlist
ends with one, commented out; docs/cadence.md "Monte Carlo in Spectre").

Why a separate top level, with its crossbars inline:

* Spectre draws a *mismatch* parameter afresh for every subcircuit instance that uses it (a
  reference at the top level is one draw for the whole circuit; Spectre Circuit Simulator
  Reference, "Monte Carlo Analysis (montecarlo)": "foreach subcircuit instance { apply mismatch
  variation to parameters }"). So every varied element must be an instance of a small
  subcircuit whose element value depends on the varied parameter (`dam_gdev` for a crossbar
  device, `dam_cap_mm` for an integration capacitor, `<module>_mm` around a `dam_opamp` or an
  activation module). That syntax is Spectre's alone: VACASK reads the crossbar include files
  `crossbars/*.scs` too, so they must stay plain resistors.
* A second top level leaves `<model>.scs`, `<model>.sim` and their shared includes exactly as
  they are (byte-identical, whatever is set) and adds one self-contained file; Spectre-only
  include files next to the shared ones would double the device files and let a user pair an
  include with the wrong top level. Each device is written once in this file (its crossbar's
  subcircuit, inline), as in every other netlist.
* In every analysis but `montecarlo` each varied parameter is its nominal value 0, so the file
  simulates exactly the nominal circuit: `tran1` in it is `<model>.scs`'s transient.

The distributions are realise.py's (compiler/passes/realise.py), each `dist=gauss` of mean 0:

* device conductance g * exp(dam_g_mm), dam_g_mm ~ N(0, g_sigma): lognormal with median g,
  ln(g_real / g) of mean 0 and standard deviation g_sigma, as realise.py's g * exp(g_sigma z)
  (written as the device's resistance r * exp(-dam_g_mm), r = 1/g);
* op-amp input offset v_os = dam_os_mm ~ N(0, offset_sigma) volts;
* integration capacitor c_f * max(1 + dam_c_mm, C_FLOOR), dam_c_mm ~ N(0, c_sigma);
* activation rails: gain 1 + N(0, act_gain_sigma) and offset N(0, act_offset_sigma) volts, the
  out_p and out_n rails of each neuron independent (four parameters).

Stuck devices (p_stuck_off, p_stuck_on), wire resistance (r_wire) and read noise (g_noise) have
no mismatch form here (a device stuck with some probability is not a distribution of a
parameter, wires add nodes, read noise is a process in time): the netlist says so, and a user
gets them from `--draw K` netlists or `denseamc montecarlo`. `levels` is in the nominal
conductances already (the spread is drawn after quantisation, as in realise.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from denseamc.backends.crossbar_text import DeviceValues
from denseamc.backends.naming import Namer
from denseamc.backends.stimulus import Stimulus
from denseamc.backends.units import num
from denseamc.backends.veriloga import SpectreEmitter
from denseamc.ir import InternalCompilerError
from denseamc.ir.circuit import CircuitIR, IntegratorCell
from denseamc.ir.crossbars import Crossbar
from denseamc.ir.hardware import Hardware

__all__ = ["C_FLOOR", "DISTRIBUTION", "MISMATCHES", "NOT_VARIED", "Mismatch",
           "SpectreMonteCarloEmitter", "monte_carlo_netlist", "varied"]


@dataclass(frozen=True)
class Mismatch:
    """One varied netlist parameter: its name, the hardware key whose value is its standard
    deviation (in that key's unit), and what it varies."""

    param: str
    key: str
    what: str


#: Every parameter the statistics block can vary, in the block's order.
MISMATCHES = (
    Mismatch("dam_g_mm", "g_sigma", "ln(G / G_nominal) of each crossbar device (dam_gdev)"),
    Mismatch("dam_os_mm", "offset_sigma", "input offset of each op-amp (V)"),
    Mismatch("dam_c_mm", "c_sigma", "relative error of each integration capacitor"),
    Mismatch("dam_act_gain_p_mm", "act_gain_sigma", "gain error of each activation out_p rail"),
    Mismatch("dam_act_gain_n_mm", "act_gain_sigma", "gain error of each activation out_n rail"),
    Mismatch("dam_act_off_p_mm", "act_offset_sigma", "offset of each activation out_p rail (V)"),
    Mismatch("dam_act_off_n_mm", "act_offset_sigma", "offset of each activation out_n rail (V)"),
)
#: The non-idealities with no mismatch form in Spectre (module docstring).
NOT_VARIED = ("p_stuck_off", "p_stuck_on", "r_wire", "g_noise")
#: Spectre's normal distribution (its `vary ... dist=` names: gauss, lnorm, unif).
DISTRIBUTION = "gauss"
#: Smallest realised C_F as a fraction of the nominal one: realise.py's `_C_FLOOR`.
C_FLOOR = 0.01
#: The wrapper of one crossbar device: resistance r (ohm) at the nominal point.
DEVICE = "dam_gdev"
#: The wrapper of one integration capacitor: capacitance c (F) at the nominal point.
CAPACITOR = "dam_cap_mm"


def varied(hw: Hardware) -> tuple[Mismatch, ...]:
    """The mismatch parameters `hw` varies (standard deviation non-zero), in block order."""
    return tuple(m for m in MISMATCHES if float(getattr(hw, m.key)) != 0.0)


def monte_carlo_netlist(circuit: CircuitIR, stimulus: Stimulus, namer: Namer, hw: Hardware, *,
                        loc_comments: bool = True,
                        device_values: dict[str, DeviceValues] | None = None) -> str | None:
    """The text of `<model>_mc.scs` for nominal `circuit` under `hw`'s variation settings, or
    None when `hw` varies nothing Spectre can vary in `circuit` (`varied`). `namer` must be the
    file set's (every name is already registered by `<model>.scs`)."""
    if not varied(hw):
        return None
    em = SpectreMonteCarloEmitter(circuit, stimulus, mismatch=hw, namer=namer,
                                  loc_comments=loc_comments, device_values=device_values)
    text = em.format()
    return text if em.used else None  # e.g. only c_sigma, and no integration capacitor


@dataclass
class _Wrapper:
    """A subcircuit around one instance of `master`: its ports, parameters (name -> default,
    the first instance's values: every instance sets them all) and the varied ones it adds."""

    name: str
    master: str
    n_ports: int
    params: dict[str, str]
    varied: dict[str, str]

    def lines(self) -> list[str]:
        ports = " ".join(f"p{i}" for i in range(1, self.n_ports + 1))
        forwarded = [f"{k}={k}" for k in self.params] + [f"{k}={v}" for k, v in
                                                        self.varied.items()]
        out = [f"subckt {self.name} ({ports})"]
        if self.params:
            out.append("parameters " + " ".join(f"{k}={v}" for k, v in self.params.items()))
        out += [" ".join([f"x0 ({ports}) {self.master}", *forwarded]), f"ends {self.name}"]
        return out


class SpectreMonteCarloEmitter(SpectreEmitter):
    """`<model>.scs`'s walk with every varied element an instance of a mismatch wrapper, then the
    wrappers, the statistics block and a commented-out `montecarlo` analysis."""

    def __init__(self, circuit: CircuitIR, stimulus: Stimulus | None = None, *,
                 mismatch: Hardware, namer: Namer | None = None, loc_comments: bool = True,
                 device_values: dict[str, DeviceValues] | None = None) -> None:
        """Crossbars inline (one self-contained file); `mismatch`: the variation settings."""
        if circuit.draw is not None:
            raise InternalCompilerError("the Spectre Monte Carlo netlist is of the nominal "
                                        "circuit, not of a draw")
        super().__init__(circuit, stimulus, namer=namer, loc_comments=loc_comments,
                         includes="inline", device_values=device_values)
        self.hw = mismatch
        self.varied = {m.param for m in varied(mismatch)}
        self.activation_modules = {a.lagrangian.va_module for a in circuit.activations}
        #: the varied parameters some element of the circuit uses (filled by the walk)
        self.used: set[str] = set()

    def format(self) -> str:
        self.wrappers: dict[tuple[str, int, tuple[str, ...]], _Wrapper] = {}
        self.used = set()
        return super().format()

    def in_use(self) -> list[Mismatch]:
        """The mismatch parameters the statistics block varies: set, and used by an element."""
        return [m for m in varied(self.hw) if m.param in self.used]

    # -- the header and the sections around the walk -----------------------------------------
    def write_header_details(self) -> None:
        self.comment("Monte Carlo netlist: the nominal circuit, each varied element a "
                     "subcircuit instance, so Spectre's montecarlo analysis draws it per "
                     "instance (statistics block and montecarlo analysis at the end)")

    def write_prologue(self) -> None:
        super().write_prologue()
        self.definitions_at = len(self.lines)

    def write_epilogue(self) -> None:
        super().write_epilogue()
        self.lines[self.definitions_at:self.definitions_at] = self.definition_lines()
        self.lines += self.statistics_lines()

    def definition_lines(self) -> list[str]:
        """The varied parameters (0 = nominal) and the wrapper subcircuits the walk used."""
        out = ["", "// --- Monte Carlo mismatch: the parameters the statistics block varies, "
                   "0 (nominal) in every other analysis",
               "parameters " + " ".join(f"{m.param}=0.0" for m in self.in_use())]
        if "dam_g_mm" in self.used:
            out += [f"// {DEVICE}: one crossbar device of nominal resistance r = 1/G, its "
                    "conductance G exp(dam_g_mm) is lognormal, median G (realise.py's "
                    "g exp(g_sigma z))",
                    f"subckt {DEVICE} (a b)", "parameters r=1.0",
                    "r0 (a b) resistor r=r*exp(-dam_g_mm)", f"ends {DEVICE}"]
        if "dam_c_mm" in self.used:
            out += [f"// {CAPACITOR}: one integration capacitor c (1 + dam_c_mm), kept at least "
                    f"{num(C_FLOOR)} c (realise.py's floor)",
                    f"subckt {CAPACITOR} (a b)", "parameters c=1.0",
                    f"c0 (a b) capacitor c=c*max(1+dam_c_mm,{num(C_FLOOR)})",
                    f"ends {CAPACITOR}"]
        for w in self.wrappers.values():
            out.append(f"// {w.name}: one {w.master} instance (ports in {w.master}'s order) "
                       "with its mismatch")
            out += w.lines()
        return out

    def statistics_lines(self) -> list[str]:
        """The statistics block, what it leaves out, and the montecarlo analysis to run it."""
        out = ["", "// --- statistics: each std is this compile's hardware setting of the same "
                   "name (units as in ir/hardware.py)"]
        for m in self.in_use():
            out.append(f"// {m.param}: {m.what}, {m.key} = {num(float(getattr(self.hw, m.key)))}")
        out += ["statistics {", "    mismatch {"]
        out += [f"        vary {m.param} dist={DISTRIBUTION} "
                f"std={num(float(getattr(self.hw, m.key)))}" for m in self.in_use()]
        out += ["    }", "}"]
        settings = ", ".join(f"{k} = {num(float(getattr(self.hw, k)))}" for k in NOT_VARIED)
        out += ["", "// --- not in this netlist (no Spectre mismatch form): stuck devices, wire "
                    "resistance, read noise",
                f"// here {settings} (netlists of one draw with all of them: "
                "denseamc MODEL.dam -o OUT --draw K, yield over draws: denseamc montecarlo)",
                *[f"// {m.key} = {num(float(getattr(self.hw, m.key)))}: no element of this "
                  f"circuit has it ({m.what})" for m in varied(self.hw)
                  if m.param not in self.used],
                "// (integrator initial states are forced to their nominal values: with an "
                "offset, a cell starts v_os from its initial state)"]
        tran = [line for line in self.lines if line.startswith("tran1 tran ")]
        if len(tran) != 1:
            raise InternalCompilerError("the Spectre netlist has no single tran1 analysis")
        out += ["", "// --- Spectre Monte Carlo: uncomment to run numruns draws of the mismatch "
                    "above, each the transient tran1 runs (tran1 itself stays the nominal run)",
                "// mc1 montecarlo numruns=100 seed=1 variations=mismatch donominal=no "
                "savefamilyplots=yes {",
                f"//     mctran tran {tran[0].partition(' tran ')[2]}",
                "// }"]
        return out

    # -- the varied elements ------------------------------------------------------------------
    def crossbar_subckt(self, xb: Crossbar, subckt: str, *, end: str = "") -> list[str]:
        return self._varied_devices(super().crossbar_subckt(xb, subckt, end=end))

    def selected_subckt(self, subckt: str, ports: list[str], body: list[str], *,
                        end: str = "") -> list[str]:
        return self._varied_devices(super().selected_subckt(subckt, ports, body, end=end))

    def _varied_devices(self, lines: list[str]) -> list[str]:
        """A crossbar subcircuit's lines with its devices `dam_gdev` instances (when g_sigma is
        set): every resistor of a nominal crossbar subcircuit is a device (no wires), and its
        devices are one item of `lines` (one string replace for a million of them)."""
        if "dam_g_mm" not in self.varied:
            return lines
        if any(") resistor r=" in s for s in lines):
            self.used.add("dam_g_mm")
        return [s.replace(") resistor r=", f") {DEVICE} r=") for s in lines]

    def cell_lines(self, cell: IntegratorCell, s: str, out: str) -> list[str]:
        """The cell as `<model>.scs` has it, its C_F a `dam_cap_mm` instance (when c_sigma is
        set; its op-amp goes through `module_instance`)."""
        lines = super().cell_lines(cell, s, out)
        if "dam_c_mm" not in self.varied or cell.c_f <= 0:
            return lines
        hits = [i for i, line in enumerate(lines) if ") capacitor c=" in line]
        if len(hits) != 1:
            raise InternalCompilerError(f"cell {cell.name}: no single C_F line to vary")
        lines[hits[0]] = lines[hits[0]].replace(") capacitor c=", f") {CAPACITOR} c=")
        self.used.add("dam_c_mm")
        return lines

    def module_instance(self, name: str, nodes: list[str], master: str,
                        params: dict[str, str]) -> str:
        """An op-amp or activation instance, through its mismatch wrapper when one of its
        parameters is varied."""
        varying = self._varied_params(master)
        if varying:
            extra = {k: expr for k, expr, _ in varying}
            self.used.update(p for _, _, p in varying)
            key = (master, len(nodes), tuple(params))
            wrapper = self.wrappers.get(key)
            if wrapper is None:
                same = sum(k[0] == master for k in self.wrappers)  # other parameter sets
                wrapper_name = f"{master}_mm" + (f"_{same + 1}" if same else "")
                wrapper = self.wrappers[key] = _Wrapper(wrapper_name, master, len(nodes),
                                                        dict(params), extra)
            master = wrapper.name
        return super().module_instance(name, nodes, master, params)

    def _varied_params(self, master: str) -> list[tuple[str, str, str]]:
        """(module parameter, its expression, the varied parameter in it) of each parameter of a
        `master` instance that a varied parameter sets."""
        if master == "dam_opamp":
            candidates = [("v_os", "dam_os_mm", "dam_os_mm")]
        elif master in self.activation_modules:
            candidates = [(f"{kind}_{rail}", f"{one}dam_act_{kind}_{rail}_mm",
                           f"dam_act_{kind}_{rail}_mm")
                          for rail in ("p", "n") for kind, one in (("gain", "1+"), ("off", ""))]
        else:
            return []
        return [c for c in candidates if c[2] in self.varied]
