"""Scale model units into physical ones: volts, seconds, ohms, siemens.

Rules (the one place they are written; docs/hardware.md repeats them, regenerate it from here):

- **Voltage**: a state or activation of 1 model unit is `v_unit` volts. Cells output the inverted
  state, V = -v_unit x; activation rails carry +-v_unit g. With `v_unit = auto` (the default)
  the model backend simulates every test vector (every block, one batch) to the readout time
  and takes the largest |signal| P in model units over every recorded step and every node that
  carries one: states (cell outputs, summing stages, clamps), activation outputs (and so the
  inverted rails) and, in the differential scheme, the inverters' outputs. Then
  v_unit = min(swing_fraction * vdd/2 / P, vdd/2), rounded down to 3 significant digits, so
  every node stays within swing_fraction of the rails (ideal amplifiers: every voltage is
  v_unit times a model signal) and a state of 1 fits between them. Without test vectors (or
  with every signal 0) v_unit = min(0.1 V, swing_fraction * vdd/2). `Scaling.v_unit_basis`
  records the node, the vector and P; the report states them.
- **Feedback resistor**: with `r_f = auto` each layer L gets R_F(L) = max|w into L| / g_max, so
  its largest weight maps exactly to g_max and the rest of the window is used for the smaller
  ones (10 kohm for a layer that no weight drives). A layer driven by selected weights through
  non-ideal switches (r_on > 0) gets the headroom their compensation needs: option k's devices
  are programmed to G / (1 - r_on sum G_k), so R_F(L) >= max_o |w_ko| / g_max + r_on sum_o |w_ko|
  for every option k of each sign (`switch_headroom_r_f`); its largest programmed device is
  then g_max. With `r_f` set, every layer uses it and a weight with |w| / r_f > g_max, or a
  compensated device above g_max, is clipped to g_max (a warning, located at the energy term or
  the r_f setting).
- **R_F on a level grid**: with `levels > 0` and `r_f = auto`, that R_F is only the smallest
  one, r_min: a weight w lands on R_F times a level, and which R_F puts the layer's weights
  near levels depends on the weights. So R_F(L) is the R_F in [r_min, 2 r_min]
  (`R_F_SEARCH_SPAN`) with the smallest RMS weight error, in model units, over every weight into
  L as lowering realises it (window, levels, select-switch compensation: `program_table`).
  The search is a grid of 128 candidates, then twice a grid of 128 spanning two steps around
  the best so far; the smallest R_F wins ties, so r_min is kept unless a larger one is better.
  RMS, not the worst error: a state is driven by sum_j dw_ij g_j, where many small errors add
  up; on parity8 under rram_cmos (docs/robustness.md) minimising the RMS error passes 52/52
  test vectors, minimising the worst one 43/52 (37/52 at r_min). A larger R_F keeps every RC
  constant (C_F = tau tau_unit / R_F) and every amplifier's noise gain (model units), so the
  settle time moves only with the realised weights (parity8: 3.11 -> 3.17 us). It costs up to
  2x less C_F (closer to the summing node's parasitics; kT/C_F noise up to sqrt(2) x larger)
  and up to 2x less signal current per weight. Layers with more than 4096 weights to quantise
  (distinct magnitudes; whole tables behind switches) keep r_min (`R_F_SEARCH_MAX_VALUES`).
- **Weights -> conductances**: G = |w| / R_F(target), on the rail (dual_rail) or array
  (differential) of the weight's sign. Below g_min a device cannot be programmed: G is rounded to
  the nearer of 0 (no device, the weight is *lost*) and g_min (*raised*); both are reported.
  With `levels > 0`, every nonzero G moves to the nearest of `levels` evenly spaced values in
  [g_min, g_max]; the worst and RMS weight errors are reported in model units.
- **Time**: model time t is t * tau_unit seconds; C_F = tau * tau_unit / R_F. With
  `tau_unit = auto`, tau_unit is the smallest value with, for every cell,
      tau * tau_unit >= tau_margin * (1 + sum_j |w_ij|) / (2 pi gbw)
  i.e. the RC time constant is `tau_margin` (default 10) times slower than the closed-loop
  amplifier pole of that cell's inverting summer, whose noise gain is 1 + sum_j |w_ij|. Layers
  with tau = 0 (summing stages) must be `tau_margin` times faster than the fastest RC layer, so
  they enter with the smallest positive tau. A user-set tau_unit below this bound is kept and
  warned about (amplifier-limited time constants).
- **Biases**: a bias b is a current b * v_unit / R_F into the summing node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from denseamc.compiler.passes.circuit_builder import (
    CircuitBuilder,
    drive_matrix,
    drive_table,
    fan_in,
    free_neurons,
    max_abs_drive_weight,
)
from denseamc.ir import Drive, ModelGraph, warning
from denseamc.ir.circuit import net
from denseamc.ir.hardware import Hardware
from denseamc.ir.model import Array
from denseamc.ir.scaling import Scaling, SwingBasis
from denseamc.ir.switches import switch_compensated, switch_effective

DEFAULT_R_F = 1e4
#: r_f = auto with levels > 0: the largest R_F the quantisation search may pick, as a multiple
#: of the smallest that fits the window (module rules).
R_F_SEARCH_SPAN = 2.0
#: Candidates per stage of that search; each later stage spans two steps of the one before
#: around its best.
R_F_SEARCH_POINTS = 128
R_F_SEARCH_STAGES = 3
#: A layer with more weights to quantise (distinct magnitudes; whole tables behind switches)
#: keeps the smallest R_F: with that many, some weight sits near the middle of a level step at
#: every scale, so the worst error is about half a step times R_F and the smallest R_F is best.
R_F_SEARCH_MAX_VALUES = 4096
#: v_unit = auto without a simulated signal (no test vectors): the former fixed default, volts.
FALLBACK_V_UNIT = 0.1


def vector_batch(graph: ModelGraph) -> tuple[dict[str, Array], list[tuple[str, int]]] | None:
    """Every test vector of every block as one batch (blocks in order) and, per row, (block,
    vector number from 1); None when there is none or the blocks give different inputs."""
    blocks = [b for b in graph.tests if b.vectors]
    parts = [b.stacked_inputs() for b in blocks]
    if not parts or not parts[0] or any(set(p) != set(parts[0]) for p in parts):
        return None
    labels = [(b.name, i + 1) for b in blocks for i in range(len(b.vectors))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, labels


def _peak(a: Array, layer: str, kind: str, neurons: tuple[int, ...] | None = None
          ) -> tuple[float, str, int]:
    """(max |a|, the net it is on, its batch row) of a trajectory (T, B, n)."""
    if neurons is not None:
        a = a[..., list(neurons)]
    if a.size == 0:
        return 0.0, "", 0
    t, b, i = np.unravel_index(int(np.argmax(np.abs(a))), a.shape)
    neuron = int(i) if neurons is None else neurons[int(i)]
    return float(abs(a[t, b, i])), net(layer, kind, neuron), int(b)


def _inverter_outputs(graph: ModelGraph, layer: str, traj: dict[str, Array],
                      inputs: dict[str, Array]) -> Array:
    """Differential scheme: the inverter outputs of `layer` in model units, (T, B, n): the sum
    over its drives of the negative weights' part, sum_j max(-w_ij, 0) g_j."""
    total: Array = np.zeros_like(traj[layer])
    for d in graph.dynamics[layer].drives:
        src = graph.layer(d.source)
        g = src.lagrangian.activation(traj[d.source])  # (T, B, n_src)
        w = graph.weights(d.weights)
        selects = {w.select: inputs[w.select].astype(np.int64)} if w.select else None
        m = d.coef * np.asarray(w.resolve(selects), dtype=np.float64)
        m = np.swapaxes(m, -1, -2) if d.transpose else m  # (.., n_target, n_src)
        neg = np.maximum(-m, 0.0)
        total += (np.einsum("tbj,bij->tbi", g, neg) if neg.ndim == 3
                  else np.einsum("tbj,ij->tbi", g, neg))
    return total


