"""The compilation report: what was built, how big, how fast, how much energy, and what to fix.

`build_report(graph, circuit, hw, sim_result)` returns a JSON-ready dict (`report.json`) and
`render_markdown` a readable page (`report.md`). Every physical value carries its unit in its key
suffix: `_ohm`, `_f` (farad), `_s` (seconds), `_v`, `_a`, `_w`, `_j`, `_m2`, `_hz`,
`_v_per_s`, and `_siemens` for conductances (not `_s`, which is seconds). Floats are written
with `repr` (json's default); non-finite values become null with a reason in `notes`.

How the numbers are derived
---------------------------
- `latency_s` (predicted): the model's dynamics are linearised at the final state of a
  simulation (sim_result.states, model units): J = d/dx [(target(x) - x) / tau] over the free
  neurons of the layers with tau > 0 (tau = 0 layers solved algebraically, clamped neurons held),
  by central differences. The slowest rate r = min(-Re eig J); settling to 1e-3 takes ln(1000)/r
  model units, times tau_unit. Worst case over the simulated input vectors.
- `settle_time_sim_s`: the simulation's own settle time (worst case over vectors).
- `gbw_required_hz`: the GBW at which every cell's RC constant is tau_margin times its
  closed-loop amplifier time constant: max over cells tau_margin (1 + sum_j |w_ij|) / (2 pi R_F C_F).
- `static_power_w`: op-amps x vdd x amp_current, plus the crossbars' sum G V^2 at the final
  state (rows at +-v_unit g, summing nodes at 0 V); worst case over vectors.
- `energy_j`: static_power_w x latency (the predicted settle time; else the simulated one; else
  the readout time) + sum over capacitors of C_F V^2 (charging from the supply, V at the final
  state). `energy_to_readout_j` uses the readout time instead.
- `area_m2`: devices x area_device + analog switches x area_switch + op-amps x area_opamp +
  sum C_F / cap_density.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from denseamc.ir import Diagnostic, ModelGraph, Severity, warning
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.hardware import KEYS, Hardware
from denseamc.ir.loc import loc_spans

SETTLE_EPS = 1e-3
_UNIT_SUFFIX = {"ohm": "_ohm", "s": "_s", "S": "_siemens", "V": "_v", "Hz": "_hz",
                "V/s": "_v_per_s", "A": "_a", "m2": "_m2", "F/m2": "_f_per_m2", "": ""}


# ------------------------------------------------------------------------------------------------
# The model's dynamics at a state (for the linearisation)
# ------------------------------------------------------------------------------------------------


def _weights(graph: ModelGraph, name: str, selects: Mapping[str, Any]) -> np.ndarray:
    w = graph.weights(name)
    if not w.is_selected:
        return np.asarray(w.value)
    assert w.select is not None
    sel = {w.select: np.asarray(selects[w.select], dtype=np.int64)[None, :]}
    out: np.ndarray = np.asarray(w.resolve(sel))[0]
    return out


def _targets(graph: ModelGraph, x: dict[str, np.ndarray], selects: Mapping[str, Any]
             ) -> dict[str, np.ndarray]:
    acts = {lay.name: lay.lagrangian.activation(x[lay.name]) for lay in graph.layers()}
    out = {}
    for lay in graph.layers():
        dyn = graph.dynamics[lay.name]
        tot = np.zeros(lay.size)
        for d in dyn.drives:
            w = _weights(graph, d.weights, selects)
            tot += d.coef * ((w.T if d.transpose else w) @ acts[d.source])
        for b in dyn.biases:
            tot += b.coef * _weights(graph, b.weights, selects)
        out[lay.name] = tot
    return out


def slowest_rate(graph: ModelGraph, final: Mapping[str, np.ndarray],
                 selects: Mapping[str, Any], clamped: Mapping[str, Sequence[int]]) -> float:
    """min(-Re eig J) of the linearised model dynamics at state `final` (one vector), 1/model-t."""
    layers = [lay for lay in graph.layers()]
    dyn = [lay for lay in layers if lay.tau > 0]
    free = [(lay, i) for lay in dyn for i in range(lay.size) if i not in set(clamped[lay.name])]
    if not free:
        return math.inf

    def f(x: dict[str, np.ndarray]) -> np.ndarray:
        x = {k: v.copy() for k, v in x.items()}
        adi = [lay for lay in layers if lay.tau == 0]
        for _ in range(200 if adi else 0):
            t = _targets(graph, x, selects)
            change = max(float(np.max(np.abs(t[a.name] - x[a.name]), initial=0)) for a in adi)
            for a in adi:
                x[a.name] = t[a.name]
            if change < 1e-13:
                break
        t = _targets(graph, x, selects)
        return np.array([(t[lay.name][i] - x[lay.name][i]) / lay.tau for lay, i in free])

    base = {k: np.asarray(v, dtype=np.float64).copy() for k, v in final.items()}
    jac = np.zeros((len(free), len(free)))
    for col, (lay, i) in enumerate(free):
        h = 1e-6 * max(1.0, abs(base[lay.name][i]))
        xp = {k: v.copy() for k, v in base.items()}
        xm = {k: v.copy() for k, v in base.items()}
        xp[lay.name][i] += h
        xm[lay.name][i] -= h
        jac[:, col] = (f(xp) - f(xm)) / (2 * h)
    return float(np.min(-np.linalg.eigvals(jac).real))


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


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
        key = k + _UNIT_SUFFIX.get(spec.unit, "")
        out[key] = "auto" if v is None else v
        out.setdefault("origin", {})[k] = hw.origin.get(k, "default")
    return out


def _fan_in_rf(circuit: CircuitIR) -> dict[str, float]:
    """Worst noise gain - 1 = R_F sum G into each neuron cell (selected: worst option), by cell."""
    g_in: dict[str, float] = {c.sum_net: 0.0 for c in circuit.cells}
    for xb in circuit.crossbars:
        for col, n in enumerate(xb.col_nets):
            g_in[n] = g_in.get(n, 0.0) + float(xb.conductance[:, col].sum())
    for sx in circuit.selected_crossbars:
        per_option = sx.table.sum(axis=1).max() if sx.axis == "cols" else sx.table.max(axis=0)
        for col, n in enumerate(sx.col_nets):
            extra = per_option if sx.axis == "cols" else per_option[col] * len(sx.row_nets)
            g_in[n] = g_in.get(n, 0.0) + float(extra)
    # differential: the negative summing node's load counts for the neuron too
    for c in circuit.cells:
        if c.role == "inverter":
            main = c.sum_net.replace("_sumn_", "_sum_")
            g_in[main] = g_in.get(main, 0.0) + g_in.get(c.sum_net, 0.0)
    return {c.name: c.r_f * g_in.get(c.sum_net, 0.0) for c in circuit.cells if c.role == "neuron"}


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


def _inputs_list(inputs: Mapping[str, Any], b: int) -> dict[str, np.ndarray]:
    return {k: np.atleast_2d(np.asarray(v))[b] for k, v in inputs.items()}


def build_report(
    graph: ModelGraph,
    circuit: CircuitIR,
    hw: Hardware,
    sim_result: Any | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    warnings: Iterable[Diagnostic] = (),
    max_linearise: int = 32,
) -> dict[str, Any]:
    """Build the report dict. `sim_result` (model or circuit backend) gives the final states;
    `inputs` are the inputs it was run with (needed for select inputs and clamps). Without a
    result, the circuit is simulated (ideal amplifiers) on the first test block's vectors."""
    notes: list[str] = []
    diags: list[Diagnostic] = list(warnings) + list(circuit.diagnostics)
    s = circuit.scaling
    if sim_result is None and graph.tests and graph.tests[0].vectors:
        from denseamc.backends.circuit_sim import simulate_circuit

        vecs = graph.tests[0].vectors
        inputs = {n: np.stack([np.asarray(v.inputs[n], dtype=float) for v in vecs])
                  for n in vecs[0].inputs}
        sim_result = simulate_circuit(circuit, inputs, ideal=True)
        notes.append(f"simulated on the {len(vecs)} vectors of test '{graph.tests[0].name}' "
                     "(ideal amplifiers)")

    counts = circuit.counts()
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

    # amplifier requirements
    fanin = _fan_in_rf(circuit)
    gbw_req = 0.0
    for c in circuit.cells:
        if c.role == "neuron" and c.c_f > 0:
            need = s.tau_margin * (1 + fanin.get(c.name, 0.0)) / (2 * math.pi * c.tau_s)
            gbw_req = max(gbw_req, need)
    if gbw_req > hw.gbw * (1 + 1e-9):
        diags.append(warning(
            f"amplifier-limited time constants: the cells need gbw >= {gbw_req:.4g} Hz "
            f"(tau_margin {s.tau_margin!r}) but gbw = {hw.gbw!r} Hz",
            hw.locs.get("gbw") or hw.locs.get("tau_unit"),
            "raise tau_unit (or use tau_unit = auto) or use faster amplifiers"))

    # tau_h well below tau_v?
    for lay in graph.layers():
        for src in graph.drive_sources(lay.name):
            other = graph.layer(src)
            if 0 < lay.tau < other.tau and lay.tau > 0.1 * other.tau:
                diags.append(warning(
                    f"tau of '{lay.name}' ({lay.tau!r}) is not well below tau of '{src}' "
                    f"({other.tau!r}): the fast layer does not track its target adiabatically",
                    lay.loc, "aim for a ratio of 10 or more; the latency estimate assumes it "
                    "only through the linearisation"))

    timing: dict[str, Any] = {
        "readout_time_s": circuit.readout_time_s, "readout_t_model": circuit.readout_t,
        "tau_unit_s": s.tau_unit_s, "tau_unit_auto": s.tau_unit_auto,
        "gbw_required_hz": gbw_req, "gbw_hz": hw.gbw,
        "latency_s": None, "latency_model": None, "settle_time_sim_s": None,
        "slowest_rate_per_s": None,
    }
    final_v2_caps = sum(c.c_f * s.v_unit**2 for c in circuit.cells)  # bound: |x| = 1
    crossbar_power = sum(float(xb.conductance.sum()) for xb in circuit.crossbars) * s.v_unit**2
    swing_v = None
    if sim_result is not None:
        states = {k: np.atleast_2d(np.asarray(v)) for k, v in sim_result.states.items()}
        batch = next(iter(states.values())).shape[0]
        settle = np.asarray(sim_result.settle_time, dtype=float)
        timing["settle_time_sim_s"] = _num(float(settle.max()) * s.tau_unit_s)
        # linearisation
        if inputs is not None:
            selects = {i.name for i in graph.inputs() if i.mode == "select"}
            clamped = {lay.name: lay.clamped for lay in circuit.layers}
            rates = []
            for b in range(min(batch, max_linearise)):
                ib = _inputs_list(inputs, b)
                final = {k: v[b] for k, v in states.items()}
                rates.append(slowest_rate(graph, final, {k: ib[k] for k in selects}, clamped))
            rate = min(rates) if rates else math.inf
            if batch > max_linearise:
                notes.append(f"latency linearised on the first {max_linearise} of {batch} vectors")
            timing["slowest_rate_per_s"] = _num(rate / s.tau_unit_s)
            if rate > 0 and math.isfinite(rate):
                lat = math.log(1 / SETTLE_EPS) / rate
                timing["latency_model"] = lat
                timing["latency_s"] = lat * s.tau_unit_s
            elif rate <= 0:
                diags.append(warning(
                    "the linearised dynamics at the final state are not stable "
                    f"(slowest rate {rate:.4g} per model time unit): no predicted latency",
                    graph.readout_loc))
        else:
            notes.append("latency not linearised: the simulated inputs were not given")
        # energies at the final state
        acts = {lay.name: lay.lagrangian.activation(states[lay.name]) for lay in graph.layers()}
        caps = np.zeros(batch)
        for c in circuit.cells:
            if c.c_f > 0 and c.role == "neuron":
                caps += c.c_f * (s.v_unit * states[c.layer][:, c.index]) ** 2
        final_v2_caps = float(caps.max())
        cp = np.zeros(batch)
        for xb in circuit.crossbars:
            v_rows = s.v_unit * acts[xb.source][:, list(xb.row_index)]
            cp += ((v_rows**2) @ xb.conductance).sum(axis=1)
        if inputs is not None:
            for sx in circuit.selected_crossbars:
                sel = np.atleast_2d(np.asarray(inputs[sx.select])).astype(np.int64)
                gsel = sx.conductance(sel)
                v_rows = s.v_unit * acts[sx.source][:, list(sx.row_index)]
                cp += np.einsum("br,brc->b", v_rows**2, gsel)
        crossbar_power = float(cp.max())
        swing = getattr(sim_result, "max_abs_v", None)
        if swing is None:
            swing = s.v_unit * max(float(np.abs(v).max(initial=0)) for v in
                                   list(states.values()) + list(acts.values()))
        swing_v = float(np.max(swing))
        if swing_v >= 0.99 * hw.v_rail:
            diags.append(warning(
                f"signals reach {swing_v:.4g} V, at or beyond the rails +-vdd/2 = "
                f"{hw.v_rail!r} V: amplifiers clip there",
                hw.locs.get("v_unit"), "lower v_unit or raise vdd"))
        lat_s = timing["latency_s"]
        if lat_s is not None and lat_s > circuit.readout_time_s:
            diags.append(warning(
                f"the predicted settle time {lat_s:.4g} s is longer than the readout time "
                f"{circuit.readout_time_s:.4g} s: outputs are read before the state settles "
                "to 1e-3", graph.readout_loc,
                "read out later if the fixed point is the intended answer"))
    else:
        notes.append("no simulation: latency unknown, power and energy use the |x| = 1 bound")

    amp_power = counts["opamps"] * hw.vdd * hw.amp_current
    static_power = amp_power + crossbar_power
    t_energy = timing["latency_s"] or timing["settle_time_sim_s"] or circuit.readout_time_s
    min_tau_s = min((c.tau_s for c in circuit.cells if c.c_f > 0), default=math.inf)
    slew_req = (swing_v if swing_v is not None else s.v_unit) / min_tau_s
    if slew_req > hw.slew:
        diags.append(warning(
            f"slew-limited: a swing of {(swing_v or s.v_unit):.4g} V in the fastest time "
            f"constant {min_tau_s:.4g} s needs {slew_req:.4g} V/s, the op-amps give "
            f"{hw.slew!r} V/s", hw.locs.get("slew")))
    cap_total = sum(c.c_f for c in circuit.cells)
    area = {
        "devices_m2": counts["conductance_devices"] * hw.area_device,
        "switches_m2": counts["analog_switches"] * hw.area_switch,
        "opamps_m2": counts["opamps"] * hw.area_opamp,
        "capacitors_m2": cap_total / hw.cap_density,
    }
    area_total = sum(area.values())

    report: dict[str, Any] = {
        "model": graph.name,
        "source": loc_spans(circuit.layers[0].loc)[0].short().split(":")[0]
        if circuit.layers and loc_spans(circuit.layers[0].loc) else graph.source_name,
        "counts": counts,
        "hardware": _hardware_section(hw),
        "scaling": {
            "scheme": s.scheme, "v_unit_v": s.v_unit, "tau_unit_s": s.tau_unit_s,
            "tau_unit_auto": s.tau_unit_auto, "tau_margin": s.tau_margin,
            "g_min_siemens": s.g_min, "g_max_siemens": s.g_max, "levels": s.levels,
        },
        "layers": layers,
        "weights": [
            {"crossbar": m.crossbar, "weights": m.weights, "entries": m.entries,
             "devices": m.devices, "lost": m.lost, "raised": m.raised, "clipped": m.clipped,
             "max_abs_error": m.max_abs_error, "rms_error": m.rms_error,
             "max_abs_weight": m.max_abs_weight,
             "location": ",".join(sp.short() for sp in loc_spans(m.loc)) or None}
            for m in circuit.mappings
        ],
        "conductance_histogram": _histogram(circuit),
        "timing": timing,
        "latency_s": timing["latency_s"],
        "gbw_required_hz": gbw_req,
        "power": {"amplifiers_w": amp_power, "crossbars_w": crossbar_power,
                  "total_w": static_power},
        "static_power_w": static_power,
        "energy": {"static_j": static_power * t_energy, "capacitors_j": final_v2_caps,
                   "time_used_s": t_energy,
                   "to_readout_j": static_power * circuit.readout_time_s + final_v2_caps},
        "energy_j": static_power * t_energy + final_v2_caps,
        "energy_to_readout_j": static_power * circuit.readout_time_s + final_v2_caps,
        "area": area,
        "area_m2": area_total,
        "capacitance_total_f": cap_total,
        "swing_max_v": swing_v,
        "rail_v": hw.v_rail,
        "warnings": [_diag(d) for d in diags if d.severity is not Severity.NOTE],
        "notes": notes,
    }
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


