"""The README's two commands: what they are, that CI runs the test one, which Python they pick,
and `make demo` in a fresh clone on the system Python with nothing but the system PATH.

The fresh-clone test runs on the committed tree (`git clone` of this checkout at its HEAD) and
installs denseamc's dependencies from PyPI into a new .venv: about 1-2 minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _readme_commands() -> list[str]:
    """The indented command lines of the README's "Two commands" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^ {4}(\S.*)$", section, flags=re.MULTILINE)


def _externally_managed(python: Path) -> bool:
    code = ("import os, sys, sysconfig; print(sys.prefix == sys.base_prefix and os.path.exists("
            "os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def _dry_run(tmp_path: Path, python: str, target: str = "demo") -> str:
    """`make -n TARGET` with PYTHON=python, in an empty directory (so no .venv exists yet)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PY", "PYTHON")}
    out = subprocess.run(["make", "-n", "-f", str(ROOT / "Makefile"), target,
                          f"PYTHON={python}"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout


def test_the_readme_has_two_commands_and_ci_runs_the_test_one() -> None:
    assert _readme_commands() == ["make demo", "make test"]
    run = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
           if line.strip() and not line.lstrip().startswith("#")]
    assert run[-1] == "make test"


def test_make_test_runs_the_lint_gate_before_the_tests(tmp_path: Path) -> None:
    lines = _dry_run(tmp_path, sys.executable, "test").splitlines()
    lint = next(i for i, line in enumerate(lines) if ".ci/lint" in line)
    tests = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert lint < tests


def test_an_active_virtual_environment_is_used_as_it_is(tmp_path: Path) -> None:
    venv = tmp_path / "active-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    scripts = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                              "'scripts'))"], capture_output=True, text=True,
                             check=True).stdout.strip()
    work = tmp_path / "work"
    work.mkdir()
    plan = _dry_run(work, str(python))
    assert f"{python} -m pip install --quiet -e ." in plan
    assert "-m venv" not in plan and "activate" not in plan
    assert f"{scripts}/denseamc examples/xor.dam -o out/" in plan


@pytest.mark.skipif(not SYSTEM_PYTHON.exists() or not _externally_managed(SYSTEM_PYTHON),
                    reason="needs an externally managed /usr/bin/python3 (Debian, Ubuntu)")
def test_an_externally_managed_python_gets_a_project_venv(tmp_path: Path) -> None:
    plan = _dry_run(tmp_path, str(SYSTEM_PYTHON))
    assert "apt-get install -y --no-install-recommends python3-venv" in plan
    assert f"{SYSTEM_PYTHON} -m venv --clear .venv" in plan
    assert ".venv/bin/python -m pip install --quiet -e ." in plan
    assert "run '. .venv/bin/activate' to put it on your PATH" in plan


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout")
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="needs a system /usr/bin/python3")
def test_make_demo_in_a_fresh_clone_on_the_system_python(tmp_path: Path) -> None:
    clone = tmp_path / "denseamc"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    # a new user's shell: the system directories only (so python3 is /usr/bin/python3), no
    # virtual environment, conda or pyenv
    env = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", str(tmp_path)),
           "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    run = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in ("ir.txt", "report.json", "spice/xor.cir", "veriloga/xor.sim"):
        assert (clone / "out" / name).is_file(), name
    assert "PASS: 4 passed, 0 failed on backend model" in run.stdout
    if _externally_managed(SYSTEM_PYTHON):
        assert (clone / ".venv" / "bin" / "denseamc").is_file()
        assert run.stdout.rstrip().splitlines()[-1] == (
            "denseamc is installed in .venv: run '. .venv/bin/activate' to put it on your PATH")
