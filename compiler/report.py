"""The compilation report: what was built, how big, how fast, how much energy, and what to fix.

`build_report(lowered, analysis, warnings, variation)` renders the lowered circuit and the results
of the `analyze-circuit` pass (where every derived number is explained; `variation`, the yield
and accuracy under the non-idealities, only when one is set) as a JSON-ready dict
(`report.json`); `render_markdown` renders that as a readable page (`report.md`). Nothing is
computed here beyond tallies of the circuit. Every physical value carries its unit in its key
suffix: `_ohm`, `_f` (farad), `_s` (seconds), `_v`, `_a`, `_w`, `_j`, `_m2`, `_hz`,
`_v_per_s`, and `_siemens` for conductances (not `_s`, which is seconds). Floats are written
with `repr` (json's default); non-finite values become null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from denseamc.compiler.passes.analyze_circuit import CircuitAnalysis
from denseamc.compiler.passes.analyze_variation import VariationResult
from denseamc.compiler.passes.base import Lowered
from denseamc.ir import Diagnostic, Severity
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import KEYS, Hardware
from denseamc.ir.loc import first_span, loc_spans
from denseamc.ir.scaling import SwingBasis

_UNIT_SUFFIX = {"ohm": "_ohm", "s": "_s", "S": "_siemens", "V": "_v", "Hz": "_hz",
                "V/s": "_v_per_s", "A": "_a", "m2": "_m2", "F/m2": "_f_per_m2", "": ""}


def _source_name(circuit: CircuitIR, fallback: str) -> str:
    """The .dam file's short name, as the circuit's provenance comments give it."""
    span = first_span(circuit.layers[0].loc) if circuit.layers else None
    return span.short().split(":")[0] if span is not None else fallback


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _where(d: Diagnostic) -> str | None:
    if d.span is None:
        return str(d.file) if d.file is not None else None
    return f"{d.span.short()}:{d.span.col}"


def _diag(d: Diagnostic) -> dict[str, Any]:
    return {"severity": d.severity.value, "message": d.message, "location": _where(d),
            "notes": list(d.notes)}


def _hardware_section(hw: Hardware) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, spec in KEYS.items():
        v = getattr(hw, k)
        if spec.nonideal and v == 0:
            continue  # an ideal device or amplifier: the report reads as before these keys
        key = k + _UNIT_SUFFIX.get(spec.unit, "")
        out[key] = "auto" if v is None else v
        out.setdefault("origin", {})[k] = hw.origin.get(k, "default")
    return out


def _histogram(circuit: CircuitIR) -> dict[str, Any]:
    vals: list[np.ndarray] = [xb.conductance[xb.conductance > 0] for xb in circuit.crossbars]
    for sx in circuit.selected_crossbars:
        vals.append(np.repeat(sx.table[sx.table > 0], len(sx.lines)))
    g = np.concatenate(vals) if vals else np.zeros(0)
    s = circuit.scaling
    edges = np.linspace(s.g_min, s.g_max, 11)
    counts, _ = np.histogram(np.clip(g, s.g_min, s.g_max), bins=edges)
    return {"bin_edges_siemens": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "devices": int(g.size),
            "min_siemens": _num(g.min()) if g.size else None,
            "max_siemens": _num(g.max()) if g.size else None}


def _v_unit_basis(b: SwingBasis | None) -> dict[str, Any] | None:
    """What v_unit = auto rested on (None: v_unit was set)."""
    if b is None:
        return None
    return {"peak_model": b.peak, "net": b.net or None, "block": b.block or None,
            "vector": b.vector or None, "swing_fraction": b.swing_fraction,
            "rail_v": b.v_rail, "fallback": b.reason or None}


def _layers(lowered: Lowered) -> dict[str, Any]:
    circuit, s = lowered.circuit, lowered.circuit.scaling
    layers: dict[str, Any] = {}
    for lay in circuit.layers:
        cells = [c for c in circuit.cells if c.layer == lay.name and c.role == "neuron"]
        r_f = s.r_f_of(lay.name)
        c_f = cells[0].c_f if cells else lay.tau * s.tau_unit_s / r_f
        layers[lay.name] = {
            "neurons": lay.size, "lagrangian": str(lay.lagrangian), "tau_model": lay.tau,
            "tau_s": lay.tau * s.tau_unit_s, "r_f_ohm": r_f, "c_f_f": c_f,
            "clamped": len(lay.clamped), "init": lay.init,
        }
    return layers


def _timing(circuit: CircuitIR, hw: Hardware, a: CircuitAnalysis) -> dict[str, Any]:
    s = circuit.scaling
    return {
        "readout_time_s": circuit.readout_time_s, "readout_t_model": circuit.readout_t,
        "tau_unit_s": s.tau_unit_s, "tau_unit_auto": s.tau_unit_auto,
        "gbw_required_hz": a.gbw_required_hz, "gbw_hz": hw.gbw,
        "latency_s": a.latency_s, "latency_model": a.latency_model,
        "settle_time_sim_s": a.settle_time_sim_s, "settle_horizon_s": a.settle_horizon_s,
        "slowest_rate_per_s": a.slowest_rate_per_s,
    }


def _power_section(circuit: CircuitIR, hw: Hardware, a: CircuitAnalysis) -> dict[str, Any]:
    """Static power by cause, with the assumptions behind each part and its share."""
    total = a.power.total_w
    return {
        "amplifiers_w": a.power.amplifiers_w, "crossbars_w": a.power.crossbars_w,
        "total_w": total, "opamps": circuit.counts()["opamps"],
        "amp_current_a": hw.amp_current, "vdd_v": hw.vdd,
        "amplifiers_fraction": a.power.amplifiers_w / total if total > 0 else None,
        "crossbars_fraction": a.power.crossbars_w / total if total > 0 else None,
    }


def _energy_section(a: CircuitAnalysis) -> dict[str, Any]:
    return {
        "per_inference_j": a.energy_per_inference_j, "to_settle_j": a.energy_to_settle_j,
        "capacitors_j": a.power.capacitors_j, "static_power_w": a.power.total_w,
        "readout_time_s": a.readout_time_s, "settle_time_s": a.settle_time_sim_s,
    }


def _tests_section(a: CircuitAnalysis) -> dict[str, Any] | None:
    t = a.tests
    if t is None:
        return None
    return {
        "backend": "circuit", "amplifier": t.amplifier, "vectors": t.vectors,
        "passed": t.passed,
        "blocks": [{"name": b.name, "vectors": b.vectors, "passed": b.passed,
                    "min_pass": b.min_pass, "ok": b.ok} for b in t.blocks],
    }


def _weights_section(circuit: CircuitIR) -> list[dict[str, Any]]:
    return [
        {"crossbar": m.crossbar, "weights": m.weights, "entries": m.entries,
         "devices": m.devices, "lost": m.lost, "raised": m.raised, "clipped": m.clipped,
         "max_abs_error": m.max_abs_error, "rms_error": m.rms_error,
         "max_abs_weight": m.max_abs_weight,
         "location": ",".join(sp.short() for sp in loc_spans(m.loc)) or None}
        for m in circuit.mappings
    ]


def _variation_section(v: VariationResult) -> dict[str, Any]:
    settings = {k + _UNIT_SUFFIX.get(KEYS[k].unit, ""): x for k, x in v.settings.items()}
    return {
        "draws": v.draws, "seed": v.seed, "settings": settings, "backend": "circuit",
        "yield": v.yield_, "yield_ci95": list(v.yield_ci95),
        "accuracy_mean": v.accuracy_mean, "accuracy_min": v.accuracy_min,
        "accuracy_p05": v.accuracy_p05,
        "blocks": [{"name": b.name, "vectors": b.vectors, "accuracy_mean": b.accuracy_mean,
                    "fragile_vectors": b.fragile} for b in v.blocks],
    }


def build_report(lowered: Lowered, analysis: CircuitAnalysis,
                 warnings: Iterable[Diagnostic],
                 variation: VariationResult | None = None) -> dict[str, Any]:
    """The report dict: the lowered circuit, `analysis`, every warning of the compile, and
    with a non-ideality set (`variation` not None) the yield and accuracy under it."""
    graph, hw, circuit = lowered
    s, a = circuit.scaling, analysis
    static_power = a.power.total_w
    report: dict[str, Any] = {
        "model": graph.name,
        "source": _source_name(circuit, graph.source_name),
        "counts": circuit.counts(),
        "hardware": _hardware_section(hw),
        "scaling": {
            "scheme": s.scheme, "v_unit_v": s.v_unit, "tau_unit_s": s.tau_unit_s,
            "tau_unit_auto": s.tau_unit_auto, "tau_margin": s.tau_margin,
            "v_unit_auto": s.v_unit_basis is not None,
            "v_unit_basis": _v_unit_basis(s.v_unit_basis),
            "g_min_siemens": s.g_min, "g_max_siemens": s.g_max, "levels": s.levels,
        },
        "layers": _layers(lowered),
        "weights": _weights_section(circuit),
        "conductance_histogram": _histogram(circuit),
        "timing": _timing(circuit, hw, a),
        "latency_s": a.latency_s,
        "gbw_required_hz": a.gbw_required_hz,
        "tests": _tests_section(a),
        "power": _power_section(circuit, hw, a),
        "static_power_w": static_power,
        "energy": _energy_section(a),
        "energy_j": a.energy_per_inference_j,
        "area": dict(a.area_m2),
        "area_m2": sum(a.area_m2.values()),
        "capacitance_total_f": a.capacitance_total_f,
        "swing_max_v": a.swing_v,
        "rail_v": hw.v_rail,
        "warnings": [_diag(d) for d in warnings if d.severity is not Severity.NOTE],
        "notes": list(a.notes),
    }
    if variation is not None:  # absent when ideal: the report reads as before these keys
        report["variation"] = _variation_section(variation)
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


def _clean(obj: Any) -> Any:
    """Make every number a plain finite float/int (non-finite -> None)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool | str) or obj is None:
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(float(obj))
    return obj


