"""Energy terms: recognise each term of the energy statement and fold its coefficient.

Each term is `legendre(LAYER)` (exactly once per layer, + sign, no factor), a coupling
`A @ W @ B` (or `A @ W.T @ B`, which is `B @ W @ A`) or a bias `c @ A`, times numeric factors;
the factors and sign fold into one coefficient. Whether the energy as a whole is well formed
(one legendre per layer, shapes, convexity) is the energy-analysis pass's business, not this.
One layer of the elaborator (see dsl/scope.py).
"""

from __future__ import annotations

import math

from denseamc.dsl import ast
from denseamc.dsl.evaluate import Evaluator
from denseamc.dsl.scope import Failed
from denseamc.ir.model import BiasTerm, BilinearTerm, LegendreTerm
from denseamc.ir.span import Span

Term = LegendreTerm | BilinearTerm | BiasTerm


class EnergyElaborator(Evaluator):
    """Turn the terms of an energy statement into IR terms."""

    def energy(self, stmt: ast.EnergyStmt) -> list[Term]:
        terms: list[Term] = []
        for term in stmt.terms:
            try:
                terms.append(self.energy_term(term))
            except Failed:
                pass
        return terms

    def energy_term(self, term: ast.EnergyTerm) -> Term:
        """One term: its coefficient (sign times factors) and what it couples."""
        coef = float(term.sign)
        for factor in term.factors:
            coef *= self.scalar(factor)
        if not math.isfinite(coef):
            self.fail("the term's coefficient overflows", term.span)
        body = term.body
        if isinstance(body, ast.LegendreCall):
            layer = self.layer(body.layer)
            if term.sign != 1 or term.factors:
                self.fail(
                    f"legendre({layer.name}) must appear exactly once with a + sign and no factor",
                    term.span,
                )
            return LegendreTerm(layer.name, loc=term.span)
        if len(body.operands) == 3:
            return self.coupling(coef, body, term.span)
        return self.bias(coef, body, term.span)

    def coupling(self, coef: float, body: ast.Product, span: Span) -> BilinearTerm:
        """`A @ W @ B` (or `A @ W.T @ B`, i.e. `B @ W @ A`)."""
        a, w, b = body.operands
        for o in (a, b):
            if o.attr is not None:
                self.fail("'.T' applies to the weights of a term, not to a layer",
                          o.attr.span)
        la, lb = self.layer(a.name), self.layer(b.name)
        self.weights_value(w.name.name, w.name.span)
        if w.attr is not None and w.attr.name != "T":
            self.fail(f"unknown attribute '.{w.attr.name}': the only attribute is '.T' "
                      "(transpose)", w.attr.span)
        if w.attr is not None:  # a @ W.T @ b  ==  b @ W @ a
            la, lb = lb, la
        return BilinearTerm(coef, la.name, w.name.name, lb.name, loc=span)

    def bias(self, coef: float, body: ast.Product, span: Span) -> BiasTerm:
        """`c @ A` or `A @ c`: weights c and a layer A."""
        ops = body.operands
        first, second = ops
        kinds = []
        for o in ops:
            decl = self.lookup(o.name.name, o.name.span, ("layer", "weights"))
            kinds.append(decl.kind)
        if kinds == ["layer", "layer"]:
            self.fail(
                f"'{first.name.name} @ {second.name.name}' multiplies two layers: a coupling "
                "needs weights between them (A @ W @ B), a bias needs weights and a layer",
                body.span,
            )
        if kinds == ["weights", "weights"]:
            self.fail(
                f"'{first.name.name} @ {second.name.name}' has no layer: a bias term is "
                "c @ A or A @ c with c weights and A a layer",
                body.span,
            )
        vec, lay = (first, second) if kinds[0] == "weights" else (second, first)
        for o in ops:
            if o.attr is not None:
                self.fail("'.T' has no meaning in a bias term: write c @ A", o.attr.span)
        layer = self.layer(lay.name)
        self.weights_value(vec.name.name, vec.name.span)
        return BiasTerm(coef, vec.name.name, layer.name, loc=span)
