"""Static Verilog-A primitive modules for the denseamc Verilog-A backend.

Each module is one string constant holding one complete ``.va`` source file; ``ALL_MODULES`` maps
the module name to its source. An elementwise activation's module is ``_activation`` filled with
the fixed lines its Lagrangian class holds (ir/lagrangians.py: ``va_doc``, ``va_decls``,
``va_body``). The text is fixed: nothing from a user model is ever substituted into it. The one
generated module, ``dam_energy`` (``energy_module``), holds only formatted numbers, positional
port names and the fixed function names of the energy expression.
Per-instance values (``r_f``, ``gain``, ``v_unit``, ...) are instance parameters
(``(*type="instance"*)``, so VACASK accepts them on instance lines) and are set in the netlist,
where the emitter formats them from legalised floats.

Sign and unit conventions (shared with the SPICE backend):

* A state cell is an inverting op-amp integrator (``dam_opamp`` with R_F and C_F in the
  netlist): its output carries the state *inverted*, ``V(out) = -x * v_unit``.
* An activation cell reads that output, recovers ``x = -V(in) / v_unit`` and drives two rails,
  ``out_p = +v_unit * g(x)`` and ``out_n = -v_unit * g(x)``; a crossbar hangs a positive weight on
  one rail and a negative weight on the other.

Lessons built into the text (measured with openvaf-r osdi_0.5 and VACASK 0.3.4, see
``tests/test_runners.py``):

* ``V(br) <+ 0.0`` with a literal zero makes openvaf-r collapse the branch into ground, and a
  current probe ``I(br)`` of a collapsed branch then reads 0 without any error.  The virtual ground
  is therefore ``V(vg) <+ v_os`` (the amplifier's input offset, a parameter), which keeps the
  branch.
* ``analysis("ic")`` is never true under VACASK (OSDI does not pass the flag).  The transient's
  initial operating point is detected as ``analysis("static") && analysis("tran")``.
* Divisions and exponentials are guarded (``max(..., smin)``, ``limexp``): the operating-point
  solver starts from all-zero node voltages.
"""

from __future__ import annotations

from collections.abc import Sequence

from denseamc.backends.units import num
from denseamc.ir.lagrangians import LAGRANGIANS

_HEADER = '`include "constants.vams"\n`include "disciplines.vams"\n'

DAM_OPAMP = _HEADER + r"""
// Behavioural op-amp macro-model, ports in+ (inp), in- (inn), out and the supplies vdd, vss.
// The differential input plus the input offset, vd = V(inp, inn) + v_os, drives the gain node p
// (normalised to r_p): DC gain a0, dominant pole at gbw/a0, and the drive limited through a tanh
// so that dV(p)/dt never exceeds `slew_rate`. gbw = 0: no pole, V(p) = a0*vd (an ideal amplifier).
// The output follows p with soft saturation at the supply ports (sat = 1), a smooth clip
// vmid + d/(1 + (d/vh)^8)^(1/8), d = V(p) - vmid, vmid = (V(vdd) + V(vss))/2, vh = V(vdd, vss)/2
// (slope 0.99 at 56 % of the rail, where a tanh would cut the loop gain by a third), then the
// output resistance r_out. An integrator is this module with R_F and C_F from out to
// in- in the netlist; its initial state is the netlist's (an `ic` on both ends of C_F).
module dam_opamp(inp, inn, out, vdd, vss);
    inout inp, inn, out, vdd, vss;
    electrical inp, inn, out, vdd, vss;
    electrical p, o;
    (*desc="open-loop DC gain", type="instance"*)
    parameter real a0 = 1e4 from (0:inf);
    (*desc="gain-bandwidth product, 0 = no pole", units="Hz", type="instance"*)
    parameter real gbw = 1e9 from [0:inf);
    (*desc="slew rate", units="V/s", type="instance"*)
    parameter real slew_rate = 1e9 from (0:inf);
    (*desc="output resistance", units="Ohm", type="instance"*)
    parameter real r_out = 100.0 from (0:inf);
    (*desc="input offset voltage, in series with in+", units="V", type="instance"*)
    parameter real v_os = 0.0;
    (*desc="1: soft saturation at the supply ports, 0: none", type="instance"*)
    parameter integer sat = 1 from [0:1];
    real vd, tp, vlim, vmid, vh, d, u2;
    analog begin
        vd = V(inp, inn) + v_os;
        if (gbw > 0.0) begin
            tp = a0/(`M_TWO_PI*gbw);
            vlim = slew_rate*tp;
            I(p) <+ (V(p) - vlim*tanh(a0*vd/vlim) + tp*ddt(V(p)))/1e6;
        end else begin
            V(p) <+ a0*vd;
        end
        if (sat != 0) begin
            vmid = (V(vdd) + V(vss))/2.0;
            vh = max(V(vdd, vss)/2.0, 1e-3);
            d = V(p) - vmid;
            u2 = (d/vh)*(d/vh);
            V(o) <+ vmid + d/pow(1.0 + u2*u2*u2*u2, 0.125);
        end else begin
            V(o) <+ V(p);
        end
        I(o, out) <+ V(o, out)/r_out;
    end
endmodule
"""


