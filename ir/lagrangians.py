"""The Lagrangians of the language, one class each: L(x), g = dL/dx, dg/dx, and their circuits.

Every array function works on arrays whose last axis is the layer's neurons (leading axes are
batch), so the simulators, the energy analysis and the lowering share one definition of each
activation. `Lagrangian(kind, param)` is the IR value the DSL builds and the printers show
(`tanh(2.0)`); it returns an instance of the kind's class (`Tanh`), which holds everything that
differs between kinds:

* the math: `lagrangian` (L summed over the neurons), `activation` (g), `jacobian` (dg/dx);
* the rules: the parameter's name and `convexity_problem` (what the DSL rejects), and the
  properties the energy analysis asks (`bounded`, `elementwise`, `quadratic`, `superquadratic`);
* the circuit text: `spice_activation` / `spice_legendre` (B-source expressions of g and of the
  layer's energy, `num` formats every number) and the Verilog-A module, its instance parameters
  and, for an elementwise kind, the lines of its `analog` block (`va_doc`, `va_decls`, `va_body`).

Adding a Lagrangian is one subclass here plus its entry in `LAGRANGIANS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
#: The netlist number formatter (backends.units.num): a float as text.
Fmt = Callable[[float], str]
#: (coefficient, expression) pairs whose sum is an energy in model units.
Terms = list[tuple[float, str]]


@dataclass(frozen=True, slots=True)
class Lagrangian:
    """A convex Lagrangian; `param` is the gain, beta or n, or None for identity and relu.

    `Lagrangian("tanh", 2.0)` builds the kind's class (`Tanh`); an unknown kind is a ValueError.
    """

    kind: str
    param: float | None = None

    #: The parameter's name in the language (`tanh(gain)`), None when the kind takes none.
    param_name: ClassVar[str | None] = None
    #: g is bounded: a coupling to this layer cannot make E unbounded below.
    bounded: ClassVar[bool] = False
    #: g_i depends on x_i alone (softmax couples the layer's neurons).
    elementwise: ClassVar[bool] = True
    #: The Verilog-A module realising one neuron (backends/va_primitives.py).
    va_module: ClassVar[str] = ""
    #: Elementwise kinds: the module's comment, parameter declarations and `g = ...` lines.
    va_doc: ClassVar[str] = ""
    va_decls: ClassVar[str] = ""
    va_body: ClassVar[str] = ""
    #: A linear kind: V(out_p) = spice_gain * V(in) is one VCVS, no behavioural source.
    spice_gain: ClassVar[float | None] = None

    def __new__(cls, kind: str = "", param: float | None = None) -> Lagrangian:
        # the base dispatches on `kind`; a subclass (and unpickling, which passes no kind) is
        # built as itself
        if cls is Lagrangian:
            try:
                cls = LAGRANGIANS[kind]
            except KeyError:
                raise ValueError(f"unknown Lagrangian {kind!r}") from None
        return object.__new__(cls)

    def __post_init__(self) -> None:
        if LAGRANGIANS.get(self.kind) is not type(self):
            raise ValueError(f"{type(self).__name__} built with kind {self.kind!r}")

    def __str__(self) -> str:
        return self.kind if self.param is None else f"{self.kind}({self.param!r})"

    @property
    def p(self) -> float:
        """The parameter as a float (kinds that take one; `convexity_problem` checked it)."""
        if self.param is None:
            raise ValueError(f"{self.kind} needs its parameter")
        return float(self.param)

    # -- rules --------------------------------------------------------------------------------
    def convexity_problem(self) -> str | None:
        """Return why this Lagrangian is not convex (or not smooth enough), or None if it is."""
        return None

    @property
    def quadratic(self) -> bool:
        """The legendre term is |g|^2/2, so E restricted to such layers is a quadratic form."""
        return False

    @property
    def superquadratic(self) -> bool:
        """The interaction grows faster than a coupled unbounded layer's legendre term."""
        return False

    # -- math ---------------------------------------------------------------------------------
    def activation(self, x: Array) -> Array:
        """g(x) = dL/dx, elementwise except softmax (over the last axis)."""
        raise NotImplementedError

    def lagrangian(self, x: Array) -> Array:
        """L(x), summed over the last axis."""
        raise NotImplementedError

    def slope(self, x: Array) -> Array:
        """dg_i/dx_i of an elementwise kind, elementwise."""
        raise NotImplementedError

    def legendre(self, x: Array) -> Array:
        """x . g(x) - L(x), summed over the last axis: the layer's own energy term."""
        out: Array = np.sum(x * self.activation(x), axis=-1) - self.lagrangian(x)
        return out

    def jacobian(self, x: Array) -> Array:
        """dg/dx as a matrix per batch element: shape (..., n, n)."""
        out: Array = self.slope(x)[..., :, None] * np.eye(x.shape[-1])
        return out

    # -- circuits -----------------------------------------------------------------------------
    def spice_activation(self, vin: str, v_unit: float, num: Fmt) -> str:
        """B-source expression of +v_unit g(x) from the node expression `vin` = -v_unit x
        (elementwise kinds without a `spice_gain`)."""
        raise NotImplementedError

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        """The layer's legendre term from its x and gp node expressions (V(x) = -v_unit x,
        V(gp) = v_unit g); `block()` names the softmax block's reference and sum nodes."""
        raise NotImplementedError

    def va_params(self, num: Fmt, integer: Callable[[int], str]) -> dict[str, str]:
        """The module's instance parameters besides v_unit."""
        return {}

    def va_problem(self) -> str | None:
        """Why the Verilog-A module cannot realise this parameter, or None."""
        return None


