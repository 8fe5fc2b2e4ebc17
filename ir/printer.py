"""A canonical, deterministic text dump of the graph IR (for `--dump-ir-after` and tests)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
from denseamc.ir.circuit import CircuitIR
from denseamc.ir.loc import loc_short
from denseamc.ir.model import (
    Array,
    BiasTerm,
    BilinearTerm,
    LegendreTerm,
    ModelGraph,
)


def fmt_num(x: float) -> str:
    """One float format for every dump: shortest repr that round-trips."""
    return repr(float(x))


def fmt_indices(indices: tuple[int, ...], size: int) -> str:
    if indices == tuple(range(size)):
        return ""
    if indices and indices == tuple(range(indices[0], indices[-1] + 1)):
        return f"[{indices[0]}:{indices[-1] + 1}]"
    return "[" + ", ".join(map(str, indices)) + "]"


def array_summary(a: Array) -> str:
    """Shape, range and a content hash: enough to tell two arrays apart, short enough to read."""
    digest = hashlib.sha256(np.ascontiguousarray(a, dtype="<f8").tobytes()).hexdigest()[:12]
    if a.size == 0:
        return f"shape={list(a.shape)} empty"
    return (
        f"shape={list(a.shape)} min={fmt_num(a.min())} max={fmt_num(a.max())} sha256={digest}"
    )


def dump(graph: ModelGraph) -> str:
    """Return the IR as text, one line per op, in declaration order."""
    out = [f"model {graph.name}"]
    out += [f"param {name} = {fmt_num(value)}" for name, value in graph.params.items()]
    for section in (_weights, _layers, _energy, _inputs, _outputs, _hardware, _tests, _dynamics):
        out += section(graph)
    return "\n".join(out) + "\n"


def _weights(graph: ModelGraph) -> list[str]:
    out = []
    for w in graph.all_weights():
        dims = ", ".join(map(str, w.shape))
        if w.is_selected:
            assert w.table is not None
            body = f"{w.select}-selected rows of table {array_summary(w.table)}"
        else:
            assert w.value is not None
            body = array_summary(w.value)
        out.append(f"weights {w.name}[{dims}] = {body}  # {w.provenance}")
    return out


def _layers(graph: ModelGraph) -> list[str]:
    return [f"layer {layer.name}[{layer.size}]: {layer.lagrangian} "
            f"tau={fmt_num(layer.tau)} init={layer.init}" for layer in graph.layers()]


def _energy(graph: ModelGraph) -> list[str]:
    out = [f"energy {graph.energy_name} ="]
    for t in graph.terms():
        if isinstance(t, LegendreTerm):
            out.append(f"  + legendre({t.layer})")
        elif isinstance(t, BilinearTerm):
            out.append(f"  + {fmt_num(t.coef)} * {t.a} @ {t.weights} @ {t.b}")
        elif isinstance(t, BiasTerm):
            out.append(f"  + {fmt_num(t.coef)} * {t.weights} @ {t.layer}")
    return out


def _inputs(graph: ModelGraph) -> list[str]:
    out = []
    for i in graph.inputs():
        if i.mode == "select":
            out.append(f"input {i.name}[{i.size}]: select")
        else:
            assert i.layer is not None
            sl = fmt_indices(i.indices, graph.layer(i.layer).size)
            out.append(f"input {i.name}[{i.size}]: {i.mode} {i.layer}{sl}")
    return out


def _outputs(graph: ModelGraph) -> list[str]:
    out = []
    for o in graph.outputs():
        sl = fmt_indices(o.indices, graph.layer(o.layer).size)
        if o.kind == "argmax":
            assert o.decoder is not None and o.offset is not None
            out.append(
                f"output {o.name}[{o.size}]: argmax(decoder @ {o.layer} + offset)"
                f"  # decoder {array_summary(o.decoder)}; offset {array_summary(o.offset)}"
            )
        else:
            out.append(f"output {o.name}[{o.size}]: {o.kind}({o.layer}{sl})")
    return [*out, f"readout at t = {fmt_num(graph.readout_t)}"]


def _hardware(graph: ModelGraph) -> list[str]:
    if not graph.hardware:
        return []
    out = ["hardware {"]
    for key in sorted(graph.hardware):
        v = graph.hardware[key].value
        out.append(f"  {key} = {fmt_num(v) if isinstance(v, float) else v}")
    return [*out, "}"]


def _tests(graph: ModelGraph) -> list[str]:
    return [f'test "{block.name}" tol={fmt_num(block.tol)} min_pass={fmt_num(block.min_pass)}'
            f" vectors={len(block.vectors)}" for block in graph.tests]


def _dynamics(graph: ModelGraph) -> list[str]:
    if not graph.dynamics:
        return []
    out = ["dynamics:"]
    for name, d in graph.dynamics.items():
        parts = [
            f"{fmt_num(dr.coef)} * {dr.weights}{'^T' if dr.transpose else ''} @ g({dr.source})"
            for dr in d.drives
        ] + [f"{fmt_num(b.coef)} * {b.weights}" for b in d.biases]
        rhs = " + ".join(parts) if parts else "0"
        out.append(f"  {fmt_num(d.tau)} d{name}/dt = {rhs} - {name}")
    return out


def _fmt_field(value: object) -> str:
    if isinstance(value, np.ndarray):
        return array_summary(value)
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, tuple) and len(value) > 6 and all(isinstance(v, str) for v in value):
        return f"({value[0]}, {value[1]}, ..., {value[-1]}; {len(value)} nets)"
    if isinstance(value, tuple) and len(value) > 6:
        return f"({', '.join(map(str, value[:3]))}, ...; {len(value)} values)"
    return str(value)


def _ideal_default(comp: object, f: dataclasses.Field[object]) -> bool:
    """A realised value (ir.loc.REALISED) at its ideal default: not dumped, so a nominal
    circuit's dump reads as it did before these fields existed."""
    if f.metadata.get("dump") != "unless_default":
        return False
    value = getattr(comp, f.name)
    return value is f.default or (not isinstance(value, np.ndarray) and value == f.default)


def dump_circuit(circuit: CircuitIR) -> str:
    """Return the circuit IR as text: scaling, then one line per component, in IR order."""
    out = [f"circuit {circuit.name}", f"scaling {circuit.scaling}",
           f"amplifier {circuit.amplifier}",
           f"readout at {fmt_num(circuit.readout_time_s)} s (t = {fmt_num(circuit.readout_t)})"]
    if circuit.draw is not None:
        out.append(f"realised draw {circuit.draw[1]} of seed {circuit.draw[0]}")
    for comp in circuit.components():
        names = [f.name for f in dataclasses.fields(comp)
                 if f.name not in ("name", "loc", "op") and not _ideal_default(comp, f)]
        first: tuple[str, ...] = getattr(comp, "dump_first", ())
        fields = [f"{n}={_fmt_field(getattr(comp, n))}"
                  for n in (*first, *(n for n in names if n not in first))]
        where = loc_short(comp.loc)
        out.append(f"{type(comp).__name__} {comp.name}: {' '.join(fields)}"
                   + (f"  # {where}" if where else ""))
    return "\n".join(out) + "\n"