#: A realised draw's activation mismatch (act_gain_sigma, act_offset_sigma): each rail is
#: gain * (+-v_unit g) + offset; the defaults are the nominal block.
_RAIL_ERRORS = """\
    (*desc="out_p rail gain (mismatch)", type="instance"*)
    parameter real gain_p = 1.0;
    (*desc="out_p rail offset (mismatch)", units="V", type="instance"*)
    parameter real off_p = 0.0;
    (*desc="out_n rail gain (mismatch)", type="instance"*)
    parameter real gain_n = 1.0;
    (*desc="out_n rail offset (mismatch)", units="V", type="instance"*)
    parameter real off_n = 0.0;
"""


def _activation(name: str, doc: str, params: str, body: str) -> str:
    """Return the source of one dual-rail activation module (fixed text only)."""
    return _HEADER + f"""
// {doc}
// Reads the inverted state V(in) = -x*v_unit; drives out_p = v_unit*g(x), out_n = -v_unit*g(x).
module {name}(in, out_p, out_n);
    input in;
    output out_p, out_n;
    electrical in, out_p, out_n;
    (*desc="voltage that represents one unit of state", units="V", type="instance"*)
    parameter real v_unit = 1.0 from (0:inf);
{_RAIL_ERRORS}{params}    real x, g;
    analog begin
        x = -V(in)/v_unit;
{body}        V(out_p) <+ gain_p*v_unit*g + off_p;
        V(out_n) <+ -gain_n*v_unit*g + off_n;
    end
endmodule
"""


# Softmax, one cell per element, wired in the netlist (compiles once, works for any N):
#
#   cell_i (in_i s out_p_i out_n_i) dam_softmax_cell beta=... v_unit=... i_tail=... n=N
#   it     (0 s) isource dc=i_tail
#
# A translinear normaliser (Gilbert): the layer's tail current i_tail flows into the common node
# `s`, and cell i draws (i_tail/N) exp(-beta (V(in_i) - V(s))/v_unit) = (i_tail/N) exp(beta x_i
# + beta V(s)/v_unit) out of it (a 1/N-sized device). KCL at s makes the shares sum to i_tail, so
#   V(s) = -(v_unit/beta) ln mean_j exp(beta x_j)     (a soft minimum of the inputs V(in_j))
# and cell i's share is i_tail softmax(beta x)_i: no current exceeds i_tail, and V(s) lies
# between min_j V(in_j) and mean_j V(in_j), within the rails whenever the inputs are.
# out_p_i = v_unit * share_i / i_tail = v_unit*softmax(beta*x)_i.
DAM_SOFTMAX_CELL = _HEADER + """
// One element of a softmax: out_p = v_unit*softmax(beta*x)_i, out_n = -out_p, x = -V(in)/v_unit.
// Draws this element's share of the layer's tail current out of the common node s (the
// netlist's tail current source): V(s) = -(v_unit/beta)*ln(mean_j exp(beta*x_j)).
module dam_softmax_cell(in, s, out_p, out_n);
    input in;
    inout s;
    output out_p, out_n;
    electrical in, s, out_p, out_n;
    (*desc="voltage that represents one unit of state", units="V", type="instance"*)
    parameter real v_unit = 1.0 from (0:inf);
    (*desc="inverse temperature", type="instance"*)
    parameter real beta = 1.0;
    (*desc="the layer's tail current", units="A", type="instance"*)
    parameter real i_tail = 1e-5 from (0:inf);
    (*desc="elements in the layer (the cell's device is 1/n of the tail's)", type="instance"*)
    parameter integer n = 1 from [1:inf);
""" + _RAIL_ERRORS + """\
    real share;
    analog begin
        share = limexp(-beta*(V(in) - V(s))/v_unit)/n;
        I(s) <+ i_tail*share;
        V(out_p) <+ gain_p*v_unit*share + off_p;
        V(out_n) <+ -gain_n*v_unit*share + off_n;
    end
endmodule
"""

