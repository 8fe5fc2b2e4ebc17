"""Physical signal levels: every node of every example's ngspice netlist stays within the rails
(+-vdd/2 around the reference) over the whole transient of every test vector.

The netlists are run as emitted except for their `.save` lines, which are dropped so that ngspice
writes every node (the op-amps' internal nodes included) to its raw file; the largest |V| over
all nodes, time points and vectors is then compared with v_rail. Before the translinear softmax
normaliser (backends/va_primitives.py) the softmax sum node of xor reached 402.7 V.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from denseamc.backends import runners
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import stimuli

EXAMPLES = ("xor", "hamming74", "parity8")


def _largest_node_voltage(text: str) -> tuple[float, str]:
    every_node = "\n".join(line for line in text.splitlines() if not line.startswith(".save"))
    res = runners.run_ngspice(every_node, 60)
    # the supplies sit at the rails by definition: the signal nodes are the question
    nodes = [n for n in res.names if n.startswith("v(") and n not in ("v(vdd)", "v(vss)")]
    assert len(nodes) > 10  # every node was written, not only the usual saves
    return max((float(np.max(np.abs(res[n]))), n) for n in nodes)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_node_within_the_rails(example: str,
                                     example_circuit: Callable[[str], object]) -> None:
    comp, circuit = example_circuit(example)  # type: ignore[misc]
    rail = circuit.amplifier.v_rail
    worst = (0.0, "", -1)
    for b, stim in enumerate(stimuli(circuit, comp.graph.tests[0].stacked_inputs())):
        volts, node = _largest_node_voltage(NgspiceEmitter(circuit, stim,
                                                           energy_probe=False).format())
        worst = max(worst, (volts, node, b))
    volts, node, b = worst
    print(f"{example}: largest |V| {volts:.4g} V at {node} (vector {b + 1}), rails +-{rail} V")
    assert volts <= rail * (1 + 1e-9), f"{node} reaches {volts} V in vector {b + 1}"
