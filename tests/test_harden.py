"""`denseamc harden`: the JAX dynamics agree with the numpy simulator, a short hardening runs end
to end and lowers its loss, its .dam differs from the input only in the weights, and without JAX
the command says how to install it (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from denseamc.compiler.cli import EXIT_USER, main
from denseamc.compiler.pipeline import compile_model
from denseamc.dsl.elaborate import parse_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
XOR = EXAMPLES / "xor.dam"


# JAX runs in child processes only: a pytest process that has imported JAX (multithreaded)
# must not fork, and tests/test_montecarlo.py forks worker processes.
AGREEMENT = """
import json, sys
from pathlib import Path
import jax.numpy as jnp, numpy as np
from denseamc.backends.sim import simulate
from denseamc.compiler.harden.dynamics import JaxModel
from denseamc.compiler.harden.params import tie
from denseamc.compiler.pipeline import compile_model
from denseamc.dsl.elaborate import parse_file
out = {}
for path in map(Path, sys.argv[1:]):
    comp = compile_model(path)
    tying = tie(parse_file(path), comp.graph)
    inputs = comp.graph.tests[0].stacked_inputs()
    model = JaxModel(comp.graph, tying, inputs, comp.hardware, comp.circuit.scaling.v_unit)
    params = {k: jnp.asarray(p.value) for k, p in tying.params.items()}
    states = model.final_states(params, model.nominal_chip(), rtol=1e-8, atol=1e-10)
    ref = simulate(comp.graph, inputs, rtol=1e-9, atol=1e-12)
    out[path.stem] = {k: float(np.max(np.abs(np.asarray(states[k]) - x)))
                      for k, x in ref.states.items()}
    out[path.stem]["layers"] = sorted(states) == sorted(ref.states)
print(json.dumps(out))
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)


def _harden(*args: str) -> subprocess.CompletedProcess[str]:
    return _python("-m", "denseamc.compiler.cli", "harden", *args)


def test_jax_dynamics_match_numpy_at_nominal_weights() -> None:
    names = ["xor", "hamming74", "parity8"]
    run = _python("-c", AGREEMENT, *(str(EXAMPLES / f"{n}.dam") for n in names))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert sorted(result) == sorted(names)
    for name, diffs in result.items():
        assert diffs.pop("layers") is True, name
        assert max(diffs.values()) < 1e-4, (name, diffs)


def test_harden_xor_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    # margin 1.5 > |v| at the readout: the hinge is active, so the loss has room to fall
    run = _harden(str(XOR), "--set", "g_sigma=0.1", "--steps", "12", "--draws-per-step", "4",
                  "--margin", "1.5", "--lr", "0.02", "--mc-runs", "4", "--quiet", "-o", str(out))
    err = run.stderr
    assert run.returncode == 0, err
    assert "fitting the model's own test vectors" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "montecarlo.md", "xor_hardened.dam", "xor_hardened.npz"]
    report = (out / "montecarlo.md").read_text()
    before, after = map(float, re.search(r"Loss on \d+ fixed chips: (\S+) before, (\S+) after",
                                         report).groups())
    assert after < before
    assert "| input |" in report and "| hardened |" in report

    # the .dam is the input with the literal replaced by a load of the new weights
    src, new = XOR.read_text(), (out / "xor_hardened.dam").read_text()
    [stmt] = [s for s in parse_file(XOR).statements if getattr(s, "name", None)
              and getattr(s.name, "name", "") == "xi"]
    span = stmt.value.span
    assert new == src[:span.start] + 'load("xor_hardened.npz", "xi")' + src[span.end:]
    with np.load(out / "xor_hardened.npz") as f:
        xi = f["xi"]
    assert xi.shape == (4, 3) and not np.array_equal(xi, compile_model(XOR).graph.weights(
        "xi").value)
    for backend in ("model", "circuit"):
        assert main(["check", str(out / "xor_hardened.dam"), "--backend", backend]) == 0
    assert "unbounded" not in capsys.readouterr().err


def test_harden_bad_options_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "train.csv"
    bad.write_text("x[0],x[1]\n1,1\n")  # no column for output y
    runs = [_harden(str(XOR), "--set", "g_sigma=0.1", "--steps", "0", "-o", str(out)),
            _harden(str(XOR), "-o", str(out)),  # nothing to harden against
            _harden(str(XOR), "--set", "g_sigma=0.1", "--data", str(bad), "-o", str(out))]
    assert [r.returncode for r in runs] == [EXIT_USER] * 3
    err = "".join(r.stderr for r in runs)
    assert "--steps 0" in err and "no non-ideality is set" in err and "has no 'y'" in err
    assert "Traceback" not in err
    assert not out.exists()


BLOCK_JAX = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jax", "diffrax", "optax"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from denseamc.compiler.cli import main
sys.exit(main(["harden", sys.argv[1], "--set", "g_sigma=0.03", "-o", sys.argv[2]]))
"""


def test_harden_without_jax_says_how_to_install(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", BLOCK_JAX, str(XOR), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == EXIT_USER, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'denseamc[train]'" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("backend", ["model", "circuit"])
def test_parity8_robust_passes_every_held_out_vector(backend: str) -> None:
    """The hardened example (examples/parity8_robust.py) still computes parity at nominal."""
    assert main(["check", str(EXAMPLES / "parity8_robust.dam"), "--backend", backend]) == 0


def test_parity8_robust_is_parity8_reading_other_weights() -> None:
    robust = (EXAMPLES / "parity8_robust.dam").read_text()
    original = (EXAMPLES / "parity8.dam").read_text()
    assert robust == original.replace('"parity8.npz"', '"parity8_robust.npz"')


def test_the_test_process_never_imports_jax() -> None:
    """JAX stays in the child processes (see AGREEMENT): this process may fork afterwards."""
    assert "jax" not in sys.modules
