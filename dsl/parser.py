"""Text -> syntax tree: `parse(text, filename)` returns a `dsl.ast.Program` or raises.

Every problem becomes a `DenseAMCError` carrying located `Diagnostic`s: syntax errors in words
(dsl/syntax_errors.py), reserved words used as names and numbers too large (dsl/builder.py).
Before the tree is turned into AST nodes its depth is checked without recursion, so deeply nested
input is a located error rather than a RecursionError.
"""

from __future__ import annotations

from denseamc.dsl import ast
from denseamc.dsl.builder import Builder
from denseamc.dsl.grammar import lark_parser
from denseamc.dsl.standalone_parser import Token, Tree, UnexpectedInput
from denseamc.dsl.syntax_errors import syntax_error
from denseamc.ir.diagnostics import DenseAMCError, InternalCompilerError, error
from denseamc.ir.span import SourceFile, Span

#: How deeply expressions and list literals may nest (parentheses alone do not count).
MAX_NESTING = 64
# Tree levels above the first expression level: start -> statement -> expression.
_TREE_OVERHEAD = 2
# Rules whose one token is a list of numbers (see dsl/lexer.py): their items count as a level.
_NUMBER_LISTS = ("number_list", "number_assignment")


def parse(text: str, filename: str) -> ast.Program:
    """Parse the text of a `.dam` file; raise DenseAMCError (located) on any syntax error."""
    source = SourceFile(filename, text)
    nul = text.find("\x00")
    if nul >= 0:
        raise DenseAMCError(
            error("the file contains a NUL character; is it a binary file?",
                  Span(source, nul, nul + 1))
        )
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as exc:
        raise DenseAMCError(syntax_error(exc, source)) from None
    _check_depth(tree, source)
    builder = Builder(source)
    program = builder.transform(tree)
    if builder.errors:
        raise DenseAMCError(builder.errors)
    if not isinstance(program, ast.Program):
        raise InternalCompilerError("parser: the tree did not become a Program")
    return program


def _check_depth(tree: Tree[Token], source: SourceFile) -> None:
    """Reject trees nested deeper than MAX_NESTING, iteratively (no recursion on user input).

    A list read as one NUMLIST token counts as if its items were nodes, as they are when the
    list is parsed number by number (an item one level below the list, a signed item's number
    two), and in the same order, so the error is the same either way. An int on the stack is
    such an item, by its start offset.
    """
    limit = MAX_NESTING + _TREE_OVERHEAD
    stack: list[tuple[Tree[Token] | int, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        start = node if isinstance(node, int) else _start(node)
        if depth > limit:
            raise DenseAMCError(
                error(
                    f"expression nested too deeply (at most {MAX_NESTING} levels of lists, "
                    "operators and signs)",
                    Span(source, start, start + 1),
                )
            )
        if isinstance(node, int):
            if source.text[node] in "+-":  # the number after the sign is one level deeper
                stack.append((node + 1, depth + 1))
            continue
        if node.data in _NUMBER_LISTS and depth + 2 > limit:
            token = node.children[-1]
            assert isinstance(token, Token) and token.start_pos is not None
            end = token.start_pos + len(token.value)
            bounds = ast.item_bounds(source.text, token.start_pos, end)
            stack.extend((first, depth + 1) for first, _ in bounds)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))


def _start(node: Tree[Token]) -> int:
    meta = node.meta
    return 0 if getattr(meta, "empty", True) else int(meta.start_pos)
