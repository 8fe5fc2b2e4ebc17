"""The circuit IR: a DenseAM lowered to op-amp cells, activation blocks, crossbars and sources.

This is what every circuit backend consumes (the numpy circuit simulator, SPICE, Verilog-A). It
knows nothing of energies: only nets, devices and their values. All values are SI: ohm, F, S, V,
A, s. Every component keeps the `.dam` span(s) it came from in `loc` and renders it with
`source_line` ("file.dam:12", or "file.dam:12,file.dam:14" for a fused component).

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

Invariants (checked by `verify`):

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
from denseamc.ir.diagnostics import Diagnostic, error
from denseamc.ir.lagrangians import Lagrangian
from denseamc.ir.model import Array, InputOp, OutputOp, TestBlock, frozen_array
from denseamc.ir.span import Span
from numpy.typing import NDArray

Loc: TypeAlias = Span | tuple[Span, ...] | None
Scheme = Literal["dual_rail", "differential", "nonnegative"]
Polarity = Literal["pos", "neg"]

GROUND = "0"
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


def loc_spans(loc: Loc) -> tuple[Span, ...]:
    if loc is None:
        return ()
    return loc if isinstance(loc, tuple) else (loc,)


def loc_short(loc: Loc) -> str:
    """`file.dam:12` (or comma-joined, without repeats, for fused locs); "" when unknown."""
    seen: list[str] = []
    for s in loc_spans(loc):
        t = s.short()
        if t not in seen:
            seen.append(t)
    return ",".join(seen)


def fuse_locs(*locs: Loc) -> Loc:
    """Join several provenances into one (MLIR FusedLoc): a tuple, or a single span, or None."""
    spans: list[Span] = []
    for loc in locs:
        for s in loc_spans(loc):
            if not any(s is t for t in spans):
                spans.append(s)
    if not spans:
        return None
    return spans[0] if len(spans) == 1 else tuple(spans)


class _Located:
    """Mixin: `source_line` renders `loc` as "file.dam:12"."""

    __slots__ = ()

    @property
    def source_line(self) -> str:
        return loc_short(self.loc)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# Components
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class IntegratorCell(_Located):
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
    loc: Loc = None

    @property
    def tau_s(self) -> float:
        """The cell's time constant R_F C_F in seconds (0 for a summing stage)."""
        return self.r_f * self.c_f


@dataclass(frozen=True, slots=True, eq=False)
class Activation(_Located):
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
    loc: Loc = None

    @property
    def lagrangian(self) -> Lagrangian:
        return Lagrangian(self.kind, self.param)

    def transfer(self, v_in: Array) -> Array:
        """+v_unit g(x) from V(in) = -v_unit x; last axis = the layer's neurons."""
        x = -np.asarray(v_in, dtype=np.float64) / self.v_unit
        return self.v_unit * self.lagrangian.activation(x)

    @property
    def amplifiers(self) -> int:
        """Op-amp-equivalent stages this block needs (see the realisations above)."""
        inputs = set(self.in_nets)
        own_n = sum(1 for n in self.out_n_nets if n not in inputs)
        return len(self.out_p_nets) + own_n + (1 if self.kind == "softmax" else 0)


@dataclass(frozen=True, slots=True, eq=False)
class Crossbar(_Located):
    """A resistive array realising one sign of one drive `coef * (W or W^T) @ g(source)`.

    Every nonzero `conductance[r, c]` (siemens) is one device between `row_nets[r]` (a driven
    net) and `col_nets[c]` (a summing node); Kirchhoff sums the currents. `row_index` and
    `col_index` are the neuron indices of `source` and `target` that the rows and columns are.
    polarity "pos": rows carry +v_unit g, columns are the cells' `sum` nodes.
    polarity "neg": dual_rail, rows carry -v_unit g; differential, columns are `sumn` nodes.
    W (coef included) is recovered as G * r_f(target), with the polarity's sign.
    """

    name: str
    weights: str
    source: str
    target: str
    transpose: bool
    polarity: Polarity
    scheme: Scheme
    row_nets: tuple[str, ...]
    col_nets: tuple[str, ...]
    row_index: tuple[int, ...]
    col_index: tuple[int, ...]
    conductance: Array
    loc: Loc = None

    @property
    def devices(self) -> int:
        return int(np.count_nonzero(self.conductance))