def largest_signal(graph: ModelGraph, scheme: str, inputs: dict[str, Array]
                   ) -> tuple[float, str, int]:
    """(largest |signal| in model units, its net, its batch row) over the model simulation of
    `inputs` to the readout time (every recorded step; the module rules say which nodes)."""
    from denseamc.backends.sim.driver import simulate

    traj = simulate(graph, inputs, record=True).trajectories
    assert traj is not None
    found = []
    for lay in graph.layers():
        x = traj[lay.name]
        found.append(_peak(x, lay.name, "x"))
        if lay.lagrangian.kind != "identity":  # identity: g = x
            found.append(_peak(lay.lagrangian.activation(x), lay.name, "gp"))
        if scheme == "differential" and graph.dynamics[lay.name].drives:
            inv = _inverter_outputs(graph, lay.name, traj, inputs)
            found.append(_peak(inv, lay.name, "inv", free_neurons(graph, lay.name)))
    return max(found, key=lambda f: f[0])


def _round_down(v: float) -> float:
    """v rounded down to 3 significant digits (a readable value that keeps the bound)."""
    exp = math.floor(math.log10(v)) - 2
    digits = math.floor(v / 10.0**exp * (1 + 1e-12))
    return float(f"{digits}e{exp}")  # the decimal value itself, e.g. 0.104 (not 0.10400000001)


