"""The graph IR: a DenseAM as typed ops on a directed multigraph, behind the `ModelGraph` facade.

Nodes are ops keyed by stable ids derived from the source (`layer.v`, `weights.xi`, `term.2`,
`input.x`, `output.y`). Edges say what uses what: weights -> term, term -> layer (port `a`, `b` or
`bias`), input -> layer, layer -> output, and after energy analysis `drive` edges layer -> layer.
Walks are in declaration order, never in dict order after mutation, so dumps are deterministic.

The facade keeps nodes and edges in plain dicts (the passes only add, replace and look up), and
`ModelGraph.nx` gives the same graph as a networkx `MultiDiGraph` for graph algorithms and
dumps. networkx is imported there, on first use: importing it costs ~0.07 s, a large part of a
short command such as `denseamc check --backend model`, which needs none of its algorithms.

Energy convention (one place, used by every pass): a bilinear term contributes
`coef * g_a^T W g_b` to E and a bias term `coef * w^T g_layer`; `- h @ xi @ v` has coef -1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from denseamc.ir.diagnostics import InternalCompilerError
from denseamc.ir.lagrangians import Lagrangian
from denseamc.ir.span import Span
from numpy.typing import NDArray

if TYPE_CHECKING:
    import networkx as nx

Array = NDArray[np.float64]
InputMode = Literal["clamp", "init", "select"]
OutputKind = Literal["sign", "argmax", "value"]


def frozen_array(a: object) -> Array:
    """Return a read-only float64 copy: IR arrays never change after elaboration."""
    arr = np.array(a, dtype=np.float64)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class LayerOp:
    """A neuron layer: state x (a capacitor voltage per neuron), Lagrangian, tau, initial state.

    tau = 0 means adiabatic (no capacitor; the state is always at its target).
    init is "zero" or "settled" (start at the target computed from the other layers).
    """

    name: str
    size: int
    lagrangian: Lagrangian
    tau: float = 1.0
    init: Literal["zero", "settled"] = "zero"
    loc: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class WeightsOp:
    """A constant array, or rows of a constant table chosen by a `select` input.

    Constant: `value` is set. Selected (`TABLE[INPUT]`): `table` and `select` are set and the
    array's row j is `table[input[j]]`, so its value depends on the input vector.
    `provenance` says where the numbers came from (a literal, a file, an expression).
    """

    name: str
    shape: tuple[int, ...]
    value: Array | None = None
    table: Array | None = None
    select: str | None = None
    provenance: str = ""
    loc: Span | None = None

    @property
    def is_selected(self) -> bool:
        return self.select is not None

    def resolve(self, selects: Mapping[str, NDArray[np.int64]] | None = None) -> Array:
        """The numbers: shape `shape` if constant, `(batch,) + shape` if selected.

        `selects` maps a select input's name to its integer values, shape (batch, rows).
        """
        if self.value is not None:
            return self.value
        if self.table is None or self.select is None:
            raise InternalCompilerError(f"weights {self.name!r} has neither value nor table")
        if selects is None or self.select not in selects:
            raise InternalCompilerError(f"weights {self.name!r} needs input {self.select!r}")
        return self.table[np.asarray(selects[self.select], dtype=np.int64)]


@dataclass(frozen=True, slots=True, eq=False)
class LegendreTerm:
    """`legendre(layer)` = x . g(x) - L(x): each layer's own energy, exactly once, with +."""

    layer: str
    loc: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class BilinearTerm:
    """`coef * g_a^T W g_b`; W has shape [|a|, |b|]. `a == b` is a self-coupling."""

    coef: float
    a: str
    weights: str
    b: str
    loc: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class BiasTerm:
    """`coef * w^T g_layer`; w has shape [|layer|]."""

    coef: float
    weights: str
    layer: str
    loc: Span | None = None


EnergyTerm = LegendreTerm | BilinearTerm | BiasTerm