def render_markdown(report: Mapping[str, Any]) -> str:
    """`report.md`: the same numbers for a human, with engineering prefixes."""
    r = report
    t = r["timing"]
    out = [f"# {r['model']}: circuit report", ""]
    out += ["| quantity | value |", "|---|---|",
            f"| predicted latency (settle to 1e-3) | {_eng(r['latency_s'], 's')} |",
            f"| simulated settle time | {_eng(t['settle_time_sim_s'], 's')} |",
            f"| readout time | {_eng(t['readout_time_s'], 's')} |",
            (f"| tau_unit ({'auto' if t['tau_unit_auto'] else 'set'}) | "
             f"{_eng(t['tau_unit_s'], 's')} |"),
            (f"| GBW required / available | {_eng(r['gbw_required_hz'], 'Hz')} / "
             f"{_eng(t['gbw_hz'], 'Hz')} |"),
            f"| static power | {_eng(r['static_power_w'], 'W')} |",
            f"| energy per inference | {_eng(r['energy_j'], 'J')} |",
            f"| energy to readout | {_eng(r['energy_to_readout_j'], 'J')} |",
            f"| area | {r['area_m2'] * 1e12:.4g} um^2 |",
            (f"| max signal swing / rail | {_eng(r['swing_max_v'], 'V')} / "
             f"{_eng(r['rail_v'], 'V')} |"), ""]
    out += ["## Components", "", "| kind | count |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in sorted(r["counts"].items())]
    out += ["", "## Layers", "",
            "| layer | neurons | Lagrangian | tau | R_F | C_F | clamped |",
            "|---|---|---|---|---|---|---|"]
    for name, lay in r["layers"].items():
        out.append(f"| {name} | {lay['neurons']} | {lay['lagrangian']} | {_eng(lay['tau_s'], 's')} "
                   f"| {_eng(lay['r_f_ohm'], 'ohm')} | {_eng(lay['c_f_f'], 'F')} | {lay['clamped']} |")
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
