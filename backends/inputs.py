"""Check a batch of input values against the input ops of a model or a circuit.

Every simulator and the netlist stimuli take inputs as a mapping name -> (B, size) values (or
(size,) for B = 1) and pass them through `check_inputs` first, so each gets the same user errors:
a missing input, an input the model does not have, a wrong vector size, non-finite values,
inputs with different batch sizes, and `select` values that are not integers indexing a row of
every table they select from (weights tables of a model, selected crossbars of a circuit).
`check_model_inputs` and `check_circuit_inputs` name those tables for `check_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from denseamc.ir import DenseAMCError, InputOp, ModelGraph, error
from denseamc.ir.circuit import CircuitIR
from numpy.typing import NDArray

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: select input name -> ((table name, number of rows), ...) for every table it indexes
SelectTables = Mapping[str, Sequence[tuple[str, int]]]

_INT_TOL = 1e-9  # how far from an integer a select value may be (a float round trip)


@dataclass(frozen=True)
class InputBatch:
    """Checked inputs: `arrays` name -> (B, size) float64 (select inputs rounded to integers),
    `selects` select input name -> (B, size) int64, `batch` = B (1 when there are no inputs)."""

    arrays: dict[str, Array]
    selects: dict[str, IntArray]
    batch: int


def as_batch(values: object) -> Array:
    """Values as a float64 array with a batch axis: (size,) becomes (1, size)."""
    a = np.asarray(values, dtype=np.float64)
    return a[None, :] if a.ndim == 1 else a


def check_select(inp: InputOp, values: Array, tables: Sequence[tuple[str, int]]) -> IntArray:
    """The integer values of select input `inp`; each must index a row of every table."""
    ints = np.rint(values)
    if not np.all(np.isfinite(values)) or np.any(np.abs(values - ints) > _INT_TOL):
        raise DenseAMCError(error(
            f"select input '{inp.name}' needs integers, got {values.ravel()[:8].tolist()}",
            inp.loc))
    out = ints.astype(np.int64)
    for table, rows in tables:
        if out.size and (out.min() < 0 or out.max() >= rows):
            raise DenseAMCError(error(
                f"select input '{inp.name}' must be in 0..{rows - 1} to index '{table}', got "
                f"{int(out.min())}..{int(out.max())}", inp.loc))
    return out


def _check_one(inp: InputOp, values: object) -> Array:
    a = as_batch(values)
    if a.ndim != 2 or a.shape[1] != inp.size:
        raise DenseAMCError(error(
            f"input '{inp.name}' takes {inp.size} values per vector, got "
            + (f"{a.shape[1]}" if a.ndim == 2 else f"shape {list(a.shape)}"), inp.loc))
    if not np.all(np.isfinite(a)):
        raise DenseAMCError(error(f"input '{inp.name}' has non-finite values", inp.loc))
    return a


def check_inputs(specs: Sequence[InputOp], inputs: Mapping[str, object],
                 tables: SelectTables) -> InputBatch:
    """Check `inputs` against the input ops `specs` (module docstring); raise a user error."""
    arrays: dict[str, Array] = {}
    selects: dict[str, IntArray] = {}
    batch: int | None = None
    for inp in specs:
        if inp.name not in inputs:
            raise DenseAMCError(error(f"no values given for input '{inp.name}'", inp.loc))
        a = _check_one(inp, inputs[inp.name])
        if batch is not None and a.shape[0] != batch:
            raise DenseAMCError(error(
                f"input '{inp.name}' has {a.shape[0]} vectors, the others {batch}", inp.loc))
        batch = a.shape[0]
        if inp.mode == "select":
            selects[inp.name] = check_select(inp, a, tables.get(inp.name, ()))
            a = selects[inp.name].astype(np.float64)
        arrays[inp.name] = a
    extra = sorted(set(inputs) - {i.name for i in specs})
    if extra:
        raise DenseAMCError(error(f"the model has no input {extra[0]!r}"))
    return InputBatch(arrays, selects, batch if batch is not None else 1)


def model_select_tables(graph: ModelGraph) -> SelectTables:
    """Per select input of a model, the weights tables it indexes and their row counts."""
    out: dict[str, list[tuple[str, int]]] = {}
    for w in graph.all_weights():
        if w.select is not None and w.table is not None:
            out.setdefault(w.select, []).append((w.name, int(w.table.shape[0])))
    return out


def check_model_inputs(graph: ModelGraph, inputs: Mapping[str, object]) -> InputBatch:
    """`check_inputs` against a model's input ops and weights tables."""
    return check_inputs(graph.inputs(), inputs, model_select_tables(graph))


def check_circuit_inputs(circuit: CircuitIR, inputs: Mapping[str, object]) -> InputBatch:
    """`check_inputs` against a circuit's input ops and selected crossbars."""
    tables: dict[str, list[tuple[str, int]]] = {}
    for sx in circuit.selected_crossbars:
        tables.setdefault(sx.select, []).append((sx.name, sx.n_options))
    return check_inputs(circuit.inputs, inputs, tables)
