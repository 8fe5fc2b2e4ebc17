"""Spectre's own Monte Carlo netlist (`veriloga/MODEL_mc.scs`, backends/spectre_statistics.py).

Spectre cannot run here, so the netlist is read structurally: its statistics block (balanced,
every varied parameter declared and used, each std the hardware setting, distributions Spectre
documents), the wrapper subcircuits (their formulas are realise.py's), and the instances, which
must be the nominal Spectre netlist's own with only the varied elements wrapped. A `--draw`
netlist must change exactly what the statistics netlist varies. VACASK's netlist is untouched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from denseamc.backends import spectre_statistics as st
from denseamc.backends.emit import scan_emitted
from denseamc.compiler.cli import main
from denseamc.compiler.outputs import emit
from denseamc.compiler.passes import realise
from denseamc.compiler.pipeline import compile_model

ROOT = Path(__file__).resolve().parent.parent
ALL = {"g_sigma": "0.03", "offset_sigma": "1m", "c_sigma": "0.02", "act_gain_sigma": "0.01",
       "act_offset_sigma": "2m"}
#: The `vary ... dist=` names the Spectre reference documents.
SPECTRE_DISTRIBUTIONS = {"gauss", "lnorm", "unif"}
_INSTANCE = re.compile(r"^(\S+) \(([^)]*)\) (\S+)((?: \S+=\S+)*)$")


def _files(example: str, settings: dict[str, str], draw: tuple[int, int] | None = None
           ) -> tuple[dict[str, str], object]:
    comp = compile_model(ROOT / "examples" / f"{example}.dam", settings=settings)
    return dict(emit(comp, ["veriloga"], draw)), comp.hardware


@dataclass
class Netlist:
    """A Spectre text read back: instances per scope ("" = top level), subcircuit bodies,
    top-level parameters, and the statistics block's vary statements."""

    instances: dict[tuple[str, str], tuple[str, dict[str, str]]]
    subckts: dict[str, list[str]]
    parameters: dict[str, str]
    varies: dict[str, dict[str, str]]


