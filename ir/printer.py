"""A canonical, deterministic text dump of the graph IR (for `--dump-ir-after` and tests)."""

from __future__ import annotations

import hashlib

import numpy as np
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
    for name, value in graph.params.items():
        out.append(f"param {name} = {fmt_num(value)}")
    for w in graph.all_weights():
        dims = ", ".join(map(str, w.shape))
        if w.is_selected:
            assert w.table is not None
            body = f"{w.select}-selected rows of table {array_summary(w.table)}"
        else:
            assert w.value is not None
            body = array_summary(w.value)
        out.append(f"weights {w.name}[{dims}] = {body}  # {w.provenance}")
    for layer in graph.layers():
        out.append(
            f"layer {layer.name}[{layer.size}]: {layer.lagrangian} "
            f"tau={fmt_num(layer.tau)} init={layer.init}"
        )
    out.append(f"energy {graph.energy_name} =")
    for t in graph.terms():
        if isinstance(t, LegendreTerm):
            out.append(f"  + legendre({t.layer})")
        elif isinstance(t, BilinearTerm):
            out.append(f"  + {fmt_num(t.coef)} * {t.a} @ {t.weights} @ {t.b}")
        elif isinstance(t, BiasTerm):
            out.append(f"  + {fmt_num(t.coef)} * {t.weights} @ {t.layer}")
    for i in graph.inputs():
        if i.mode == "select":
            out.append(f"input {i.name}[{i.size}]: select")
        else:
            assert i.layer is not None
            sl = fmt_indices(i.indices, graph.layer(i.layer).size)
            out.append(f"input {i.name}[{i.size}]: {i.mode} {i.layer}{sl}")
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
    out.append(f"readout at t = {fmt_num(graph.readout_t)}")
    if graph.hardware:
        out.append("hardware {")
        for key in sorted(graph.hardware):
            v = graph.hardware[key].value
            out.append(f"  {key} = {fmt_num(v) if isinstance(v, float) else v}")
        out.append("}")
    for block in graph.tests:
        out.append(
            f'test "{block.name}" tol={fmt_num(block.tol)} min_pass={fmt_num(block.min_pass)}'
            f" vectors={len(block.vectors)}"
        )
    if graph.dynamics:
        out.append("dynamics:")
        for name, d in graph.dynamics.items():
            parts = [
                f"{fmt_num(dr.coef)} * {dr.weights}{'^T' if dr.transpose else ''} @ g({dr.source})"
                for dr in d.drives
            ] + [f"{fmt_num(b.coef)} * {b.weights}" for b in d.biases]
            rhs = " + ".join(parts) if parts else "0"
            out.append(f"  {fmt_num(d.tau)} d{name}/dt = {rhs} - {name}")
    return "\n".join(out) + "\n"


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


def dump_circuit(circuit: object) -> str:
    """Return the circuit IR as text: scaling, then one line per component, in IR order."""
    import dataclasses

    from denseamc.ir.circuit import CircuitIR, loc_short

    assert isinstance(circuit, CircuitIR)
    out = [f"circuit {circuit.name}", f"scaling {circuit.scaling}",
           f"amplifier {circuit.amplifier}",
           f"readout at {fmt_num(circuit.readout_time_s)} s (t = {fmt_num(circuit.readout_t)})"]
    for comp in circuit.components():
        fields = [
            f"{f.name}={_fmt_field(getattr(comp, f.name))}"
            for f in dataclasses.fields(comp)
            if f.name not in ("name", "loc", "op")
        ]
        where = loc_short(comp.loc)
        out.append(f"{type(comp).__name__} {comp.name}: {' '.join(fields)}"
                   + (f"  # {where}" if where else ""))
    return "\n".join(out) + "\n"
