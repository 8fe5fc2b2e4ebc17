"""Run a circuit's netlist on a real simulator and compare every node with the circuit backend.

`run_spice(circuit, inputs, timeout_s)` prints one ngspice netlist per batch element
(`NgspiceEmitter`, input values substituted as source values, `.ic` lines and switch-control
levels) and runs it through `runners.run_ngspice`. `run_veriloga(circuit, inputs, timeout_s)`
compiles the Verilog-A primitives the circuit uses with openvaf-r (once per process, cached) and
runs one VACASK netlist (`VacaskEmitter`) per batch element through `runners.run_vacask`. Both use
a small thread pool (one simulator process per core); each process runs in a fresh temporary
directory with a clean environment and a timeout (see `backends/runners.py`).

Both return a `NetlistRun`: node voltages at the readout time (the last transient point, which
is exactly the readout time), the states x = -V(x net)/v_unit per layer, the outputs decoded by
the circuit backend's rule (`circuit_result.decode`: sign / value / argmax of g = V(gp)/v_unit),
the energy at the readout time in model units (`circuit_energy.circuit_energy` on the saved
voltages; with `run_spice(..., energy_probe=True)` the netlist's own `b_energy` B-source, the
same formula), and the wall time of each simulator run (process start to raw file read, with
as many runs in parallel as there are cores).

`compare_with_circuit` holds a run against the numpy circuit simulator (`circuit_sim`): the
decoded outputs must be equal and every saved net within `tol_v_unit` (default 1 %) of v_unit;
it names the worst net, the component driving it and that component's `.dam` line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from denseamc.backends.circuit_energy import circuit_energy
from denseamc.backends.circuit_result import CircuitSimResult, decode
from denseamc.backends.naming import Namer, provenance
from denseamc.backends.netlist_facts import saved_nets
from denseamc.backends.rawfile import RawResult
from denseamc.backends.runners import SimulatorError, compile_va, run_ngspice, run_vacask
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import Stimulus, stimuli
from denseamc.backends.veriloga import VacaskEmitter, va_modules
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.loc import Loc
from numpy.typing import NDArray

Array = NDArray[np.float64]

__all__ = ["Comparison", "NetlistRun", "compare_with_circuit", "run_spice", "run_veriloga"]


@dataclass
class NetlistRun:
    """Results of one backend on a batch of B input vectors (arrays float64).

    voltages: IR net -> (B,) volts at the readout time (every layer's x, gp and gn nets).
    states: layer -> (B, n) model units. outputs: output name -> (B, size), decoded.
    energy: (B,) model units at the readout time. wall_s: (B,) seconds per simulator run.
    netlists: the text that was run for each batch element.
    """

    backend: str
    voltages: dict[str, Array]
    states: dict[str, Array]
    outputs: dict[str, Array]
    energy: Array
    wall_s: Array
    t_readout_s: float
    points: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    netlists: list[str] = field(default_factory=list, repr=False)


@dataclass
class _ElementRun:
    """What one simulator run of one batch element gives: saved net voltages at the readout
    time, the energy there, the wall time and the number of transient points."""

    volts: dict[str, float]
    energy: float
    wall_s: float
    points: int


def _workers(batch: int) -> int:
    return max(1, min(batch, os.cpu_count() or 1))


def _run_batch(circuit: CircuitIR, inputs: Mapping[str, object], backend: str,
               one: Callable[[Stimulus], tuple[str, _ElementRun]]) -> NetlistRun:
    """Run `one` (netlist text and result of one batch element) on every element's stimulus,
    one simulator process per core, and gather the batch in model units."""
    stims = stimuli(circuit, inputs)
    with ThreadPoolExecutor(max_workers=_workers(len(stims))) as pool:
        results = list(pool.map(one, stims))
    nets = saved_nets(circuit)
    volts = {n: np.array([r.volts[n] for _, r in results]) for n in nets}
    vu = circuit.scaling.v_unit
    states = {layer.name: np.stack([-volts[f"{layer.name}_x_{i}"] / vu
                                    for i in range(layer.size)], axis=1)
              for layer in circuit.layers}
    drv = {n: k for k, n in enumerate(nets)}
    v_mat = np.stack([volts[n] for n in nets], axis=1)
    return NetlistRun(
        backend=backend, voltages=volts, states=states, outputs=decode(circuit, v_mat, drv),
        energy=np.array([r.energy for _, r in results]),
        wall_s=np.array([r.wall_s for _, r in results]),
        t_readout_s=circuit.readout_time_s,
        points=np.array([r.points for _, r in results], dtype=np.int64),
        netlists=[text for text, _ in results],
    )


def run_spice(circuit: CircuitIR, inputs: Mapping[str, object], timeout_s: float = 60.0, *,
              energy_probe: bool = False, opamp: str | None = None) -> NetlistRun:
    """Simulate every batch element of `inputs` (name -> (B, size)) with ngspice.

    With `energy_probe` the netlists carry the `b_energy` B-source and the energy is its value;
    without (the default: the probe's long expression triples ngspice's run time on Hamming and
    is an instrument, not part of the circuit) it is `circuit_energy` of the saved voltages.
    `opamp`: the user's `dam_opamp` subcircuit (`spice.user_opamp`) instead of the built-in one.
    """
    nets = saved_nets(circuit)

    def one(stim: Stimulus) -> tuple[str, _ElementRun]:
        namer = Namer()
        text = NgspiceEmitter(circuit, stim, namer=namer, loc_comments=False,
                              energy_probe=energy_probe, opamp=opamp).format()
        names = {n: f"v({namer.net(n)})" for n in nets}
        e_name = f"v({namer.net('energy')})"
        expect = [*names.values(), *([e_name] if energy_probe else [])]
        t0 = time.perf_counter()
        res = run_ngspice(text, timeout_s, expect=expect)
        wall = time.perf_counter() - t0
        volts = _readout_volts(circuit, res, names, "ngspice")
        e = float(res[e_name][-1]) if energy_probe else _energy(circuit, volts, stim)
        return text, _ElementRun(volts, e, wall, res.points)

    return _run_batch(circuit, inputs, "spice", one)


def run_veriloga(circuit: CircuitIR, inputs: Mapping[str, object],
                 timeout_s: float = 60.0) -> NetlistRun:
    """Simulate every batch element of `inputs` with openvaf-r + VACASK."""
    nets = saved_nets(circuit)
    va = va_modules(circuit, energy_probe=False)  # E from the saved voltages (`_energy`)
    for name, text in va.items():  # compile once, outside the timed runs
        compile_va(name, text, timeout_s)

    def one(stim: Stimulus) -> tuple[str, _ElementRun]:
        namer = Namer()
        text = VacaskEmitter(circuit, stim, namer=namer, loc_comments=False,
                             energy_probe=False).format()
        names = {n: namer.net(n) for n in nets}
        t0 = time.perf_counter()
        res = run_vacask(text, va, timeout_s, expect=list(names.values()))
        wall = time.perf_counter() - t0
        volts = _readout_volts(circuit, res, names, "vacask")
        return text, _ElementRun(volts, _energy(circuit, volts, stim), wall, res.points)

    return _run_batch(circuit, inputs, "veriloga", one)


def _readout_volts(circuit: CircuitIR, res: RawResult, names: Mapping[str, str],
                   simulator: str) -> dict[str, float]:
    """IR net -> volts at the readout time, which must be the transient's last point;
    `names` maps each IR net to its vector in the simulator's raw file."""
    t, t_end = res.time, circuit.readout_time_s
    if t.size == 0 or abs(float(t[-1]) - t_end) > 1e-6 * t_end:
        raise SimulatorError(f"{simulator}: the transient ended at "
                             f"{float(t[-1]) if t.size else 0.0!r} s, not at the readout "
                             f"time {t_end!r} s")
    return {n: float(res[v][-1]) for n, v in names.items()}


def _energy(circuit: CircuitIR, volts: Mapping[str, float], stim: Stimulus) -> float:
    """The circuit's energy (model units) from the saved voltages at the readout time."""
    return float(circuit_energy(circuit, {n: np.array(v) for n, v in volts.items()},
                                stim.selects))


# ------------------------------------------------------------------------------------------------
# comparison with the circuit backend
# ------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """How a netlist run agrees with the circuit backend on the same inputs."""

    backend: str
    worst_dev_v_unit: float  # max |V_run - V_circuit| / v_unit over saved nets and batch
    worst_net: str
    worst_vector: int
    worst_source: str  # "xor.dam:7" of the component driving worst_net ("" if unknown)
    outputs_equal: bool
    output_mismatches: list[str]
    tol_v_unit: float
    mean_wall_s: float
    max_wall_s: float

    @property
    def ok(self) -> bool:
        return self.outputs_equal and self.worst_dev_v_unit <= self.tol_v_unit

    def lines(self) -> list[str]:
        verdict = "agrees" if self.ok else "DISAGREES"
        where = f" ({self.worst_source})" if self.worst_source else ""
        out = [
            (f"{self.backend} {verdict} with the circuit backend: worst node {self.worst_net}"
             f"{where} in vector {self.worst_vector + 1}, |dV| = {self.worst_dev_v_unit:.3g} "
             f"v_unit (limit {self.tol_v_unit:g}); decoded outputs "
             f"{'equal' if self.outputs_equal else 'DIFFER'}"),
            (f"{self.backend} wall time per inference: mean {self.mean_wall_s * 1e3:.1f} ms, "
             f"max {self.max_wall_s * 1e3:.1f} ms"),
        ]
        out += self.output_mismatches[:5]
        return out


def _driver_loc(circuit: CircuitIR, ir_net: str) -> Loc:
    for cell in circuit.cells:
        if ir_net in (cell.out_net, cell.sum_net):
            return cell.loc
    for act in circuit.activations:
        if ir_net in act.out_p_nets or ir_net in act.out_n_nets:
            return act.loc
    for vs in circuit.voltage_sources:
        if vs.net == ir_net:
            return vs.loc
    return None


def compare_with_circuit(circuit: CircuitIR, run: NetlistRun, ref: CircuitSimResult,
                         tol_v_unit: float = 0.01) -> Comparison:
    """Compare `run` with the circuit backend's result `ref` on the same inputs.

    Nets: max |V_run - V_ref| / v_unit over every saved net and vector must be <= tol_v_unit.
    Outputs: sign and argmax outputs must be equal, value outputs within tol_v_unit.
    """
    vu = circuit.scaling.v_unit
    worst, worst_net, worst_b = -1.0, "", 0
    for n, v in run.voltages.items():
        if n not in ref.voltages:
            continue
        dev = np.abs(v - ref.voltages[n]) / vu
        b = int(np.argmax(dev))
        if float(dev[b]) > worst:
            worst, worst_net, worst_b = float(dev[b]), n, b
    mismatches: list[str] = []
    kinds = {ro.op.name: ro.op.kind for ro in circuit.readouts}
    for name, got in run.outputs.items():
        exp = ref.outputs[name]
        if kinds.get(name) == "value":  # continuous: within the same tolerance as the nets
            bad = np.any(np.abs(got - exp) > tol_v_unit, axis=1)
        else:  # sign and argmax: exactly
            bad = np.any(got != exp, axis=1)
        for k in np.flatnonzero(bad):
            mismatches.append(f"  vector {k + 1}: output {name} = {got[k].tolist()} on "
                              f"{run.backend}, {exp[k].tolist()} on circuit")
    return Comparison(
        backend=run.backend, worst_dev_v_unit=max(worst, 0.0), worst_net=worst_net,
        worst_vector=worst_b, worst_source=provenance(_driver_loc(circuit, worst_net)),
        outputs_equal=not mismatches, output_mismatches=mismatches, tol_v_unit=tol_v_unit,
        mean_wall_s=float(run.wall_s.mean()) if run.wall_s.size else 0.0,
        max_wall_s=float(run.wall_s.max()) if run.wall_s.size else 0.0,
    )
