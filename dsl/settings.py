"""The hardware block and the readout time: settings handed to later stages as they are.

`hardware { KEY = VALUE ... }` keeps each setting (a number, a string, a param or a bare word such
as dual_rail) with its location; the keys and their meaning belong to the backends. `readout at
t = T` gives the time at which outputs are read. One layer of the elaborator (see dsl/scope.py).
"""

from __future__ import annotations

from denseamc.dsl import ast
from denseamc.dsl.evaluate import Evaluator
from denseamc.dsl.scope import Failed
from denseamc.ir.model import HardwareSetting


class SettingsElaborator(Evaluator):
    """Elaborate the hardware and readout statements."""

    def hardware(self, stmt: ast.HardwareStmt) -> dict[str, HardwareSetting]:
        out: dict[str, HardwareSetting] = {}
        for s in stmt.settings:
            key = s.key.name
            try:
                if key in out:
                    first = out[key].loc
                    self.fail(f"hardware setting '{key}' is given twice", s.key.span,
                              f"first given at {first.location() if first else '?'}")
                value: float | str
                if isinstance(s.value, ast.String):
                    value = s.value.value
                elif isinstance(s.value, ast.Name):
                    decl = self.decls.get(s.value.name)
                    if decl is not None and decl.kind == "param":
                        value = self.param(s.value.name, s.value.span)
                    else:
                        value = s.value.name  # a word such as dual_rail or auto
                else:
                    value = self.scalar(s.value)
                out[key] = HardwareSetting(key, value, loc=s.span)
            except Failed:
                pass
        return out

    def readout(self, stmt: ast.ReadoutStmt) -> float:
        if stmt.var.name != "t":
            self.fail(f"write 'readout at t = ...', not '{stmt.var.name}'", stmt.var.span)
        t = self.scalar(stmt.time)
        if not t > 0:
            self.fail(f"the readout time must be > 0, got {t:g}", stmt.time.span)
        return t
