"""Hardware settings: the one table of keys, their defaults, units, ranges and meaning.

Settings come from three places, later ones winning: the defaults below, a hardware profile
(`--hardware PROFILE.yaml`, see compiler/profiles.py and backends/profiles/), and the model's own
`hardware { }` block. `resolve_hardware` merges them into one frozen `Hardware`; every error
(unknown key, wrong type, wrong unit, out of range) points at the setting that caused it.

Numbers may carry one SI prefix and, in profiles written as strings, the key's unit:
`10k`, `10kohm`, `1u`, `1uS`, `100n`, `100ns`, `1G`, `1GHz`, `2m`, `2mF/m2`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from denseamc.ir.diagnostics import DenseAMCError, Diagnostic, error
from denseamc.ir.model import HardwareSetting
from denseamc.ir.span import Span

Kind = Literal["float", "int", "enum", "auto_float", "path"]


@dataclass(frozen=True, slots=True)
class Key:
    """One hardware setting: type, default, unit, allowed range (inclusive unless open) and doc."""

    name: str
    kind: Kind
    default: float | int | str | None
    unit: str
    doc: str
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    choices: tuple[str, ...] = ()
    #: A device or amplifier non-ideality sampled per draw by the `realise` pass (0 = ideal).
    nonideal: bool = False


#: THE table. `auto_float` keys take the word `auto` (default, stored as None) or a number.
KEYS: dict[str, Key] = {k.name: k for k in (
    Key("scheme", "enum", "dual_rail", "",
        "how signed weights are built: dual_rail (every activation also drives an inverted rail; "
        "a negative weight hangs on it), differential (G+ and G- arrays into a differential "
        "integrator), nonnegative (one array; a negative weight is an error)",
        choices=("dual_rail", "differential", "nonnegative")),
    Key("amplifier", "enum", "ideal", "",
        "amplifier model for the circuit backends: ideal (virtual grounds, no limits) or "
        "nonideal (finite a0, single pole at gbw, rails at +-vdd/2, slew limit)",
        choices=("ideal", "nonideal")),
    Key("r_f", "auto_float", None, "ohm",
        "feedback resistor of every integrator cell. auto: per layer, max|w into it| / g_max "
        "(the largest weight gets g_max; 10k ohm for a layer without weights); with levels, "
        "the R_F up to 2x that with the smallest RMS weight error on the level grid. A "
        "number: used as is; weights above g_max * r_f are clipped and reported",
        lo=1.0, hi=1e9),
    Key("tau_unit", "auto_float", None, "s",
        "seconds per model time unit. auto: the shortest unit the amplifiers' gbw allows, "
        "tau * tau_unit >= tau_margin * (1 + sum_j |w_ij|) / (2 pi gbw) for every cell",
        lo=0.0, hi=1.0, lo_open=True),
    Key("tau_margin", "float", 10.0, "",
        "safety factor between a cell's RC time constant and its closed-loop amplifier time "
        "constant (1 + fan-in) / (2 pi gbw), used by tau_unit = auto and the amplifier warnings",
        lo=1.0, hi=1e6),
    Key("g_min", "float", 1e-6, "S",
        "smallest programmable device conductance; a weight below g_min is rounded to the "
        "nearer of 0 (no device) and g_min, and reported",
        lo=0.0, hi=1.0),
    Key("g_max", "float", 1e-4, "S", "largest programmable device conductance",
        lo=0.0, hi=1.0, lo_open=True),
    Key("levels", "int", 0, "",
        "programmable conductance levels, evenly spaced in [g_min, g_max] (0 = continuous); "
        "the quantisation error is reported", lo=0, hi=1 << 20),
    Key("v_unit", "auto_float", None, "V",
        "volts per model unit of state and activation (x = 1 is v_unit volts). auto: the "
        "largest value that keeps every node of every test vector (a model simulation to the "
        "readout time) within swing_fraction of the rails +-vdd/2, at most vdd/2, rounded down "
        "to 3 digits; without test vectors 0.1 V (at most swing_fraction * vdd/2)",
        lo=0.0, hi=100.0, lo_open=True),
    Key("swing_fraction", "float", 0.8, "",
        "the share of the rails +-vdd/2 that v_unit = auto lets the largest simulated signal "
        "use", lo=0.0, hi=1.0, lo_open=True),
    Key("vdd", "float", 1.8, "V", "supply voltage; signals swing within +-vdd/2 of the reference",
        lo=0.0, hi=100.0, lo_open=True),
    Key("gbw", "float", 1e9, "Hz", "op-amp gain-bandwidth product",
        lo=0.0, hi=1e13, lo_open=True),
    Key("a0", "float", 1e4, "", "op-amp DC open-loop gain (V/V)", lo=1.0, hi=1e12),
    Key("slew", "float", 1e9, "V/s", "op-amp slew rate", lo=0.0, hi=1e15, lo_open=True),
    Key("r_out", "float", 100.0, "ohm",
        "op-amp open-loop output resistance, in the netlists' dam_opamp macro-model (the "
        "feedback divides it by the loop gain; the circuit backend leaves it out)",
        lo=0.0, hi=1e9, lo_open=True),
    Key("i_tail", "float", 1e-5, "A",
        "tail current of a softmax block's translinear normaliser in the Verilog-A netlists: "
        "the layer's cells share it, each drawing i_tail softmax_i", lo=0.0, hi=1e-2,
        lo_open=True),
    Key("opamp", "path", "", "",
        "a SPICE file defining `.subckt dam_opamp inp inn out vdd vss` (in+, in-, output, "
        "supplies) that replaces the built-in op-amp macro-model in the ngspice netlist; empty "
        "= the built-in one (docs/cadence.md)"),
    Key("amp_current", "float", 1e-4, "A",
        "quiescent (bias) current of one op-amp from vdd; static power = vdd * amp_current "
        "per amplifier", lo=0.0, hi=1.0),
    Key("area_device", "float", 1e-12, "m2", "area of one crossbar conductance device (1T1R)",
        lo=0.0, hi=1e-3),
    Key("area_switch", "float", 2e-12, "m2",
        "area of one analog switch (a select input's multiplexer leg)", lo=0.0, hi=1e-3),
    Key("r_on", "float", 100.0, "ohm",
        "on resistance of one select switch (a selected crossbar's multiplexer leg), in series "
        "with all the devices of its option (their sum sum G). A CMOS transmission gate has "
        "R_on ~ 1/(mu Cox (W/L) (V_GS - V_TH)) per device, NMOS || PMOS (Razavi, Design of "
        "Analog CMOS Integrated Circuits, 2nd ed., MOS switches): a few hundred ohm to ~1 kohm "
        "at minimum width in a 65 nm-class process at 1.8 V, ~100 ohm at W/L ~ 30-50 (a few um "
        "wide, inside area_switch). Through it the option's devices realise G / (1 + r_on sum "
        "G): lowering programs G / (1 - r_on sum G) instead, and r_f = auto leaves the headroom "
        "(docs/robustness.md, select switches); parity8 passes 52/52 up to 1 kohm (240 ohm "
        "uncompensated)",
        lo=1e-3, hi=1e7),
    Key("r_off", "float", 1e10, "ohm",
        "off resistance of one select switch: the leakage path of an unselected option "
        "(subthreshold and junction leakage of a transmission gate in a low-power 65 nm-class "
        "process, ~0.1 nA at 1 V, i.e. ~10 Gohm)", lo=1e3, hi=1e18),
    Key("area_opamp", "float", 1e-9, "m2", "area of one op-amp (or op-amp-equivalent stage)",
        lo=0.0, hi=1e-2),
    Key("cap_density", "float", 2e-3, "F/m2",
        "capacitance per area of the integration capacitors (MIM: 2 fF/um^2 = 2e-3 F/m^2)",
        lo=0.0, hi=1.0, lo_open=True),
    Key("g_sigma", "float", 0.0, "",
        "device-to-device spread of programmed conductance: each device's realised value is "
        "g * exp(g_sigma * N(0, 1)) (lognormal, median g), drawn after quantisation to `levels`",
        lo=0.0, hi=2.0, nonideal=True),
    Key("p_stuck_off", "float", 0.0, "",
        "fraction of devices stuck at no conductance (0 S), whatever they were programmed to",
        lo=0.0, hi=1.0, nonideal=True),
    Key("p_stuck_on", "float", 0.0, "",
        "fraction of devices stuck at g_max, whatever they were programmed to",
        lo=0.0, hi=1.0, nonideal=True),
    Key("r_wire", "float", 0.0, "ohm",
        "wire resistance of one crossbar cell segment along rows and columns (IR drop); rows "
        "are driven at their first column, columns read at their last row",
        lo=0.0, hi=1e6, nonideal=True),
    Key("offset_sigma", "float", 0.0, "V",
        "op-amp input offset voltage, normal with this standard deviation, one per cell "
        "amplifier (integrators, summing stages, inverters)", lo=0.0, hi=1.0, nonideal=True),
    Key("act_gain_sigma", "float", 0.0, "",
        "activation block gain mismatch: each output rail's gain is 1 + act_gain_sigma * "
        "N(0, 1)", lo=0.0, hi=1.0, nonideal=True),
    Key("act_offset_sigma", "float", 0.0, "V",
        "activation block output offset, normal with this standard deviation, per output rail",
        lo=0.0, hi=1.0, nonideal=True),
    Key("c_sigma", "float", 0.0, "",
        "integration capacitor mismatch: each C_F is c_f * (1 + c_sigma * N(0, 1)), kept "
        "positive", lo=0.0, hi=0.5, nonideal=True),
    Key("g_noise", "float", 0.0, "",
        "read noise: relative RMS fluctuation of each device's current over the circuit's "
        "bandwidth (an Ornstein-Uhlenbeck process, correlation time the fastest cell's R_F C_F)",
        lo=0.0, hi=1.0, nonideal=True),
)}

_UNIT_ALIASES = {"ohm": ("ohm", "ohms", "Ω"), "s": ("s", "sec"), "S": ("S", "siemens"),
                 "V": ("V",), "Hz": ("Hz",), "V/s": ("V/s",), "A": ("A",),
                 "m2": ("m2", "m^2"), "F/m2": ("F/m2", "F/m^2"), "": ()}
_PREFIX = {"f": -15, "p": -12, "n": -9, "u": -6, "µ": -6, "m": -3, "": 0, "k": 3, "M": 6,
           "G": 9, "T": 12}


def _scaled(number: float, prefix: str) -> float:
    """number * 10^exp, dividing for negative exponents so 100u is exactly 1e-4."""
    e = _PREFIX[prefix]
    return number * 10.0**e if e >= 0 else number / 10.0 ** (-e)
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Hardware:
    """Resolved hardware settings, SI units. `r_f` / `tau_unit` / `v_unit` None mean `auto`.

    `origin[key]` is "default", "profile", "model" or "set" (`--set`); `locs[key]` the span
    that set it (if any).
    """

    scheme: Literal["dual_rail", "differential", "nonnegative"] = "dual_rail"
    amplifier: Literal["ideal", "nonideal"] = "ideal"
    r_f: float | None = None
    tau_unit: float | None = None
    tau_margin: float = 10.0
    g_min: float = 1e-6
    g_max: float = 1e-4
    levels: int = 0
    v_unit: float | None = None
    swing_fraction: float = 0.8
    vdd: float = 1.8
    gbw: float = 1e9
    a0: float = 1e4
    slew: float = 1e9
    r_out: float = 100.0
    i_tail: float = 1e-5
    opamp: str = ""
    amp_current: float = 1e-4
    area_device: float = 1e-12
    area_switch: float = 2e-12
    r_on: float = 100.0
    r_off: float = 1e10
    area_opamp: float = 1e-9
    cap_density: float = 2e-3
    g_sigma: float = 0.0
    p_stuck_off: float = 0.0
    p_stuck_on: float = 0.0
    r_wire: float = 0.0
    offset_sigma: float = 0.0
    act_gain_sigma: float = 0.0
    act_offset_sigma: float = 0.0
    c_sigma: float = 0.0
    g_noise: float = 0.0
    origin: Mapping[str, str] = field(default_factory=dict)
    locs: Mapping[str, Span] = field(default_factory=dict)

    @property
    def v_rail(self) -> float:
        """Largest signal swing either side of the reference: vdd / 2."""
        return self.vdd / 2.0


def _suggest(key: str) -> tuple[str, ...]:
    close = difflib.get_close_matches(key, list(KEYS), n=1, cutoff=0.5)
    if close:
        return (f"did you mean '{close[0]}'?",)
    return ("known keys: " + ", ".join(sorted(KEYS)),)


def parse_quantity(text: str, unit: str) -> float:
    """Parse "10k", "10kohm", "100 ns", "1e-6 S" for a key in `unit`; ValueError says why."""
    m = _NUMBER.match(text)
    if not m:
        raise ValueError(f"expected a number, got {text!r}")
    number, rest = float(m.group(1)), m.group(2)
    if not rest:
        return number
    aliases = _UNIT_ALIASES.get(unit, ())
    for alias in sorted(aliases, key=len, reverse=True):
        if rest.endswith(alias):
            prefix = rest[: len(rest) - len(alias)].strip()
            if prefix in _PREFIX:
                return _scaled(number, prefix)
    if rest in _PREFIX:
        return _scaled(number, rest)
    want = f"'{unit}'" if unit else "no unit"
    raise ValueError(f"unit '{rest}' does not fit: this key takes {want} "
                     "(one SI prefix allowed)")


def check_value(key: str, value: object, span: Span | None) -> tuple[object, Diagnostic | None]:
    """Convert one raw value for `key` (known) to its Python value, or return a located error."""
    spec = KEYS[key]

    def bad(msg: str) -> tuple[object, Diagnostic]:
        return None, error(f"hardware '{key}': {msg}", span, spec.doc)

    if spec.kind == "enum":
        if not isinstance(value, str) or value not in spec.choices:
            return bad(f"expected one of {', '.join(spec.choices)}, got {value!r}")
        return value, None
    if spec.kind == "auto_float" and value == "auto":
        return None, None
    if spec.kind == "path":
        if not isinstance(value, str) or not value.strip():
            return bad(f"expected a file name, got {value!r}")
        return value, None
    if isinstance(value, bool):
        return bad(f"expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            num = parse_quantity(value, spec.unit)
        except ValueError as exc:
            extra = " or auto" if spec.kind == "auto_float" else ""
            return bad(f"{exc}{extra}")
    elif isinstance(value, int | float):
        num = float(value)
    else:
        return bad(f"expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(num):
        return bad(f"expected a finite number, got {num!r}")
    low_ok = num > spec.lo if spec.lo_open else num >= spec.lo
    if not low_ok or num > spec.hi:
        unit = f" {spec.unit}" if spec.unit else ""
        lo_b = "(" if spec.lo_open else "["
        return bad(f"{num!r}{unit} is outside the allowed range {lo_b}{spec.lo!r}, {spec.hi!r}]")
    if spec.kind == "int":
        if num != int(num):
            return bad(f"expected an integer, got {num!r}")
        if num == 1:
            return bad("levels must be 0 (continuous) or at least 2")
        return int(num), None
    return num, None


def _as_settings(raw: Mapping[str, object] | None) -> dict[str, HardwareSetting]:
    out: dict[str, HardwareSetting] = {}
    for k, v in (raw or {}).items():
        out[k] = v if isinstance(v, HardwareSetting) else HardwareSetting(k, v)  # type: ignore[arg-type,unused-ignore]
    return out


def _override(key: str, value: object) -> tuple[object, Diagnostic | None]:
    """One `--set KEY=VALUE` override: its value, or an unlocated error naming the option."""
    head = f"--set {key}={value}: "
    if key not in KEYS:
        return None, error(f"{head}unknown hardware setting '{key}'", None, *_suggest(key))
    val, diag = check_value(key, value, None)
    if diag is not None:
        return None, error(head + diag.message.removeprefix(f"hardware '{key}': "), None,
                           *diag.notes)
    return val, None


def resolve_hardware(
    model: Mapping[str, HardwareSetting] | None,
    profile: Mapping[str, object] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Hardware:
    """Merge defaults < profile < the model's `hardware {}` block < `overrides`; raise every
    error at once.

    `profile` maps keys to `HardwareSetting`s (from `load_profile`, located) or to plain values.
    `overrides` are the command line's `--set KEY=VALUE` (strings or numbers, unlocated).
    """
    values: dict[str, object] = {k: spec.default for k, spec in KEYS.items()}
    origin = {k: "default" for k in KEYS}
    locs: dict[str, Span] = {}
    diags: list[Diagnostic] = []
    for where, settings in (("profile", _as_settings(profile)), ("model", _as_settings(model))):
        for key, s in settings.items():
            if key not in KEYS:
                diags.append(error(f"unknown hardware setting '{key}'", s.loc, *_suggest(key)))
                continue
            val, diag = check_value(key, s.value, s.loc)
            if diag is not None:
                diags.append(diag)
                continue
            values[key], origin[key] = val, where
            if s.loc is not None:
                locs[key] = s.loc
    for key, raw in (overrides or {}).items():
        val, diag = _override(key, raw)
        if diag is not None:
            diags.append(diag)
            continue
        values[key], origin[key] = val, "set"
        locs.pop(key, None)
    if not diags:
        g_min, g_max = float(values["g_min"]), float(values["g_max"])  # type: ignore[arg-type]
        if g_min >= g_max:
            diags.append(error(f"hardware: g_min = {g_min!r} S must be below g_max = {g_max!r} S",
                               locs.get("g_min") or locs.get("g_max")))
        v_unit, vdd = values["v_unit"], float(values["vdd"])  # type: ignore[arg-type]
        if isinstance(v_unit, float) and v_unit > vdd / 2:
            diags.append(error(
                f"hardware: v_unit = {v_unit!r} V exceeds the swing vdd/2 = {vdd / 2!r} V",
                locs.get("v_unit") or locs.get("vdd"),
                "a state of 1 model unit would not fit between the rails"))
        r_on, r_off = float(values["r_on"]), float(values["r_off"])  # type: ignore[arg-type]
        if r_on >= r_off:
            diags.append(error(f"hardware: r_on = {r_on!r} ohm must be below r_off = {r_off!r} "
                               "ohm", locs.get("r_on") or locs.get("r_off")))
        stuck = float(values["p_stuck_off"]) + float(values["p_stuck_on"])  # type: ignore[arg-type]
        if stuck > 1.0:
            diags.append(error(f"hardware: p_stuck_off + p_stuck_on = {stuck!r} exceeds 1",
                               locs.get("p_stuck_off") or locs.get("p_stuck_on")))
    if diags:
        raise DenseAMCError(diags)
    return Hardware(**values, origin=origin, locs=locs)  # type: ignore[arg-type]


def markdown_table() -> str:
    """The key table as Markdown, for the docs."""
    rows = ["| key | default | unit | range | meaning |", "|---|---|---|---|---|"]
    for k in KEYS.values():
        if k.kind == "enum":
            rng = " \\| ".join(k.choices)
        elif k.kind == "path":
            rng = "a file"
        else:
            lo = "(" if k.lo_open else "["
            rng = f"{lo}{k.lo!r}, {k.hi!r}]" + (" or auto" if k.kind == "auto_float" else "")
        default = "auto" if k.default is None else repr(k.default)
        doc = k.doc.replace("|", "\\|")
        rows.append(f"| `{k.name}` | {default} | {k.unit} | {rng} | {doc} |")
    return "\n".join(rows) + "\n"
