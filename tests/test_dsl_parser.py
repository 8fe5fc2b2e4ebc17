"""Parser: text -> AST, SI prefixes, spans, and syntax errors in plain words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from denseamc.dsl import ast, elaborate, grammar, parse, standalone_parser
from denseamc.dsl.lexer import parse_number
from denseamc.dsl.parser import MAX_NESTING
from denseamc.ir import DenseAMCError
from hypothesis import given, settings
from hypothesis import strategies as st
from spec import NAMES, spec_program

ROOT = Path(__file__).resolve().parents[1]




def only_error(text: str) -> str:
    with pytest.raises(DenseAMCError) as info:
        parse(text, "t.dam")
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0].render()


# -- the grammar and its generated parser -------------------------------------------------------


def test_grammar_is_strict() -> None:
    # strict: colliding terminal regexes and LALR conflicts are errors (checked here, not at run
    # time: the compiler runs the generated parser)
    grammar.build(strict=True)


def _canonical_tables(frontend: dict[str, Any]) -> list[list[tuple[str, int, object]]]:
    """The LALR tables of a serialized parser with its states numbered in the order a walk
    from the start state reaches them (tokens by name, in name order): lark numbers states in
    an order that changes from build to build, so equal grammars give equal canonical tables."""
    tables = frontend["parser"]
    names, states = tables["tokens"], tables["states"]
    order = {tables["start_states"][k]: 0 for k in sorted(tables["start_states"])}
    walk = list(order)
    for state in walk:  # grows while walking: breadth first
        for _, (action, arg) in sorted(states[state].items(), key=lambda kv: names[kv[0]]):
            if action == 0 and arg not in order:  # shift: to another state
                order[arg] = len(walk)
                walk.append(arg)
    assert len(walk) == len(states), "unreachable LALR states"
    assert [order[s] for s in tables["end_states"].values()], "no end state"
    return [sorted((names[tok], action, order[arg] if action == 0 else arg)
                   for tok, (action, arg) in states[state].items()) for state in walk]


def test_generated_parser_is_current() -> None:
    """dsl/standalone_parser.py holds the tables lark builds from grammar.lark now (regenerate
    it with grammar.write_standalone() after a grammar change)."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = grammar.build().memo_serialize([TerminalDef, Rule])
    generated = standalone_parser
    stale = "dsl/standalone_parser.py is out of date: run grammar.write_standalone()"
    assert generated.MEMO == memo, stale
    assert generated.DATA["options"] == data["options"], stale
    assert generated.DATA["rules"] == data["rules"], stale
    for key in ("lexer_conf", "parser_conf"):
        assert generated.DATA["parser"][key] == data["parser"][key], stale
    assert _canonical_tables(generated.DATA["parser"]) == _canonical_tables(data["parser"]), stale


