"""`denseamc check --junit-xml FILE`: valid JUnit XML, one test case per vector, failures with
the expected and decoded outputs, and a file that agrees with `check`'s exit status."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from denseamc.compiler.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "examples" / "xor.dam"


def _check(model: Path, out: Path, *extra: str) -> tuple[int, ET.Element]:
    code = main(["check", str(model), "--junit-xml", str(out), *extra])
    return code, ET.parse(out).getroot()


def _xor_variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """examples/xor.dam with each (old, new) text replaced."""
    text = XOR.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "variant.dam"
    path.write_text(text)
    return path


def _without_times(path: Path) -> bytes:
    root = ET.parse(path).getroot()
    for element in root.iter():
        element.attrib.pop("time", None)
    return ET.tostring(root)


def test_a_passing_model_has_one_passing_case_per_vector(tmp_path: Path) -> None:
    code, root = _check(XOR, tmp_path / "r.xml")
    assert code == 0
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "xor on model"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("4", "0", "0", "0")
    assert float(suite.get("time", "-1")) >= 0.0
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"model": "xor", "source": str(XOR), "backend": "model"}
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "vector 1: x=[-1, -1]", "vector 2: x=[-1, 1]", "vector 3: x=[1, -1]",
        "vector 4: x=[1, 1]"]
    assert {c.get("classname") for c in cases} == {"xor.truth table"}
    assert [c.get("line") for c in cases] == ["21", "22", "23", "24"]
    assert all(len(c) == 0 for c in cases)  # no failure, skipped or error child


def test_a_failing_vector_carries_expected_and_decoded_outputs(tmp_path: Path) -> None:
    bad = _xor_variant(tmp_path, ("x = [-1,  1] -> y = [ 1]", "x = [-1,  1] -> y = [-1]"))
    code, root = _check(bad, tmp_path / "r.xml", "--backend", "circuit")
    assert code == 1
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "xor on circuit", "4", "1")
    assert root.get("failures") == "1"
    cases = suite.findall("testcase")
    failures = [(c.get("name"), c.find("failure")) for c in cases if c.find("failure") is not None]
    assert len(failures) == 1
    name, failure = failures[0]
    assert failure is not None
    assert name == "vector 2: x=[-1, 1]"
    assert failure.get("message") == "y: expected [-1], decoded [1] (must match exactly)"
    assert "input x = [-1, 1]" in (failure.text or "")
    assert "decoded y = [1]" in (failure.text or "")


def test_a_failure_tolerated_by_min_pass_is_skipped_not_failed(tmp_path: Path) -> None:
    lenient = _xor_variant(tmp_path,
                           ('test "truth table" {', 'test "truth table" min_pass = 0.75 {'),
                           ("x = [ 1,  1] -> y = [-1]", "x = [ 1,  1] -> y = [ 1]"))
    code, root = _check(lenient, tmp_path / "r.xml")
    assert code == 0
    (suite,) = root.findall("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "1")
    skipped = [c.find("skipped") for c in suite.findall("testcase")]
    messages = [s.get("message", "") for s in skipped if s is not None]
    assert len(messages) == 1
    assert messages[0].startswith("tolerated by min_pass = 0.75 (3/4 passed): y: expected [1]")


def test_the_file_is_deterministic_apart_from_times(tmp_path: Path) -> None:
    _check(XOR, tmp_path / "a.xml")
    _check(XOR, tmp_path / "b.xml")
    assert _without_times(tmp_path / "a.xml") == _without_times(tmp_path / "b.xml")
    assert (tmp_path / "a.xml").read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
