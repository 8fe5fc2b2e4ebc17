"""Elaboration: AST -> ModelGraph (names, numbers, arrays, files, energy terms, tests)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from denseamc.dsl import elaborate, load_model, parse
from denseamc.ir import (
    BiasTerm,
    BilinearTerm,
    DenseAMCError,
    LegendreTerm,
    ModelGraph,
)
from spec import spec_program

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

HEAD = """model m
layer v[3]: identity tau=0.1
layer h[4]: softmax(2) tau=0.01
weights xi[4, 3] = [[-1, -1, -1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]]
"""


def build(text: str, base_dir: Path | None = None) -> ModelGraph:
    return elaborate(parse(text, "t.dam"), base_dir or Path("."))


def errors(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(DenseAMCError) as info:
        build(text, base_dir)
    return [d.message for d in info.value.diagnostics]




# -- the normative programs ----------------------------------------------------------------------


def test_xor() -> None:
    g = load_model(EXAMPLES / "xor.dam")
    assert g.name == "xor" and g.source_name.endswith("xor.dam")
    assert g.params == {"beta": 2.0}
    v, h = g.layers()
    assert (v.size, v.lagrangian.kind, v.tau, v.init) == (3, "identity", 0.1, "zero")
    assert (h.lagrangian.kind, h.lagrangian.param, h.tau) == ("softmax", 2.0, 0.01)
    xi = g.weights("xi")
    assert xi.shape == (4, 3) and xi.value is not None and not xi.value.flags.writeable
    terms = g.terms()
    assert [type(t) for t in terms] == [LegendreTerm, LegendreTerm, BilinearTerm]
    bil = terms[2]
    assert isinstance(bil, BilinearTerm)
    assert (bil.coef, bil.a, bil.weights, bil.b) == (-1.0, "h", "xi", "v")
    (x,) = g.inputs()
    assert (x.mode, x.layer, x.indices) == ("clamp", "v", (0, 1))
    (y,) = g.outputs()
    assert (y.kind, y.layer, y.indices, y.size) == ("sign", "v", (2,), 1)
    assert g.readout_t == 1.0 and g.readout_loc is not None
    (block,) = g.tests
    assert (block.name, block.tol, block.min_pass, len(block.vectors)) == (
        "truth table", 0.01, 1.0, 4,
    )
    vec = block.vectors[1]
    assert list(vec.inputs["x"]) == [-1.0, 1.0] and list(vec.outputs["y"]) == [1.0]
    assert g.hardware == {}


def test_hamming74_codewords() -> None:
    g = load_model(EXAMPLES / "hamming74.dam")
    code = g.weights("code").value
    assert code is not None and code.shape == (16, 7)
    bits = (code > 0).astype(int)
    generator = np.array([[int(c) for c in row] for row in
                          ("1000110", "0100101", "0010011", "0001111")])
    for d, row in enumerate(bits):
        data = np.array([(d >> (3 - i)) & 1 for i in range(4)])
        assert list(row) == list(data @ generator % 2)
    distances = [int(np.sum(a != b)) for a, b in itertools.combinations(bits, 2)]
    assert min(distances) == 3
    (r,) = g.inputs()
    assert (r.mode, r.indices) == ("init", tuple(range(7)))
    assert g.outputs()[0].indices == (0, 1, 2, 3)
    assert g.readout_t == 2.0


def write_parity(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "parity8.npz",
        embed=rng.random((2, 16)), mem=rng.random((16, 16)), a=rng.random(16),
        b=rng.random(8), c=rng.random(16), dec=rng.random((2, 16)), dec_b=rng.random(2),
    )
    path = tmp_path / "parity8.dam"
    path.write_text(spec_program("parity8"), encoding="utf-8")
    return path


def test_parity8(tmp_path: Path) -> None:
    g = load_model(write_parity(tmp_path))
    ctx = g.weights("ctx")
    assert ctx.is_selected and ctx.select == "bits" and ctx.shape == (8, 16)
    embed = g.weights("embed").value
    assert ctx.table is not None and embed is not None
    assert np.array_equal(ctx.table, embed)
    sel = ctx.resolve({"bits": np.array([[0, 1, 1, 0, 0, 0, 1, 0]])})
    assert sel.shape == (1, 8, 16) and np.array_equal(sel[0, 1], embed[1])
    att = g.layer("att")
    assert att.init == "settled" and att.lagrangian.param == 0.1
    biases = [t for t in g.terms() if isinstance(t, BiasTerm)]
    assert [(t.coef, t.weights, t.layer) for t in biases] == [
        (-1.0, "a", "v"), (-1.0, "b", "att"), (-1.0, "c", "hop"),
    ]
    (nxt,) = g.outputs()
    assert nxt.kind == "argmax" and nxt.size == 1
    assert nxt.decoder is not None and nxt.decoder.shape == (2, 16)
    assert nxt.offset is not None and nxt.offset.shape == (2,)
    (bits,) = g.inputs()
    assert bits.mode == "select" and bits.layer is None


def test_parity8_test_vectors_check_select_values(tmp_path: Path) -> None:
    path = write_parity(tmp_path)
    text = path.read_text() + (
        '\ntest "acc" min_pass = 0.9 {\n'
        "    bits = [0, 1, 1, 0, 0, 0, 1, 0] -> next = [1]\n"
        "    bits = [1, 1, 1, 1, 1, 1, 1, 1] -> next = [0]\n}\n"
    )
    g = elaborate(parse(text, "p.dam"), tmp_path)
    assert g.tests[0].min_pass == 0.9
    bad = text.replace("-> next = [0]", "-> next = [2]").replace("0, 1, 1, 0", "0, 3, 1, 0")
    msgs = errors(bad, tmp_path)
    assert any("select input 'bits' takes whole numbers 0..1" in m for m in msgs)
    assert any("argmax output 'next' is a class index 0..1, got 2" in m for m in msgs)


# -- energy terms --------------------------------------------------------------------------------


def test_coefficients_are_folded() -> None:
    g = build(HEAD + "param beta = 3\nweights c[3] = [1, 2, 3]\nweights d[4] = [1, 1, 1, 1]\n"
              "energy E = legendre(v) + legendre(h) - 2 * h @ xi @ v + beta * (1/2) * c @ v"
              " - 0.5 * h @ d\n")
    terms = g.terms()
    assert isinstance(terms[2], BilinearTerm) and terms[2].coef == -2.0
    assert isinstance(terms[3], BiasTerm)
    assert (terms[3].coef, terms[3].weights, terms[3].layer) == (1.5, "c", "v")
    assert isinstance(terms[4], BiasTerm)
    assert (terms[4].coef, terms[4].weights, terms[4].layer) == (-0.5, "d", "h")


def test_transposed_weights_swap_the_layers() -> None:
    g = build(HEAD + "energy E = legendre(v) + legendre(h)"
              " - v @ xi.T @ h\n")
    t = g.terms()[2]
    assert isinstance(t, BilinearTerm) and (t.a, t.weights, t.b, t.coef) == ("h", "xi", "v", -1.0)


def test_legendre_must_be_plain() -> None:
    msg = "legendre(h) must appear exactly once with a + sign and no factor"
    assert msg in errors(HEAD + "energy E = legendre(v) - legendre(h)\n")
    assert msg in errors(HEAD + "energy E = legendre(v) + 1 * legendre(h)\n")
    assert msg in errors(HEAD + "energy E = - legendre(h) + legendre(v)\n")


def test_energy_names_must_have_the_right_kind() -> None:
    msgs = errors(HEAD + "energy E = legendre(v) + legendre(h) - xi @ h @ v - v @ h\n")
    assert "expected a layer here, but 'xi' is weights" in msgs
    assert any("multiplies two layers" in m for m in msgs)


# -- weights -------------------------------------------------------------------------------------


def test_weight_expressions() -> None:
    g = build(
        "model m\nparam k = 2\nweights a[2, 2] = [[1, -2], [3, 4]]\n"
        "weights t[2, 2] = a.T\nweights p[2, 2] = a ** k\nweights s[2, 2] = 2 * a * 0.5 + -a\n"
        "weights d[2, 2] = (a - a.T) / 2\nweights f[2, 2] = a + 1\n"
        "energy E = legendre(v)\nlayer v[2]: identity\n"
    )
    a = np.array([[1.0, -2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(g.weights("t").value, a.T)
    np.testing.assert_array_equal(g.weights("p").value, a**2)
    np.testing.assert_array_equal(g.weights("s").value, np.zeros((2, 2)))
    np.testing.assert_array_equal(g.weights("d").value, (a - a.T) / 2)
    np.testing.assert_array_equal(g.weights("f").value, a + 1)


def test_names_may_be_used_before_their_declaration() -> None:
    g = build("model m\nweights w[2] = k * [1, 2]\nparam k = j + 1\nparam j = 1\n"
              "layer v[2]: identity\nenergy E = legendre(v) - w @ v\n")
    np.testing.assert_array_equal(g.weights("w").value, [2.0, 4.0])
    assert list(g.params) == ["k", "j"]


def test_load_npy_npz_csv(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(2, 3))
    np.savez(tmp_path / "b.npz", w=np.ones((3, 2)), u=np.arange(3))
    (tmp_path / "c.csv").write_text("# header comment\n1, 2, 3\n\n4,5,6\n")
    (tmp_path / "row.csv").write_text("1,2,3\n")
    g = build(
        'model m\nweights a[2, 3] = load("a.npy")\nweights b[3, 2] = load("b.npz", "w")\n'
        'weights u[3] = load("b.npz", "u")\nweights c[2, 3] = load("c.csv")\n'
        'weights r[3] = load("row.csv")\nlayer v[3]: identity\nenergy E = legendre(v)\n',
        tmp_path,
    )
    np.testing.assert_array_equal(g.weights("a").value, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(g.weights("b").value, np.ones((3, 2)))
    np.testing.assert_array_equal(g.weights("u").value, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(g.weights("c").value, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(g.weights("r").value, [1, 2, 3])
    assert g.weights("b").provenance == 'load("b.npz", "w")'


def test_load_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "b.npz", w=np.ones(2))
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    (tmp_path / "bad.npy").write_bytes(b"not a numpy file")
    cases = {
        'load("b.npz")': "holds several arrays: name one",
        'load("b.npz", "q")': "'b.npz' has no array named 'q'",
        'load("s.npy")': "does not hold real numbers",
        'load("nan.npy")': "weights 'w' contain NaN (first at index [1])",
        'load("bad.npy")': "cannot read 'bad.npy'",
        'load("b.npy", "w")': "takes no key",
    }
    for expr, message in cases.items():
        msgs = errors(f"model m\nweights w[2] = {expr}\n", tmp_path)
        assert any(message in m for m in msgs), (expr, msgs)


def test_selected_weights_cannot_be_used_in_expressions() -> None:
    msgs = errors("model m\nweights e[2, 2] = [[1, 0], [0, 1]]\nweights c[3, 2] = e[s]\n"
                  "weights d[2, 3] = c.T\ninput s[3]: select\n")
    assert any("are rows chosen by input 's'" in m for m in msgs)


# -- layers, inputs, outputs, readout, hardware --------------------------------------------------


def test_layer_options_and_lagrangians() -> None:
    g = build("model m\nparam n = 3\nlayer a[2]: rectpoly(n) init=settled tau=0\n"
              "layer b[2]: tanh(0.5) init=0\nlayer c[1]: relu\nlayer d[2]: sigmoid(4)\n"
              "energy E = legendre(a)\n")
    a, b, c, d = g.layers()
    assert (a.lagrangian.kind, a.lagrangian.param) == ("rectpoly", 3.0)
    assert (a.tau, a.init) == (0.0, "settled")
    assert (b.lagrangian.param, b.init, b.tau) == (0.5, "zero", 1.0)
    assert c.lagrangian.param is None
    assert d.lagrangian.kind == "sigmoid"
    assert "'relu' takes no parameter" in errors(
        "model m\nlayer c[1]: relu(2)\nenergy E = legendre(c)\n")
    assert "'tau' is given twice" in errors(
        "model m\nlayer c[1]: relu tau=1 tau=2\nenergy E = legendre(c)\n")


def test_slices() -> None:
    g = build("model m\nlayer v[6]: identity\nenergy E = legendre(v)\n"
              "input a[1]: clamp v[-1]\ninput b[2]: clamp v[:2]\ninput c[2]: init v[-3:-1]\n"
              "output y[3]: value(v[3:])\noutput z[1]: sign(v[2])\n")
    a, b, c = g.inputs()
    assert (a.indices, b.indices, c.indices) == ((5,), (0, 1), (3, 4))
    y, z = g.outputs()
    assert (y.indices, z.indices) == ((3, 4, 5), (2,))
    assert any("index 6 is out of range" in m for m in errors(
        "model m\nlayer v[6]: identity\nenergy E = legendre(v)\ninput a[1]: clamp v[6]\n"))
    assert any("slice selects no neurons" in m for m in errors(
        "model m\nlayer v[6]: identity\nenergy E = legendre(v)\ninput a[1]: clamp v[3:3]\n"))


def test_argmax_without_offset_and_with_minus() -> None:
    g = build(HEAD + "weights dec[2, 3] = [[1, 0, 0], [0, 1, 0]]\nweights o[2] = [1, 2]\n"
              "energy E = legendre(v) + legendre(h) - h @ xi @ v\n"
              "output a[1]: argmax(dec @ v)\noutput b[1]: argmax(2 * dec @ v - o)\n")
    a, b = g.outputs()
    assert a.offset is not None and list(a.offset) == [0.0, 0.0]
    assert b.decoder is not None and b.decoder[0, 0] == 2.0
    assert b.offset is not None and list(b.offset) == [-1.0, -2.0]


def test_readout_default_and_hardware() -> None:
    g = build(HEAD + "param supply = 1.8\nenergy E = legendre(v) + legendre(h) - h @ xi @ v\n"
              'hardware {\n  scheme = dual_rail\n  r_f = 10k\n  tau_unit = 100n\n'
              '  vdd = supply\n  gbw = 2 * 1G\n  profile = "sky130.yaml"\n  levels = 0\n}\n')
    assert g.readout_t == 1.0 and g.readout_loc is None
    hw = {k: s.value for k, s in g.hardware.items()}
    assert hw == {"scheme": "dual_rail", "r_f": 1e4, "tau_unit": 1e-7, "vdd": 1.8,
                  "gbw": 2e9, "profile": "sky130.yaml", "levels": 0.0}
    assert g.hardware["r_f"].loc is not None


def test_test_block_options_and_checks() -> None:
    base = HEAD + ("energy E = legendre(v) + legendre(h) - h @ xi @ v\n"
                   "input x[2]: clamp v[0:2]\noutput y[1]: value(v[2])\n")
    g = build(base + 'test "t" tol = 0.1 min_pass = 0.5 {\n x = [-1, +1] -> y = [0.25]\n}\n')
    assert (g.tests[0].tol, g.tests[0].min_pass) == (0.1, 0.5)
    msgs = errors(base + 'test "t" { q = [1] -> y = [1] }\ntest "t" { x = [1, 1] -> y = [1] }\n')
    assert any("unknown name 'q'" in m for m in msgs)
    assert any("test 't' is declared twice" in m for m in msgs)
    assert "test 'u' has no vectors" in errors(base + 'test "u" { }\n')


def test_several_errors_are_reported_together() -> None:
    msgs = errors("model m\nparam a = 1 / 0\nlayer v[2.5]: identity\nlayer v[2]: relu\n"
                  "weights w[2] = [1, 2, 3]\nenergy E = legendre(q)\n")
    assert len(msgs) == 5, msgs


# -- files ---------------------------------------------------------------------------------------


def test_load_model_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DenseAMCError, match="cannot read the file"):
        load_model(tmp_path / "missing.dam")
    with pytest.raises(DenseAMCError, match="cannot read the file"):
        load_model(tmp_path)
    (tmp_path / "nul.dam").write_bytes(b"model m\nparam a\x00 = 1\n")
    with pytest.raises(DenseAMCError) as info:
        load_model(tmp_path / "nul.dam")
    d = info.value.diagnostics[0]
    assert "NUL byte" in d.message and d.span is not None and (d.span.line, d.span.col) == (2, 8)
    (tmp_path / "latin1.dam").write_bytes("model m\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(DenseAMCError) as info:
        load_model(tmp_path / "latin1.dam")
    d = info.value.diagnostics[0]
    assert "not valid UTF-8" in d.message and d.span is not None and d.span.line == 2


def test_load_model_accepts_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.dam"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "xor.dam").read_bytes())
    assert load_model(path).name == "xor"
