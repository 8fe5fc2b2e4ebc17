"""The Lagrangians of the language: L(x), its activation g = dL/dx, and its Legendre term.

Every function works on arrays whose last axis is the layer's neurons (leading axes are batch),
so the simulators, the energy analysis and the lowering share one definition of each activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Lagrangian name -> (parameter name or None, whether the parameter must be > 0).
KINDS: dict[str, str | None] = {
    "identity": None,
    "tanh": "gain",
    "sigmoid": "gain",
    "relu": None,
    "softmax": "beta",
    "rectpoly": "n",
}

#: Lagrangians whose activation is bounded: a coupling to them cannot make E unbounded below.
BOUNDED = frozenset({"tanh", "sigmoid", "softmax"})


@dataclass(frozen=True, slots=True)
class Lagrangian:
    """A convex Lagrangian; `param` is the gain, beta or n, or None for identity and relu."""

    kind: str
    param: float | None = None

    def __str__(self) -> str:
        return self.kind if self.param is None else f"{self.kind}({self.param!r})"

    def convexity_problem(self) -> str | None:
        """Return why this Lagrangian is not convex (or not smooth enough), or None if it is."""
        p = self.param
        if self.kind in ("tanh", "sigmoid", "softmax") and (p is None or not p > 0):
            name = KINDS[self.kind]
            return f"{self.kind} needs {name} > 0 for a convex Lagrangian, got {p!r}"
        if self.kind == "rectpoly" and (p is None or not p >= 2):
            return (f"rectpoly(n) needs n >= 2 (L = relu(x)^n/n convex with a continuous g), "
                    f"got {p!r}")
        return None

    def activation(self, x: Array) -> Array:
        """g(x) = dL/dx, elementwise except softmax (over the last axis)."""
        p = self.param
        if self.kind == "identity":
            return x
        if self.kind == "tanh":
            return np.tanh(p * x)
        if self.kind == "sigmoid":
            return 0.5 * (1.0 + np.tanh(0.5 * p * x))  # overflow-free logistic
        if self.kind == "relu":
            return np.maximum(x, 0.0)
        if self.kind == "softmax":
            z = p * x
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        if self.kind == "rectpoly":
            return np.maximum(x, 0.0) ** (p - 1.0)
        raise ValueError(f"unknown Lagrangian {self.kind!r}")

    def lagrangian(self, x: Array) -> Array:
        """L(x), summed over the last axis."""
        p = self.param
        if self.kind == "identity":
            return 0.5 * np.sum(x * x, axis=-1)
        if self.kind == "tanh":
            z = np.abs(p * x)  # log cosh z = z + log1p(exp(-2z)) - log 2, stable for large z
            return np.sum(z + np.log1p(np.exp(-2.0 * z)) - np.log(2.0), axis=-1) / p
        if self.kind == "sigmoid":
            return np.sum(np.logaddexp(0.0, p * x), axis=-1) / p
        if self.kind == "relu":
            r = np.maximum(x, 0.0)
            return 0.5 * np.sum(r * r, axis=-1)
        if self.kind == "softmax":
            z = p * x
            m = z.max(axis=-1)
            return (m + np.log(np.exp(z - m[..., None]).sum(axis=-1))) / p
        if self.kind == "rectpoly":
            return np.sum(np.maximum(x, 0.0) ** p, axis=-1) / p
        raise ValueError(f"unknown Lagrangian {self.kind!r}")

    def legendre(self, x: Array) -> Array:
        """x . g(x) - L(x), summed over the last axis: the layer's own energy term."""
        return np.sum(x * self.activation(x), axis=-1) - self.lagrangian(x)

    def jacobian(self, x: Array) -> Array:
        """dg/dx as a matrix per batch element: shape (..., n, n)."""
        p = self.param
        n = x.shape[-1]
        eye = np.eye(n)
        if self.kind == "softmax":
            s = self.activation(x)
            return p * (s[..., :, None] * eye - s[..., :, None] * s[..., None, :])
        if self.kind == "identity":
            d = np.ones_like(x)
        elif self.kind == "tanh":
            d = p * (1.0 - np.tanh(p * x) ** 2)
        elif self.kind == "sigmoid":
            s = self.activation(x)
            d = p * s * (1.0 - s)
        elif self.kind == "relu":
            d = (x > 0).astype(float)
        elif self.kind == "rectpoly":
            d = (p - 1.0) * np.maximum(x, 0.0) ** (p - 2.0) if p > 2 else (x > 0).astype(float)
        else:
            raise ValueError(f"unknown Lagrangian {self.kind!r}")
        return d[..., :, None] * eye