def auto_v_unit(graph: ModelGraph, hw: Hardware) -> tuple[float, SwingBasis]:
    """v_unit = auto (module rules) and the signal that set it."""
    frac, rail = hw.swing_fraction, hw.v_rail
    batch = vector_batch(graph)
    reason = "no test vectors"
    if batch is not None:
        inputs, labels = batch
        peak, where, row = largest_signal(graph, hw.scheme, inputs)
        if peak > 0:
            v = _round_down(min(frac * rail / peak, rail))
            block, vector = labels[row]
            return v, SwingBasis(peak, where, block, vector, frac, rail)
        reason = "every simulated signal is 0"
    v = min(FALLBACK_V_UNIT, frac * rail)
    return v, SwingBasis(0.0, "", "", 0, frac, rail, f"{reason}: min({FALLBACK_V_UNIT!r} V, "
                         "swing_fraction x vdd/2)")


def amplifier_bound(fanin: float, tau_margin: float, given: float) -> float:
    """The amplifier rule of a cell of noise gain 1 + fanin: its closed-loop pole
    GBW / (1 + fanin) must be tau_margin times faster than 1 / (2 pi tau_RC). The rule bounds
    the product GBW x tau_RC, so `given` a GBW (Hz) this is the shortest RC constant (s), and
    given an RC constant the smallest GBW."""
    return float(tau_margin * (1.0 + fanin) / (2.0 * math.pi * given))


def selected_device_table(graph: ModelGraph, d: Drive, target: str) -> Array:
    """The (options, other) table of a selected drive (coef included) restricted to the nets
    its crossbar has: W^T direction (transpose), the other axis is the target's free neurons."""
    table = drive_table(graph, d)
    return table[:, list(free_neurons(graph, target))] if d.transpose else table


def _switch_headroom(graph: ModelGraph, hw: Hardware, layer: str) -> float:
    """The R_F that fits every selected drive into `layer` behind its switches (0: none)."""
    if not has_switch_loss(hw):
        return 0.0
    need = 0.0
    for d in graph.dynamics[layer].drives:
        if graph.weights(d.weights).is_selected:
            t = selected_device_table(graph, d, layer)
            need = max(need, switch_headroom_r_f(np.maximum(t, 0.0), hw),
                       switch_headroom_r_f(np.maximum(-t, 0.0), hw))
    return need


