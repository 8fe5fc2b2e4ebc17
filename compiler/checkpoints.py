"""What happens between two passes: verify the IR in hand, and print it for `--dump-ir-after`.

The IR in hand is, in pipeline order, the AST (`parse`), the graph IR (`elaborate`,
`analyze-energy`), the circuit under construction (each lowering pass) and the lowered model
(analyses). A verifier finding a problem is a compiler bug, never the user's: it raises
`InternalCompilerError` naming the pass.
"""

from __future__ import annotations

from denseamc.compiler.passes.base import Lowered
from denseamc.compiler.passes.circuit_builder import CircuitBuilder
from denseamc.compiler.passes.frontend import dump_ast
from denseamc.dsl import ast
from denseamc.ir import Diagnostic, InternalCompilerError, ModelGraph
from denseamc.ir.circuit_verify import verify as verify_circuit
from denseamc.ir.printer import dump, dump_circuit
from denseamc.ir.verify import verify as verify_graph


def verify_ir(after: str, ir: object, *, complete: bool = True) -> None:
    """Check the invariants of `ir`, the IR in hand after pass `after`."""
    problems: list[Diagnostic] = []
    if isinstance(ir, ModelGraph):
        problems = verify_graph(ir)
    elif isinstance(ir, CircuitBuilder):
        # before the last lowering pass the circuit is unfinished by design: nets nobody
        # drives yet are checked only once it is complete
        problems = verify_circuit(ir.freeze(), complete=complete)
    elif isinstance(ir, Lowered):
        problems = verify_graph(ir.graph) + verify_circuit(ir.circuit)
    elif not isinstance(ir, ast.Program):  # the parser is the AST's only producer and checker
        raise InternalCompilerError(f"after {after}: no verifier for {type(ir).__name__}")
    if problems:
        raise InternalCompilerError(f"after {after}:\n" + "\n".join(d.render() for d in problems))


def dump_ir(ir: object) -> str:
    """The text form of the IR in hand (the circuit under construction: as built so far)."""
    if isinstance(ir, ast.Program):
        return dump_ast(ir)
    if isinstance(ir, ModelGraph):
        return dump(ir)
    if isinstance(ir, CircuitBuilder):
        return dump_circuit(ir.freeze())
    raise InternalCompilerError(f"no text form for {type(ir).__name__}")
