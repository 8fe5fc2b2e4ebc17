"""The behavioural (model) simulator: the reference every other denseamc backend is judged against.

It integrates the dynamics that energy analysis derived (`graph.dynamics`), for a whole batch of
input vectors at once (numpy, no Python loop over neurons or batch elements):

    tau_x dx/dt = sum_d d.coef * (W or W^T) @ g(d.source) + sum_b b.coef * w - x

Semantics of inputs and layers
------------------------------
- `clamp` inputs hold their neurons' states at the input values for all t (derivative 0).
- `init` inputs set x(0) at their neurons; every other neuron starts at 0.
- `select` inputs pick weight-table rows per batch element (a selected array has shape
  (B, rows, cols)); they must be integers in 0..rows-1.
- tau = 0 layers are adiabatic: their state equals their target (the right-hand side above) at
  every instant. They are solved in dependency order from the other layers; adiabatic layers that
  drive each other in a cycle are solved by fixed-point (Gauss-Seidel) iteration, at most
  `fixed_point.MAXITER` sweeps, and a `DenseAMCError` says so when that does not converge.
- `init=settled` layers (tau > 0) start at their target computed from the other layers' initial
  states, layer by layer in declaration order (a later settled layer sees the earlier ones'
  settled values). An `init` input on such a layer overrides the settled value at its neurons;
  clamps override everything. `init` inputs on adiabatic layers have no effect.

Integrators
-----------
All methods integrate the leak -x/tau exactly: with u' = L u + N(u), L = -1/tau (a scalar per
layer; 0 on clamped neurons) and N = (drives + biases) / tau, every step uses the variation-of-
constants formula u(t+h) = e^{hL} u(t) + int_0^h e^{(h-s)L} N(u(t+s)) ds with N replaced by a
polynomial, integrated exactly through the phi functions phi_k(hL) (scalars per layer, Taylor
series for |hL| < 6, the stable recurrence above). So a small tau never limits the step by
stability, fixed points are preserved exactly, and a fast layer with h >> tau sits at its
quasi-static value.

`method="adaptive"` (default): a variable-step exponential Adams predictor-corrector (PECE): the
predictor extrapolates N through the last q accepted points (order q), the corrector
interpolates through those and the predicted point (order q + 1, the accepted value); q ramps 1,
2, ... up to 6 as history accumulates; two evaluations of N per step. Exponential multistep
methods keep their full order when hL is large (no stiff order reduction, unlike explicit
exponential Runge-Kutta methods such as ETD(3,5), whose step count grew 5x from tau_h = 1e-2 to
1e-4 in our tests while this one's did not grow). Recording times inside a step are filled in by
dense output (the corrector's polynomial integrated exactly from the step's start to the
recording time), so recording does not change the steps. Error control: corrector - predictor,
divided per layer by (1 + h/tau) (a fast neuron's own local error is forgotten within its tau;
it is slaved to the slow ones), scaled per neuron by atol + rtol * |x_n+1|, combined as an RMS
over a batch element's neurons; the step is accepted when the largest of these over the batch is
<= 1 (batch-wide steps; each element's result stays within tolerance of its own solo run). Step
size update (PI control) h *= clip(0.9 err^(-0.7/(q+1)) (err_prev/err)^(0.4/(q+1)), 0.2, 5)
after an accepted step, h *= max(0.9 err^(-1/(q+1)), 0.1) after a rejected one. Defaults rtol =
1e-6, atol = 1e-9; the global error on the test models is about 0.05-0.3 x rtol (the estimate is
that of the order-q predictor, the accepted value has order q + 1).

`method="etd35"`: adaptive ETD(3,5), the exponential Runge-Kutta pair of Whalen, Brio and Moloney
(J. Comput. Phys. 280 (2015) 579-601; coefficients with psi_k = k! phi_k, the a73/b3 misprint
497 -> 467 corrected): six evaluations per step, fifth-order solution, embedded estimate of
order 4; self-starting but reduces order on very stiff layers. Kept as an independent check.
`method="fixed"`: ETD(3,5) with a constant step `dt` (default t_end / 1000; shortened to land
on t_end and on recording times), no error control. `method="euler"`: forward Euler with step
`dt` (what the paper's reference code does; first order, for comparison only).

Outputs, energy and settling
----------------------------
Outputs are decoded from the activations at t_end (`decode_outputs`). The energy is
E = sum legendre(x) + sum coef g_a^T W g_b + sum coef w.g (`energy`). `settle_time` is defined
once, for this and the circuit simulator, in `settle.py`; here it is evaluated on the
integrator's accepted steps (and on the recorded times, if any); default settle_tol = 1e-3.

Files
-----
    system.py       the model compiled for a batch: the right-hand side, adiabatic solve, u(0)
    fixed_point.py  the fixed-point iteration (also used by the circuit simulator and netlists)
    phi.py          phi functions of exponential integrators
    exp_adams.py    exponential Adams predictor-corrector (method "adaptive")
    etd35.py        ETD(3,5) (methods "etd35" and "fixed")
    dopri.py        Dormand-Prince 5(4) (the circuit simulator's integrator; several draws at once)
    read_noise.py   the devices' read noise (an Ornstein-Uhlenbeck process) and its RK4 steps
    integrate.py    the integration loop and step-size control
    record.py       the accepted states, for settle time and traces
    settle.py       the settle-time definition
    energy.py       decoded outputs and the energy from states
    driver.py       `simulate` and `SimResult`
"""

from denseamc.backends.sim.driver import SimResult, simulate
from denseamc.backends.sim.energy import decode_outputs, energy
from denseamc.backends.sim.fixed_point import fixed_point
from denseamc.backends.sim.settle import settle_time
from denseamc.backends.sim.system import model_rhs

__all__ = ["SimResult", "decode_outputs", "energy", "fixed_point",
           "model_rhs", "settle_time", "simulate"]