def test_generated_parser_parses_like_lark() -> None:
    """Same trees from the generated parser (with the number-list lexer) as from lark's own,
    on a program without lists of plain numbers (there the fast path makes one token)."""
    text = ('model m\nparam beta = 2\nlayer v[3]: identity tau=1\nlayer h[4]: softmax(beta)\n'
            'weights w[4, 3] = load("w.npy") * 2\n'
            'energy E = legendre(v) + legendre(h) - h @ w @ v\ninput x[2]: clamp v[0:2]\n'
            'output y[1]: argmax(w @ h)\nreadout at t = 5\n'
            'test "t" tol = 0.1 { x = [1, -beta] -> y = [(2)] }\n')
    ours, theirs = grammar.lark_parser().parse(text), grammar.build().parse(text)
    assert ours.pretty() == theirs.pretty()
    assert ours.data == "start" and len(ours.children) == 10


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", 0.1), ("1e-3", 1e-3), ("2", 2.0), (".5", 0.5), ("3.", 3.0),
        ("10k", 1e4), ("1p", 1e-12), ("5M", 5e6), ("2m", 2e-3), ("100n", 1e-7),
        ("1u", 1e-6), ("3f", 3e-15), ("1G", 1e9), ("2T", 2e12), ("1.5e3k", 1.5e6),
        ("4.7u", 4.7e-6), ("1E2", 100.0),
    ],
)
def test_numbers_and_si_prefixes_are_exact(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_si_prefix_is_case_sensitive() -> None:
    assert parse_number("1M") == 1e6
    assert parse_number("1m") == 1e-3


def test_number_overflow_is_reported() -> None:
    assert "number '1e400' is too large" in only_error("model m\nparam a = 1e400\n")


def test_lists_of_numbers_are_read_in_one_piece() -> None:
    program = parse("model m\nweights w[4] = [1, -2,\n 10k , +.5]\n", "t.dam")
    weights = program.statements[1]
    assert isinstance(weights, ast.WeightsStmt) and isinstance(weights.value, ast.NumberList)
    assert weights.value.values == (1.0, -2.0, 1e4, 0.5)
    spans = [weights.value.item_span(i) for i in range(4)]
    assert [s.file.text[s.start : s.end] for s in spans] == ["1", "-2", "10k", "+.5"]
    assert [(s.line, s.col) for s in spans] == [(2, 17), (2, 20), (3, 2), (3, 8)]


@settings(deadline=None, max_examples=300, database=None)
@given(
    items=st.lists(
        st.tuples(st.sampled_from(["", "-", "+"]),
                  st.from_regex(r"(?:[0-9]{1,4}(?:\.[0-9]{0,3})?|\.[0-9]{1,3})(?:[eE][+-]?[0-9]{1,2})?"
                                r"[fpnumkMGT]?", fullmatch=True)),
        min_size=1, max_size=8),
    sep=st.sampled_from([",", ", ", " ,\n  "]),
)
def test_a_list_read_in_one_piece_means_its_numbers(items: list[tuple[str, str]], sep: str) -> None:
    texts = [sign + number for sign, number in items]
    program = parse(f"model m\nweights w[{len(texts)}] = [{sep.join(texts)}]\n", "t.dam")
    weights = program.statements[1]
    assert isinstance(weights, ast.WeightsStmt) and isinstance(weights.value, ast.NumberList)
    expected = [-parse_number(n) if s == "-" else parse_number(n) for s, n in items]
    assert list(weights.value.values) == expected
    spans = [weights.value.item_span(i) for i in range(len(texts))]
    assert [s.file.text[s.start : s.end] for s in spans] == texts


@pytest.mark.parametrize("item", ["1", "-1"])
def test_nesting_limit_counts_the_items_of_a_list_read_in_one_piece(item: str) -> None:
    # `[..[y, ITEM]..]` is parsed token by token (y is a name), `[..[ITEM]..]` in one piece: the
    # same depth error, at the same item (three columns further right in the first)
    for depth in (MAX_NESTING - 2, MAX_NESTING - 1, MAX_NESTING):
        def where(inner: str, depth: int = depth) -> tuple[int, int] | None:
            try:
                parse(f"model m\nweights w[1] = {'[' * depth}{inner}{']' * depth}\n", "t.dam")
            except DenseAMCError as exc:
                span = exc.diagnostics[0].span
                assert span is not None and "nested too deeply" in exc.diagnostics[0].message
                return span.line, span.col
            return None
        slow, fast = where("y, " + item), where(item)
        assert (slow is None) == (fast is None)
        assert slow is None or fast is None or (slow[0], slow[1] - 3) == fast
        # an item is one level below its list, the number of a signed item one more
        too_deep = depth == MAX_NESTING or (depth == MAX_NESTING - 1 and item == "-1")
        assert (fast is not None) == too_deep


def test_overflow_in_a_list_of_numbers_points_at_the_number() -> None:
    text = only_error("model m\nweights w[2] = [1, -1e400]\n")
    assert text.startswith("t.dam:2:21: error: number '1e400' is too large")


# -- the normative programs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_normative_programs_parse(name: str) -> None:
    program = parse(spec_program(name), "p.dam")
    assert isinstance(program.statements[0], ast.ModelStmt)
    assert program.statements[0].name.name == name


def test_every_example_is_a_normative_program() -> None:
    # parity8_robust.dam and parity8_scratch.dam are parity8.dam reading other weights
    # (tests/test_harden.py checks that only parity8_robust's load() paths differ)
    stems = {p.stem for p in (ROOT / "examples").glob("*.dam")} - {"parity8_robust",
                                                                     "parity8_scratch"}
    assert sorted(stems) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_examples_equal_the_documented_programs(name: str) -> None:
    text = (ROOT / "examples" / f"{name}.dam").read_text(encoding="utf-8")
    program = spec_program(name)
    tests = ROOT / "examples" / f"{name}_tests.txt"
    if tests.exists():  # parity8: the program, a blank line, a comment, then the trained tests
        comment, block = text[len(program) + 1 :].split("\n", 1)
        assert text[len(program)] == "\n" and comment.startswith("# ")
        assert block == tests.read_text(encoding="utf-8")
        text = text[: len(program)]
    assert text == program


def test_xor_ast_shape() -> None:
    program = parse(spec_program("xor"), "xor.dam")
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == [
        "ModelStmt", "ParamStmt", "LayerStmt", "LayerStmt", "WeightsStmt", "EnergyStmt",
        "InputStmt", "OutputStmt", "ReadoutStmt", "TestStmt",
    ]
    energy = program.statements[5]
    assert isinstance(energy, ast.EnergyStmt)
    assert [t.sign for t in energy.terms] == [1, 1, -1]
    assert isinstance(energy.terms[2].body, ast.Product)
    test = program.statements[-1]
    assert isinstance(test, ast.TestStmt)
    assert len(test.vectors) == 4
    assert [a.name.name for a in test.vectors[0].inputs] == ["x"]


def test_spans_point_at_the_source() -> None:
    program = parse("model m\nlayer v[3]: identity tau=0.1\n", "t.dam")
    layer = program.statements[1]
    assert isinstance(layer, ast.LayerStmt)
    assert (layer.name.span.line, layer.name.span.col) == (2, 7)
    assert (layer.lagrangian.span.line, layer.lagrangian.span.col) == (2, 13)
    assert layer.span.file.text[layer.span.start : layer.span.end] == "layer v[3]: identity tau=0.1"


# -- grammar details -----------------------------------------------------------------------------


def test_operator_precedence() -> None:
    program = parse("model m\nparam a = -2 ** 2 + 3 * 4 / 5\n", "t.dam")
    param = program.statements[1]
    assert isinstance(param, ast.ParamStmt)
    top = param.value
    assert isinstance(top, ast.Binary) and top.op == "+"
    assert isinstance(top.left, ast.Unary) and isinstance(top.left.operand, ast.Binary)
    assert top.left.operand.op == "**"
    assert isinstance(top.right, ast.Binary) and top.right.op == "/"


def test_long_flat_sums_do_not_nest() -> None:
    # a flat sum is a chain of operators at one level, not nesting: it parses without the limit
    param = parse("model m\nparam a = " + " + ".join(["1"] * 5000) + "\n", "t.dam").statements[1]
    assert isinstance(param, ast.ParamStmt)
    assert isinstance(param.value, ast.Binary) and param.value.op == "+"


def test_long_flat_sums_elaborate() -> None:
    # a sum nests to the left once per '+': evaluating it recursively overflowed at ~500 terms
    text = ("model m\nparam a = " + " + ".join(["1"] * 1000)
            + "\nlayer v[1]: identity\nenergy E = legendre(v)\n")
    assert elaborate(parse(text, "t.dam"), Path(".")).params == {"a": 1000.0}


def test_energy_terms_with_factors_and_transpose() -> None:
    program = parse("model m\nenergy E = - 2 * beta * h @ W.T @ v + (1/2) * c @ v\n", "t.dam")
    energy = program.statements[1]
    assert isinstance(energy, ast.EnergyStmt)
    first, second = energy.terms
    assert first.sign == -1 and len(first.factors) == 2
    assert isinstance(first.body, ast.Product)
    assert first.body.operands[1].attr is not None
    assert second.sign == 1 and len(second.factors) == 1


def test_slices_and_readouts() -> None:
    program = parse(
        "model m\ninput a[2]: clamp v[0:2]\ninput b[1]: init v[-1]\ninput c[3]: select\n"
        "output y[4]: sign(v[:4])\noutput z[2]: value(v[3:])\n"
        "output k[1]: argmax(dec @ v - off)\n",
        "t.dam",
    )
    a, b, c, y, z, k = program.statements[1:]
    assert isinstance(a, ast.InputStmt) and a.mode == "clamp"
    assert a.target is not None and a.target.slice is not None and a.target.slice.is_range
    assert isinstance(b, ast.InputStmt) and b.mode == "init"
    assert b.target is not None and b.target.slice is not None and not b.target.slice.is_range
    assert isinstance(c, ast.InputStmt) and c.mode == "select" and c.target is None
    assert isinstance(y, ast.OutputStmt) and y.readout.target.slice is not None
    assert y.readout.target.slice.start is None
    assert isinstance(z, ast.OutputStmt) and z.readout.kind == "value"
    assert isinstance(k, ast.OutputStmt) and k.readout.kind == "argmax"
    assert k.readout.offset_sign == -1


def test_strings_and_escapes() -> None:
    program = parse('model m\ntest "a \\"quoted\\" \\\\ name" { x = [1] -> y = [1] }\n', "t.dam")
    test = program.statements[1]
    assert isinstance(test, ast.TestStmt)
    assert test.name.value == 'a "quoted" \\ name'


def test_hardware_values() -> None:
    program = parse(
        'model m\nhardware { scheme = dual_rail r_f = 10k tau_unit = auto p = "x.yaml" }\n',
        "t.dam",
    )
    hw = program.statements[1]
    assert isinstance(hw, ast.HardwareStmt)
    assert [s.key.name for s in hw.settings] == ["scheme", "r_f", "tau_unit", "p"]
    assert isinstance(hw.settings[0].value, ast.Name)
    assert isinstance(hw.settings[1].value, ast.Number) and hw.settings[1].value.value == 1e4
    assert isinstance(hw.settings[3].value, ast.String)


def test_comments_and_crlf() -> None:
    program = parse("model m  # a comment\r\n# another\r\nparam a = 1 # trailing\r\n", "t.dam")
    model, param = program.statements  # the comments are no statements
    assert isinstance(model, ast.ModelStmt) and model.name.name == "m"
    assert isinstance(param, ast.ParamStmt) and param.name.name == "a"
    assert isinstance(param.value, ast.Number) and param.value.value == 1.0
    assert param.name.span.location() == "t.dam:3:7"  # a CRLF ends one line, not two


# -- syntax errors -------------------------------------------------------------------------------


def test_error_format_matches_the_spec() -> None:
    text = only_error("model m\nlayer v[3] identity\n")
    assert text == (
        "t.dam:2:12: error: unexpected name 'identity'; expected ':'\n"
        "   2 | layer v[3] identity\n"
        "     |            ^^^^^^^^"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("model m\nparam x = 1 2\n", "unexpected number '2'; expected a statement"),
        ("model m\nweights w[2] = [1, 2 3]\n", "unexpected number '3'; expected an operator, "
         "',' or ']'"),
        ("model m\ninput x[3]: foo\n", "expected 'clamp', 'init' or 'select'"),
        ("model m\noutput y[1]: sgn(v)\n", "expected 'argmax', 'sign' or 'value'"),
        ("model m\nenergy E =\n", "unexpected end of file; expected an energy term"),
        ("model m\nparam x = 1 $\n", "unexpected character '$'"),
        ("model m\nparam x = 1e\n", "malformed number '1e'"),
        ("model m\nparam select = 1\n", "'select' is a reserved word"),
        ("model m\nparam x = \"abc\n", "unterminated string"),
        ("model m\nparam x = 1\x00\n", "NUL character"),
    ],
)
def test_syntax_errors_say_what_was_expected(source: str, message: str) -> None:
    assert message in only_error(source)