def _positive_param_problem(lag: Lagrangian) -> str | None:
    p = lag.param
    if p is None or not p > 0:
        return f"{lag.kind} needs {lag.param_name} > 0 for a convex Lagrangian, got {p!r}"
    return None


def _cross_terms(xs: Sequence[str], gs: Sequence[str], v_unit: float) -> Terms:
    """-x . g in model units, from the node expressions."""
    return [(-1.0 / v_unit**2, f"{x}*{g}") for x, g in zip(xs, gs, strict=True)]


class Identity(Lagrangian):
    """L = |x|^2/2, g = x."""

    __slots__ = ()
    va_module = "dam_identity"
    va_doc = "Identity: g(x) = x (a unity buffer plus an inverted rail)."
    va_body = "        g = x;\n"
    spice_gain = -1.0

    @property
    def quadratic(self) -> bool:
        return True

    def activation(self, x: Array) -> Array:
        return x

    def lagrangian(self, x: Array) -> Array:
        out: Array = 0.5 * np.sum(x * x, axis=-1)
        return out

    def slope(self, x: Array) -> Array:
        return np.ones_like(x)

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        return [(0.5 / v_unit**2, f"{x}*{x}") for x in xs]


class Tanh(Lagrangian):
    """L = sum log cosh(gain x)/gain, g = tanh(gain x)."""

    __slots__ = ()
    param_name = "gain"
    bounded = True
    va_module = "dam_tanh"
    va_doc = "Hyperbolic tangent: g(x) = tanh(gain*x)."
    va_decls = ('    (*desc="slope at the origin", type="instance"*)\n'
                "    parameter real gain = 1.0;\n")
    va_body = "        g = tanh(gain*x);\n"
    #: ln of the positive factor whose derivative in z is g (log cosh z for tanh)
    _spice_log = "ln(cosh({}))"

    def convexity_problem(self) -> str | None:
        return _positive_param_problem(self)

    def activation(self, x: Array) -> Array:
        return np.tanh(self.p * x)

    def lagrangian(self, x: Array) -> Array:
        p = self.p
        z = np.abs(p * x)  # log cosh z = z + log1p(exp(-2z)) - log 2, stable for large z
        out: Array = np.sum(z + np.log1p(np.exp(-2.0 * z)) - np.log(2.0), axis=-1) / p
        return out

    def slope(self, x: Array) -> Array:
        out: Array = self.p * (1.0 - np.tanh(self.p * x) ** 2)
        return out

    def spice_activation(self, vin: str, v_unit: float, num: Fmt) -> str:
        return f"{num(v_unit)}*tanh({num(-self.p / v_unit)}*{vin})"

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        z = f"{num(-self.p / v_unit)}*{{}}"
        return _cross_terms(xs, gs, v_unit) + [
            (-1.0 / self.p, self._spice_log.format(z.format(x))) for x in xs]

    def va_params(self, num: Fmt, integer: Callable[[int], str]) -> dict[str, str]:
        return {"gain": num(self.p)}