@dataclass(frozen=True)
class ScaleToHardware:
    """Choose R_F per layer and tau_unit; record them as the circuit's `Scaling`.

    Contract: needs `graph.dynamics` (the energy pass). Writes `circuit.scaling`; adds warnings
    when a user-set tau_unit is amplifier-limited. Creates no components. With v_unit = auto it
    simulates the test vectors on the model backend (module rules).
    """

    name: ClassVar[str] = "scale"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, circuit: CircuitBuilder, /) -> None:
        graph, hw = circuit.graph, circuit.hw
        r_f: list[tuple[str, float]] = []
        for layer in graph.layers():
            if hw.r_f is not None:
                r_f.append((layer.name, hw.r_f))
                continue
            wmax = max((max_abs_drive_weight(graph, d) for d in graph.dynamics[layer.name].drives),
                       default=0.0)
            if wmax == 0:
                r_f.append((layer.name, DEFAULT_R_F))
                continue
            r_min = max(wmax / hw.g_max, _switch_headroom(graph, hw, layer.name))
            r_f.append((layer.name, quantised_r_f(layer_tables(graph, hw, layer.name), r_min, hw)))

        taus = [lay.tau for lay in graph.layers() if lay.tau > 0]
        tau_fast = min(taus, default=1.0)
        need = 0.0
        worst = None
        for layer in graph.layers():
            fi = fan_in(graph, layer.name)
            peak = float(fi.max()) if fi.size else 0.0
            t_model = layer.tau if layer.tau > 0 else tau_fast
            unit = amplifier_bound(peak, hw.tau_margin, hw.gbw) / t_model
            if unit > need:
                need, worst = unit, layer
        if hw.tau_unit is None:
            tau_unit, auto = need, True
        else:
            tau_unit, auto = hw.tau_unit, False
            if tau_unit < need * (1 - 1e-12) and worst is not None:
                circuit.diagnostics.append(warning(
                    f"tau_unit = {tau_unit!r} s makes layer '{worst.name}' amplifier-limited: "
                    f"its cells need tau_unit >= {need!r} s with gbw = {hw.gbw!r} Hz and "
                    f"tau_margin = {hw.tau_margin!r}",
                    hw.locs.get("tau_unit") or worst.loc,
                    "the closed-loop amplifier pole GBW/(1 + fan-in) is then not well above "
                    "1/(R_F C_F); the circuit will lag and may ring",
                ))
        basis = None
        if hw.v_unit is None:
            v_unit, basis = auto_v_unit(graph, hw)
        else:
            v_unit = hw.v_unit
        circuit.scaling = Scaling(
            v_unit=v_unit, tau_unit_s=tau_unit, tau_unit_auto=auto, r_f=tuple(r_f),
            g_min=hw.g_min, g_max=hw.g_max, levels=hw.levels, scheme=hw.scheme,
            tau_margin=hw.tau_margin, v_unit_basis=basis,
        )


@dataclass(frozen=True)
class DeviceMapStats:
    entries: int
    devices: int
    lost: int
    raised: int
    clipped: int


def map_to_devices(g_ideal: Array, hw: Hardware, *, levels: bool = True
                   ) -> tuple[Array, DeviceMapStats]:
    """Map ideal conductances (>= 0) onto the device window and, unless `levels` is False (a
    target that switch compensation still moves: then `quantise` after it), onto the levels
    (see module rules)."""
    g = np.asarray(g_ideal, dtype=np.float64)
    out = g.copy()
    nz = g > 0
    clipped = nz & (g > hw.g_max)
    below = nz & (g < hw.g_min)
    lost = below & (g < hw.g_min / 2)
    raised = below & ~lost
    out[clipped] = hw.g_max
    out[lost] = 0.0
    out[raised] = hw.g_min
    if levels:
        out = quantise(out, hw)
    stats = DeviceMapStats(
        entries=int(g.size), devices=int(np.count_nonzero(out)), lost=int(lost.sum()),
        raised=int(raised.sum()), clipped=int(clipped.sum()),
    )
    return out, stats