def test_terminal_names_never_leak_into_messages() -> None:
    for source in ["model m\nparam x = (1 2\n", "model m\nlayer v[3]: relu tau 3\n",
                   "model m\nenergy E = 2 h\n", "model m\ntest x {}\n"]:
        text = only_error(source)
        for name in ("RPAR", "LSQB", "NAME", "NUMBER", "__ANON", "EQUAL", "STAR", "$END"):
            assert name not in text, text


def test_deep_nesting_is_a_located_error() -> None:
    deep = "[" * (MAX_NESTING + 1) + "1" + "]" * (MAX_NESTING + 1)
    assert "nested too deeply" in only_error(f"model m\nweights w[1] = {deep}\n")
    ok = "[" * (MAX_NESTING - 1) + "1" + "]" * (MAX_NESTING - 1)
    parse(f"model m\nweights w[1] = {ok}\n", "t.dam")


@pytest.mark.parametrize("opener", ["-", "(", "[", "2 ** "])
def test_pathological_nesting_never_recurses(opener: str) -> None:
    closer = {"(": ")", "[": "]"}.get(opener, "")
    text = "model m\nparam a = " + opener * 20000 + "1" + closer * 20000 + "\n"
    if opener == "(":  # parentheses alone do not count towards the nesting limit
        param = parse(text, "t.dam").statements[1]
        assert isinstance(param, ast.ParamStmt) and isinstance(param.value, ast.Number)
    else:
        assert "nested too deeply" in only_error(text)
