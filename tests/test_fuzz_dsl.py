"""Fuzzing the front end: whatever the input, the only exception is DenseAMCError.

Random text, random bytes, the normative programs with tokens or characters deleted, duplicated,
swapped or replaced, and pathological nesting. Every diagnostic must also render. The whole file
is sized to run in well under a minute on two cores.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from denseamc.dsl import elaborate, load_model, parse
from denseamc.ir import DenseAMCError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec import spec_program

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)




PROGRAMS = [spec_program("xor"), spec_program("hamming74"), spec_program("parity8")]
TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|[0-9.]+[A-Za-z]?|\*\*|->|\"[^\"\n]*\"|.", re.S)
VOCAB = [
    *sorted({t for p in PROGRAMS for t in TOKEN.findall(p) if not t.isspace()}),
    "**", "/", ".T", "(", ")", "10k", "1e-3", "-", "+", "@", "tol", "min_pass", "value",
    "argmax", "init", "settled", "relu", "tanh(0)", "rectpoly(1)", "\"", "\\", "1e999", "0",
    "hardware", "{", "}", "weights", "param", "load(\"x.npy\")", "[", "]", ":", ",", "\n",
]
ALPHABET = st.sampled_from(
    [
        *"modelparmwightsyn[](){}:=+-*/@.,<>#\"\\\n \t0123456789eEkMGTnpufxyvhT_",
        *["\x00", "\u00e9", "\r", "\u2028", "->", "**"],
    ]
)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the files the normative programs load (parity8.npz is generated)."""
    d = tmp_path_factory.mktemp("fuzz")
    shutil.copy(ROOT / "examples" / "hamming74_codewords.csv", d)
    rng = np.random.default_rng(0)
    np.savez(
        d / "parity8.npz", embed=rng.random((2, 16)), mem=rng.random((16, 16)),
        a=rng.random(16), b=rng.random(8), c=rng.random(16), dec=rng.random((2, 16)),
        dec_b=rng.random(2),
    )
    return d


def assert_located(exc: DenseAMCError, file: str) -> None:
    """Every diagnostic renders as `file:line:col: error: message`, the source line and a caret."""
    for d in exc.diagnostics:  # never empty: DenseAMCError refuses an empty list
        text = d.render()
        head, source, caret, *_ = text.split("\n")
        assert re.fullmatch(rf"{re.escape(file)}:\d+:\d+: error: \S.*", head), text
        assert re.fullmatch(r" *\d+ \| .*", source) and re.fullmatch(r" +\| *\^+", caret), text


def front_end(text: str, base: Path) -> None:
    """Parse and elaborate; a DenseAMCError is fine as long as it renders located."""
    try:
        elaborate(parse(text, "fuzz.dam"), base)
    except DenseAMCError as exc:
        assert_located(exc, "fuzz.dam")


def test_normative_programs_elaborate(base_dir: Path) -> None:
    graphs = [elaborate(parse(program, "p.dam"), base_dir) for program in PROGRAMS]
    assert [g.name for g in graphs] == ["xor", "hamming74", "parity8"]


@settings(FAST, max_examples=1200)
@given(text=st.lists(ALPHABET, max_size=120).map("".join))
def test_random_text(base_dir: Path, text: str) -> None:
    front_end(text, base_dir)


@settings(FAST, max_examples=600)
@given(text=st.text(max_size=200))
def test_random_unicode(base_dir: Path, text: str) -> None:
    front_end("model m\n" + text, base_dir)


@settings(FAST, max_examples=300)
@given(data=st.binary(max_size=300))
def test_random_bytes_through_load_model(base_dir: Path, data: bytes) -> None:
    path = base_dir / "bytes.dam"
    path.write_bytes(data)
    try:
        load_model(path)
    except DenseAMCError as exc:
        assert_located(exc, str(path))


@st.composite
def token_mutants(draw: st.DrawFn) -> str:
    tokens = TOKEN.findall(draw(st.sampled_from(PROGRAMS)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(VOCAB))
        else:
            tokens.insert(i, " " + draw(st.sampled_from(VOCAB)) + " ")
    return "".join(tokens)


@st.composite
def char_mutants(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(PROGRAMS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            text = text[:i] + draw(ALPHABET) + text[i:]
        else:
            j = draw(st.integers(i, min(len(text), i + 20)))
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(FAST, max_examples=2000)
@given(text=token_mutants())
def test_token_mutations_of_normative_programs(base_dir: Path, text: str) -> None:
    front_end(text, base_dir)


@settings(FAST, max_examples=1200)
@given(text=char_mutants())
def test_character_mutations_of_normative_programs(base_dir: Path, text: str) -> None:
    front_end(text, base_dir)


@settings(FAST, max_examples=200)
@given(
    openers=st.lists(st.sampled_from(["(", "[", "-", "+", "2 ** ", "1 + ("]), min_size=1,
                     max_size=400),
    where=st.sampled_from(["param a = {}", "weights w[1] = {}", "layer v[{}]: relu",
                           "energy E = {} * legendre(v)", "output y[1]: argmax({} @ v)"]),
)
def test_deep_nesting(base_dir: Path, openers: list[str], where: str) -> None:
    closers = {"(": ")", "[": "]", "1 + (": ")"}
    inner = "".join(openers) + "1" + "".join(closers.get(o, "") for o in reversed(openers))
    front_end("model m\n" + where.format(inner) + "\n", base_dir)
