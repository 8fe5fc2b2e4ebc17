"""The analysis the report needs: latency, stability, amplifier limits, power, energy, area, and
how the nominal circuit does on the model's test vectors.

How the numbers are derived (all worst case over the simulated input vectors):

- The test vectors (every test block, one batch) run on the circuit backend with the circuit's
  own amplifier model (ideal, or non-ideal: a0, gbw, rails, slew) up to the readout time: the
  pass rate under these hardware settings (check's verdicts; a warning when a vector fails)
  and the largest swing `swing_v` (every driven net at every recorded time).
- `settle_time_sim_s`: the settle time to the final equilibrium (to SETTLE_TOL, the simulators'
  band). The same vectors run past the readout time (ideal amplifiers, horizons of 4, 16 and 64
  readout times) until every vector has been inside the band around the state at the horizon
  for the second half of the run; the state at that horizon is taken as the equilibrium. None
  (and a note) when no horizon reaches it. Unlike the simulated state at readout, it can exceed
  the readout time (a warning then: outputs are read before the state settles).
- `latency_s` (predicted): the model's dynamics linearised at that equilibrium
  (`compiler/passes/linearise.py`), ln(1 / SETTLE_TOL) / slowest rate, times tau_unit.
- `gbw_required_hz`: the GBW at which every cell's RC constant is tau_margin times its
  closed-loop amplifier time constant: max over cells tau_margin (1 + sum_j |w_ij|) / (2 pi RC).
- static power: op-amps x vdd x amp_current (the assumed quiescent current), plus the
  crossbars' sum G V^2 at the equilibrium (rows at +-v_unit g, summing nodes at 0 V).
- capacitor energy: sum over capacitors of C_F V^2 at the equilibrium (charging from the supply).
- `energy_per_inference_j`: static power x readout time + capacitor energy: what one inference
  as compiled (run to the readout time, then read) costs.
- `energy_to_settle_j`: static power x settle time to equilibrium + capacitor energy: what an
  inference read at the fixed point would cost. The two differ only in the time, so the larger
  is the one with the longer time.
- area: devices x area_device + analog switches x area_switch + op-amps x area_opamp +
  sum C_F / cap_density.

Without test vectors, power and energy use the |x| = 1 bound and latency and settle time are
unknown. `analyze_circuit(ir, sim_result, inputs=...)` analyses a simulation given instead (its
settle time is then toward the state at the end of that simulation, as the note says).

All of the above is the nominal circuit's; what the built circuit would do with a non-ideality
set is `analyze_variation.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

import numpy as np
from denseamc.backends.sim.settle import SETTLE_TOL
from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.passes.linearise import slowest_rate
from denseamc.compiler.passes.scale import amplifier_bound, vector_batch
from denseamc.ir import Diagnostic, warning
from denseamc.ir.circuit import CircuitIR

#: The horizons (in readout times) the settle-time run tries, in order, for the equilibrium.
EQUILIBRIUM_HORIZONS = (4.0, 16.0, 64.0)
#: Output grid points of each of those runs: the settle time interpolates log(violation)
#: between them (exact for an exponential relaxation), so a coarser grid than the readout
#: run's (400-2000) costs little accuracy (xor: 456.7 ns on 2000 points) and saves the walk.
EQUILIBRIUM_GRID = 400


@dataclass(frozen=True)
class Power:
    """Static power in watts, and the capacitor energy C_F V^2 at the final state in joules."""

    amplifiers_w: float
    crossbars_w: float
    capacitors_j: float

    @property
    def total_w(self) -> float:
        return self.amplifiers_w + self.crossbars_w


@dataclass(frozen=True)
class BlockPass:
    """One test block on the nominal circuit: vectors passing, and the block's verdict."""

    name: str
    vectors: int
    passed: int
    min_pass: float
    ok: bool


@dataclass(frozen=True)
class TestRun:
    """The test vectors on the nominal circuit (circuit backend) with its amplifier model."""

    __test__ = False  # not a pytest class

    amplifier: str  # "ideal" or "nonideal"
    blocks: tuple[BlockPass, ...]

    @property
    def vectors(self) -> int:
        return sum(b.vectors for b in self.blocks)

    @property
    def passed(self) -> int:
        return sum(b.passed for b in self.blocks)


