"""The circuit IR: a DenseAM lowered to op-amp cells, activation blocks, crossbars and sources.

This is what every circuit backend consumes (the numpy circuit simulator, SPICE, Verilog-A). It
knows nothing of energies: only nets, devices and their values. All values are SI: ohm, F, S, V,
A, s. Every component keeps the `.dam` span(s) it came from in `loc` (ir/loc.py) and renders it
with `source_line` ("file.dam:12", or "file.dam:12,file.dam:14" for a fused component).
The crossbars (fixed and selected) are in ir/crossbars.py, their switches' algebra in
ir/switches.py.

Nets and naming (one convention, `net(layer, kind, i)` = f"{layer}_{kind}_{i}"; layer names are
`.dam` identifiers, kinds contain no underscore, so a name parses back from the right):

    {L}_sum_{i}   summing node (virtual ground) of neuron i's integrator cell
    {L}_x_{i}     cell output, V = -v_unit * x_i (the state, INVERTED); for a clamped neuron, the
                  clamp's voltage source drives this net instead of a cell
    {L}_gp_{i}    activation output, V = +v_unit * g_i
    {L}_gn_{i}    inverted activation output, V = -v_unit * g_i (dual_rail scheme only, and only
                  for layers that drive a negative weight); for identity layers it IS {L}_x_{i}
    {L}_sumn_{i}  differential scheme: the negative summing node of neuron i (virtual ground of
                  a unity current inverter whose output is {L}_inv_{i})
    {L}_inv_{i}   differential scheme: that inverter's output, tied to {L}_sum_{i} by R_F
    0             ground (the signal reference; with a single supply, the mid-rail reference)

Sign conventions (derived once, used everywhere):

    A cell is an inverting leaky integrator: R_F || C_F from `sum` to `out`, virtual ground at
    `sum`. With I_in the total current INTO the summing node,
        C_F dV_out/dt = -V_out / R_F - I_in
    and with V_out = -v_unit x:
        R_F C_F dx/dt = -x + R_F I_in / v_unit
    so `tau_model * tau_unit = R_F * C_F`, a drive term `w * g_j` is a conductance
    G = |w| / R_F from the net carrying +v_unit g_j (w > 0) or -v_unit g_j (w < 0, dual_rail),
    and a bias term `b` is a current I = b * v_unit / R_F into the summing node.
    C_F = 0 is an adiabatic (tau = 0) summing stage: V_out = -R_F I_in.

Invariants (checked by `ir.circuit_verify.verify`):

1. Every value is finite; r_f > 0, c_f >= 0, conductances >= 0.
2. Every crossbar conductance is 0 (no device) or inside [g_min, g_max] (with a relative slack of
   1e-9); with `levels > 0` it is one of the `levels` evenly spaced values in that window.
3. Every net is driven by exactly one thing (a cell output, an activation output, a voltage
   source), except summing nodes, which belong to exactly one cell; crossbar rows, activation
   inputs and readout nets are driven nets; crossbar columns, current sources and resistor
   ends into a summing node are summing nodes of existing cells.
4. Names are unique; all component tuples are in a deterministic order: layer declaration order,
   then neuron index; crossbars in energy-term order (pos before neg).
5. Arrays are read-only float64; a `Crossbar.conductance` has shape (len(row_nets), len(col_nets));
   a `SelectedCrossbar.table` has shape (n_options, n_other) with n_other the length of the
   unselected axis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from denseamc.ir.crossbars import Crossbar, CrossbarBase, SelectedCrossbar
from denseamc.ir.diagnostics import Diagnostic
from denseamc.ir.lagrangians import Lagrangian, lagrangian_of
from denseamc.ir.loc import REALISED, Loc, Located
from denseamc.ir.model import Array, InputOp, OutputOp, TestBlock, frozen_array
from denseamc.ir.scaling import AmplifierModel, Scaling

#: Net kinds, see the module docstring.
NET_KINDS = ("sum", "x", "gp", "gn", "sumn", "inv")


def net(layer: str, kind: str, index: int) -> str:
    """The name of net `kind` of neuron `index` of `layer` (see the module docstring)."""
    return f"{layer}_{kind}_{index}"


def parse_net(name: str) -> tuple[str, str, int]:
    """Invert `net`: (layer, kind, index). Raises ValueError on ground or a foreign name."""
    layer, kind, index = name.rsplit("_", 2)
    if kind not in NET_KINDS:
        raise ValueError(f"not a denseamc net name: {name!r}")
    return layer, kind, int(index)


# ------------------------------------------------------------------------------------------------
# Components
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class IntegratorCell(Located):
    """An op-amp inverting leaky integrator: R_F || C_F from `sum_net` to `out_net`.

    Node equation (ideal amplifier, `sum_net` a virtual ground, I_in the current into it):
        c_f dV(out)/dt = -V(out)/r_f - I_in          (c_f = 0: V(out) = -r_f I_in)
    role "neuron": V(out) = -v_unit x of neuron `index` of `layer`; it starts at `v0` unless
    `init` is "settled" (start at the target computed from the other layers' initial outputs, in
    hardware a reset phase with this cell's capacitor bypassed) or an `InitialCondition` sets it.
    role "inverter": the differential scheme's unity current inverter (c_f = 0), whose output is
    tied back to the neuron's summing node through a `Resistor` of r_f, injecting -I(sumn).
    """

    name: str
    layer: str
    index: int
    sum_net: str
    out_net: str
    r_f: float
    c_f: float
    v0: float = 0.0
    init: Literal["zero", "settled"] = "zero"
    role: Literal["neuron", "inverter"] = "neuron"
    v_offset: float = field(default=0.0, metadata=REALISED)  # amplifier input offset (V)
    loc: Loc = None

    @property
    def tau_s(self) -> float:
        """The cell's time constant R_F C_F in seconds (0 for a summing stage)."""
        return self.r_f * self.c_f


@dataclass(frozen=True, slots=True, eq=False)
class Activation(Located):
    """The activation amplifiers of one layer: g = dL/dx from the cells' (inverted) outputs.

    Reads V(in_nets[i]) = -v_unit x_i, drives V(out_p_nets[i]) = +v_unit g_i and, when present,
    V(out_n_nets[i]) = -v_unit g_i. One block per layer, because softmax couples its neurons.
    Circuit realisations (the behavioural level is the ideal function; `transfer` below):

    - identity: g = x. out_n is the cell output itself (a wire, no device); out_p is a unity
      inverting amplifier. 1 op-amp per neuron.
    - tanh(gain): a bipolar/subthreshold differential pair (output current I_tail tanh(V/2U_T))
      with input attenuation setting `gain`, and a transimpedance stage scaled to v_unit; the
      inverted rail swaps the pair's outputs. 1 amplifier per rail per neuron.
    - sigmoid(gain): the same differential pair read single-ended (one collector current is
      I_tail sigmoid(V/U_T)). 1 amplifier per rail per neuron.
    - relu: a precision (super-diode) rectifier; its natural output is -v_unit relu(x) = min(V_in,
      0), the out_p rail is an inverter. 1 amplifier per rail per neuron.
    - rectpoly(n): precision rectifier followed by a translinear power-law cell (x^(n-1) as
      exp((n-1) log x)). 1 amplifier per rail per neuron.
    - softmax(beta): per neuron a log-domain exponentiator (subthreshold/bipolar exp(beta x)),
      then a translinear normaliser that divides every current by their sum (Gilbert's
      normaliser); the common mode of x cancels in the ratio, so only differences matter, and
      the sum current sets the scale. 1 amplifier per rail per neuron + 1 normaliser per layer.
    """

    name: str
    layer: str
    kind: str
    param: float | None
    in_nets: tuple[str, ...]
    out_p_nets: tuple[str, ...]
    out_n_nets: tuple[str, ...]
    v_unit: float
    rail_gain: tuple[float, ...] = field(default=(), metadata=REALISED)  # out_p, then out_n
    rail_offset: tuple[float, ...] = field(default=(), metadata=REALISED)  # volts, the same
    loc: Loc = None

    @property
    def lagrangian(self) -> Lagrangian:
        return lagrangian_of(self.kind, self.param)

    def transfer(self, v_in: Array) -> Array:
        """+v_unit g(x) from V(in) = -v_unit x; last axis = the layer's neurons."""
        x = -np.asarray(v_in, dtype=np.float64) / self.v_unit
        return self.v_unit * self.lagrangian.activation(x)

    @property
    def amplifiers(self) -> int:
        """Op-amp-equivalent stages this block needs (see the realisations above)."""
        inputs = set(self.in_nets)
        own_n = sum(1 for n in self.out_n_nets if n not in inputs)
        # a coupled activation (softmax) adds one normaliser per layer
        return len(self.out_p_nets) + own_n + (0 if self.lagrangian.elementwise else 1)


@dataclass(frozen=True, slots=True, eq=False)
class Resistor(Located):
    """One resistor between two nets (the differential scheme's inverter tie-back)."""

    name: str
    net_a: str
    net_b: str
    ohms: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class CurrentSource(Located):
    """A constant current `amps` INTO `net` (a summing node) from ground: a bias term."""

    name: str
    net: str
    amps: float
    layer: str = ""
    index: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class VoltageSource(Located):
    """Holds `net` at `volts + gain_v * inputs[input][index]`: a clamped neuron (gain_v = -v_unit).

    The clamped neuron has no integrator cell; its activation still runs from this net.
    """

    name: str
    net: str
    volts: float
    input: str
    index: int
    gain_v: float
    layer: str = ""
    neuron: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class InitialCondition(Located):
    """At t = 0, the cell driving `net` starts at `gain_v * inputs[input][index]` volts."""

    name: str
    net: str
    input: str
    index: int
    gain_v: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class Readout(Located):
    """Where output `op.name` is read: `nets` carry +v_unit g of `op.layer` at `op.indices`
    (every neuron for argmax); decoding is the abstract op's rule applied to V / v_unit."""

    name: str
    op: OutputOp
    nets: tuple[str, ...]
    loc: Loc = None


Component = (
    IntegratorCell
    | Activation
    | Crossbar
    | SelectedCrossbar
    | Resistor
    | CurrentSource
    | VoltageSource
    | InitialCondition
    | Readout
)


# ------------------------------------------------------------------------------------------------
# The container (its amplifier model and scaling are in ir/scaling.py)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CircuitLayer:
    """What the circuit remembers of an abstract layer (for decoding, reports and checks)."""

    name: str
    size: int
    lagrangian: Lagrangian
    tau: float
    init: Literal["zero", "settled"]
    clamped: tuple[int, ...] = ()
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class WeightMapping:
    """How one crossbar's weights survived the device window (model units, coef included).

    lost: |G| < g_min rounded to 0 (no device); raised: rounded up to g_min; clipped: |G| > g_max
    cut to g_max; quantised: moved to the nearest level. Errors are |w_realised - w| over the
    whole array (selected tables: over all their options).
    """

    crossbar: str
    weights: str
    entries: int
    devices: int
    lost: int
    raised: int
    clipped: int
    max_abs_error: float
    rms_error: float
    max_abs_weight: float
    loc: Loc = None


@dataclass(frozen=True, eq=False)
class CircuitIR:
    """A whole lowered circuit. Component tuples are in deterministic order (invariant 4)."""

    name: str
    layers: tuple[CircuitLayer, ...]
    cells: tuple[IntegratorCell, ...]
    activations: tuple[Activation, ...]
    crossbars: tuple[Crossbar, ...]
    selected_crossbars: tuple[SelectedCrossbar, ...]
    resistors: tuple[Resistor, ...]
    current_sources: tuple[CurrentSource, ...]
    voltage_sources: tuple[VoltageSource, ...]
    initial_conditions: tuple[InitialCondition, ...]
    readouts: tuple[Readout, ...]
    inputs: tuple[InputOp, ...]
    amplifier: AmplifierModel
    scaling: Scaling
    readout_t: float
    readout_time_s: float
    mappings: tuple[WeightMapping, ...] = ()
    tests: tuple[TestBlock, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    source_name: str = ""
    meta: Mapping[str, float] = field(default_factory=dict)
    draw: tuple[int, int] | None = None  # (seed, draw) if realised: exempt from invariant 2

    def components(self) -> Iterator[Component]:
        """Every component, kind by kind, in a fixed order."""
        yield from self.cells
        yield from self.activations
        yield from self.crossbars
        yield from self.selected_crossbars
        yield from self.resistors
        yield from self.current_sources
        yield from self.voltage_sources
        yield from self.initial_conditions
        yield from self.readouts

    @property
    def arrays(self) -> tuple[CrossbarBase, ...]:
        """Every crossbar: the fixed ones, then the selected ones."""
        return (*self.crossbars, *self.selected_crossbars)

    def layer(self, name: str) -> CircuitLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """Component instances by kind, plus devices (conductances) and op-amps."""
        c = Counter(type(x).__name__ for x in self.components())
        out = {k: c.get(k, 0) for k in sorted(_KIND_NAMES)}
        out["conductance_devices"] = sum(x.devices for x in self.arrays)
        out["analog_switches"] = sum(
            x.n_options * len(x.lines) for x in self.selected_crossbars
        )
        out["capacitors"] = sum(1 for x in self.cells if x.c_f > 0)
        out["opamps"] = len(self.cells) + sum(a.amplifiers for a in self.activations)
        return out


_KIND_NAMES = (
    "IntegratorCell", "Activation", "Crossbar", "SelectedCrossbar", "Resistor", "CurrentSource",
    "VoltageSource", "InitialCondition", "Readout",
)


def read_only(a: object) -> Array:
    """Alias of `frozen_array` for circuit arrays."""
    return frozen_array(a)
