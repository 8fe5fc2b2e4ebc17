"""How a lowered circuit is made physical: its amplifier model and its scaling of model units.

Both are shared settings of a whole `CircuitIR` (ir/circuit.py): every op-amp uses the one
`AmplifierModel`, and `Scaling` says how model states, times, weights and biases became volts,
seconds, siemens and amperes (chosen by compiler/passes/scale.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How signed weights are realised with non-negative conductances (see ir/circuit.py).
Scheme = Literal["dual_rail", "differential", "nonnegative"]


@dataclass(frozen=True, slots=True)
class AmplifierModel:
    """Every op-amp of the circuit. `ideal`: infinite gain and bandwidth, no rails, no slew.

    Otherwise a single-pole amplifier A(s) = a0 / (1 + s a0 / (2 pi gbw_hz)), output clipped to
    +-v_rail (= vdd/2 around the reference) and slew-limited to slew_v_per_s.
    """

    ideal: bool = True
    a0: float = 1e4
    gbw_hz: float = 1e9
    v_rail: float = 0.9
    slew_v_per_s: float = 1e9


@dataclass(frozen=True, slots=True)
class SwingBasis:
    """Why `v_unit = auto` chose its value (compiler/passes/scale.py).

    `peak` is the largest |signal| in model units over every node and recorded time of the test
    vectors' model simulation: on net `net`, in vector `vector` (from 1) of test `block`.
    v_unit = min(swing_fraction * v_rail / peak, v_rail), rounded down to 3 digits. Without a
    simulated signal (`net` empty) `reason` says which fallback was used.
    """

    peak: float
    net: str
    block: str
    vector: int
    swing_fraction: float
    v_rail: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Scaling:
    """How model quantities became physical ones (see compiler/passes/scale docs).

    x [model] -> V = -v_unit x;  t [model] -> t * tau_unit_s;  w -> G = |w| / r_f(target layer);
    bias b -> I = b v_unit / r_f. `r_f` maps each layer to its cells' feedback resistor.
    """

    v_unit: float
    tau_unit_s: float
    tau_unit_auto: bool
    r_f: tuple[tuple[str, float], ...]
    g_min: float
    g_max: float
    levels: int
    scheme: Scheme
    tau_margin: float = 10.0
    #: Set when v_unit was chosen by `v_unit = auto`: the signal that set it.
    v_unit_basis: SwingBasis | None = None

    def r_f_of(self, layer: str) -> float:
        for name, r in self.r_f:
            if name == layer:
                return r
        raise KeyError(layer)