@dataclass(frozen=True)
class CircuitAnalysis:
    """What `analyze-circuit` found; `diagnostics` are its warnings, in the order found."""

    gbw_required_hz: float
    settle_time_sim_s: float | None
    settle_horizon_s: float | None
    slowest_rate_per_s: float | None
    latency_model: float | None
    latency_s: float | None
    swing_v: float | None
    power: Power
    readout_time_s: float
    area_m2: Mapping[str, float]
    capacitance_total_f: float
    tests: TestRun | None = None
    notes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def energy_per_inference_j(self) -> float:
        """Static power x readout time + capacitor energy (module docstring)."""
        return self.power.total_w * self.readout_time_s + self.power.capacitors_j

    @property
    def energy_to_settle_j(self) -> float | None:
        """Static power x settle time to equilibrium + capacitor energy; None if unknown."""
        if self.settle_time_sim_s is None:
            return None
        return self.power.total_w * self.settle_time_sim_s + self.power.capacitors_j

    def dump(self) -> str:
        """The result as text, one `field = value` a line (for --dump-ir-after)."""
        out = [f"analysis {AnalyzeCircuit.name}"]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "diagnostics":
                value = [d.message for d in value]
            out.append(f"{f.name} = {value!r}")
        return "\n".join(out) + "\n"


@dataclass(frozen=True)
class AnalyzeCircuit:
    """Predict latency, check stability and the amplifiers, and total power, energy and area.

    Input: the lowered model. Output: a `CircuitAnalysis`; the IR is not changed.
    `max_linearise` bounds the vectors the latency is linearised on.
    """

    name: ClassVar[str] = "analyze-circuit"
    kind: ClassVar[Literal["transform", "analysis"]] = "analysis"
    max_linearise: int = 32

    def run(self, ir: Lowered, /) -> CircuitAnalysis:
        return analyze_circuit(ir, max_linearise=self.max_linearise)


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _fan_in_rf(circuit: CircuitIR) -> dict[str, float]:
    """Worst noise gain - 1 = R_F sum G into each neuron cell (selected: worst option), by cell."""
    g_in: dict[str, float] = {c.sum_net: 0.0 for c in circuit.cells}
    for xb in circuit.crossbars:
        for col, n in enumerate(xb.col_nets):
            g_in[n] = g_in.get(n, 0.0) + float(xb.conductance[:, col].sum())
    for sx in circuit.selected_crossbars:
        g = sx.effective  # through the switch: what the summing node sees (not the devices)
        per_option = g.sum(axis=1).max() if sx.axis == "cols" else g.max(axis=0)
        for col, n in enumerate(sx.col_nets):
            extra = per_option if sx.axis == "cols" else per_option[col] * len(sx.row_nets)
            g_in[n] = g_in.get(n, 0.0) + float(extra)
    # differential: the negative summing node's load counts for the neuron too
    for c in circuit.cells:
        if c.role == "inverter":
            main = c.sum_net.replace("_sumn_", "_sum_")
            g_in[main] = g_in.get(main, 0.0) + g_in.get(c.sum_net, 0.0)
    return {c.name: c.r_f * g_in.get(c.sum_net, 0.0) for c in circuit.cells if c.role == "neuron"}


def _gbw_required(ir: Lowered, diags: list[Diagnostic]) -> float:
    circuit, hw, s = ir.circuit, ir.hardware, ir.circuit.scaling
    fanin = _fan_in_rf(circuit)
    gbw_req = 0.0
    for c in circuit.cells:
        if c.role == "neuron" and c.c_f > 0:
            need = amplifier_bound(fanin.get(c.name, 0.0), s.tau_margin, c.tau_s)
            gbw_req = max(gbw_req, need)
    if gbw_req > hw.gbw * (1 + 1e-9):
        diags.append(warning(
            f"amplifier-limited time constants: the cells need gbw >= {gbw_req:.4g} Hz "
            f"(tau_margin {s.tau_margin!r}) but gbw = {hw.gbw!r} Hz",
            hw.locs.get("gbw") or hw.locs.get("tau_unit"),
            "raise tau_unit (or use tau_unit = auto) or use faster amplifiers"))
    return gbw_req


