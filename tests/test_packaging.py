"""The distribution installs exactly the denseamc.* packages, importable from anywhere."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_subpackages_import_from_their_folders() -> None:
    for pkg, folder in [("dsl", "dsl"), ("ir", "ir"), ("compiler", "compiler"),
                        ("backends", "backends")]:
        spec = importlib.util.find_spec(f"denseamc.{pkg}")
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).resolve().parent == (ROOT / folder).resolve()


def test_no_generic_top_level_names_are_installed(tmp_path: Path) -> None:
    code = ("import importlib.util, sys; "
            "print([n for n in ('ir', 'dsl', 'compiler', 'backends') "
            "if importlib.util.find_spec(n) is not None])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_prints_help(tmp_path: Path) -> None:
    # The script pip installed for this interpreter, not whichever `denseamc` PATH finds first.
    script = Path(sysconfig.get_path("scripts")) / "denseamc"
    out = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: denseamc ")
    for command in ("compile", "check", "simulate"):
        assert re.search(rf"^ +{command} +\S", out.stdout, re.M), out.stdout