def quantise(g: Array, hw: Hardware) -> Array:
    """Every device (g > 0) moved to the nearest of `levels` evenly spaced values in [g_min,
    g_max] (levels = 0: unchanged). The level index is computed, not searched (O(1) memory per
    device: the scale search quantises many candidate tables at once); a tie goes down."""
    if hw.levels == 0:
        return g
    out = np.array(g, dtype=np.float64)
    levels = np.linspace(hw.g_min, hw.g_max, hw.levels)
    keep = out > 0
    step = (hw.g_max - hw.g_min) / (hw.levels - 1)
    idx = np.clip(np.ceil((out[keep] - hw.g_min) / step - 0.5), 0, hw.levels - 1)
    out[keep] = levels[idx.astype(np.int64)]
    return out


@dataclass(frozen=True)
class ProgrammedTable:
    """One drive's devices at one R_F: `g_pos` / `g_neg` what is programmed (S), `real` the
    weights they realise (model units, through the select switches if any), `clipped` how many
    devices were clipped to g_max (behind switches: after compensation)."""

    g_pos: Array
    g_neg: Array
    real: Array
    pos: DeviceMapStats
    neg: DeviceMapStats
    clipped: int


def program_table(ideal: Array, r_f: float | Array, hw: Hardware, switches: bool
                  ) -> ProgrammedTable:
    """The devices realising `ideal` (signed, model units) at feedback resistor `r_f`: split by
    sign, mapped onto the window (`map_to_devices`), behind select switches (`switches`)
    compensated for them then quantised. `r_f` may be an array of candidates shaped to
    broadcast over leading axes of `ideal` (the scale search; stats then count every candidate)."""
    g_pos, st_p = map_to_devices(np.maximum(ideal, 0.0) / r_f, hw, levels=not switches)
    g_neg, st_n = map_to_devices(np.maximum(-ideal, 0.0) / r_f, hw, levels=not switches)
    if not switches:
        return ProgrammedTable(g_pos, g_neg, (g_pos - g_neg) * r_f, st_p, st_n,
                               st_p.clipped + st_n.clipped)
    (g_pos, clip_p), (g_neg, clip_n) = behind_switches(hw, g_pos), behind_switches(hw, g_neg)
    real = (switch_effective(g_pos, hw.r_on, hw.r_off)
            - switch_effective(g_neg, hw.r_on, hw.r_off)) * r_f
    return ProgrammedTable(g_pos, g_neg, real, st_p, st_n, clip_p + clip_n)


def behind_switches(hw: Hardware, target: Array) -> tuple[Array, int]:
    """The devices to program so that each option, through its switch, realises `target`
    (`switch_compensated`), on the levels, and how many were clipped to g_max: with
    r_f = auto none is (`scale` leaves the headroom); with r_f set, a clip as for any
    weight above g_max * r_f, reported the same way (it also moves the option's other
    devices a little: they share the switch's drop)."""
    prog = switch_compensated(target, hw.r_on, hw.r_off)
    over = ~(prog <= hw.g_max * (1 + 1e-9))
    prog[over] = hw.g_max
    return quantise(prog, hw), int(over.sum())


def device_table(graph: ModelGraph, d: Drive, target: str) -> Array:
    """The weights (coef included) of drive `d` into `target` that become devices, laid out as
    lowering programs them: selected, (options, other) (`selected_device_table`); otherwise
    (source neurons, target's free neurons)."""
    if graph.weights(d.weights).is_selected:
        return selected_device_table(graph, d, target)
    return drive_matrix(graph, d).T[:, list(free_neurons(graph, target))]


@dataclass(frozen=True)
class SearchTable:
    """What the scale search quantises for one drive: `values` (signed, model units), each
    standing for `counts` weights in the RMS (a constant drive: its distinct nonzero
    magnitudes, one row; behind select switches: the whole table, whose options share a
    switch, zeros counting 0), and whether `switches`."""

    values: Array
    counts: Array
    switches: bool