def _check_tau_ratios(ir: Lowered, diags: list[Diagnostic]) -> None:
    """Warn where a fast layer's tau is not well below the tau of a layer driving it."""
    graph = ir.graph
    for lay in graph.layers():
        for src in graph.drive_sources(lay.name):
            other = graph.layer(src)
            if 0 < lay.tau < other.tau and lay.tau > 0.1 * other.tau:
                diags.append(warning(
                    f"tau of '{lay.name}' ({lay.tau!r}) is not well below tau of '{src}' "
                    f"({other.tau!r}): the fast layer does not track its target adiabatically",
                    lay.loc, "aim for a ratio of 10 or more; the latency estimate assumes it "
                    "only through the linearisation"))


def _judge_tests(ir: Lowered, outputs: Mapping[str, np.ndarray], diags: list[Diagnostic]
                 ) -> TestRun:
    """Check's verdict on every block from the outputs of the whole batch
    (`scale.vector_batch`: every block's vectors, blocks in order)."""
    from denseamc.compiler.verdicts import judge

    graph, hw = ir.graph, ir.hardware
    blocks: list[BlockPass] = []
    start = 0
    for block in (b for b in graph.tests if b.vectors):
        n = len(block.vectors)
        got = {k: np.asarray(v)[start:start + n] for k, v in outputs.items()}
        start += n
        v = judge(block, got, graph.outputs())
        blocks.append(BlockPass(block.name, n, v.n_passed, block.min_pass, v.passed))
        if v.n_passed < n:
            diags.append(warning(
                f"{n - v.n_passed} of {n} vectors of test \"{block.name}\" fail on the nominal "
                f"circuit under these hardware settings (circuit backend, {hw.amplifier} "
                "amplifiers)" + ("" if v.passed else ": the block fails"),
                block.loc, "denseamc check --backend circuit lists them; the report's numbers "
                "are this circuit's"))
    return TestRun(hw.amplifier, tuple(blocks))


@dataclass(frozen=True)
class _Runs:
    """The test vectors on the circuit: to the readout time (the circuit's amplifiers), and to
    the equilibrium (ideal amplifiers; `horizon_s` None when no horizon reached it)."""

    inputs: Mapping[str, np.ndarray]
    readout: Any
    equilibrium: Any
    horizon_s: float | None
    tests: TestRun


def _simulate_tests(ir: Lowered, notes: list[str], diags: list[Diagnostic]) -> _Runs | None:
    from denseamc.backends.circuit_sim import simulate_circuit

    circuit = ir.circuit
    batch = vector_batch(ir.graph)
    if batch is None:
        return None
    inputs = batch[0]
    at_readout = simulate_circuit(circuit, inputs, deviation=False)
    tests = _judge_tests(ir, at_readout.outputs, diags)
    notes.append(f"simulated on the {tests.vectors} test vectors on the circuit backend "
                 f"({ir.hardware.amplifier} amplifiers) to the readout time; the settle time "
                 "to equilibrium with ideal amplifiers")
    for k in EQUILIBRIUM_HORIZONS:
        t_end = k * circuit.readout_t
        run = simulate_circuit(circuit, inputs, t_end=t_end, ideal=True, deviation=False,
                               swing=False, grid=EQUILIBRIUM_GRID)
        if float(np.max(run.settle_time)) <= 0.5 * t_end:
            return _Runs(inputs, at_readout, run, t_end * circuit.scaling.tau_unit_s, tests)
    notes.append(f"no equilibrium within {EQUILIBRIUM_HORIZONS[-1]:g} readout times: settle "
                 "time unknown; power and latency at the state there")
    return _Runs(inputs, at_readout, run, None, tests)


