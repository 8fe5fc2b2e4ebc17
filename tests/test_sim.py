"""The behavioural simulator: accuracy against an independent RK4, energy descent, batching,
input/layer semantics, fixed vs adaptive, decoding, energy and judging."""

from __future__ import annotations

import numpy as np
import pytest
from denseamc.backends.sim import decode_outputs, energy, model_rhs, simulate
from denseamc.compiler.verdicts import judge
from denseamc.ir import (
    DenseAMCError,
    Lagrangian,
    OutputOp,
    TestBlock,
    TestVector,
    frozen_array,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelgen import LAGRANGIANS, Spec, build, hopfield, random_model

# --------------------------------------------------------------------------------------------------
# an independent reference: the gradient flow written straight from the energy, fine-step RK4


def _act(lag: Lagrangian, x: np.ndarray) -> np.ndarray:
    p = lag.param
    if lag.kind == "identity":
        return x
    if lag.kind == "tanh":
        return np.tanh(p * x)
    if lag.kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-p * x))
    if lag.kind == "relu":
        return np.where(x > 0, x, 0.0)
    if lag.kind == "softmax":
        e = np.exp(p * x - np.max(p * x, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if lag.kind == "rectpoly":
        return np.where(x > 0, x, 0.0) ** (p - 1)
    raise AssertionError(lag.kind)


def rk4_reference(spec: Spec, x0: dict[str, np.ndarray], times: list[float], dt: float,
                  clamp: dict[str, tuple[list[int], np.ndarray]] | None = None
                  ) -> dict[str, np.ndarray]:
    """tau dx/dt = -dE/dg for E = sum legendre + sum coef g_a W g_b + sum coef w.g (no adiabatic
    layers), classical RK4 with step dt; returns layer -> (len(times), B, n)."""
    clamp = clamp or {}
    lay = {name: (lag, tau) for name, _n, lag, tau, _init in spec.layers}

    def f(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = {k: _act(lay[k][0], v) for k, v in x.items()}
        d = {k: -v for k, v in x.items()}
        for coef, a, w, b in spec.bilinear:
            W = spec.weights[w]
            d[a] = d[a] - coef * g[b] @ W.T
            d[b] = d[b] - coef * g[a] @ W
        for coef, w, layer in spec.bias:
            d[layer] = d[layer] - coef * spec.weights[w]
        out = {k: v / lay[k][1] for k, v in d.items()}
        for k, (idx, _vals) in clamp.items():
            out[k][:, idx] = 0.0
        return out

    x = {k: v.copy() for k, v in x0.items()}
    for k, (idx, vals) in clamp.items():
        x[k][:, idx] = vals
    out = {k: [] for k in x}
    t = 0.0
    for target in times:
        n = max(1, round((target - t) / dt))
        h = (target - t) / n
        for _ in range(n):
            k1 = f(x)
            k2 = f({k: x[k] + h / 2 * k1[k] for k in x})
            k3 = f({k: x[k] + h / 2 * k2[k] for k in x})
            k4 = f({k: x[k] + h * k3[k] for k in x})
            x = {k: x[k] + h / 6 * (k1[k] + 2 * k2[k] + 2 * k3[k] + k4[k]) for k in x}
        t = target
        for k in x:
            out[k].append(x[k].copy())
    return {k: np.stack(v) for k, v in out.items()}


def pair_spec(kind: str, *, tau_a: float, tau_b: float, seed: int = 0) -> Spec:
    """Layer a (the Lagrangian under test, 4 neurons) coupled to a tanh layer b (3 neurons)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 3))
    w *= 0.8 / np.linalg.norm(w, 2)
    return Spec(
        layers=[("a", 4, LAGRANGIANS[kind], tau_a, "zero"), ("b", 3, Lagrangian("tanh", 1.0),
                                                               tau_b, "zero")],
        weights={"w": w, "ba": rng.normal(size=4) * 0.5, "bb": rng.normal(size=3) * 0.5},
        bilinear=[(-1.0, "a", "w", "b")],
        bias=[(-1.0, "ba", "a"), (-1.0, "bb", "b")],
        inputs=[("ia", 4, "init", "a", range(4)), ("ib", 3, "init", "b", range(3))],
    )


TIMES = [0.05, 0.25, 0.6, 1.0]


@pytest.mark.parametrize("kind", list(LAGRANGIANS))
@pytest.mark.parametrize("stiff", [False, True], ids=["tau_ratio_0.3", "tau_ratio_0.01"])
def test_matches_independent_rk4(kind: str, stiff: bool) -> None:
    tau_b = 0.01 if stiff else 0.3
    spec = pair_spec(kind, tau_a=1.0, tau_b=tau_b)
    g = build(spec)
    rng = np.random.default_rng(3)
    x0 = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 3))}
    ref = rk4_reference(spec, x0, TIMES, dt=tau_b / 20)
    res = simulate(g, {"ia": x0["a"], "ib": x0["b"]}, t_end=1.0, record=TIMES)
    assert res.times is not None and np.array_equal(res.times, TIMES)
    # the adaptive method runs at rtol 1e-6 on O(1) states, the RK4 at dt = tau_b/20 is good to
    # ~(1/20)^4 of a step's change: measured 2e-6 apart; 1e-5 leaves a factor 5
    for name in ("a", "b"):
        np.testing.assert_allclose(res.trajectories[name], ref[name], atol=1e-5, rtol=0)
        np.testing.assert_allclose(res.states[name], ref[name][-1], atol=1e-5, rtol=0)


def test_adaptive_steps_do_not_scale_with_stiffness() -> None:
    """The leak is integrated exactly: tau_h = 1e-4 tau_v costs about as much as 1e-2."""
    counts = []
    for tau_h in (1e-2, 1e-4):
        g = hopfield(8, 16, beta=4.0, tau_v=1.0, tau_h=tau_h, readout_t=3.0)
        cue = np.random.default_rng(0).choice([-1.0, 1.0], size=(2, 8)) / np.sqrt(8)
        counts.append(simulate(g, {"cue": cue}).stats["steps"])
    # 100x stiffer must not cost 100x the steps; 1.5x (+10 for start-up) allows for the fast
    # layer's own transient, which takes a few more steps to resolve
    assert counts[1] < 1.5 * counts[0] + 10, counts


# --------------------------------------------------------------------------------------------------
# energy descent


@pytest.mark.parametrize("seed", range(12))
def test_energy_never_increases_on_convex_models(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g, inputs = random_model(rng, n_layers=3, clamp_prob=0.3)
    res = simulate(g, inputs, t_end=3.0, record=True)
    e = res.energy_trace
    assert e is not None and e.shape == (len(res.times), 4)
    rise = np.diff(e, axis=0)
    # near the minimum E is flat and only rounding moves it (measured 1e-16 relative): 1e-10 is
    # far above rounding and far below any real rise
    assert np.all(rise <= 1e-10 * (1.0 + np.abs(e[:-1]))), rise.max()
    np.testing.assert_allclose(e[-1], res.energy)  # the same formula on the same state: rounding


# --------------------------------------------------------------------------------------------------
# batching: each element's result equals its solo run (to within the tolerance)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_layers=st.integers(1, 3), clamp=st.booleans())
def test_batch_equals_one_at_a_time(seed: int, n_layers: int, clamp: bool) -> None:
    rng = np.random.default_rng(seed)
    g, inputs = random_model(rng, n_layers=n_layers, clamp_prob=0.5 if clamp else 0.0,
                             clamp_softmax=True)
    batch = simulate(g, inputs, t_end=1.5)
    # the batch takes one step sequence (the worst element controls it), each solo run its own:
    # the results differ by the integrator's error at rtol 1e-6 (measured up to 8e-7 on states,
    # 3e-7 on the energy); 2e-5 and 1e-5 leave room for the random models hypothesis draws
    for b in range(4):
        one = simulate(g, {k: v[b:b + 1] for k, v in inputs.items()}, t_end=1.5)
        # batch-wide steps differ from a solo run's: both results carry the method's global
        # error at rtol 1e-6 (0.05-0.3 x rtol on the test models, times the states' size)
        for name, x in one.states.items():
            np.testing.assert_allclose(batch.states[name][b], x[0], atol=2e-5, rtol=2e-5)
        np.testing.assert_allclose(batch.energy[b], one.energy[0], atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------------
# semantics of inputs and layers


def test_clamp_holds_neurons_and_drives_the_rest() -> None:
    spec = pair_spec("tanh", tau_a=1.0, tau_b=0.3)
    spec.inputs = [("c", 2, "clamp", "a", [1, 3]), ("ib", 3, "init", "b", range(3))]
    g = build(spec)
    rng = np.random.default_rng(5)
    cval = rng.normal(size=(3, 2))
    xb = rng.normal(size=(3, 3))
    res = simulate(g, {"c": cval, "ib": xb}, t_end=1.0, record=TIMES)
    np.testing.assert_array_equal(res.trajectories["a"][:, :, [1, 3]],
                                  np.broadcast_to(cval, (len(TIMES), 3, 2)))
    x0 = {"a": np.zeros((3, 4)), "b": xb}
    ref = rk4_reference(spec, x0, TIMES, dt=0.01, clamp={"a": ([1, 3], cval)})
    # adaptive rtol 1e-6 against RK4 at dt = tau_b/30: measured 1e-8 apart
    np.testing.assert_allclose(res.trajectories["a"], ref["a"], atol=1e-6)
    np.testing.assert_allclose(res.trajectories["b"], ref["b"], atol=1e-6)


def test_init_sets_only_its_neurons_and_the_rest_start_at_zero() -> None:
    spec = pair_spec("identity", tau_a=1.0, tau_b=0.3)
    spec.inputs = [("i", 2, "init", "a", [0, 2])]
    g = build(spec)
    vals = np.array([[1.5, -2.0], [0.25, 3.0]])
    res = simulate(g, {"i": vals}, t_end=0.5, record=[0.0, 0.5])
    a0 = res.trajectories["a"][0]
    np.testing.assert_array_equal(a0[:, [0, 2]], vals)
    np.testing.assert_array_equal(a0[:, [1, 3]], 0.0)
    np.testing.assert_array_equal(res.trajectories["b"][0], 0.0)
    # then the layer is free: it moves by O(1), far beyond allclose's 1e-5
    assert not np.allclose(res.trajectories["a"][1], a0)


def test_select_picks_weight_rows_per_batch_element() -> None:
    rng = np.random.default_rng(7)
    table = rng.normal(size=(3, 4)) * 0.6  # 3 possible rows of 4
    sel_spec = Spec(
        layers=[("v", 4, Lagrangian("identity"), 0.5, "zero"),
                ("att", 2, Lagrangian("softmax", 1.5), 0.05, "zero")],
        selected={"ctx": (table, "s")},
        bilinear=[(-1.0, "att", "ctx", "v")],
        inputs=[("s", 2, "select", None, ()), ("x", 4, "init", "v", range(4))],
    )
    g = build(sel_spec)
    s = np.array([[0, 2], [1, 1], [2, 0]])
    x = rng.normal(size=(3, 4))
    res = simulate(g, {"s": s, "x": x}, t_end=1.0)
    for b in range(3):
        const = Spec(layers=sel_spec.layers, weights={"ctx": table[s[b]]},
                     bilinear=sel_spec.bilinear, inputs=[("x", 4, "init", "v", range(4))])
        one = simulate(build(const), {"x": x[b:b + 1]}, t_end=1.0)
        for name in ("v", "att"):  # own step sequences at rtol 1e-6: measured 3e-9 apart
            np.testing.assert_allclose(res.states[name][b], one.states[name][0], atol=1e-7)
    with pytest.raises(DenseAMCError, match=r"0\.\.2"):
        simulate(g, {"s": np.array([[0, 3]]), "x": x[:1]}, t_end=1.0)
    with pytest.raises(DenseAMCError, match="integers"):
        simulate(g, {"s": np.array([[0, 0.5]]), "x": x[:1]}, t_end=1.0)


def test_adiabatic_layer_is_always_at_its_target() -> None:
    beta, n_v, n_h = 3.0, 6, 5
    g = hopfield(n_v, n_h, beta=beta, tau_v=1.0, tau_h=0.0, readout_t=1.0)
    xi = np.asarray(g.weights("xi").value)
    cue = np.random.default_rng(2).normal(size=(2, n_v))
    res = simulate(g, {"cue": cue}, record=TIMES)
    # h = xi v at every recorded instant (the same product: rounding only)
    np.testing.assert_allclose(res.trajectories["h"], res.trajectories["v"] @ xi.T, atol=1e-12)

    # v follows the reduced flow tau_v dv/dt = xi^T softmax(beta xi v) - v (independent RK4)
    def f(v: np.ndarray) -> np.ndarray:
        return _act(Lagrangian("softmax", beta), v @ xi.T) @ xi - v

    v = cue.copy()
    out = []
    t, h = 0.0, 1e-3
    for target in TIMES:
        while t < target - 1e-12:
            k1 = f(v)
            k2 = f(v + h / 2 * k1)
            k3 = f(v + h / 2 * k2)
            k4 = f(v + h * k3)
            v = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
        out.append(v.copy())
    # adaptive rtol 1e-6 against RK4 at h = 1e-3 (error ~h^4): measured 1e-8 apart
    np.testing.assert_allclose(res.trajectories["v"], np.stack(out), atol=1e-6)
    # and a very fast hidden layer approaches the adiabatic limit, to O(tau_h / tau_v) = 1e-4
    # (measured 2.6e-5)
    fast = simulate(hopfield(n_v, n_h, beta=beta, tau_v=1.0, tau_h=1e-4), {"cue": cue})
    np.testing.assert_allclose(fast.states["v"], res.states["v"], atol=1e-4)


def test_model_rhs_is_the_gradient_flow() -> None:
    # tau dx/dt = xi^T g(h) - v for the visible layer, xi g(v) - h for the hidden one
    beta, n_v, n_h = 3.0, 6, 5
    g = hopfield(n_v, n_h, beta=beta, tau_v=1.0, tau_h=0.1)
    xi = np.asarray(g.weights("xi").value)
    rng = np.random.default_rng(4)
    v, h = rng.normal(size=(2, n_v)), rng.normal(size=(2, n_h))
    rhs = model_rhs(g, {"cue": np.zeros((2, n_v))})({"v": v, "h": h})
    # the same float64 operations in another order: agreement to a few ulps of the O(1) terms
    np.testing.assert_allclose(rhs["v"], (_act(Lagrangian("softmax", beta), h) @ xi - v) / 1.0,
                               atol=1e-12)
    np.testing.assert_allclose(rhs["h"], (v @ xi.T - h) / 0.1, atol=1e-12)


def _adiabatic_cycle(strength: float) -> tuple:
    rng = np.random.default_rng(11)
    w = rng.normal(size=(3, 3))
    w *= strength / np.linalg.norm(w, 2)
    spec = Spec(
        layers=[("v", 3, Lagrangian("identity"), 1.0, "zero"),
                ("p", 3, Lagrangian("identity"), 0.0, "zero"),
                ("q", 3, Lagrangian("identity"), 0.0, "zero")],
        weights={"w": w, "u": np.eye(3) * 0.5},
        bilinear=[(-1.0, "p", "w", "q"), (-1.0, "v", "u", "p")],
        inputs=[("x", 3, "init", "v", range(3))],
    )
    return build(spec), w


def test_adiabatic_cycle_converges_or_says_why() -> None:
    g, w = _adiabatic_cycle(0.5)
    x = np.array([[1.0, -1.0, 0.5]])
    res = simulate(g, {"x": x}, t_end=0.5, record=[0.0, 0.5])
    for k in range(2):  # iterated to a relative change of 1e-12: measured 1.4e-13 off
        p, q, v = (res.trajectories[n][k] for n in ("p", "q", "v"))
        np.testing.assert_allclose(p, q @ w.T + 0.5 * v, atol=1e-9)  # p = W q + u^T v
        np.testing.assert_allclose(q, p @ w, atol=1e-9)  # q = W^T p
    g_bad, _ = _adiabatic_cycle(1.5)
    with pytest.raises(DenseAMCError, match="cycle"):
        simulate(g_bad, {"x": x}, t_end=0.5)


def test_settled_layers_start_at_their_target_in_declaration_order() -> None:
    rng = np.random.default_rng(4)
    w1 = rng.normal(size=(3, 4)) * 0.4
    w2 = rng.normal(size=(2, 3)) * 0.4
    spec = Spec(
        layers=[("v", 4, Lagrangian("identity"), 0.5, "zero"),
                ("h1", 3, Lagrangian("tanh", 1.0), 0.05, "settled"),
                ("h2", 2, Lagrangian("relu"), 0.05, "settled")],
        weights={"w1": w1, "w2": w2, "b2": np.array([0.3, -0.2])},
        bilinear=[(-1.0, "h1", "w1", "v"), (-1.0, "h2", "w2", "h1")],
        bias=[(-1.0, "b2", "h2")],
        inputs=[("x", 4, "init", "v", range(4))],
    )
    g = build(spec)
    x = rng.normal(size=(2, 4))
    res = simulate(g, {"x": x}, t_end=0.2, record=[0.0])
    h1 = x @ w1.T  # target of h1 from v(0) (h2 is still 0 when h1 settles)
    # the same products as the simulator's: atol 1e-12 is rounding (measured 2e-16)
    np.testing.assert_allclose(res.trajectories["h1"][0], h1, atol=1e-12)
    h2 = np.tanh(h1) @ w2.T + np.array([0.3, -0.2])  # h2 sees h1's settled value
    np.testing.assert_allclose(res.trajectories["h2"][0], h2, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# fixed-step vs adaptive


@pytest.mark.parametrize("stiff", [False, True])
def test_fixed_step_agrees_with_adaptive(stiff: bool) -> None:
    g = hopfield(10, 20, beta=3.0, tau_v=1.0, tau_h=0.01 if stiff else 0.2, readout_t=2.0)
    cue = np.random.default_rng(8).choice([-1.0, 1.0], size=(3, 10)) / np.sqrt(10)
    ada = simulate(g, {"cue": cue})
    fix = simulate(g, {"cue": cue}, method="fixed", dt=0.01)
    eul = simulate(g, {"cue": cue}, method="euler", dt=1e-4 if stiff else 1e-3)
    # ETD(3,5) at dt = 0.01 is fifth order (measured 1.3e-8 from the adaptive run); forward
    # Euler is first order, error ~dt |x''| (measured 1.2e-4)
    for name in ("v", "h"):
        np.testing.assert_allclose(fix.states[name], ada.states[name], atol=1e-7)
        np.testing.assert_allclose(eul.states[name], ada.states[name], atol=1e-3)
    assert fix.stats["steps"] == 200


# --------------------------------------------------------------------------------------------------
# settle time, recording, decoding, energy


def test_settle_time_of_a_linear_decay() -> None:
    # tau x' = b - x from 0: x(t) = b (1 - exp(-t/tau)); settled to 1e-3 * max(1, |x_T|)
    spec = Spec(layers=[("x", 1, Lagrangian("identity"), 0.5, "zero")],
                weights={"b": np.array([2.0])}, bias=[(-1.0, "b", "x")])
    g = build(spec)
    t_end = 10.0
    res = simulate(g, {}, t_end=t_end, rtol=1e-9, atol=1e-12)
    x_t = 2.0 * (1 - np.exp(-t_end / 0.5))
    expect = -0.5 * np.log((1e-3 * x_t) / 2.0 + np.exp(-t_end / 0.5))
    assert res.settle_time.shape == (1,)
    # the band crossing is interpolated in log(violation), exact for an exponential decay; at
    # rtol 1e-9 the result is 9e-6 off the formula: 1e-3 leaves a factor 100
    assert abs(res.settle_time[0] - expect) < 1e-3, (res.settle_time, expect)


def test_recorded_times_between_steps_are_accurate() -> None:
    # the adaptive method records by dense output (it does not land on the times); the fixed
    # step ETD(3,5) lands on them, fifth order at dt = 1e-3: a reference to ~1e-12
    g = hopfield(5, 7, beta=2.0, tau_v=1.0, tau_h=0.05)
    cue = np.random.default_rng(3).normal(size=(2, 5))
    times = np.array([0.0, 0.0013, 0.03, 0.031, 0.3, 0.77, 1.0])
    res = simulate(g, {"cue": cue}, rtol=1e-9, atol=1e-12, record=times)
    ref = simulate(g, {"cue": cue}, method="fixed", dt=1e-3, record=times)
    np.testing.assert_array_equal(res.times, times)
    for name in ("v", "h"):  # dense output at rtol 1e-9: measured 8e-11 from the reference
        np.testing.assert_allclose(res.trajectories[name], ref.trajectories[name], atol=1e-8)
    # recording does not change the integration
    plain = simulate(g, {"cue": cue}, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(plain.states["v"], res.states["v"])


def test_record_every_step_and_energy_function() -> None:
    g = hopfield(5, 7, beta=2.0, tau_v=1.0, tau_h=0.1)
    cue = np.random.default_rng(0).normal(size=(2, 5))
    res = simulate(g, {"cue": cue}, record=True)
    assert res.times[0] == 0.0 and res.times[-1] == pytest.approx(1.0)  # sums of steps: rounding
    assert np.all(np.diff(res.times) > 0)
    assert res.trajectories["v"].shape == (len(res.times), 2, 5)
    # energy() by hand: |v|^2/2 + legendre_softmax(h) - g_h . xi v
    v, h = res.states["v"], res.states["h"]
    xi = np.asarray(g.weights("xi").value)
    lag = Lagrangian("softmax", 2.0)
    p = lag.activation(h)
    by_hand = 0.5 * (v * v).sum(1) + (h * p).sum(1) - lag.lagrangian(h) - np.einsum(
        "bi,ij,bj->b", p, xi, v)
    # the same formula in another order: rounding only (measured 1e-16)
    np.testing.assert_allclose(energy(g, res.states), by_hand, atol=1e-12)
    np.testing.assert_allclose(res.energy, by_hand, atol=1e-12)


def test_decode_outputs_sign_value_argmax() -> None:
    spec = Spec(layers=[("v", 4, Lagrangian("identity"), 1.0, "zero")],
                outputs=[OutputOp("s", 2, "sign", "v", (1, 2)),
                         OutputOp("val", 1, "value", "v", (3,)),
                         OutputOp("all", 4, "sign", "v", ()),
                         OutputOp("cls", 1, "argmax", "v", (),
                                  frozen_array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]),
                                  frozen_array([0.0, 0.0, -0.5]))])
    g = build(spec)
    x = np.array([[0.5, -1.0, 0.0, 0.25], [2.0, 0.1, 0.3, 0.4]])
    out = decode_outputs(g, {"v": x})
    np.testing.assert_array_equal(out["s"], [[-1, 0], [1, 1]])
    np.testing.assert_array_equal(out["val"], [[0.25], [0.4]])
    np.testing.assert_array_equal(out["all"], np.sign(x))
    np.testing.assert_array_equal(out["cls"], [[0.0], [0.0]])
    assert out["cls"].dtype == np.float64


def test_missing_or_misshaped_inputs_are_user_errors() -> None:
    g = hopfield(3, 4)
    with pytest.raises(DenseAMCError, match="no values given"):
        simulate(g, {})
    with pytest.raises(DenseAMCError, match="takes 3 values"):
        simulate(g, {"cue": np.zeros((2, 4))})


def test_divergence_is_reported() -> None:
    # identity layer with strong positive self-coupling: unbounded energy, exponential blow-up
    spec = Spec(layers=[("x", 2, Lagrangian("identity"), 1.0, "zero")],
                weights={"w": np.eye(2) * 400.0}, bilinear=[(-1.0, "x", "w", "x")],
                inputs=[("i", 2, "init", "x", range(2))])
    with pytest.raises(DenseAMCError, match=r"non-finite|unbounded|blow up"):
        simulate(build(spec), {"i": np.ones((1, 2))}, t_end=5.0)


# --------------------------------------------------------------------------------------------------
# judge


def _block(tol: float = 0.01, min_pass: float = 1.0) -> TestBlock:
    vecs = (
        TestVector({"x": np.array([1.0])}, {"y": np.array([1.0, -1.0]), "k": np.array([2.0]),
                                             "val": np.array([0.5])}),
        TestVector({"x": np.array([0.0])}, {"y": np.array([-1.0, -1.0]), "k": np.array([0.0]),
                                             "val": np.array([0.1])}),
    )
    return TestBlock("t", vecs, tol, min_pass)


def test_judge_exact_and_tolerance() -> None:
    kinds = [OutputOp("y", 2, "sign", "v"), OutputOp("k", 1, "argmax", "v"),
             OutputOp("val", 1, "value", "v")]
    got = {"y": np.array([[1.0, -1.0], [-1.0, 1.0]]), "k": np.array([[2.0], [0.0]]),
           "val": np.array([[0.505], [0.2]])}
    res = judge(_block(), got, kinds)
    assert [r.passed for r in res.results] == [True, False]
    bad = res.results[1]
    assert {m.output for m in bad.mismatches} == {"y", "val"}
    assert "vector 2" in bad.describe() and "val" in bad.describe()
    assert not res.passed and "1/2" in res.summary()
    assert judge(_block(min_pass=0.5), got, kinds).passed
    assert judge(_block(tol=0.2), got, kinds).results[1].mismatches[0].output == "y"