def _logical_lines(text: str) -> list[str]:
    """Lines without comments, continuations joined."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("//") or not line.strip():
            continue
        if out and out[-1].endswith(" \\"):
            out[-1] = out[-1][:-2] + " " + line.strip()
        else:
            out.append(line)
    return out


def _read(files: dict[str, str], top: str) -> Netlist:
    text = files[top]
    folder = top.rsplit("/", 1)[0]
    lines: list[str] = []
    for line in _logical_lines(text):  # include files in place
        m = re.fullmatch(r'include "([^"]+)"', line)
        lines += _logical_lines(files[f"{folder}/{m.group(1)}"]) if m else [line]
    net = Netlist({}, {}, {}, {})
    scope, depth, block = "", 0, []
    for line in lines:
        if depth or line.startswith("statistics {"):
            depth += line.count("{") - line.count("}")
            assert depth >= 0, "unbalanced braces in the statistics block"
            block.append(line.strip())
            if depth == 0:
                net.varies = _statistics(block)
            continue
        if line.startswith("subckt "):
            scope = line.split()[1]
            assert scope not in net.subckts, f"subckt {scope} defined twice"
            net.subckts[scope] = []
        elif line.startswith("ends "):
            assert line == f"ends {scope}"
            scope = ""
        elif line.startswith("parameters "):
            params = dict(f.split("=", 1) for f in line.split()[1:])
            (net.parameters if not scope else {}).update(params)
        elif (m := _INSTANCE.match(line)) is not None:
            name, _nodes, master, rest = m.groups()
            key = (scope, name)
            assert key not in net.instances, f"instance {key} written twice"
            net.instances[key] = (master, dict(f.split("=", 1) for f in rest.split()))
            if scope:
                net.subckts[scope].append(line)
    assert depth == 0 and not scope, "unterminated statistics block or subckt"
    return net


def _statistics(block: list[str]) -> dict[str, dict[str, str]]:
    """`statistics { mismatch { vary P k=v ... } }` -> {P: {k: v}}; nothing else inside."""
    assert block[:2] == ["statistics {", "mismatch {"] and block[-2:] == ["}", "}"], block
    varies: dict[str, dict[str, str]] = {}
    for line in block[2:-2]:
        words = line.split()
        assert words[0] == "vary" and words[1] not in varies, line
        varies[words[1]] = dict(w.split("=", 1) for w in words[2:])
    return varies


def _wrapped(mc: Netlist) -> dict[str, tuple[str, set[str]]]:
    """Each wrapper subcircuit -> (the master it holds, the parameters it sets from a varied
    parameter)."""
    out = {}
    for name, body in mc.subckts.items():
        inner = [mc.instances[(name, _INSTANCE.match(line).group(1))] for line in body]
        if len(inner) != 1:
            continue
        master, params = inner[0]
        set_by = {k for k, v in params.items() if any(re.search(rf"\b{p}\b", v)
                                                        for p in mc.varies)}
        if set_by:
            out[name] = (master, set_by)
    return out


@pytest.mark.parametrize("example", ["xor", "hamming74", "parity8"])
def test_the_statistics_block_varies_each_setting_with_its_value(example: str) -> None:
    files, hw = _files(example, ALL)
    mc = _read(files, f"veriloga/{example}_mc.scs")
    assert set(mc.varies) == {m.param for m in st.MISMATCHES}
    by_param = {m.param: m for m in st.MISMATCHES}
    bodies = "\n".join(line for body in mc.subckts.values() for line in body)
    for param, fields in mc.varies.items():
        assert fields["dist"] in SPECTRE_DISTRIBUTIONS and fields["dist"] == "gauss"
        assert float(fields["std"]) == getattr(hw, by_param[param].key) > 0
        assert mc.parameters[param] == "0.0"  # declared at the top level, nominal 0
        assert re.search(rf"\b{param}\b", bodies), f"{param} is varied but never used"
    wrappers = _wrapped(mc)
    used = {master for master, _ in mc.instances.values()}
    assert set(wrappers) <= used, "a wrapper subcircuit nothing instantiates"
    # the commented-out analysis runs tran1's transient under mismatch variation
    text = files[f"veriloga/{example}_mc.scs"]
    tran = re.search(r"^tran1 tran (.*)$", text, re.M)
    assert tran and f"//     mctran tran {tran.group(1)}\n" in text
    assert re.search(r"^// mc1 montecarlo numruns=\d+ seed=\d+ variations=mismatch .*\{$",
                     text, re.M)


@pytest.mark.parametrize("key", sorted({m.key for m in st.MISMATCHES}))
def test_only_the_settings_that_are_set_are_varied(key: str) -> None:
    files, _ = _files("xor", {key: ALL[key]})
    mc = _read(files, "veriloga/xor_mc.scs")
    assert set(mc.varies) == {m.param for m in st.MISMATCHES if m.key == key}
    assert {p for p in mc.parameters if p.startswith("dam_")} == set(mc.varies)


@pytest.mark.parametrize("settings", [{}, {"p_stuck_off": "0.01", "r_wire": "1",
                                           "g_noise": "0.01"}])
def test_no_monte_carlo_netlist_without_a_setting_spectre_can_vary(settings: dict[str, str]
                                                                   ) -> None:
    files, _ = _files("xor", settings)
    assert "veriloga/xor.scs" in files and "veriloga/xor_mc.scs" not in files


def test_a_draw_writes_the_draw_not_the_statistics() -> None:
    files, _ = _files("xor", ALL, draw=(0, 1))
    assert "veriloga/xor.scs" in files and "veriloga/xor_mc.scs" not in files


def test_what_is_not_varied_is_said_in_the_netlist() -> None:
    files, _ = _files("xor", {**ALL, "p_stuck_on": "0.01"})
    text = files["veriloga/xor_mc.scs"]
    for key in st.NOT_VARIED:
        assert key in text.split("statistics {")[1]
    assert "p_stuck_on = 0.01" in text and "--draw K" in text


@pytest.mark.parametrize("example", ["xor", "parity8"])
def test_the_other_netlists_are_byte_identical_and_every_file_is_safe(example: str) -> None:
    files, _ = _files(example, ALL)
    nominal, _ = _files(example, {})
    assert {p: t for p, t in files.items() if not p.endswith("_mc.scs")} == nominal
    assert set(files) - set(nominal) == {f"veriloga/{example}_mc.scs"}
    scan_emitted(files)  # every file, the statistics netlist too
    again, _ = _files(example, ALL)
    assert again == files  # deterministic


@pytest.mark.parametrize("example", ["hamming74", "parity8"])
def test_the_instances_are_the_nominal_ones_with_the_varied_ones_wrapped(example: str) -> None:
    """Every crossbar device (selected lines' too), capacitor, op-amp and activation of the
    nominal Spectre netlist is once in the statistics netlist, with the same values, its master
    a wrapper of the nominal master; nothing else changes."""
    files, _ = _files(example, ALL)
    nominal = _read(files, f"veriloga/{example}.scs")
    mc = _read(files, f"veriloga/{example}_mc.scs")
    wrappers = _wrapped(mc)
    mc_own = {k: v for k, v in mc.instances.items() if k[0] not in wrappers}
    assert set(mc_own) == set(nominal.instances)
    kinds: dict[str, int] = {}
    for key, (master, params) in nominal.instances.items():
        mc_master, mc_params = mc_own[key]
        assert mc_params == params, key  # the same nominal values (r = 1/G, c, ...)
        if mc_master != master:
            assert wrappers[mc_master][0] == master, key
            kinds[master] = kinds.get(master, 0) + 1
    devices = sum(1 for (scope, _), (m, _) in nominal.instances.items()
                  if m == "resistor" and scope.startswith("xb_"))
    assert kinds["resistor"] == devices > 0  # every crossbar device, no other resistor
    for kind in ("capacitor", "dam_opamp"):
        assert kinds[kind] == sum(1 for m, _ in nominal.instances.values() if m == kind)
    # and every activation module instance; switches, sources, the energy probe and the
    # instances of the netlist's own subcircuits (crossbars, cells, activation blocks) never
    assert set(kinds) == {m for m, _ in nominal.instances.values()
                          if m not in ("vsource", "isource", "dam_switch", "dam_energy")
                          and m not in nominal.subckts}
    assert "dam_switch" not in kinds


@pytest.mark.parametrize("settings", [ALL, *({k: v} for k, v in ALL.items())],
                         ids=["all", *ALL])
@pytest.mark.parametrize("example", ["xor", "parity8"])
def test_a_draw_changes_exactly_what_the_statistics_vary(example: str,
                                                         settings: dict[str, str]) -> None:
    files, _ = _files(example, settings)
    nominal = _read(files, f"veriloga/{example}.scs")
    mc = _read(files, f"veriloga/{example}_mc.scs")
    wrappers = _wrapped(mc)
    draw_files, _ = _files(example, settings, draw=(0, 3))
    draw = _read(draw_files, f"veriloga/{example}.scs")
    assert set(draw.instances) == set(nominal.instances)
    changed = {}
    for key, (master, params) in nominal.instances.items():
        d_master, d_params = draw.instances[key]
        assert d_master == master
        diff = {k for k in params.keys() | d_params.keys() if params.get(k) != d_params.get(k)}
        if diff:
            changed[key] = diff
    varied = {key: wrappers[master][1] for key, (master, _) in mc.instances.items()
              if master in wrappers}
    assert changed and set(changed) == set(varied)
    for key, params in changed.items():
        assert params <= varied[key], key  # the draw changes only what the wrapper varies


def _spectre_value(expr: str, **names: float) -> float:
    """A wrapper's value expression evaluated (Spectre's exp and max are Python's)."""
    return float(eval(expr, {"__builtins__": {}, "exp": math.exp, "max": max}, names))


def test_the_wrapper_formulas_are_realise_s() -> None:
    """At the nominal point each wrapper is its nominal element; at a mismatch value z it is
    what realise.py draws for z = sigma * N(0, 1) (compiler/passes/realise.py's docstring)."""
    files, _ = _files("xor", ALL)
    mc = _read(files, "veriloga/xor_mc.scs")
    device = mc.instances[(st.DEVICE, "r0")][1]["r"]
    cap = mc.instances[(st.CAPACITOR, "c0")][1]["c"]
    for z in (0.0, 0.1, -0.2):
        g = 1e-5
        assert _spectre_value(device, r=1 / g, dam_g_mm=z) == pytest.approx(1 / (g * math.exp(z)))
        assert _spectre_value(cap, c=2e-12, dam_c_mm=z) == pytest.approx(2e-12 * (1 + z))
    assert _spectre_value(cap, c=2e-12, dam_c_mm=-5.0) == pytest.approx(2e-12 * st.C_FLOOR)
    assert st.C_FLOOR == realise._C_FLOOR
    for name, (master, _) in _wrapped(mc).items():
        if master.startswith("dam_") and master != "dam_opamp":
            body = mc.instances[(name, "x0")][1]
            for rail in ("p", "n"):
                assert _spectre_value(body[f"gain_{rail}"], **{f"dam_act_gain_{rail}_mm": 0.1}
                                      ) == pytest.approx(1.1)
                assert body[f"off_{rail}"] == f"dam_act_off_{rail}_mm"
    assert mc.instances[("dam_opamp_mm", "x0")][1]["v_os"] == "dam_os_mm"


def test_vacask_still_runs_with_a_variation_set(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(ROOT / "examples" / "xor.dam"), "--backend", "veriloga",
                 "--set", "g_sigma=0.02"])
    assert code == 0, capsys.readouterr()
