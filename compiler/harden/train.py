"""Training under sampled chips: the draws, the loss on decoded outputs, the bounded energy, the
optax loop. Every step draws `draws` fresh chips (`sample_chip`) and averages the loss over them.

Parameters move in their own scale: p = p0 + scale(p0) * theta * free, theta starts at 0, so
one learning rate suits arrays of any magnitude and entries without a device stay 0.

Loss per vector and draw (a hinge on the decision, in activation units of the read layer):

- argmax: d = min over wrong classes k of (s_y - s_k) / |dec_y - dec_k| (the distance of the
  read activations from the decision boundary; rescaling the decoder does not change it);
- sign: d = y g (y = +-1), and d = -|g| for a 0 target;
- value: (g - y)^2;

and the hinge is relu(margin - d); the default margin is `auto_margin`. The energy stays
bounded: the smallest eigenvalue of I + M over the identity/relu couplings (as
`analyze-energy` computes it, selected arrays by their worst-case bound) is kept above
min(ENERGY_FLOOR, its starting value / 2) by a penalty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from denseamc.compiler.harden.dynamics import Chip, JArray, JaxModel
from denseamc.ir import BilinearTerm, ModelGraph
from denseamc.ir.hardware import Hardware
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: the energy's margin of boundedness kept: smallest eigenvalue of I + M (dimensionless)
ENERGY_FLOOR = 0.05
#: weight of the boundedness penalty against the loss
ENERGY_PENALTY = 100.0


def sample_chip(model: JaxModel, hw: Hardware, key: JArray) -> Chip:
    """One draw of every non-ideality the model-level chip has (dynamics.py docstring)."""
    keys = iter(jax.random.split(key, 2 * len(model.drives) + 4 * len(model.layers)))
    factor, stuck = [], []
    for d in model.drives:
        shape = model.device_shape(d)
        z = jax.random.normal(next(keys), shape)
        u = jax.random.uniform(next(keys), shape)
        factor.append(jnp.exp(hw.g_sigma * z) * (u >= hw.p_stuck_off))
        stuck.append((u >= hw.p_stuck_off) & (u < hw.p_stuck_off + hw.p_stuck_on))

    def per_layer(sigma: float, base: float) -> list[JArray]:
        return [base + sigma * jax.random.normal(next(keys), (lay.size,))
                for lay in model.layers]

    return Chip(factor, stuck, per_layer(hw.offset_sigma, 0.0),
                per_layer(hw.act_gain_sigma, 1.0), per_layer(hw.act_offset_sigma, 0.0),
                per_layer(hw.c_sigma, 1.0))


def distances(model: JaxModel, params: Mapping[str, JArray], read: Mapping[str, JArray],
              targets: Mapping[str, Array]) -> dict[str, JArray]:
    """Per argmax or sign output, each vector's distance d from its decision (module docstring;
    negative when wrong), in activation units; shape (B,) or (B, size)."""
    out = {}
    for o in model.graph.outputs():
        r, y = read[o.name], jnp.asarray(targets[o.name])
        if o.kind == "argmax":
            cls = y[:, 0].astype(int)
            k = r.shape[-1]
            dec = model.decoder(params, o)[0]
            dec = jnp.eye(k) if dec is None else dec
            diff = r[jnp.arange(r.shape[0]), cls][:, None] - r  # (B, K)
            # sqrt(sum + tiny): the norm's gradient at 0 (the true class) would be NaN
            gap = dec[cls][:, None, :] - dec[None, :, :]
            dist = jnp.sqrt(jnp.sum(gap**2, axis=-1) + 1e-30)
            wrong = jnp.arange(k)[None, :] != cls[:, None]
            out[o.name] = jnp.min(jnp.where(wrong, diff / dist, jnp.inf), axis=-1)
        elif o.kind == "sign":
            out[o.name] = jnp.where(y == 0, -jnp.abs(r), y * r)
    return out


def output_loss(model: JaxModel, params: Mapping[str, JArray], read: Mapping[str, JArray],
                targets: Mapping[str, Array], margin: float) -> JArray:
    """Mean hinge loss relu(margin - d) over vectors, plus (g - y)^2 of value outputs."""
    total = jnp.zeros(())
    dist = distances(model, params, read, targets)
    for o in model.graph.outputs():
        if o.name in dist:
            total = total + jnp.mean(jax.nn.relu(margin - dist[o.name]))
        else:
            total = total + jnp.mean((read[o.name] - jnp.asarray(targets[o.name])) ** 2)
    return total


def auto_margin(model: JaxModel, params: Mapping[str, JArray], targets: Mapping[str, Array]
                ) -> float:
    """The median distance from the decision of the correctly decided vectors of the nominal
    model: the hinge then works on the less certain half and on every draw that pushes a vector
    below it, whatever the scale of the read layer."""
    chip = model.nominal_chip()
    read = model.readout(params, chip, model.final_states(params, chip, rtol=1e-6))
    d = np.concatenate([np.ravel(x) for x in distances(model, params, read, targets).values()])
    right = d[d > 0]
    return float(np.median(right)) if right.size else 1.0


def energy_margin(graph: ModelGraph, model: JaxModel, params: Mapping[str, JArray]
                  ) -> JArray | None:
    """Smallest eigenvalue of I + M over the quadratic (identity, relu) layers' couplings,
    as `passes.energy.check_bounded` computes it; None when they are uncoupled."""
    quad = [lay for lay in graph.layers()
            if not lay.lagrangian.bounded and lay.lagrangian.quadratic]
    offsets, total = {}, 0
    for lay in quad:
        offsets[lay.name] = total
        total += lay.size
    m = jnp.zeros((total, total))
    coupled = False
    for term in graph.terms():
        if not (isinstance(term, BilinearTerm) and term.a in offsets and term.b in offsets):
            continue
        op = graph.weights(term.weights)
        w = model.raw(params, term.weights)
        if op.is_selected:  # worst case over selections: sqrt(rows) * largest row norm
            norm = jnp.sqrt(op.shape[0]) * jnp.max(jnp.linalg.norm(w.reshape(len(w), -1),
                                                                   axis=1))
            k = min(op.shape)
            w = jnp.zeros(op.shape).at[jnp.arange(k), jnp.arange(k)].set(norm)
        ia, ib = offsets[term.a], offsets[term.b]
        block = jnp.zeros((total, total)).at[ia:ia + w.shape[0], ib:ib + w.shape[1]].set(
            term.coef * w)
        m = m + block + block.T
        coupled = True
    if not coupled:
        return None
    # lambda_min = v^T A v with v its eigenvector held constant (Hellmann-Feynman): the same
    # value, and a gradient without eigh's 1/(lambda_i - lambda_j), NaN at repeated eigenvalues
    a = jnp.eye(total) + m
    _, vecs = jnp.linalg.eigh(jax.lax.stop_gradient(a))
    v = vecs[:, 0]
    return v @ a @ v


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    draws: int
    seed: int
    lr: float
    margin: float | None  # None: auto_margin
    dt: float | None


@dataclass(frozen=True)
class TrainResult:
    params: dict[str, Array]
    loss_before: float  # on the fixed evaluation draws
    loss_after: float
    margin: float  # the hinge margin used (activation units)
    history: tuple[float, ...]  # the training loss of every step


def _step_size(model: JaxModel) -> float:
    """A fixed step for training: the fastest layer's tau (Heun is stable to 2 tau; a fast
    layer is slaved to the slow ones, so its own error does not accumulate), at least
    t_end / 2000."""
    taus = [lay.tau for lay in model.sys.dynamic]
    t_end = float(model.graph.readout_t)
    dt = min(taus) if taus else t_end
    return max(dt, t_end / 2000) if t_end > 0 else 1.0


def train(model: JaxModel, hw: Hardware, targets: Mapping[str, Array], settings: TrainSettings,
          log: Callable[[str], None]) -> TrainResult:
    """Fine-tune the trained parameters of `model.tying` under fresh chips at every step."""
    tying = model.tying
    names = tying.trained
    p0 = {n: jnp.asarray(p.value) for n, p in tying.params.items()}
    scale = {n: float(np.max(np.abs(tying.params[n].value), initial=0.0)) or 1.0 for n in names}
    free = {n: jnp.asarray(tying.params[n].free, dtype=float) for n in names}
    dt = settings.dt or _step_size(model)

    def params_of(theta: Mapping[str, JArray]) -> dict[str, JArray]:
        out = dict(p0)
        for n in names:
            out[n] = p0[n] + scale[n] * theta[n] * free[n]
        return out

    margin = settings.margin if settings.margin is not None else auto_margin(model, p0, targets)
    log(f"hinge margin {margin:.4g} (activation units)")
    lam0 = energy_margin(model.graph, model, p0)
    floor = None if lam0 is None or float(lam0) <= 0 else min(ENERGY_FLOOR, float(lam0) / 2)

    def loss_on(theta: Mapping[str, JArray], keys: JArray) -> JArray:
        params = params_of(theta)

        def one(key: JArray) -> JArray:
            chip = sample_chip(model, hw, key)
            states = model.final_states(params, chip, dt=dt)
            return output_loss(model, params, model.readout(params, chip, states), targets,
                               margin)

        loss = jnp.mean(jax.vmap(one)(keys))
        if floor is not None:
            lam = energy_margin(model.graph, model, params)
            assert lam is not None  # coupled at the start, coupled now
            loss = loss + ENERGY_PENALTY * jax.nn.relu(floor - lam) ** 2
        return loss

    base = jax.random.PRNGKey(settings.seed)
    # evaluation draws: as many as a step (the compiled function's shape), none of a step's
    eval_keys = jax.random.split(jax.random.fold_in(base, 2**31 - 1), settings.draws)
    opt = optax.adam(settings.lr)
    theta = {n: jnp.zeros(tying.params[n].value.shape) for n in names}
    state = opt.init(theta)

    grad = jax.jit(jax.value_and_grad(loss_on))  # one compiled function: steps and evaluation

    def step(theta: dict[str, JArray], state: Any, k: int) -> tuple[Any, Any, JArray]:
        keys = jax.random.split(jax.random.fold_in(base, k), settings.draws)
        loss, grads = grad(theta, keys)
        updates, state = opt.update(grads, state, theta)
        return optax.apply_updates(theta, updates), state, loss

    def evaluate(theta: dict[str, JArray], keys: JArray) -> float:
        return float(grad(theta, keys)[0])

    before = evaluate(theta, eval_keys)
    log(f"loss on {len(eval_keys)} fixed draws before: {before:.4g}")
    history = []
    every = max(1, settings.steps // 10)
    for k in range(settings.steps):
        theta, state, loss = step(theta, state, k)
        history.append(float(loss))
        if (k + 1) % every == 0:
            log(f"step {k + 1}/{settings.steps}: loss {np.mean(history[-every:]):.4g}")
    after = evaluate(theta, eval_keys)
    log(f"loss on {len(eval_keys)} fixed draws after: {after:.4g}")
    final = params_of(theta)
    return TrainResult({n: np.asarray(final[n], dtype=np.float64) for n in names}, before,
                       after, margin, tuple(history))