def report_json(report: Mapping[str, Any]) -> str:
    """`report.json` text: sorted keys, repr floats, trailing newline."""
    return json.dumps(report, sort_keys=True, indent=2, allow_nan=False) + "\n"


def _eng(x: float | None, unit: str) -> str:
    if x is None:
        return "n/a"
    if x == 0:
        return f"0 {unit}"
    prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
                (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a")]
    for scale, p in prefixes:
        if abs(x) >= scale:
            return f"{x / scale:.4g} {p}{unit}"
    return f"{x:.4g} {unit}"


def _variation_markdown(v: Mapping[str, Any]) -> list[str]:
    """The yield section: what the built circuit does, before the nominal numbers."""
    units = {k + _UNIT_SUFFIX.get(spec.unit, ""): (k, spec.unit) for k, spec in KEYS.items()}
    settings = ", ".join(f"{units[k][0]} = {x!r} {units[k][1]}".rstrip()
                         for k, x in v["settings"].items())
    lo, hi = v["yield_ci95"]
    out = ["## Under non-idealities", "",
           f"Monte Carlo over {v['draws']} draws (seed {v['seed']}, {v['backend']} backend) "
           f"with {settings}. Every number further down is the nominal circuit's (each device "
           "at its programmed value, no mismatch, no wire resistance); `denseamc montecarlo` "
           "runs more draws.", "",
           "| quantity | value |", "|---|---|",
           f"| yield (draws in which every test block passes) | {v['yield']:.4g} "
           f"(95% Wilson interval {lo:.4g} .. {hi:.4g}) |",
           (f"| accuracy mean / min / p05 (fraction of vectors passing) | "
            f"{v['accuracy_mean']:.4g} / {v['accuracy_min']:.4g} / {v['accuracy_p05']:.4g} |"),
           "", "| test block | vectors | accuracy mean | vectors failing in some draw |",
           "|---|---|---|---|"]
    out += [f"| {b['name']} | {b['vectors']} | {b['accuracy_mean']:.4g} | "
            f"{b['fragile_vectors']} |" for b in v["blocks"]]
    return [*out, "", "## Nominal circuit", ""]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.3g}%"