@dataclass(frozen=True, slots=True, eq=False)
class InputOp:
    """An input vector: clamps neurons, sets their initial state, or selects weight rows.

    `indices` are the neurons of `layer` it drives (empty for select inputs).
    """

    name: str
    size: int
    mode: InputMode
    layer: str | None = None
    indices: tuple[int, ...] = ()
    loc: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class OutputOp:
    """What is read at the readout time, from the layer's activation g.

    sign: sign(g[indices]); value: g[indices]; argmax: argmax(decoder @ g + offset), one integer.
    """

    name: str
    size: int
    kind: OutputKind
    layer: str
    indices: tuple[int, ...] = ()
    decoder: Array | None = None
    offset: Array | None = None
    loc: Span | None = None

    def decode(self, g: Array) -> Array:
        """The output values, shape (B, size), from the read activations g[:, indices] (B, k).

        The one decoding rule every backend uses: numpy sign (so 0 stays 0), the values
        themselves, or argmax(decoder @ g + offset) as a float index.
        """
        g = np.asarray(g, dtype=np.float64)
        if self.kind == "sign":
            return np.sign(g)
        if self.kind == "value":
            return g.copy()
        if self.kind == "argmax":
            scores = g if self.decoder is None else g @ self.decoder.T
            if self.offset is not None:
                scores = scores + self.offset
            index: Array = np.argmax(scores, axis=-1).astype(np.float64)[:, None]
            return index
        raise InternalCompilerError(f"unknown output kind {self.kind!r}")


@dataclass(frozen=True, slots=True, eq=False)
class TestVector:
    """One line of a test block: input values -> expected output values."""

    __test__ = False  # not a pytest class

    inputs: Mapping[str, Array]
    outputs: Mapping[str, Array]
    loc: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class TestBlock:
    """A named list of test vectors; passes when the fraction `min_pass` of them pass."""

    __test__ = False  # not a pytest class

    name: str
    vectors: tuple[TestVector, ...]
    tol: float = 0.01
    min_pass: float = 1.0
    loc: Span | None = None

    def stacked_inputs(self) -> dict[str, Array]:
        """The block's vectors as one batch: input name -> (vectors, size) float64."""
        names = list(self.vectors[0].inputs) if self.vectors else []
        return {n: np.stack([np.asarray(v.inputs[n], dtype=np.float64) for v in self.vectors])
                for n in names}


@dataclass(frozen=True, slots=True, eq=False)
class HardwareSetting:
    """One `KEY = VALUE` of a `hardware { }` block (or a profile file), kept with its location."""

    key: str
    value: float | str
    loc: Span | None = None


@dataclass(frozen=True, slots=True)
class Drive:
    """One input of a layer's dynamics: `coef * W @ g_source`, or `coef * W^T @ g_source`."""

    source: str
    weights: str
    coef: float
    transpose: bool
    loc: Span | None = None


@dataclass(frozen=True, slots=True)
class BiasDrive:
    """A constant input of a layer's dynamics: `coef * w`."""

    weights: str
    coef: float
    loc: Span | None = None


@dataclass(frozen=True, slots=True)
class LayerDynamics:
    """`tau dx/dt = sum(drives) + sum(biases) - x`, i.e. -dE/dg(x) of the declared energy."""

    layer: str
    tau: float
    drives: tuple[Drive, ...]
    biases: tuple[BiasDrive, ...]


Op = LayerOp | WeightsOp | EnergyTerm | InputOp | OutputOp

_PREFIX = {
    LayerOp: "layer",
    WeightsOp: "weights",
    InputOp: "input",
    OutputOp: "output",
    LegendreTerm: "term",
    BilinearTerm: "term",
    BiasTerm: "term",
}


