"""The model's dynamics in JAX (diffrax), differentiable in the weights, with one chip's
non-idealities mapped back to the model.

The structure comes from the graph IR exactly as the numpy simulator reads it: the layers, their
drives and biases (`graph.dynamics`), clamps, init inputs, `init=settled` and the adiabatic
layers' dependency order are taken from a `backends.sim.system.System` built for the same batch,
so the two simulators cannot disagree on what the model is. Only the arithmetic is redone in
JAX (the numpy one is not differentiable):

    tau_x dx/dt = sum_d coef_d * (W_d or W_d^T) @ g(source_d) + bias + offset - x

A chip (`Chip`, one draw) changes, at the model level:

- every drive d is its own physical array (`realise`: forward and transposed crossbars of a
  bilinear term are separate components), so its W_d is W * factor_d, factor_d = exp(g_sigma z)
  per device, 0 where a device is stuck off and |W_d| = g_max * R_F(target) / |coef| (the
  largest conductance) where stuck on; a selected array has its own devices per selected line
  and option, as in the circuit;
- every neuron's op-amp input offset v_os shifts its target by (1 + R_F G_column) v_os / v_unit
  state units (the summing node sits at v_os: the feedback and every device of the column see
  it; R_F G_column = sum of |coef W| into the neuron);
- every activation output: g (1 + act_gain_sigma z) + act_offset_sigma z' / v_unit (one rail per
  neuron: the model does not separate a neuron's positive and negative rails);
- every capacitor: tau (1 + c_sigma z), at least 1% of tau.

Not modelled here (the circuit Monte Carlo, which judges the result, has them): wire resistance,
quantisation to `levels`, the amplifier's finite gain and bandwidth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from denseamc.backends.sim.system import Layer, System
from denseamc.compiler.harden.params import Tying
from denseamc.ir import DenseAMCError, ModelGraph, error
from denseamc.ir.hardware import Hardware
from denseamc.ir.model import OutputOp

jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]

JArray = Any  # a jax array (jax's own type does not pass mypy --strict)
Params = Mapping[str, JArray]

#: Gauss-Seidel sweeps for adiabatic layers that drive each other (a fixed count: differentiable)
CYCLE_SWEEPS = 200
#: smallest realised tau as a fraction of the nominal one (as `realise` floors C_F)
TAU_FLOOR = 0.01


def activation(kind: str, param: float | None, x: JArray) -> JArray:
    """g(x) of a Lagrangian kind (ir/lagrangians.py), in JAX."""
    p = 1.0 if param is None else float(param)
    if kind == "identity":
        return x
    if kind == "relu":
        return jnp.maximum(x, 0.0)
    if kind == "tanh":
        return jnp.tanh(p * x)
    if kind == "sigmoid":
        return 0.5 * (1.0 + jnp.tanh(0.5 * p * x))
    if kind == "rectpoly":
        return jnp.maximum(x, 0.0) ** (p - 1.0)
    if kind == "softmax":
        return jax.nn.softmax(p * x, axis=-1)
    raise DenseAMCError(error(f"harden: no JAX form of the Lagrangian '{kind}' yet", None))


@dataclass(frozen=True)
class DriveSpec:
    """One drive of the dynamics, as built from `graph.dynamics`."""

    target: int
    source: int
    weights: str
    coef: float
    transpose: bool
    selected: bool


@dataclass
class Chip:
    """One draw of the non-idealities, as JAX arrays (a pytree: vmap over draws).

    factor[k], stuck_on[k]: per drive k, the shape of its weights (selected: (lines, options,
    cols)); offset/gain/act_offset/tau_scale: per layer index, shape (n,)."""

    factor: list[JArray]
    stuck_on: list[JArray]
    offset: list[JArray]
    gain: list[JArray]
    act_offset: list[JArray]
    tau_scale: list[JArray]


jax.tree_util.register_dataclass(
    Chip, data_fields=["factor", "stuck_on", "offset", "gain", "act_offset", "tau_scale"],
    meta_fields=[])


class JaxModel:
    """The model for one batch of inputs, as pure functions of (params, chip)."""

    def __init__(self, graph: ModelGraph, tying: Tying, inputs: Mapping[str, object],
                 hw: Hardware, v_unit: float) -> None:
        self.graph, self.tying, self.hw, self.v_unit = graph, tying, hw, v_unit
        self.sys = System(graph, inputs)
        self.layers: list[Layer] = self.sys.layers
        index = {lay.name: lay.index for lay in self.layers}
        self.drives: list[DriveSpec] = []
        for lay in self.layers:
            for d in graph.dynamics[lay.name].drives:
                op = graph.weights(d.weights)
                self.drives.append(DriveSpec(lay.index, index[d.source], d.weights, d.coef,
                                             d.transpose, op.is_selected))
        self.selects = {k: jnp.asarray(v) for k, v in self.sys.selects.items()}
        self.batch = self.sys.batch
        self._check_supported()
        #: the solver of fixed-step (training) runs: Heun (2 stages), stable for dt < 2 tau
        self.fixed_solver: Any = diffrax.Heun()

    def _check_supported(self) -> None:
        for lay in self.layers:
            activation(lay.lag.kind, lay.lag.param, jnp.zeros(1))

    # -- weights -------------------------------------------------------------------------------
    def raw(self, params: Params, name: str) -> JArray:
        """Weights `name` (constant, or the table of a selected array) from the parameters."""
        p = self.tying.weights.get(name)
        if p is not None and p in params:
            return params[p]
        op = self.graph.weights(name)
        return jnp.asarray(op.table if op.is_selected else op.value)

    def nominal_chip(self) -> Chip:
        shapes = [self.device_shape(d) for d in self.drives]
        sizes = [lay.size for lay in self.layers]
        return Chip([jnp.ones(s) for s in shapes], [jnp.zeros(s, dtype=bool) for s in shapes],
                    [jnp.zeros(n) for n in sizes], [jnp.ones(n) for n in sizes],
                    [jnp.zeros(n) for n in sizes], [jnp.ones(n) for n in sizes])

    def device_shape(self, d: DriveSpec) -> tuple[int, ...]:
        op = self.graph.weights(d.weights)
        if op.is_selected:
            assert op.table is not None
            return (op.shape[0], *op.table.shape)  # lines, options, cols
        return tuple(op.shape)

    def stuck_on_weight(self, params: Params) -> list[JArray]:
        """|W| of a device stuck at g_max, per drive: g_max R_F(target) / |coef|, R_F as the
        compiler sets it (auto: the largest |coef W| into the layer gets g_max)."""
        largest = [jnp.zeros(()) for _ in self.layers]
        for d in self.drives:
            w = jax.lax.stop_gradient(jnp.max(jnp.abs(self.raw(params, d.weights)))) * abs(d.coef)
            largest[d.target] = jnp.maximum(largest[d.target], w)
        r_f = self.hw.r_f
        return [(largest[d.target] if r_f is None else self.hw.g_max * r_f) / abs(d.coef)
                for d in self.drives]

    def drive_matrices(self, params: Params, chip: Chip) -> list[JArray]:
        """Per drive: the realised matrix oriented [batch?, target, source], coef included."""
        won = self.stuck_on_weight(params)
        mats = []
        for k, d in enumerate(self.drives):
            w = self.raw(params, d.weights)
            if d.selected:
                w = jnp.broadcast_to(w, chip.factor[k].shape)
            real = jnp.where(chip.stuck_on[k], jnp.sign(w) * won[k], w * chip.factor[k])
            if d.selected:  # row j of W is line j's own table at option select[b, j]
                op = self.graph.weights(d.weights)
                assert op.select is not None
                sel = self.selects[op.select]
                lines = jnp.arange(real.shape[0])[None, :]
                real = real[lines, sel]  # (B, rows, cols)
                m = jnp.swapaxes(real, 1, 2) if d.transpose else real
            else:
                m = real.T if d.transpose else real
            mats.append(d.coef * m)
        return mats

    def biases(self, params: Params) -> list[JArray | None]:
        out: list[JArray | None] = []
        for lay in self.layers:
            total = None
            for b in self.graph.dynamics[lay.name].biases:
                w = b.coef * self.raw(params, b.weights)
                total = w if total is None else total + w
            out.append(total)
        return out

    # -- dynamics ------------------------------------------------------------------------------
    def _offsets(self, mats: list[JArray], chip: Chip) -> list[JArray]:
        """Op-amp offsets in state units: (1 + sum |coef W| into the neuron) v_os / v_unit."""
        gain = [jnp.ones((lay.size,)) for lay in self.layers]
        for d, m in zip(self.drives, mats, strict=True):
            gain[d.target] = gain[d.target] + jnp.sum(jnp.abs(m), axis=-1)
        return [g * o / self.v_unit for g, o in zip(gain, chip.offset, strict=True)]

    def _prepare(self, params: Params, chip: Chip) -> dict[str, Any]:
        mats = self.drive_matrices(params, chip)
        return {"mats": mats, "bias": self.biases(params), "offset": self._offsets(mats, chip),
                "chip": chip}

    def _act(self, lay: Layer, x: JArray, ctx: dict[str, Any]) -> JArray:
        chip: Chip = ctx["chip"]
        g = activation(lay.lag.kind, lay.lag.param, x)
        return g * chip.gain[lay.index] + chip.act_offset[lay.index] / self.v_unit

    def _target(self, lay: Layer, acts: list[JArray | None], ctx: dict[str, Any]) -> JArray:
        acc = jnp.zeros((self.batch, lay.size)) + ctx["offset"][lay.index]
        for d, m in zip(self.drives, ctx["mats"], strict=True):
            if d.target != lay.index:
                continue
            g = acts[d.source]
            assert g is not None
            acc = acc + (jnp.einsum("bts,bs->bt", m, g) if m.ndim == 3 else g @ m.T)
        bias = ctx["bias"][lay.index]
        if bias is not None:
            acc = acc + bias
        if lay.clamp_idx.size:
            acc = acc.at[:, lay.clamp_idx].set(jnp.asarray(lay.clamp_val))
        return acc

    def activations(self, parts: list[JArray], ctx: dict[str, Any]) -> tuple[
            list[JArray | None], dict[int, JArray]]:
        """Activations of every layer from the dynamic layers' states; adiabatic states solved."""
        acts: list[JArray | None] = [None] * len(self.layers)
        states: dict[int, JArray] = {}
        for lay, x in zip(self.sys.dynamic, parts, strict=True):
            acts[lay.index] = self._act(lay, x, ctx)
        for comp in self.sys.adiabatic_order:
            if len(comp) == 1 and not comp[0].self_driven:
                lay = comp[0]
                states[lay.index] = x = self._target(lay, acts, ctx)
                acts[lay.index] = self._act(lay, x, ctx)
                continue
            xs = [jnp.zeros((self.batch, lay.size)) for lay in comp]
            for lay, x in zip(comp, xs, strict=True):
                acts[lay.index] = self._act(lay, x, ctx)

            def sweep(_: int, xs: list[JArray], comp: list[Layer] = comp,
                      acts: list[JArray | None] = acts) -> list[JArray]:
                local = list(acts)
                new = []
                for lay in comp:
                    x = self._target(lay, local, ctx)
                    local[lay.index] = self._act(lay, x, ctx)
                    new.append(x)
                return new

            xs = jax.lax.fori_loop(0, CYCLE_SWEEPS, sweep, xs)
            for lay, x in zip(comp, xs, strict=True):
                states[lay.index] = x
                acts[lay.index] = self._act(lay, x, ctx)
        return acts, states

    def _rhs(self, t: Any, y: list[JArray], ctx: dict[str, Any]) -> list[JArray]:
        acts, _ = self.activations(y, ctx)
        chip: Chip = ctx["chip"]
        out = []
        for lay, x in zip(self.sys.dynamic, y, strict=True):
            tau = lay.tau * jnp.maximum(chip.tau_scale[lay.index], TAU_FLOOR)
            dx = (self._target(lay, acts, ctx) - x) / tau
            if lay.clamp_idx.size:
                dx = dx.at[:, lay.clamp_idx].set(0.0)
            out.append(dx)
        return out

    def initial(self, ctx: dict[str, Any]) -> list[JArray]:
        """u(0) as `System.initial_state`: init inputs and clamps, then settled layers."""
        u0 = jnp.asarray(self.sys.initial_state())  # init inputs and clamps (no weights)
        parts = [u0[:, lay.sl] for lay in self.sys.dynamic]
        settled = {op.name for op in self.graph.layers() if op.init == "settled"}
        for i, lay in enumerate(self.sys.dynamic):
            if lay.name in settled:
                acts, _ = self.activations(parts, ctx)
                x = self._target(lay, acts, ctx)
                keep = self._init_override(lay)
                parts[i] = jnp.where(keep, parts[i], x)
        return parts

    def _init_override(self, lay: Layer) -> JArray:
        """Neurons of a settled layer whose u(0) comes from an init input or a clamp."""
        mask = np.zeros(lay.size, dtype=bool)
        for inp in self.graph.inputs():
            if inp.layer == lay.name and inp.mode in ("init", "clamp"):
                mask[list(inp.indices)] = True
        return jnp.asarray(mask)

    def final_states(self, params: Params, chip: Chip, t_end: float | None = None,
                     rtol: float | None = None, atol: float = 1e-10,
                     dt: float | None = None) -> dict[str, JArray]:
        """Every layer's state at t_end (default: the readout time). `dt` fixes the step;
        otherwise the step is adaptive to rtol/atol (default rtol 1e-6)."""
        t1 = float(self.graph.readout_t if t_end is None else t_end)
        ctx = self._prepare(params, chip)
        y0 = self.initial(ctx)
        if self.sys.dynamic and t1 > 0:
            solver: Any = diffrax.Tsit5()
            max_steps = 100_000
            if dt is not None:
                # fixed steps: max_steps exact, so the adjoint keeps every step (no recompute)
                controller: Any = diffrax.ConstantStepSize()
                max_steps = int(np.ceil(t1 / dt - 1e-9)) + 1
                dt0 = t1 / (max_steps - 1) if max_steps > 1 else t1
                solver = self.fixed_solver
            else:
                controller = diffrax.PIDController(rtol=1e-6 if rtol is None else rtol,
                                                   atol=atol)
                dt0 = None
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(self._rhs), solver, t0=0.0, t1=t1, dt0=dt0, y0=y0,
                args=ctx, saveat=diffrax.SaveAt(t1=True), stepsize_controller=controller,
                adjoint=diffrax.RecursiveCheckpointAdjoint(
                    checkpoints=max_steps if dt is not None else None),
                max_steps=max_steps)
            assert sol.ys is not None
            y = [s[-1] for s in sol.ys]
        else:
            y = y0
        _, adiabatic = self.activations(y, ctx)
        states = {lay.name: x for lay, x in zip(self.sys.dynamic, y, strict=True)}
        states.update({self.layers[i].name: x for i, x in adiabatic.items()})
        return states

    def decoder(self, params: Params, o: OutputOp) -> tuple[JArray | None, JArray | None]:
        """An argmax output's decoder and offset: the trained parameters they are tied to, or
        the output's own constants (None where it has none)."""
        tie = self.tying.decoders.get(o.name)
        dec: JArray | None = o.decoder
        off: JArray | None = o.offset
        if tie is not None and tie.decoder is not None and tie.decoder in params:
            dec = params[tie.decoder]
        if tie is not None and tie.offset is not None and tie.offset in params:
            off = params[tie.offset] * tie.offset_sign
        return (None if dec is None else jnp.asarray(dec),
                None if off is None else jnp.asarray(off))

    def readout(self, params: Params, chip: Chip, states: Mapping[str, JArray]
                ) -> dict[str, JArray]:
        """Per output, what it decodes: the argmax scores, or the read activations."""
        ctx = {"chip": chip}
        out = {}
        for o in self.graph.outputs():
            lay = self.layers[[x.name for x in self.layers].index(o.layer)]
            g = self._act(lay, states[o.layer], ctx)
            if o.indices:
                g = g[:, list(o.indices)]
            if o.kind == "argmax":
                dec, off = self.decoder(params, o)
                scores = g if dec is None else g @ dec.T
                out[o.name] = scores if off is None else scores + off
            else:
                out[o.name] = g
        return out