@dataclass(frozen=True, slots=True, eq=False)
class SelectedCrossbar(_Located):
    """A crossbar whose lines are chosen by a `select` input through analog switches.

    For weights `TABLE[INPUT]` (row j of W is TABLE[input[j]]): each selected line (a row when
    `axis` is "rows", a column when "cols") has `n_options` candidate conductance vectors,
    `table[k]` (siemens, over the other axis, already restricted to the crossbar's nets), and
    an analog multiplexer controlled by `select[lines[l]]` connects one of them. In the W^T
    direction (driver j of W's rows drives every column) the rows are selected; in the W
    direction (summing node j collects W's row j) the columns are. Nets and polarity as in
    `Crossbar`.
    """

    name: str
    weights: str
    select: str
    axis: Literal["rows", "cols"]
    source: str
    target: str
    transpose: bool
    polarity: Polarity
    scheme: Scheme
    row_nets: tuple[str, ...]
    col_nets: tuple[str, ...]
    row_index: tuple[int, ...]
    col_index: tuple[int, ...]
    lines: tuple[int, ...]
    table: Array
    loc: Loc = None

    @property
    def n_options(self) -> int:
        return int(self.table.shape[0])

    @property
    def devices(self) -> int:
        """Programmed devices: every nonzero table entry, once per selected line."""
        return int(np.count_nonzero(self.table)) * len(self.lines)

    def conductance(self, select_values: NDArray[np.int64]) -> Array:
        """The connected conductances, shape (batch, rows, cols), for select values (batch, n)."""
        sel = np.asarray(select_values, dtype=np.int64)[:, list(self.lines)]
        g = self.table[sel]  # (batch, n_lines, n_other)
        return g if self.axis == "rows" else np.swapaxes(g, 1, 2)


@dataclass(frozen=True, slots=True, eq=False)
class Resistor(_Located):
    """One resistor between two nets (the differential scheme's inverter tie-back)."""

    name: str
    net_a: str
    net_b: str
    ohms: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class CurrentSource(_Located):
    """A constant current `amps` INTO `net` (a summing node) from ground: a bias term."""

    name: str
    net: str
    amps: float
    layer: str = ""
    index: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class VoltageSource(_Located):
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
class InitialCondition(_Located):
    """At t = 0, the cell driving `net` starts at `gain_v * inputs[input][index]` volts."""

    name: str
    net: str
    input: str
    index: int
    gain_v: float
    loc: Loc = None


@dataclass(frozen=True, slots=True, eq=False)
class Readout(_Located):
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
# Shared settings and the container
# ------------------------------------------------------------------------------------------------


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

    def r_f_of(self, layer: str) -> float:
        for name, r in self.r_f:
            if name == layer:
                return r
        raise KeyError(layer)


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

    def layer(self, name: str) -> CircuitLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """Component instances by kind, plus devices (conductances) and op-amps."""
        c = Counter(type(x).__name__ for x in self.components())
        out = {k: c.get(k, 0) for k in sorted(_KIND_NAMES)}
        out["conductance_devices"] = sum(x.devices for x in self.crossbars) + sum(
            x.devices for x in self.selected_crossbars
        )
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


# ------------------------------------------------------------------------------------------------
# Verification
# ------------------------------------------------------------------------------------------------


def _finite(*values: float) -> bool:
    return all(np.isfinite(v) for v in values)


def _allowed_levels(s: Scaling) -> Array | None:
    if s.levels <= 0:
        return None
    if s.levels == 1:
        return np.array([s.g_max])
    return np.linspace(s.g_min, s.g_max, s.levels)


def check_conductances(
    g: Array, s: Scaling, what: str, loc: Loc
) -> list[Diagnostic]:
    """Invariant 2 for one array: finite, >= 0, and 0 or inside the window / on a level."""
    span = loc_spans(loc)[0] if loc_spans(loc) else None
    out: list[Diagnostic] = []
    if not np.all(np.isfinite(g)):
        return [error(f"{what}: non-finite conductance", span)]
    nz = g[g != 0]
    slack = 1e-9 * s.g_max
    if np.any(nz < 0):
        out.append(error(f"{what}: negative conductance {float(nz.min())!r} S", span))
    bad = nz[(nz < s.g_min - slack) | (nz > s.g_max + slack)]
    if bad.size:
        out.append(
            error(
                f"{what}: {bad.size} conductance(s) outside [{s.g_min!r}, {s.g_max!r}] S, "
                f"e.g. {float(bad[0])!r} S",
                span,
            )
        )
    lv = _allowed_levels(s)
    if lv is not None and nz.size:
        dist = np.min(np.abs(nz[:, None] - lv[None, :]), axis=1)
        if np.any(dist > slack):
            out.append(error(f"{what}: conductance off the {s.levels} programmable levels", span))
    return out