def analyze_circuit(
    ir: Lowered,
    sim_result: Any | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    max_linearise: int = 32,
) -> CircuitAnalysis:
    """Analyse `ir`. `sim_result` (model or circuit backend) gives the final states; `inputs`
    are the inputs it was run with (needed for select inputs and clamps). Without a result,
    the circuit is simulated on every test vector (module docstring)."""
    notes: list[str] = []
    diags: list[Diagnostic] = []
    tests: TestRun | None = None
    horizon: float | None = None
    final: _Final | None = None
    gbw_req = _gbw_required(ir, diags)
    _check_tau_ratios(ir, diags)
    if sim_result is not None:
        notes.append("settle time toward the state at the end of the given simulation")
        final = _at_final_state(ir, sim_result, inputs, max_linearise, notes, diags, True)
        final = _with_swing(ir, final, sim_result, diags)
    elif (runs := _simulate_tests(ir, notes, diags)) is not None:
        tests, inputs, horizon = runs.tests, runs.inputs, runs.horizon_s
        final = _at_final_state(ir, runs.equilibrium, inputs, max_linearise, notes, diags,
                                horizon is not None)
        final = _with_swing(ir, final, runs.readout, diags)
    else:
        notes.append("no test vectors: latency and settle time unknown, power and energy use "
                     "the |x| = 1 bound")
        final = _bound_without_simulation(ir)
    _warn_late_readout(ir, final, diags)
    return _totals(ir, gbw_req, final, tests, horizon, notes, diags)


@dataclass(frozen=True)
class _Final:
    """What the final state of a simulation (or the |x| = 1 bound) gives."""

    settle_time_sim_s: float | None = None
    slowest_rate_per_s: float | None = None
    latency_model: float | None = None
    latency_s: float | None = None
    capacitors_j: float = 0.0
    crossbars_w: float = 0.0
    swing_v: float | None = None


def _bound_without_simulation(ir: Lowered) -> _Final:
    circuit, s = ir.circuit, ir.circuit.scaling
    final_v2_caps = sum(c.c_f * s.v_unit**2 for c in circuit.cells)  # bound: |x| = 1
    crossbar_power = sum(float(xb.conductance.sum()) for xb in circuit.crossbars) * s.v_unit**2
    return _Final(capacitors_j=final_v2_caps, crossbars_w=crossbar_power)


def _latency(ir: Lowered, states: Mapping[str, np.ndarray], inputs: Mapping[str, Any],
             max_linearise: int, notes: list[str], diags: list[Diagnostic]
             ) -> tuple[float | None, float | None, float | None]:
    """(slowest rate per second, latency in model time, latency in seconds), linearised."""
    graph, circuit, s = ir.graph, ir.circuit, ir.circuit.scaling
    batch = next(iter(states.values())).shape[0]
    selects = {i.name for i in graph.inputs() if i.mode == "select"}
    clamped = {lay.name: lay.clamped for lay in circuit.layers}
    rates = []
    for b in range(min(batch, max_linearise)):
        ib = {k: np.atleast_2d(np.asarray(v))[b] for k, v in inputs.items()}
        final = {k: v[b] for k, v in states.items()}
        rates.append(slowest_rate(graph, final, {k: ib[k] for k in selects}, clamped))
    rate = min(rates) if rates else math.inf
    if batch > max_linearise:
        notes.append(f"latency linearised on the first {max_linearise} of {batch} vectors")
    if rate > 0 and math.isfinite(rate):
        lat = math.log(1 / SETTLE_TOL) / rate
        return _num(rate / s.tau_unit_s), lat, lat * s.tau_unit_s
    if rate <= 0:
        diags.append(warning(
            "the linearised dynamics at the final state are not stable "
            f"(slowest rate {rate:.4g} per model time unit): no predicted latency",
            graph.readout_loc))
    return _num(rate / s.tau_unit_s), None, None


def _at_final_state(ir: Lowered, sim_result: Any, inputs: Mapping[str, Any] | None,
                    max_linearise: int, notes: list[str], diags: list[Diagnostic],
                    settled: bool) -> _Final:
    """Latency, power and capacitor energy at the final state of `sim_result`; its settle time
    when `settled` (the state there is the equilibrium)."""
    graph, circuit, s = ir.graph, ir.circuit, ir.circuit.scaling
    states = {k: np.atleast_2d(np.asarray(v)) for k, v in sim_result.states.items()}
    batch = next(iter(states.values())).shape[0]
    settle = np.asarray(sim_result.settle_time, dtype=float)
    rate_s: float | None = None
    lat_model: float | None = None
    lat_s: float | None = None
    if inputs is not None:
        rate_s, lat_model, lat_s = _latency(ir, states, inputs, max_linearise, notes, diags)
    else:
        notes.append("latency not linearised: the simulated inputs were not given")
    acts = {lay.name: lay.lagrangian.activation(states[lay.name]) for lay in graph.layers()}
    caps = np.zeros(batch)
    for c in circuit.cells:
        if c.c_f > 0 and c.role == "neuron":
            caps += c.c_f * (s.v_unit * states[c.layer][:, c.index]) ** 2
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
    settle_s = _num(float(settle.max()) * s.tau_unit_s) if settled else None
    return _Final(settle_s, rate_s, lat_model, lat_s, float(caps.max()), float(cp.max()))