# VACASK has no switch element (ngspice has S with `.model m sw`).  The conductance moves
# log-linearly from 1/roff to 1/ron over a window vw around vt, which Newton handles well.
DAM_SWITCH = _HEADER + """
// Voltage-controlled switch between p and n: closed (ron) when V(ctl) > vt, open (roff) below.
module dam_switch(p, n, ctl);
    inout p, n;
    input ctl;
    electrical p, n, ctl;
    (*desc="threshold", units="V", type="instance"*)
    parameter real vt = 0.5;
    (*desc="on resistance", units="Ohm", type="instance"*)
    parameter real ron = 1.0 from (0:inf);
    (*desc="off resistance", units="Ohm", type="instance"*)
    parameter real roff = 1e12 from (0:inf);
    (*desc="transition window", units="V", type="instance"*)
    parameter real vw = 1e-3 from (0:inf);
    real lg;
    analog begin
        lg = ln(1.0/roff) + (ln(1.0/ron) - ln(1.0/roff))*0.5*(1.0 + tanh((V(ctl) - vt)/vw));
        I(p, n) <+ V(p, n)*exp(lg);
    end
endmodule
"""

#: Every elementwise Lagrangian's module, from the text its class holds.
ACTIVATION_MODULES: dict[str, str] = {
    cls.va_module: _activation(cls.va_module, cls.va_doc, cls.va_decls, cls.va_body)
    for cls in LAGRANGIANS.values() if cls.elementwise
}

ALL_MODULES: dict[str, str] = {
    "dam_opamp": DAM_OPAMP,
    **ACTIVATION_MODULES,
    "dam_softmax_cell": DAM_SOFTMAX_CELL,
    "dam_switch": DAM_SWITCH,
}
"""Module name -> complete ``.va`` source; the file name is ``<module name>.va``."""


#: Terms per statement of `dam_energy` (short lines, one accumulation each).
_ENERGY_TERMS_PER_LINE = 4
#: Ports per line of its port list and declarations.
_ENERGY_PORTS_PER_LINE = 12


def energy_module(terms: Sequence[tuple[float, str]], n_ports: int) -> str:
    """The source of `dam_energy`, the energy probe of the Spectre and VACASK netlists (they
    have no behavioural sources): ports in_0 .. in_{n_ports-1} (the nodes it reads, in the
    order the netlist's instance lists them) and `energy`, driven with V(energy) = the sum of
    `terms` (coefficient, factor over V(in_k); `energy_probe.energy_probe_terms`), E(t) in
    model units.
    The one generated module: its text is numbers and these port names only, no model text.
    It reads its inputs without loading them (no current flows into in_k)."""
    ports = [f"in_{k}" for k in range(n_ports)]
    body = [f" {'-' if w < 0 else '+'} {num(abs(w))}*{f}" for w, f in terms if w != 0.0]
    lines = [f"        e = e{''.join(body[k:k + _ENERGY_TERMS_PER_LINE])};"
             for k in range(0, len(body), _ENERGY_TERMS_PER_LINE)]
    groups = [", ".join(ports[k:k + _ENERGY_PORTS_PER_LINE])
              for k in range(0, len(ports), _ENERGY_PORTS_PER_LINE)]
    head = ",\n        ".join([*groups, "energy"])
    decl = "".join(f"    input {g};\n    electrical {g};\n" for g in groups)
    return _HEADER + f"""
// Energy probe: V(energy) = E(t) in model units (one volt = one unit), the expression of the
// SPICE netlist's b_energy: the layers' Legendre terms, the interaction and bias energy read
// back from the realised conductances, a selected crossbar's options weighted by their switch
// controls V(sel_*)/vdd. Generated for this circuit by denseamc (numbers only).
module dam_energy({head});
{decl}    output energy;
    electrical energy;
    real e;
    analog begin
        e = 0.0;
{chr(10).join(lines)}
        V(energy) <+ e;
    end
endmodule
"""