def verify(circuit: CircuitIR) -> list[Diagnostic]:
    """Check the module invariants; return every violation (empty when the circuit is sound)."""
    diags: list[Diagnostic] = []

    def bad(msg: str, loc: Loc = None) -> None:
        spans = loc_spans(loc)
        diags.append(error(msg, spans[0] if spans else None))

    # 4. unique names
    names = Counter(c.name for c in circuit.components())
    for n, k in sorted(names.items()):
        if k > 1:
            bad(f"circuit component name {n!r} used {k} times")

    s = circuit.scaling
    if not (_finite(s.v_unit, s.tau_unit_s, s.g_min, s.g_max) and s.v_unit > 0
            and s.tau_unit_s > 0 and 0 <= s.g_min < s.g_max):
        bad(f"bad scaling {s!r}")

    # 3. who drives what
    drivers: Counter[str] = Counter()
    sums: Counter[str] = Counter()
    for cell in circuit.cells:
        drivers[cell.out_net] += 1
        sums[cell.sum_net] += 1
        if not (_finite(cell.r_f, cell.c_f, cell.v0) and cell.r_f > 0 and cell.c_f >= 0):
            bad(f"cell {cell.name}: bad R_F={cell.r_f!r} / C_F={cell.c_f!r} / v0={cell.v0!r}",
                cell.loc)
    for src in circuit.voltage_sources:
        drivers[src.net] += 1
        if not _finite(src.volts, src.gain_v):
            bad(f"voltage source {src.name}: non-finite value", src.loc)
    for act in circuit.activations:
        if not (len(act.out_p_nets) == len(act.in_nets)
                and (not act.out_n_nets or len(act.out_n_nets) == len(act.in_nets))):
            bad(f"activation {act.name}: rail widths differ from its inputs", act.loc)
        for n in act.out_p_nets:
            drivers[n] += 1
        for n in act.out_n_nets:
            if n not in act.in_nets:
                drivers[n] += 1
    for n, k in sorted(drivers.items()):
        if k > 1:
            bad(f"net {n!r} is driven by {k} components")
    for n, k in sorted(sums.items()):
        if k > 1:
            bad(f"summing node {n!r} belongs to {k} cells")
        if n in drivers:
            bad(f"summing node {n!r} is also a driven net")

    def need_driven(nets: Sequence[str], who: str, loc: Loc) -> None:
        for n in nets:
            if n not in drivers:
                bad(f"{who}: net {n!r} is not driven by anything", loc)

    def need_sum(nets: Sequence[str], who: str, loc: Loc) -> None:
        for n in nets:
            if n not in sums:
                bad(f"{who}: net {n!r} is not the summing node of a cell", loc)

    for act in circuit.activations:
        need_driven(act.in_nets, f"activation {act.name}", act.loc)
    arrays: tuple[Crossbar | SelectedCrossbar, ...] = (
        *circuit.crossbars, *circuit.selected_crossbars)
    for xb in arrays:
        need_driven(xb.row_nets, f"crossbar {xb.name}", xb.loc)
        need_sum(xb.col_nets, f"crossbar {xb.name}", xb.loc)
        if len(xb.row_index) != len(xb.row_nets) or len(xb.col_index) != len(xb.col_nets):
            bad(f"crossbar {xb.name}: index tuples do not match its nets", xb.loc)
    for xb in circuit.crossbars:
        if xb.conductance.shape != (len(xb.row_nets), len(xb.col_nets)):
            bad(f"crossbar {xb.name}: conductance shape {xb.conductance.shape} does not match "
                f"{len(xb.row_nets)} rows x {len(xb.col_nets)} columns", xb.loc)
        diags.extend(check_conductances(xb.conductance, s, f"crossbar {xb.name}", xb.loc))
    for sx in circuit.selected_crossbars:
        other = len(sx.col_nets) if sx.axis == "rows" else len(sx.row_nets)
        lines = len(sx.row_nets) if sx.axis == "rows" else len(sx.col_nets)
        if sx.table.ndim != 2 or sx.table.shape[1] != other or len(sx.lines) != lines:
            bad(f"selected crossbar {sx.name}: table shape {sx.table.shape} does not match", sx.loc)
        diags.extend(check_conductances(sx.table, s, f"selected crossbar {sx.name}", sx.loc))
    for r in circuit.resistors:
        if not (_finite(r.ohms) and r.ohms > 0):
            bad(f"resistor {r.name}: bad value {r.ohms!r}", r.loc)
        for n in (r.net_a, r.net_b):
            if n not in drivers and n not in sums:
                bad(f"resistor {r.name}: net {n!r} is floating", r.loc)
    for cs in circuit.current_sources:
        if not _finite(cs.amps):
            bad(f"current source {cs.name}: non-finite value", cs.loc)
        need_sum([cs.net], f"current source {cs.name}", cs.loc)
    for ic in circuit.initial_conditions:
        if not any(c.out_net == ic.net for c in circuit.cells):
            bad(f"initial condition {ic.name}: no cell drives {ic.net!r}", ic.loc)
    for ro in circuit.readouts:
        need_driven(ro.nets, f"readout {ro.name}", ro.loc)
    if not (_finite(circuit.readout_time_s) and circuit.readout_time_s > 0):
        bad(f"readout time {circuit.readout_time_s!r} s is not positive")
    return diags