@dataclass(eq=False)
class ModelGraph:
    """A whole DenseAM. Passes go through these methods, never through the stored graph."""

    name: str
    readout_t: float = 1.0
    readout_loc: Span | None = None
    energy_name: str = "E"
    params: dict[str, float] = field(default_factory=dict)
    hardware: dict[str, HardwareSetting] = field(default_factory=dict)
    tests: list[TestBlock] = field(default_factory=list)
    dynamics: dict[str, LayerDynamics] = field(default_factory=dict)
    source_name: str = ""
    #: node id -> op, in declaration order (`replace` keeps a node's place)
    _nodes: dict[str, Op] = field(default_factory=dict, repr=False)
    #: node id -> its incoming edges as (source id, port), each once, in the order added
    _in_edges: dict[str, dict[tuple[str, str], None]] = field(default_factory=dict, repr=False)
    _terms: int = 0

    # -- building -------------------------------------------------------------------------------
    def add(self, op: Op) -> str:
        """Add an op, wire its uses, and return its node id."""
        prefix = _PREFIX[type(op)]
        if prefix == "term":
            node_id = f"term.{self._terms}"
            self._terms += 1
        else:
            node_id = f"{prefix}.{op.name}"  # type: ignore[union-attr]
        if node_id in self._nodes:
            raise InternalCompilerError(f"duplicate IR node {node_id!r}")
        self._nodes[node_id] = op
        self._in_edges[node_id] = {}
        self._wire(node_id, op)
        return node_id

    def _wire(self, node_id: str, op: Op) -> None:
        if isinstance(op, LegendreTerm):
            self._edge(node_id, f"layer.{op.layer}", "a")
        elif isinstance(op, BilinearTerm):
            self._edge(f"weights.{op.weights}", node_id, "w")
            self._edge(node_id, f"layer.{op.a}", "a")
            self._edge(node_id, f"layer.{op.b}", "b")
        elif isinstance(op, BiasTerm):
            self._edge(f"weights.{op.weights}", node_id, "w")
            self._edge(node_id, f"layer.{op.layer}", "bias")
        elif isinstance(op, InputOp) and op.layer is not None:
            self._edge(node_id, f"layer.{op.layer}", op.mode)
        elif isinstance(op, OutputOp):
            self._edge(f"layer.{op.layer}", node_id, "read")
        elif isinstance(op, WeightsOp) and op.select is not None:
            self._edge(f"input.{op.select}", node_id, "select")

    def _edge(self, src: str, dst: str, port: str) -> None:
        """Add the edge src -> dst on `port`; adding it again changes nothing (one edge per
        (src, dst, port), as a multigraph keyed by port)."""
        for n in (src, dst):
            if n not in self._nodes:
                raise InternalCompilerError(f"IR edge to missing node {n!r}")
        self._in_edges[dst][(src, port)] = None

    def add_drive_edge(self, source: str, target: str) -> None:
        """Record that `source`'s activation drives `target`'s dynamics."""
        self._edge(f"layer.{source}", f"layer.{target}", "drive")

    def replace(self, node_id: str, op: Op) -> None:
        """Swap the op at a node for a new one of the same kind (edges are kept)."""
        if type(self.op(node_id)) is not type(op):
            raise InternalCompilerError(f"replace changes the kind of {node_id!r}")
        self._nodes[node_id] = op

    @property
    def nx(self) -> nx.MultiDiGraph:
        """The graph as a new networkx `MultiDiGraph` (for graph algorithms and dumps): nodes
        in declaration order with attributes `op` and `order`, edges keyed by their port (with
        attribute `port`). Changing it does not change the IR."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for order, (node_id, op) in enumerate(self._nodes.items()):
            g.add_node(node_id, op=op, order=order)
        for dst, edges in self._in_edges.items():
            for src, port in edges:
                g.add_edge(src, dst, key=port, port=port)
        return g

    # -- reading --------------------------------------------------------------------------------
    def has(self, node_id: str) -> bool:
        return node_id in self._nodes

    def op(self, node_id: str) -> Op:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise InternalCompilerError(f"no IR node {node_id!r}") from None

    def node_ids(self) -> list[str]:
        """Every node id in declaration order."""
        return list(self._nodes)

    def _ops(self, kind: type) -> Iterator:  # type: ignore[type-arg]
        for op in self._nodes.values():
            if isinstance(op, kind):
                yield op

    def layers(self) -> list[LayerOp]:
        return list(self._ops(LayerOp))

    def layer(self, name: str) -> LayerOp:
        op = self.op(f"layer.{name}")
        assert isinstance(op, LayerOp)
        return op

    def all_weights(self) -> list[WeightsOp]:
        return list(self._ops(WeightsOp))

    def weights(self, name: str) -> WeightsOp:
        op = self.op(f"weights.{name}")
        assert isinstance(op, WeightsOp)
        return op

    def terms(self) -> list[EnergyTerm]:
        return list(self._ops((LegendreTerm, BilinearTerm, BiasTerm)))  # type: ignore[arg-type]

    def inputs(self) -> list[InputOp]:
        return list(self._ops(InputOp))

    def input(self, name: str) -> InputOp:
        op = self.op(f"input.{name}")
        assert isinstance(op, InputOp)
        return op

    def outputs(self) -> list[OutputOp]:
        return list(self._ops(OutputOp))

    def drive_sources(self, layer: str) -> list[str]:
        """Layers whose activations drive `layer`, sorted by name."""
        return sorted(
            src.split(".", 1)[1]
            for src, port in self._in_edges.get(f"layer.{layer}", {})
            if port == "drive"
        )

    def layer_of_input(self, layer: str, mode: InputMode) -> list[InputOp]:
        return [i for i in self.inputs() if i.layer == layer and i.mode == mode]