def _tests_markdown(t: Mapping[str, Any] | None) -> str:
    if t is None:
        return "n/a (no test vectors)"
    failing = t["vectors"] - t["passed"]
    return (f"{t['passed']} / {t['vectors']}" + (f" (**{failing} fail**)" if failing else ""))


def _value_with_unit(v: Any, unit: str) -> str:
    """A hardware value for a human: areas in um^2, capacitance density in fF/um^2."""
    if not unit or isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if unit == "m2":
        return f"{v * 1e12:.4g} um^2"
    if unit == "F/m2":
        return f"{v * 1e3:.4g} fF/um^2"
    return _eng(v, unit)


def _assumptions_markdown(r: Mapping[str, Any]) -> list[str]:
    """Where the power comes from, and every hardware value the numbers rest on."""
    p = r["power"]
    out = ["## Assumptions", "",
           f"Static power {_eng(p['total_w'], 'W')} = op-amps {_eng(p['amplifiers_w'], 'W')} "
           f"({_pct(p['amplifiers_fraction'])}: {p['opamps']} op-amps x vdd "
           f"{_eng(p['vdd_v'], 'V')} x the assumed quiescent current amp_current "
           f"{_eng(p['amp_current_a'], 'A')} each) + crossbars {_eng(p['crossbars_w'], 'W')} "
           f"({_pct(p['crossbars_fraction'])}: sum G V^2 at the equilibrium). "
           "Every value below is a hardware default unless its origin says otherwise; "
           "override one with `--set KEY=VALUE`, a profile (`--hardware`) or the model's "
           "`hardware { }` block (docs/hardware.md).", "",
           "| key | value | origin |", "|---|---|---|"]
    hw = r["hardware"]
    for k, spec in KEYS.items():
        key = k + _UNIT_SUFFIX.get(spec.unit, "")
        if key not in hw:
            continue
        v = hw[key]
        shown = _value_with_unit(v, spec.unit) if v != "" else "(none: built-in)"
        out.append(f"| {k} | {shown} | {hw['origin'].get(k, 'default')} |")
    return [*out, ""]


