"""The graph IR verifier: sound graphs pass, each broken invariant is reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from denseamc.compiler.passes.circuit_builder import CircuitBuilder
from denseamc.compiler.passes.lower_cells import LowerCells
from denseamc.compiler.pipeline import compile_model
from denseamc.ir import (
    BilinearTerm,
    InputOp,
    InternalCompilerError,
    Lagrangian,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    OutputOp,
    WeightsOp,
    frozen_array,
)
from denseamc.ir.verify import verify

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["xor", "hamming74", "parity8"])
def test_examples_verify_clean_after_every_stage(name: str) -> None:
    comp = compile_model(EXAMPLES / f"{name}.dam")
    assert verify(comp.graph) == []


def test_a_pass_that_breaks_the_circuit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The circuit is verified after each lowering pass, not only at the end."""
    lower_cells = LowerCells.run

    def twice(self: LowerCells, circuit: CircuitBuilder, /) -> None:
        lower_cells(self, circuit)
        circuit.cells.append(circuit.cells[0])  # a duplicate name and a net driven twice

    monkeypatch.setattr(LowerCells, "run", twice)
    comp = compile_model(EXAMPLES / "xor.dam")
    first = "error: circuit component name 'cell_v_2' used 2 times"  # v_0, v_1 are clamped
    with pytest.raises(InternalCompilerError, match=f"^after lower-cells:\n{first}"):
        _ = comp.circuit


def base() -> ModelGraph:
    g = ModelGraph("t")
    g.add(LayerOp("v", 3, Lagrangian("identity")))
    g.add(LayerOp("h", 2, Lagrangian("softmax", 1.0)))
    g.add(WeightsOp("w", (2, 3), value=frozen_array(np.ones((2, 3)))))
    g.add(LegendreTerm("v"))
    g.add(LegendreTerm("h"))
    g.add(BilinearTerm(-1.0, "h", "w", "v"))
    return g


def messages(g: ModelGraph) -> str:
    return "\n".join(d.message for d in verify(g))


def test_sound_graph_passes() -> None:
    assert verify(base()) == []


def test_writable_or_misshaped_weights_are_caught() -> None:
    g = base()
    g.add(WeightsOp("u", (2, 2), value=np.zeros((2, 2))))  # writable
    g.add(WeightsOp("z", (3,), value=frozen_array(np.zeros(2))))
    text = messages(g)
    assert "weights 'u'" in text and "weights 'z'" in text


def test_inputs_driving_one_neuron_twice_or_out_of_range_are_caught() -> None:
    g = base()
    g.add(InputOp("a", 2, "clamp", "v", (0, 1)))
    g.add(InputOp("b", 1, "init", "v", (1,)))
    g.add(InputOp("c", 1, "init", "v", (7,)))
    text = messages(g)
    assert "neuron v[1] driven by 'a' and 'b'" in text
    assert "input 'c' drives bad neurons" in text


def test_bad_argmax_decoder_and_readout_time_are_caught() -> None:
    g = base()
    g.add(OutputOp("o", 1, "argmax", "v", (0, 1, 2), frozen_array(np.ones((2, 2))),
                   frozen_array(np.zeros(2))))
    g.readout_t = 0.0
    text = messages(g)
    assert "decoder of the wrong shape" in text and "readout time 0.0" in text
