"""`v_unit: auto` (the default): the largest v_unit that keeps every node of every test vector
within swing_fraction of the rails, stated in the report; a number works as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends.circuit_sim import simulate_circuit
from denseamc.compiler.cli import main
from denseamc.compiler.passes.scale import FALLBACK_V_UNIT, vector_batch
from denseamc.compiler.pipeline import compile_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _circuit_swing(path: Path, **settings: str) -> tuple[float, float, object]:
    """(v_unit, the circuit backend's largest |V| over every driven net and vector, basis)."""
    comp = compile_model(path, settings=settings)
    circuit = comp.circuit
    batch = vector_batch(comp.graph)
    assert batch is not None
    swing = simulate_circuit(circuit, batch[0]).max_abs_v
    assert swing is not None
    return circuit.scaling.v_unit, float(np.max(swing)), circuit.scaling.v_unit_basis


@pytest.mark.parametrize(("example", "settings"), [
    ("xor", {}),
    ("hamming74", {}),
    ("xor", {"scheme": "differential"}),  # the inverters' outputs count too
    ("xor", {"swing_fraction": "0.5", "vdd": "1.2"}),
])
def test_auto_is_the_largest_v_unit_within_swing_fraction(example: str,
                                                          settings: dict[str, str]) -> None:
    v_unit, swing, basis = _circuit_swing(EXAMPLES / f"{example}.dam", **settings)
    frac = float(settings.get("swing_fraction", 0.8))
    bound = frac * float(settings.get("vdd", 1.8)) / 2
    assert basis is not None
    # within the bound on the circuit (every driven net, every recorded time), and the largest
    # such v_unit up to the rounding down to 3 digits
    assert swing <= bound * (1 + 1e-6)
    assert swing >= bound * 0.99
    assert v_unit * basis.peak == pytest.approx(swing, rel=1e-3)  # type: ignore[attr-defined]


def test_a_number_works_as_before() -> None:
    comp = compile_model(EXAMPLES / "xor.dam", settings={"v_unit": "0.1"})
    assert comp.circuit.scaling.v_unit == 0.1 and comp.circuit.scaling.v_unit_basis is None


def test_report_says_what_auto_chose_and_why(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(EXAMPLES / "xor.dam"), "-o", str(out), "--emit", "report"]) == 0
    rep = json.loads((out / "report.json").read_text())
    sc = rep["scaling"]
    assert sc["v_unit_auto"] is True
    b = sc["v_unit_basis"]
    assert b["net"] and b["block"] == "truth table" and 1 <= b["vector"] <= 4
    assert sc["v_unit_v"] == pytest.approx(0.8 * 0.9 / b["peak_model"], rel=1e-2)
    md = (out / "report.md").read_text()
    assert f"on net {b['net']} (test \"truth table\" vector {b['vector']})" in md


def test_without_test_vectors_auto_falls_back(tmp_path: Path) -> None:
    text = (EXAMPLES / "xor.dam").read_text()
    model = tmp_path / "notests.dam"
    model.write_text(text[:text.index("test \"truth table\"")])
    comp = compile_model(model)
    s = comp.circuit.scaling
    assert s.v_unit == FALLBACK_V_UNIT
    assert s.v_unit_basis is not None and "no test vectors" in s.v_unit_basis.reason
    # a low supply caps the fallback at swing_fraction x vdd/2
    comp = compile_model(model, settings={"vdd": "0.2"})
    assert comp.circuit.scaling.v_unit == pytest.approx(0.8 * 0.1)