def _v_unit_source(sc: Mapping[str, Any]) -> str:
    return "auto" if sc["v_unit_auto"] else "set"


def _v_unit_markdown(sc: Mapping[str, Any]) -> str:
    """v_unit, and for auto why: the node, the vector and its swing."""
    v, b = _eng(sc["v_unit_v"], "V"), sc["v_unit_basis"]
    if b is None:
        return v
    if b["fallback"] is not None:
        return f"{v} ({b['fallback']})"
    return (f"{v}: the largest signal, {b['peak_model']:.4g} model units on net {b['net']} "
            f"(test \"{b['block']}\" vector {b['vector']}), swings "
            f"{_eng(b['peak_model'] * sc['v_unit_v'], 'V')}, within swing_fraction "
            f"{b['swing_fraction']:.4g} of the rail {_eng(b['rail_v'], 'V')}")


def render_markdown(report: Mapping[str, Any]) -> str:
    """`report.md`: the same numbers for a human, with engineering prefixes."""
    r = report
    t = r["timing"]
    e = r["energy"]
    tests = r["tests"]
    amps = f"circuit backend, {tests['amplifier']} amplifiers" if tests else "not simulated"
    horizon = (f" (simulated to {_eng(t['settle_horizon_s'], 's')})"
               if t["settle_horizon_s"] is not None else "")
    out = [f"# {r['model']}: circuit report", ""]
    if "variation" in r:
        out += _variation_markdown(r["variation"])
    out += ["| quantity | value |", "|---|---|",
            f"| test vectors passing on this circuit ({amps}) | {_tests_markdown(tests)} |",
            (f"| predicted latency (linearised at the equilibrium, settle to 1e-3) | "
             f"{_eng(r['latency_s'], 's')} |"),
            (f"| simulated settle time to the final equilibrium (to 1e-3, ideal amplifiers) "
             f"| {_eng(t['settle_time_sim_s'], 's')}{horizon} |"),
            f"| readout time | {_eng(t['readout_time_s'], 's')} |",
            f"| v_unit ({_v_unit_source(r['scaling'])}) | {_v_unit_markdown(r['scaling'])} |",
            (f"| tau_unit ({'auto' if t['tau_unit_auto'] else 'set'}) | "
             f"{_eng(t['tau_unit_s'], 's')} |"),
            (f"| GBW required / available | {_eng(r['gbw_required_hz'], 'Hz')} / "
             f"{_eng(t['gbw_hz'], 'Hz')} |"),
            (f"| static power (op-amp bias {_pct(r['power']['amplifiers_fraction'])}, see "
             f"Assumptions) | {_eng(r['static_power_w'], 'W')} |"),
            (f"| energy per inference (static power x readout time + C_F V^2) | "
             f"{_eng(e['per_inference_j'], 'J')} |"),
            (f"| energy to settle (static power x settle time + C_F V^2) | "
             f"{_eng(e['to_settle_j'], 'J')} |"),
            f"| capacitor energy C_F V^2 (at the equilibrium) | {_eng(e['capacitors_j'], 'J')} |",
            f"| area | {r['area_m2'] * 1e12:.4g} um^2 |",
            (f"| max signal swing / rail | {_eng(r['swing_max_v'], 'V')} / "
             f"{_eng(r['rail_v'], 'V')} |"), ""]
    out += _assumptions_markdown(r)
    out += ["## Components", "", "| kind | count |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in sorted(r["counts"].items())]
    out += ["", "## Layers", "",
            "| layer | neurons | Lagrangian | tau | R_F | C_F | clamped |",
            "|---|---|---|---|---|---|---|"]
    for name, lay in r["layers"].items():
        out.append(f"| {name} | {lay['neurons']} | {lay['lagrangian']} "
                   f"| {_eng(lay['tau_s'], 's')} | {_eng(lay['r_f_ohm'], 'ohm')} "
                   f"| {_eng(lay['c_f_f'], 'F')} | {lay['clamped']} |")
    out += ["", "## Weights on devices", "",
            "| crossbar | weights | devices | lost | raised | clipped | max error | rms error |",
            "|---|---|---|---|---|---|---|---|"]
    for w in r["weights"]:
        out.append(f"| {w['crossbar']} | {w['weights']} | {w['devices']} | {w['lost']} | "
                   f"{w['raised']} | {w['clipped']} | {w['max_abs_error']:.3g} | "
                   f"{w['rms_error']:.3g} |")
    h = r["conductance_histogram"]
    out += ["", "## Conductance histogram", "", "| from | to | devices |", "|---|---|---|"]
    for lo, hi, c in zip(h["bin_edges_siemens"], h["bin_edges_siemens"][1:], h["counts"],
                         strict=False):
        out.append(f"| {_eng(lo, 'S')} | {_eng(hi, 'S')} | {c} |")
    out += ["", "## Warnings", ""]
    out += [f"- {w['location'] + ': ' if w['location'] else ''}{w['message']}"
            for w in r["warnings"]] or ["- none"]
    if r["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    return "\n".join(out) + "\n"
