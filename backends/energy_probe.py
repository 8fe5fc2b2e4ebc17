"""The netlists' energy probe: E(t) in model units as (coefficient, factor) terms over a
dialect's voltage probes (`energy_probe_terms`), the same expression in every dialect, and the
size above which it is left out (`ENERGY_PROBE_MAX_DEVICES`)."""

from __future__ import annotations

import math
from collections.abc import Callable

from denseamc.backends.circuit_energy import selected_energy
from denseamc.backends.netlist_facts import select_control_net
from denseamc.backends.units import num
from denseamc.ir import InternalCompilerError
from denseamc.ir.circuit import CircuitIR, net
from denseamc.ir.lagrangians import Softmax

__all__ = ["ENERGY_PROBE_MAX_DEVICES", "energy_probe_terms"]


#: Above this many crossbar devices the energy probe (one term per device pair) is left out of
#: every dialect: an expression of millions of terms costs the simulator more than the rest of
#: the circuit, and `check` evaluates E from the saved node voltages in numpy anyway.
ENERGY_PROBE_MAX_DEVICES = 20_000


def _no_block() -> tuple[str, str]:
    raise InternalCompilerError("only a softmax layer has a normaliser block")


def energy_probe_terms(circuit: CircuitIR, probe: Callable[[str], str]
                       ) -> list[tuple[float, str]]:
    """(coefficient, factor expression) whose sum is E(t) in model units, the same in every
    dialect: `probe` turns an IR net into the dialect's voltage expression (`v(net)` in SPICE,
    `V(in_3)` in a Verilog-A module); the functions are those SPICE B-sources and Verilog-A
    share (ln, exp, cosh, pow, max).

    Per layer the Legendre term (`spice_legendre` of its Lagrangian; softmax: sum x_i g_i +
    V(s)/v_unit - ln(N)/beta, the log-sum-exp read from the normaliser's common node s), then
    the interaction and bias energy read back from the realised conductances. A selected
    crossbar's part follows the switch controls (`circuit_energy.selected_energy`): the pairs of
    the all-option-0 selection, plus per element j and option k >= 1 what that option changes,
    times V(sel_<input>_<j>_<k>)/vdd (1 when the switch is closed, 0 when open), so the probe
    is right whatever drives the controls. Pairs of clamped neurons (a constant) are left out.
    """
    vu = circuit.scaling.v_unit
    terms: list[tuple[float, str]] = []
    acts = {a.layer: a for a in circuit.activations}
    for layer in circuit.layers:
        xs = [probe(net(layer.name, "x", i)) for i in range(layer.size)]
        gs = [probe(net(layer.name, "gp", i)) for i in range(layer.size)]
        if isinstance(layer.lagrangian, Softmax):
            # L* = sum x_i g_i - L with L = ln(sum_j exp(beta x_j))/beta
            # = ln(N)/beta - V(s)/v_unit, read from the normaliser's common node
            s = probe(f"{acts[layer.name].name}_s")
            terms += [(-1.0 / vu**2, f"{x}*{g}") for x, g in zip(xs, gs, strict=True)]
            terms += [(1.0 / vu, s), (-math.log(layer.size) / layer.lagrangian.p, "1.0")]
            continue
        terms += layer.lagrangian.spice_legendre(xs, gs, vu, num, _no_block)
    gp = {(k, i): probe(net(layer.name, "gp", i))
          for k, layer in enumerate(circuit.layers) for i in range(layer.size)}
    sel = selected_energy(circuit)
    for (a, b), w in sel.base.pairs:
        terms.append((w / vu**2, f"{gp[a]}*{gp[b]}"))
    for a, w in sel.base.bias:
        terms.append((w / vu, gp[a]))
    on = 1.0 / circuit.amplifier.v_rail  # a closed switch's control sits at vdd
    for (select, j, k), pairs in sel.options.items():
        ctl = probe(select_control_net(select, j, k))
        terms += [(w * on / vu**2, f"{gp[a]}*{gp[b]}*{ctl}") for (a, b), w in pairs]
    return terms