def layer_tables(graph: ModelGraph, hw: Hardware, layer: str) -> list[SearchTable]:
    """Every drive into `layer` as the scale search sees it (`SearchTable`)."""
    out = []
    for d in graph.dynamics[layer].drives:
        t = device_table(graph, d, layer)
        if graph.weights(d.weights).is_selected and has_switch_loss(hw):
            out.append(SearchTable(t, (t != 0).astype(np.float64), True))
            continue
        mags, counts = np.unique(np.abs(t[t != 0]), return_counts=True)
        out.append(SearchTable(mags[None, :], counts[None, :].astype(np.float64), False))
    return out


def quantisation_errors(tables: list[SearchTable], r_f: Array, hw: Hardware
                        ) -> tuple[Array, Array]:
    """(worst, RMS) |realised - ideal| weight error in model units over every table, for each
    candidate R_F in the 1-D array `r_f` (RMS: over the nonzero weights)."""
    cand = np.asarray(r_f, dtype=np.float64)[:, None, None]
    worst = np.zeros(cand.shape[0])
    sq = np.zeros(cand.shape[0])
    n = 0.0
    for t in tables:
        err = np.abs(program_table(t.values, cand, hw, t.switches).real - t.values)
        worst = np.maximum(worst, err.max(axis=(1, 2), initial=0.0))
        sq += (err**2 * t.counts).sum(axis=(1, 2))
        n += float(t.counts.sum())
    return worst, np.sqrt(sq / max(n, 1.0))


def quantised_r_f(tables: list[SearchTable], r_min: float, hw: Hardware) -> float:
    """r_f = auto on a level grid: the R_F in [r_min, R_F_SEARCH_SPAN r_min] with the smallest
    RMS weight error (module rules); r_min without levels or with too many weights."""
    size = sum(t.values.size for t in tables)
    if hw.levels == 0 or R_F_SEARCH_SPAN <= 1 or size == 0 or size > R_F_SEARCH_MAX_VALUES:
        return r_min
    lo, hi = r_min, r_min * R_F_SEARCH_SPAN
    best, best_err = r_min, math.inf
    for _ in range(R_F_SEARCH_STAGES):
        cands = np.linspace(lo, hi, R_F_SEARCH_POINTS)
        cands[0] = lo  # exactly: the first stage's lo is the naive R_F
        err = quantisation_errors(tables, cands, hw)[1]  # RMS: see the module rules
        i = int(np.argmin(err))  # the first minimum: the smallest R_F among equals
        if err[i] < best_err:
            best, best_err = float(cands[i]), float(err[i])
        step = (hi - lo) / (R_F_SEARCH_POINTS - 1)
        lo, hi = max(r_min, best - step), min(r_min * R_F_SEARCH_SPAN, best + step)
    return best


def has_switch_loss(hw: Hardware) -> bool:
    """Whether select switches are not ideal (r_on > 0 or r_off finite): lowering then programs
    every device behind one with the compensation of `ir.switches.switch_compensated`."""
    return hw.r_on > 0 or math.isfinite(hw.r_off)


def switch_headroom_r_f(table: Array, hw: Hardware) -> float:
    """The smallest R_F (ohm) at which a selected table (one sign: |w| >= 0 in model units,
    (options, other)) fits the device window once compensated for its switches.

    Option k's devices are programmed to G / (1 - r_on T_k) (T_k = sum of its G = |w| / R_F),
    which stays <= g_max iff R_F >= max_o |w_ko| / g_max + r_on R_F T_k. R_F T_k is sum |w_k|,
    except that weights raised to g_min add to it: so iterate on the mapped sums until R_F
    stops growing (the leakage compensation only lowers devices: it needs no headroom)."""
    t = np.abs(np.asarray(table, dtype=np.float64))
    if t.size == 0 or not np.any(t > 0):
        return 0.0
    peak = t.max(axis=1) / hw.g_max
    r_f = float(np.max(peak + hw.r_on * t.sum(axis=1)))
    for _ in range(20):
        mapped, _ = map_to_devices(t / r_f, hw, levels=False)
        need = float(np.max(peak + hw.r_on * r_f * mapped.sum(axis=1)))
        if need <= r_f:
            break
        r_f = need
    return r_f
