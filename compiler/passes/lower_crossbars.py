"""Lower every drive to crossbars (one per sign) and every bias to current sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from denseamc.compiler.passes.circuit_builder import (
    CircuitBuilder,
    free_neurons,
)
from denseamc.compiler.passes.scale import (
    device_table,
    has_switch_loss,
    program_table,
    switch_headroom_r_f,
)
from denseamc.ir import (
    DenseAMCError,
    Diagnostic,
    Drive,
    ModelGraph,
    error,
    warning,
)
from denseamc.ir.circuit import (
    CurrentSource,
    IntegratorCell,
    Resistor,
    WeightMapping,
    net,
    read_only,
)
from denseamc.ir.crossbars import Crossbar, Polarity, SelectedCrossbar
from denseamc.ir.hardware import Hardware
from denseamc.ir.loc import fuse_locs
from denseamc.ir.model import Array


def neg_rail_net(graph: ModelGraph, layer: str, i: int) -> str:
    """The net carrying -v_unit g_i: the cell output itself for identity layers."""
    kind = graph.layer(layer).lagrangian.kind
    return net(layer, "x" if kind == "identity" else "gn", i)


@dataclass(frozen=True)
class LowerCrossbars:
    """Realise `coef * (W or W^T) @ g(source)` into each layer with conductances; biases too.

    Contract: needs `circuit.scaling` and the cells. For drive number k into layer T from S, the
    ideal conductances are G = |M| / R_F(T) with M = coef * (W or W^T) oriented [T, S], split by
    sign and mapped onto the device window (scale.map_to_devices). Rows are S's neurons, columns
    T's free (unclamped) neurons. Per scheme:

    - dual_rail: `xb{k}_..._pos` from S's gp rails, `..._neg` from S's inverted rails (S is
      marked in `neg_rail_layers` so its activation drives them), both into T's `sum` nodes;
    - differential: `..._neg` from the gp rails into T's `sumn` nodes, and T's neurons get a
      unity current inverter cell `inv_{T}_{i}` plus a tie-back resistor R_F(T);
    - nonnegative: one array; a negative entry is a located error (all of them raised at once).

    Selected weights (`TABLE[INPUT]`) become `SelectedCrossbar`s: columns selected in the W
    direction, rows in the W^T direction. Behind non-ideal switches (r_on > 0 or r_off finite)
    the table is programmed so that each option, through its switch, realises the mapped
    conductances (`ir.switches.switch_compensated`), then quantised to the levels; a programmed
    device above g_max is clipped and warned about like a clipped weight (`scale` leaves the
    headroom with r_f = auto, so only a user-set r_f can).
    Crossbars with no device are not emitted. Every drive
    adds one `WeightMapping` and warnings for lost or clipped weights. Biases: one
    `CurrentSource` `ibias_{T}_{i}` of sum(coef * w_i) * v_unit / R_F(T) per free neuron with a
    nonzero bias.
    """

    name: ClassVar[str] = "lower-crossbars"
    kind: ClassVar[Literal["transform", "analysis"]] = "transform"

    def run(self, circuit: CircuitBuilder, /) -> None:
        graph, hw = circuit.graph, circuit.hw
        errors: list[Diagnostic] = []
        k = 0
        for layer in graph.layers():
            needs_inverter = False
            for d in graph.dynamics[layer.name].drives:
                needs_inverter |= self._drive(graph, circuit, hw, d, layer.name, k, errors)
                k += 1
            if needs_inverter:
                self._inverters(graph, circuit, layer.name)
            self._biases(graph, circuit, layer.name, errors)
        if errors:
            raise DenseAMCError(errors)

    # -- drives -----------------------------------------------------------------------------------
    def _drive(self, graph: ModelGraph, circuit: CircuitBuilder, hw: Hardware, d: Drive,
               target: str, k: int, errors: list[Diagnostic]) -> bool:
        """Lower one drive; return whether it needs the differential inverters of `target`."""
        s = circuit.need_scaling()
        r_f = s.r_f_of(target)
        w_op = graph.weights(d.weights)
        src, tgt = d.source, target
        rows_all = tuple(range(graph.layer(src).size))
        cols_free = free_neurons(graph, tgt)
        ideal = device_table(graph, d, tgt)
        if hw.scheme == "nonnegative" and np.any(ideal < 0):
            errors.append(self._negative_error(graph, d, ideal))
            return False
        # Only what becomes devices (`device_table`: no column into a clamped neuron, and a
        # selected table once per selected line, each line having its own device set), so the
        # mapping's counts are the netlists' and the tables' (CircuitIR.counts)
        copies = 1
        if w_op.is_selected:
            copies = len(rows_all) if d.transpose else len(cols_free)
        switches = w_op.is_selected and has_switch_loss(hw)
        prog = program_table(ideal, r_f, hw, switches)
        g_pos, g_neg, real, st_p, st_n = prog.g_pos, prog.g_neg, prog.real, prog.pos, prog.neg
        base = f"xb{k}_{d.weights}_{d.source}_{target}"
        clipped = prog.clipped
        fits = None  # behind switches: the r_f at which every compensated device fits
        if switches:
            fits = max(switch_headroom_r_f(np.maximum(ideal, 0.0), hw),
                       switch_headroom_r_f(np.maximum(-ideal, 0.0), hw))
        err = np.abs(real - ideal)
        mapping = WeightMapping(
            crossbar=base, weights=d.weights, entries=int(ideal.size) * copies,
            devices=(st_p.devices + st_n.devices) * copies,
            lost=(st_p.lost + st_n.lost) * copies, raised=(st_p.raised + st_n.raised) * copies,
            clipped=clipped * copies,
            max_abs_error=float(err.max()) if err.size else 0.0,
            rms_error=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
            max_abs_weight=float(np.abs(ideal).max()) if ideal.size else 0.0, loc=d.loc,
        )
        circuit.mappings.append(mapping)
        self._mapping_warnings(circuit, hw, mapping, r_f, fits)

        neg_used = bool(np.any(g_neg > 0))
        for pol, g in (("pos", g_pos), ("neg", g_neg)):
            if not np.any(g > 0):
                continue
            polarity: Polarity = pol  # type: ignore[assignment,unused-ignore]
            row_nets, col_nets = self._nets(graph, hw, src, tgt, polarity, rows_all, cols_free)
            loc = fuse_locs(d.loc, w_op.loc)
            if w_op.is_selected:
                assert w_op.select is not None
                if d.transpose:  # rows = W's rows: each driver row chosen by select[j]
                    axis, lines, table = "rows", rows_all, g
                else:  # cols = W's rows: each summing column chosen by select[i]
                    axis, lines, table = "cols", cols_free, g
                circuit.selected_crossbars.append(SelectedCrossbar(
                    name=f"{base}_{pol}", weights=d.weights, select=w_op.select,
                    axis=axis,  # type: ignore[arg-type,unused-ignore]
                    source=src, target=tgt, transpose=d.transpose, polarity=polarity,
                    scheme=hw.scheme, row_nets=row_nets, col_nets=col_nets, row_index=rows_all,
                    col_index=cols_free, lines=tuple(lines), table=read_only(table), loc=loc,
                    r_on=hw.r_on, r_off=hw.r_off,
                ))
            else:
                circuit.crossbars.append(Crossbar(
                    name=f"{base}_{pol}", weights=d.weights, source=src, target=tgt,
                    transpose=d.transpose, polarity=polarity, scheme=hw.scheme,
                    row_nets=row_nets, col_nets=col_nets, row_index=rows_all,
                    col_index=cols_free, conductance=read_only(g), loc=loc,
                ))
        if neg_used and hw.scheme == "dual_rail":
            circuit.neg_rail_layers.add(src)
        return neg_used and hw.scheme == "differential"

    @staticmethod
    def _nets(graph: ModelGraph, hw: Hardware, src: str, tgt: str, pol: Polarity,
              rows: tuple[int, ...], cols: tuple[int, ...]) -> tuple[tuple[str, ...], ...]:
        if pol == "neg" and hw.scheme == "dual_rail":
            row_nets = tuple(neg_rail_net(graph, src, j) for j in rows)
        else:
            row_nets = tuple(net(src, "gp", j) for j in rows)
        sum_kind = "sumn" if pol == "neg" and hw.scheme == "differential" else "sum"
        return row_nets, tuple(net(tgt, sum_kind, i) for i in cols)

    @staticmethod
    def _negative_error(graph: ModelGraph, d: Drive, ideal: Array) -> Diagnostic:
        w_op = graph.weights(d.weights)
        count = int(np.sum(ideal < 0))
        where = np.argwhere(ideal < 0)[0]
        notes = [
            ("scheme = nonnegative builds one conductance per weight, so every weight "
             "(times the term's sign) must be >= 0"),
            ("use scheme = dual_rail or differential, or make the weights non-negative "
             "(e.g. square them)"),
        ]
        if w_op.loc is not None:
            notes.append(f"'{d.weights}' is declared at {w_op.loc.location()}")
        what = "table entry" if w_op.is_selected else "entry"
        return error(
            f"scheme nonnegative cannot build a negative weight: '{d.weights}' drives "
            f"'{d.source}' -> layer with {count} negative {what}(s) (coef included), "
            f"first at {tuple(int(x) for x in where)} = {float(ideal[tuple(where)])!r}",
            d.loc, *notes,
        )

    @staticmethod
    def _mapping_warnings(circuit: CircuitBuilder, hw: Hardware, m: WeightMapping, r_f: float,
                          fits: float | None) -> None:
        """Lost, raised and clipped weights; `fits` (behind select switches): the r_f at which
        every compensated device fits below g_max."""
        loc = m.loc if not isinstance(m.loc, tuple) else m.loc[0]
        if m.lost or m.raised:
            circuit.diagnostics.append(warning(
                f"'{m.weights}' ({m.crossbar}): {m.lost} weight(s) below g_min/2 are lost "
                f"(no device) and {m.raised} rounded up to g_min = {hw.g_min!r} S; worst weight "
                f"error {m.max_abs_error!r}",
                loc,
                f"weights below g_min * R_F = {hw.g_min * r_f!r} cannot be programmed; "
                "lower g_min or raise r_f",
            ))
        if m.clipped and fits is not None:
            circuit.diagnostics.append(warning(
                f"'{m.weights}' ({m.crossbar}): {m.clipped} device(s) behind select switches "
                f"need more than g_max = {hw.g_max!r} S and are clipped to it; worst weight "
                f"error {m.max_abs_error!r}",
                hw.locs.get("r_f") or loc,
                (f"an option's devices share one switch (r_on = {hw.r_on!r} ohm) and realise "
                 "G / (1 + r_on sum G); lowering programs G / (1 - r_on sum G) to compensate"),
                (f"use r_f = auto (it leaves this headroom), or r_f >= {fits!r} ohm, or a "
                 "smaller r_on"),
            ))
        elif m.clipped:
            circuit.diagnostics.append(warning(
                f"'{m.weights}' ({m.crossbar}): {m.clipped} weight(s) above g_max * r_f = "
                f"{hw.g_max * r_f!r} are clipped to g_max = {hw.g_max!r} S",
                hw.locs.get("r_f") or loc,
                "use r_f = auto, or a larger r_f",
            ))

    # -- differential inverters and biases ------------------------------------------------------
    @staticmethod
    def _inverters(graph: ModelGraph, circuit: CircuitBuilder, layer: str) -> None:
        s = circuit.need_scaling()
        r_f = s.r_f_of(layer)
        loc = graph.layer(layer).loc
        for i in free_neurons(graph, layer):
            circuit.cells.append(IntegratorCell(
                name=f"inv_{layer}_{i}", layer=layer, index=i, sum_net=net(layer, "sumn", i),
                out_net=net(layer, "inv", i), r_f=r_f, c_f=0.0, role="inverter", loc=loc,
            ))
            circuit.resistors.append(Resistor(
                f"rinv_{layer}_{i}", net(layer, "inv", i), net(layer, "sum", i), r_f, loc,
            ))

    @staticmethod
    def _biases(graph: ModelGraph, circuit: CircuitBuilder, layer: str,
                errors: list[Diagnostic]) -> None:
        s = circuit.need_scaling()
        biases = graph.dynamics[layer].biases
        if not biases:
            return
        total = np.zeros(graph.layer(layer).size)
        for b in biases:
            w_op = graph.weights(b.weights)
            if w_op.is_selected or w_op.value is None:
                errors.append(error(
                    f"bias '{b.weights}' is chosen by a select input; the circuit lowering "
                    "supports selected weights only in bilinear terms", b.loc))
                return
            total += b.coef * np.asarray(w_op.value, dtype=np.float64)
        loc = fuse_locs(*(b.loc for b in biases))
        r_f = s.r_f_of(layer)
        for i in free_neurons(graph, layer):
            if total[i] != 0.0:
                circuit.current_sources.append(CurrentSource(
                    f"ibias_{layer}_{i}", net(layer, "sum", i), float(total[i]) * s.v_unit / r_f,
                    layer, i, loc,
                ))