def _with_swing(ir: Lowered, final: _Final, sim_result: Any, diags: list[Diagnostic]) -> _Final:
    """`final` with the largest swing of `sim_result` (every driven net, every recorded time;
    model results: v_unit x the largest state or activation), warned about at the rails."""
    hw, s = ir.hardware, ir.circuit.scaling
    swing = getattr(sim_result, "max_abs_v", None)
    if swing is None:
        states = [np.asarray(v) for v in sim_result.states.values()]
        acts = [lay.lagrangian.activation(np.atleast_2d(np.asarray(sim_result.states[lay.name])))
                for lay in ir.graph.layers()]
        swing = s.v_unit * max(float(np.abs(v).max(initial=0)) for v in states + acts)
    swing_v = float(np.max(swing))
    if swing_v >= 0.99 * hw.v_rail:
        diags.append(warning(
            f"signals reach {swing_v:.4g} V, at or beyond the rails +-vdd/2 = "
            f"{hw.v_rail!r} V: amplifiers clip there",
            hw.locs.get("v_unit"), "lower v_unit or raise vdd"))
    return _Final(final.settle_time_sim_s, final.slowest_rate_per_s, final.latency_model,
                  final.latency_s, final.capacitors_j, final.crossbars_w, swing_v)


def _warn_late_readout(ir: Lowered, final: _Final, diags: list[Diagnostic]) -> None:
    """Warn when the state settles after the readout time (simulated, else predicted)."""
    readout = ir.circuit.readout_time_s
    t, what = final.settle_time_sim_s, "simulated settle time to the final equilibrium"
    if t is None:
        t, what = final.latency_s, "predicted settle time"
    if t is not None and t > readout:
        diags.append(warning(
            f"the {what} {t:.4g} s is longer than the readout time {readout:.4g} s: outputs "
            f"are read before the state settles to {SETTLE_TOL:g}", ir.graph.readout_loc,
            "read out later if the fixed point is the intended answer"))


def _totals(ir: Lowered, gbw_req: float, final: _Final, tests: TestRun | None,
            horizon: float | None, notes: list[str], diags: list[Diagnostic]
            ) -> CircuitAnalysis:
    circuit, hw, s = ir.circuit, ir.hardware, ir.circuit.scaling
    counts = circuit.counts()
    amp_power = counts["opamps"] * hw.vdd * hw.amp_current
    min_tau_s = min((c.tau_s for c in circuit.cells if c.c_f > 0), default=math.inf)
    slew_req = (final.swing_v if final.swing_v is not None else s.v_unit) / min_tau_s
    if slew_req > hw.slew:
        diags.append(warning(
            f"slew-limited: a swing of {(final.swing_v or s.v_unit):.4g} V in the fastest time "
            f"constant {min_tau_s:.4g} s needs {slew_req:.4g} V/s, the op-amps give "
            f"{hw.slew!r} V/s", hw.locs.get("slew")))
    cap_total = sum(c.c_f for c in circuit.cells)
    area = {
        "devices_m2": counts["conductance_devices"] * hw.area_device,
        "switches_m2": counts["analog_switches"] * hw.area_switch,
        "opamps_m2": counts["opamps"] * hw.area_opamp,
        "capacitors_m2": cap_total / hw.cap_density,
    }
    return CircuitAnalysis(
        gbw_required_hz=gbw_req, settle_time_sim_s=final.settle_time_sim_s,
        settle_horizon_s=horizon,
        slowest_rate_per_s=final.slowest_rate_per_s, latency_model=final.latency_model,
        latency_s=final.latency_s, swing_v=final.swing_v,
        power=Power(amp_power, final.crossbars_w, final.capacitors_j),
        readout_time_s=circuit.readout_time_s, area_m2=area, capacitance_total_f=cap_total,
        tests=tests, notes=tuple(notes), diagnostics=tuple(diags))