class Sigmoid(Tanh):
    """L = sum log(1 + exp(gain x))/gain, g = 1/(1 + exp(-gain x))."""

    __slots__ = ()
    va_module = "dam_sigmoid"
    va_doc = ("Logistic sigmoid: g(x) = 1/(1 + exp(-gain*x)), evaluated as "
              "0.5*(1 + tanh(gain*x/2)).")
    # 0.5*(1 + tanh(z/2)) equals 1/(1 + exp(-z)) and cannot overflow for any z.
    va_body = "        g = 0.5*(1.0 + tanh(0.5*gain*x));\n"
    _spice_log = "ln(1.0+exp({}))"

    def activation(self, x: Array) -> Array:
        out: Array = 0.5 * (1.0 + np.tanh(0.5 * self.p * x))  # overflow-free logistic
        return out

    def lagrangian(self, x: Array) -> Array:
        out: Array = np.sum(np.logaddexp(0.0, self.p * x), axis=-1) / self.p
        return out

    def slope(self, x: Array) -> Array:
        s = self.activation(x)
        out: Array = self.p * s * (1.0 - s)
        return out

    def spice_activation(self, vin: str, v_unit: float, num: Fmt) -> str:
        return f"{num(v_unit / 2)}*(1.0+tanh({num(-self.p / (2 * v_unit))}*{vin}))"


class Relu(Lagrangian):
    """L = |relu(x)|^2/2, g = relu(x)."""

    __slots__ = ()
    va_module = "dam_relu"
    va_doc = "Rectifier: g(x) = max(x, 0)."
    va_body = "        g = max(x, 0.0);\n"

    @property
    def quadratic(self) -> bool:
        return True

    def activation(self, x: Array) -> Array:
        return np.maximum(x, 0.0)

    def lagrangian(self, x: Array) -> Array:
        r = np.maximum(x, 0.0)
        out: Array = 0.5 * np.sum(r * r, axis=-1)
        return out

    def slope(self, x: Array) -> Array:
        return (x > 0).astype(float)

    def spice_activation(self, vin: str, v_unit: float, num: Fmt) -> str:
        return f"max(-{vin}, 0.0)"

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        return [(0.5 / v_unit**2, f"{g}*{g}") for g in gs]


class Rectpoly(Lagrangian):
    """L = sum relu(x)^n/n, g = relu(x)^(n-1)."""

    __slots__ = ()
    param_name = "n"
    va_module = "dam_rectpoly"
    va_doc = "Rectified polynomial: g(x) = max(x, 0)**n, n >= 1."
    # An integer power by repeated multiplication keeps the derivative exact at x = 0, where
    # pow(x, n) may differentiate through log(x).
    va_decls = ('    (*desc="polynomial degree", type="instance"*)\n'
                "    parameter integer n = 2 from [1:inf);\n"
                "    integer k;\n"
                "    real xr;\n")
    va_body = ("        xr = max(x, 0.0);\n"
               "        g = 1.0;\n"
               "        for (k = 0; k < n; k = k + 1)\n"
               "            g = g*xr;\n")
    #: Up to this power the SPICE expression multiplies instead of calling pow.
    _SPICE_MAX_PRODUCT = 8

    def convexity_problem(self) -> str | None:
        p = self.param
        if p is None or not p >= 2:
            return (f"rectpoly(n) needs n >= 2 (L = relu(x)^n/n convex with a continuous g), "
                    f"got {p!r}")
        return None

    @property
    def quadratic(self) -> bool:
        return self.param == 2

    @property
    def superquadratic(self) -> bool:
        return (self.param or 0) > 2

    def activation(self, x: Array) -> Array:
        out: Array = np.maximum(x, 0.0) ** (self.p - 1.0)
        return out

    def lagrangian(self, x: Array) -> Array:
        out: Array = np.sum(np.maximum(x, 0.0) ** self.p, axis=-1) / self.p
        return out

    def slope(self, x: Array) -> Array:
        p = self.p
        if p > 2:
            out: Array = (p - 1.0) * np.maximum(x, 0.0) ** (p - 2.0)
            return out
        return (x > 0).astype(float)

    def spice_activation(self, vin: str, v_unit: float, num: Fmt) -> str:
        base = f"max({num(-1.0 / v_unit)}*{vin}, 0.0)"
        m = self.p - 1.0
        if m == round(m) and 1 <= m <= self._SPICE_MAX_PRODUCT:
            return f"{num(v_unit)}*" + "*".join([base] * int(m))
        return f"{num(v_unit)}*pow({base}, {num(m)})"

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        p = self.p
        return [(1.0 - 1.0 / p, f"pow(max({num(-1.0 / v_unit)}*{x}, 0.0), {num(p)})")
                for x in xs]

    def va_problem(self) -> str | None:
        power = self.p - 1.0
        if power != round(power) or power < 1:
            return (f"the Verilog-A backend realises rectpoly(n) only for integer n >= 2, "
                    f"got n = {self.param!r}")
        return None

    def va_params(self, num: Fmt, integer: Callable[[int], str]) -> dict[str, str]:
        return {"n": integer(round(self.p - 1.0))}


