"""Benchmark: the front end (parse + elaborate) on big test blocks, in process and whole process.

Model: identity v[128], softmax h[512] (beta 20), weights xi[512, 128] from `load("w.npy")`,
one init input cue[128], one sign output y[128]. Two files:
  small   one test block of 32 vectors (cue = 128 numbers -> y = 128 numbers), about 21,000
          tokens: the model of issue 14's `check` measurement;
  big     one test block of 1,000 such vectors (256,000 numbers, about 0.5 M tokens).
Printed: the time to build the parser (first call in a fresh process: lark's grammar, from its
cache when there is one), then parse and elaborate of each file in process (best of `--repeat`),
and the whole process `denseamc big.dam -o OUT --emit ir` (interpreter start, imports, parse,
elaborate, writing ir.txt).

Run: python bench/bench_parse.py [--repeat 3] [--vectors 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HEAD = """model big
param beta = 20
layer v[128]: identity tau=1
layer h[512]: softmax(beta) tau=0.01
weights xi[512, 128] = load("w.npy")
energy E = legendre(v) + legendre(h) - h @ xi @ v
input cue[128]: init v
output y[128]: sign(v)
readout at t = 10
"""

CHILD = """
import sys, time
t0 = time.perf_counter()
from denseamc.dsl.parser import parse
t1 = time.perf_counter()
parse("model m\\n", "m.dam")
t2 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
"""


def write_model(directory: Path, vectors: int, rng: np.random.Generator) -> Path:
    """A .dam file with one test block of `vectors` random +-1 vectors (and its w.npy)."""
    np.save(directory / "w.npy", rng.choice([-1.0, 1.0], size=(512, 128)) / np.sqrt(128))
    lines = [HEAD, 'test "recall" tol = 0.5 {']
    for _ in range(vectors):
        bits = rng.choice([-1, 1], size=128)
        cue = ", ".join(map(str, bits))
        lines.append(f"    cue = [{cue}] -> y = [{cue}]")
    lines.append("}\n")
    path = directory / f"m{vectors}.dam"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """CPU time of the fastest of `repeat` calls (CPU, not wall: the machine is shared)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vectors", type=int, default=1000)
    args = ap.parse_args()
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         check=True).stdout.split()
    print(f"import denseamc.dsl.parser (fresh process): {float(out[0]):.3f} s")
    print(f"first parse, grammar built or read from cache: {float(out[1]):.3f} s")

    from denseamc.dsl import elaborate, parse

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for n in (32, args.vectors):
            path = write_model(d, n, rng)
            text = path.read_text(encoding="utf-8")
            t_parse = best_of(args.repeat, lambda: parse(text, str(path)))  # noqa: B023
            program = parse(text, str(path))
            t_elab = best_of(args.repeat, lambda: elaborate(program, d))  # noqa: B023
            print(f"{n:5d} vectors x (128 + 128) numbers, {len(text) / 1e6:.2f} MB: "
                  f"parse {t_parse:.3f} s, elaborate {t_elab:.3f} s, "
                  f"total {t_parse + t_elab:.3f} s")
        exe = Path(sys.executable).with_name("denseamc")
        t0 = time.perf_counter()
        subprocess.run([str(exe), str(path), "-o", str(d / "out"), "--emit", "ir"], check=True,
                       capture_output=True)
        print(f"whole process `denseamc m{args.vectors}.dam -o OUT --emit ir`: "
              f"{time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
