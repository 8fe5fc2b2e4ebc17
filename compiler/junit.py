"""`denseamc check --junit-xml FILE`: a check report as JUnit XML, the format CI systems read.

Layout (one file per `check` run, i.e. per model and backend):

    <testsuites name="denseamc check" tests= failures= errors="0" skipped= time=>
      <testsuite name="MODEL on BACKEND" tests= failures= errors="0" skipped= time=>
        <properties> model, source file, backend </properties>
        <testcase classname="MODEL.BLOCK" name="vector 3: x=[1, -1]" file= line= time=>
          <failure message="y: expected [-1], decoded [1]" type="mismatch">details</failure>
        </testcase>
        ...
        <system-out> the backend's notes (e.g. its agreement with the circuit backend) </system-out>

One test case per test vector, in the order of the model's test blocks. A failing vector carries
a <failure> with the expected and the decoded outputs; a failing vector that its block tolerates
(`min_pass` below 1, and the block passes) is reported as <skipped>, the way pytest reports an
expected failure, so that the file agrees with `check`'s exit status. A netlist backend whose own
cross-check with the circuit backend failed adds one failing test case saying so.

Timing: the suite's time is the wall time of running the checks. A block's vectors run as one
batch, so no vector has a time of its own; each test case gets an equal share of the suite's
time. Everything but the time attributes is a function of the report alone (no timestamps, no
host names), so two runs of the same check differ in those attributes only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# at most this many numbers of an input are shown in a test case's name
SHORT = 4


def _numbers(values: Any) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(values, dtype=float).ravel()) + "]"


def _short(values: Any) -> str:
    """An input vector in a test case's name: all of it when short, else its first numbers."""
    flat = np.asarray(values, dtype=float).ravel()
    if flat.size <= SHORT:
        return _numbers(flat)
    head = ", ".join(f"{v:.6g}" for v in flat[:SHORT])
    return f"[{head}, ... ({flat.size} values)]"


def _case_name(result: Any) -> str:
    inputs: Mapping[str, Any] = result.inputs
    given = ", ".join(f"{k}={_short(v)}" for k, v in inputs.items())
    return f"vector {result.index + 1}" + (f": {given}" if given else "")


def _mismatch_lines(result: Any) -> list[str]:
    """For each output that differs: what the test expected and what the backend decoded."""
    lines = []
    for m in result.mismatches:
        rule = "exactly" if m.kind == "exact" else f"within tol (max error {m.error:.3g})"
        lines.append(f"{m.output}: expected {_numbers(m.expected)}, decoded {_numbers(m.got)} "
                     f"(must match {rule})")
    return lines


def _details(result: Any) -> str:
    inputs = [f"input {k} = {_numbers(v)}" for k, v in result.inputs.items()]
    decoded = [f"decoded {k} = {_numbers(v)}" for k, v in result.got.items()]
    return "\n".join([*_mismatch_lines(result), *inputs, *decoded])


def _testcase(parent: ET.Element, classname: str, name: str, source: str, seconds: float,
              line: int | None) -> ET.Element:
    case = ET.SubElement(parent, "testcase", classname=classname, name=name, file=source)
    if line is not None:
        case.set("line", str(line))
    case.set("time", f"{seconds:.6f}")
    return case


def _add_block(suite: ET.Element, model: str, source: str, block: Any, share: float) -> tuple[
        int, int]:
    """Add a block's vectors; returns (failures, skipped)."""
    failures = skipped = 0
    for r in block.results:
        line = r.loc.line if r.loc is not None else None
        case = _testcase(suite, f"{model}.{block.name}", _case_name(r), source, share, line)
        if r.passed:
            continue
        message = "; ".join(_mismatch_lines(r))
        if block.passed:  # tolerated by min_pass
            skipped += 1
            ET.SubElement(case, "skipped", message=f"tolerated by min_pass = {block.min_pass:g} "
                          f"({block.n_passed}/{block.n_total} passed): {message}")
        else:
            failures += 1
            failure = ET.SubElement(case, "failure", message=message, type="mismatch")
            failure.text = _details(r)
    return failures, skipped


def junit_xml(report: Any, *, model: str, source: str, seconds: float) -> ET.ElementTree:
    """The JUnit document of one check report (`compiler.check.CheckReport`, public fields only:
    backend, blocks, notes, notes_ok); `seconds` is the wall time the checks took."""
    n_vectors = sum(len(b.results) for b in report.blocks)
    share = seconds / n_vectors if n_vectors else 0.0
    root = ET.Element("testsuites", name="denseamc check")
    suite = ET.SubElement(root, "testsuite", name=f"{model} on {report.backend}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("model", model), ("source", source), ("backend", report.backend)):
        ET.SubElement(props, "property", name=key, value=value)
    failures = skipped = 0
    for block in report.blocks:
        f, s = _add_block(suite, model, source, block, share)
        failures, skipped = failures + f, skipped + s
    tests = n_vectors
    if not report.notes_ok:
        tests += 1
        failures += 1
        case = _testcase(suite, f"{model}.{report.backend}", "agreement with the circuit backend",
                         source, 0.0, None)
        failure = ET.SubElement(case, "failure", message="the backend's cross-check failed",
                                type="cross-check")
        failure.text = "\n".join(report.notes)
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes)
    counts = {"tests": str(tests), "failures": str(failures), "errors": "0",
              "skipped": str(skipped), "time": f"{seconds:.6f}"}
    for element in (root, suite):
        for key, value in counts.items():
            element.set(key, value)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: Path, report: Any, *, model: str, source: str, seconds: float) -> None:
    """Write `report` to `path` as JUnit XML (UTF-8, with an XML declaration)."""
    tree = junit_xml(report, model=model, source=source, seconds=seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