class Softmax(Lagrangian):
    """L = logsumexp(beta x)/beta, g = softmax(beta x): couples the layer's neurons."""

    __slots__ = ()
    param_name = "beta"
    bounded = True
    elementwise = False
    va_module = "dam_softmax_cell"
    #: Floor of the softmax denominator in the netlists (guards the all-zero initial guess).
    SMIN = 1e-9

    def convexity_problem(self) -> str | None:
        return _positive_param_problem(self)

    def activation(self, x: Array) -> Array:
        z = self.p * x
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        out: Array = e / e.sum(axis=-1, keepdims=True)
        return out

    def lagrangian(self, x: Array) -> Array:
        z = self.p * x
        m = z.max(axis=-1)
        out: Array = (m + np.log(np.exp(z - m[..., None]).sum(axis=-1))) / self.p
        return out

    def jacobian(self, x: Array) -> Array:
        s = self.activation(x)
        eye = np.eye(x.shape[-1])
        out: Array = self.p * (s[..., :, None] * eye - s[..., :, None] * s[..., None, :])
        return out

    def spice_exponent(self, vin: str, vref: str, v_unit: float, num: Fmt) -> str:
        """exp(beta (x_i - x_ref)) from the input and mean-reference node expressions."""
        return f"exp({num(-self.p / v_unit)}*({vin}-{vref}))"

    def spice_normalised(self, e: str, s: str, v_unit: float, num: Fmt) -> str:
        """v_unit e_i / sum_j e_j from the exponential and sum node expressions."""
        return f"{num(v_unit)}*{e}/max({s}, {num(self.SMIN)})"

    def spice_legendre(self, xs: Sequence[str], gs: Sequence[str], v_unit: float, num: Fmt,
                       block: Callable[[], tuple[str, str]]) -> Terms:
        ref, s = block()
        return [*_cross_terms(xs, gs, v_unit),
                (1.0 / v_unit, f"v({ref})"), (-1.0 / self.p, f"ln(max(v({s}), 1e-300))")]

    def va_params(self, num: Fmt, integer: Callable[[int], str]) -> dict[str, str]:
        return {"beta": num(self.p)}


#: Every Lagrangian of the language, by name (the order the DSL lists them in messages).
LAGRANGIANS: dict[str, type[Lagrangian]] = {
    "identity": Identity,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "relu": Relu,
    "softmax": Softmax,
    "rectpoly": Rectpoly,
}

#: Lagrangian name -> its parameter's name, or None (the DSL's view of the registry).
KINDS: dict[str, str | None] = {name: cls.param_name for name, cls in LAGRANGIANS.items()}

#: Lagrangians whose activation is bounded: a coupling to them cannot make E unbounded below.
BOUNDED = frozenset(name for name, cls in LAGRANGIANS.items() if cls.bounded)


@cache
def lagrangian_of(kind: str, param: float | None) -> Lagrangian:
    """The (immutable, so shareable) Lagrangian `kind(param)`, built once: circuit components
    that store only the kind and parameter ask for it on every evaluation of the dynamics."""
    return Lagrangian(kind, param)
