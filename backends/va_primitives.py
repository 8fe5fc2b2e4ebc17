"""Static Verilog-A primitive modules for the denseamc Verilog-A backend.

Each module is one string constant holding one complete ``.va`` source file; ``ALL_MODULES`` maps
the module name to its source. An elementwise activation's module is ``_activation`` filled with
the fixed lines its Lagrangian class holds (ir/lagrangians.py: ``va_doc``, ``va_decls``,
``va_body``). The text is fixed: nothing from a user model is ever substituted into it.
Per-instance values (``r_f``, ``gain``, ``v_unit``, ...) are instance parameters
(``(*type="instance"*)``, so VACASK accepts them on instance lines) and are set in the netlist,
where the emitter formats them from legalised floats.

Sign and unit conventions (shared with the SPICE backend):

* A state cell (``dam_integrator``) is an inverting op-amp integrator: its output carries the
  state *inverted*, ``V(out) = -x * v_unit``.
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

from denseamc.ir.lagrangians import LAGRANGIANS

_HEADER = '`include "constants.vams"\n`include "disciplines.vams"\n'

DAM_INTEGRATOR = _HEADER + r"""
// Inverting op-amp leaky integrator: feedback R_f || C_f from out to the summing node `sum`.
// Summing-node KCL (virtual ground):  I_in + V(out)/r_f + c_f*ddt(V(out)) = 0,
// where I_in is the total current the netlist pushes into `sum` (e.g. from a crossbar).
// tau = r_f*c_f; c_f = 0 gives a summing amplifier V(out) = -r_f*I_in.
// a0 = 0 (default): ideal amplifier, V(sum) is held at exactly 0 and the state lives on the
//   internal node x (which carries V(out)).
// a0 > 0: finite-gain amplifier A(s) = a0/(1 + s*a0/(2*pi*gbw)) (no pole if gbw = 0) with the
//   output clamped to +-vmax, and the R_f || C_f feedback branch between out and sum.
// use_ic = 1: the transient starts from V(out) = v0 (forced during the initial operating point);
// use_ic = 0: the transient starts from the DC operating point.
module dam_integrator(sum, out);
    inout sum, out;
    electrical sum, out;
    electrical x;
    branch (sum) vg;
    (*desc="feedback resistance", units="Ohm", type="instance"*)
    parameter real r_f = 1e4 from (0:inf);
    (*desc="feedback capacitance", units="F", type="instance"*)
    parameter real c_f = 1e-7 from [0:inf);
    (*desc="initial output voltage", units="V", type="instance"*)
    parameter real v0 = 0.0;
    (*desc="1: force V(out)=v0 at the transient's initial point", type="instance"*)
    parameter integer use_ic = 1 from [0:1];
    (*desc="open-loop DC gain, 0 = ideal amplifier", type="instance"*)
    parameter real a0 = 0.0 from [0:inf);
    (*desc="gain-bandwidth product, 0 = no pole", units="Hz", type="instance"*)
    parameter real gbw = 0.0 from [0:inf);
    (*desc="output clamp", units="V", type="instance"*)
    parameter real vmax = 1e6 from (0:inf);
    (*desc="input offset voltage (also keeps the virtual-ground branch, see module doc)",
      units="V", type="instance"*)
    parameter real v_os = 0.0;
    real tau_p, v_ic;
    analog begin
        if (a0 > 0.0) begin
            v_ic = v_os - v0/a0;
            tau_p = gbw > 0.0 ? a0/(`M_TWO_PI*gbw) : 0.0;
            I(out, sum) <+ V(out, sum)/r_f + c_f*ddt(V(out, sum));
            if (use_ic != 0 && analysis("static") && analysis("tran")) begin
                V(vg) <+ v_ic;
                V(x) <+ v0;
            end else begin
                I(x) <+ V(x) + a0*(V(sum) - v_os) + tau_p*ddt(V(x));
            end
            V(out) <+ min(max(V(x), -vmax), vmax);
        end else begin
            V(vg) <+ v_os;
            if (use_ic != 0 && analysis("static") && analysis("tran"))
                V(x) <+ v0;
            else
                I(x) <+ I(vg) + V(x)/r_f + c_f*ddt(V(x));
            V(out) <+ V(x);
        end
    end
endmodule
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
{params}    real x, g;
    analog begin
        x = -V(in)/v_unit;
{body}        V(out_p) <+ v_unit*g;
        V(out_n) <+ -v_unit*g;
    end
endmodule
"""


# Softmax, one cell per element, wired in the netlist (compiles once, works for any N):
#
#   cell_i (in_i ref s out_p_i out_n_i) dam_softmax_cell beta=... v_unit=...   for i = 1..N
#   r_s    (s 0) 1 ohm
#
# * Common-mode reference: each cell also places r_ref between in_i and the shared node `ref`, so
#   V(ref) is the mean of the inputs (N equal resistors into an otherwise unloaded node).  The mean
#   is linear, smooth and realisable with passive parts; a max reference would keep every
#   exponent <= 0 but needs a winner-take-all circuit and has a kink where inputs tie.  With the
#   mean the largest exponent is >= 0, so the denominator V(s) >= 1 at the solution and `smin`
#   only guards the all-zero initial guess of the operating point; limexp bounds the exponent
#   growth for large beta*(spread of x).
# * Each cell injects e_i = exp(beta*(x_i - x_ref)) amperes into `s`; the 1-ohm resistor turns the
#   sum into V(s) = sum_j e_j.  out_p_i = v_unit*e_i/V(s) = v_unit*softmax(beta*x)_i.
DAM_SOFTMAX_CELL = _HEADER + """
// One element of a softmax: out_p = v_unit*softmax(beta*x)_i, out_n = -out_p, x = -V(in)/v_unit.
module dam_softmax_cell(in, ref, s, out_p, out_n);
    input in;
    inout ref, s;
    output out_p, out_n;
    electrical in, ref, s, out_p, out_n;
    (*desc="voltage that represents one unit of state", units="V", type="instance"*)
    parameter real v_unit = 1.0 from (0:inf);
    (*desc="inverse temperature", type="instance"*)
    parameter real beta = 1.0;
    (*desc="resistor from in to the averaging node ref", units="Ohm", type="instance"*)
    parameter real r_ref = 1e4 from (0:inf);
    (*desc="floor of the denominator V(s)", units="V", type="instance"*)
    parameter real smin = 1e-9 from (0:inf);
    real e, y;
    analog begin
        I(in, ref) <+ V(in, ref)/r_ref;
        e = limexp(-beta*(V(in) - V(ref))/v_unit);
        I(s) <+ -e;
        y = v_unit*e/max(V(s), smin);
        V(out_p) <+ y;
        V(out_n) <+ -y;
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
    "dam_integrator": DAM_INTEGRATOR,
    **ACTIVATION_MODULES,
    "dam_softmax_cell": DAM_SOFTMAX_CELL,
    "dam_switch": DAM_SWITCH,
}
"""Module name -> complete ``.va`` source; the file name is ``<module name>.va``."""
