"""Testbenches: every test vector of a model, run from the emitted netlists, decoded per vector.

Every input-dependent value of a netlist is a parameter (`NetlistEmitter.input_parameters`:
select levels p_vs_sel_*, clamps p_v_clamp_*, initial states p_ic_*), so a testbench only sets
those parameters, vector by vector, and runs the transient again:

* ngspice, `spice/<model>_tb.cir` (`ngspice_testbench`): `.include <model>.cir` and a
  `.control` block: per vector `alterparam` of every input parameter, `reset`, `run`, then the
  decoding of backends/sim/energy.py in ngspice's control language (g = V(gp)/v_unit at the
  last point, which is the readout time; sign, value or argmax(decoder g + offset)), one
  `echo` line per vector (`LINE_FORMAT`) and its readout volts, a count per block; `quit` at
  the end. Run: `ngspice -b <model>_tb.cir`.
* VACASK, `veriloga/<model>_tb.sim` (`VacaskTestbench`): the top level again with another
  control block: per vector `alter instance("__topinst__") ...` of the circuit parameters, `var`
  of the initial states, and one transient `tb_<block>_<vector>` (one raw file each).
  VACASK cannot decode, so `veriloga/<model>_tb_decode.py` (`decode_script`, standard library
  and numpy only) reads the raw files and prints the same lines as ngspice.
* Spectre, `veriloga/<model>_tb.scs` (`SpectreTestbench`): the top level again with a
  `paramset` of every vector's input parameters and a `sweep` over it around the transient
  (one sweep point per vector); the outputs are decoded in the designer's own environment
  (ADE, OCEAN) as docs/cadence.md says. No Spectre runs here: it is checked against Spectre's
  documented syntax only.

Every line is generated from legal names (`Namer`) and formatted numbers; no model text (block
names included: a block is its number) reaches a testbench, and each is scanned with
netlist_safety's testbench whitelist (`check_testbench`) before it is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from denseamc.backends.base import NetlistEmitter
from denseamc.backends.naming import Namer
from denseamc.backends.netlist_facts import initial_node_voltages
from denseamc.backends.spice import NgspiceEmitter
from denseamc.backends.stimulus import Stimulus, stimuli
from denseamc.backends.units import num
from denseamc.backends.veriloga import SpectreEmitter, VacaskEmitter
from denseamc.ir.circuit import CircuitIR, Readout
from denseamc.ir.model import OutputOp

__all__ = ["DECODE_SCRIPT", "LINE_FORMAT", "SpectreTestbench", "TestbenchVector", "VacaskTestbench",
           "decode_script", "ngspice_testbench", "testbench_files", "testbench_vectors"]

#: The line every testbench prints per vector (ngspice's echo, the VACASK decoding script):
#: `tb block B vector K: OUT=V[,V...] ... expected OUT=E[,E...] ... pass|FAIL`, decoded values
#: as printf's %g; then `tb block B vector K readout: NET=VOLTS ... V`, the readout nets' volts.
LINE_FORMAT = "tb block {block} vector {index}: {got} expected {expected} {verdict}"
#: Terms per `let` line of a long ngspice expression (the rest goes on follow-up lines).
_TERMS_PER_LET = 8
#: Readout nets per `echo` line.
_NETS_PER_ECHO = 8
#: A transient ending this fraction (or more) before the readout time failed.
_END_SLACK = 1e-6
#: Integer outputs (sign, argmax) match when within this of the expected value.
_EXACT_SLACK = 0.5


@dataclass(frozen=True)
class TestbenchVector:
    """One test vector: block and index (both from 1), its input values, expected outputs."""

    __test__ = False  # not a pytest class

    block: int
    index: int
    stimulus: Stimulus
    expected: dict[str, tuple[float, ...]]
    tol: float

    @property
    def tag(self) -> str:
        """tb_<block>_<index>: the vector's analysis (and raw file) name."""
        return f"tb_{self.block}_{self.index}"


def testbench_vectors(circuit: CircuitIR) -> list[TestbenchVector]:
    """Every vector of every test block of `circuit`, in order, with its `Stimulus`."""
    out = []
    for b, block in enumerate(circuit.tests, start=1):
        if not block.vectors:
            continue
        stims = stimuli(circuit, block.stacked_inputs(), "a test vector")
        for k, (vec, stim) in enumerate(zip(block.vectors, stims, strict=True), start=1):
            expected = {name: tuple(float(x) for x in np.asarray(v, dtype=float).ravel())
                        for name, v in vec.outputs.items()}
            out.append(TestbenchVector(b, k, stim, expected, block.tol))
    return out


def _exact(op: OutputOp) -> bool:
    return op.kind in ("sign", "argmax")


def _text(value: float, exact: bool) -> str:
    """An expected value as the testbench prints it: an integer for sign and argmax."""
    return str(round(value)) if exact and float(value).is_integer() else num(value)


# ------------------------------------------------------------------------------------------------
# ngspice
# ------------------------------------------------------------------------------------------------


def ngspice_testbench(circuit: CircuitIR, emitter: NgspiceEmitter, netlist: str,
                      vectors: Sequence[TestbenchVector]) -> str:
    """The ngspice testbench of `circuit`: includes `netlist` (the main netlist's file name,
    next to it) and runs every one of `vectors`. `emitter` has formatted that netlist (its
    `Namer` knows every name)."""
    model = emitter.model_name()
    lines = [f"* denseamc ngspice testbench for model {model}: every test vector",
             f"* run next to {netlist}: ngspice -b {model}_tb.cir",
             "* per vector: set its input parameters, rerun the transient to t_read, decode as "
             "denseamc does and print",
             "* tb block B vector K: OUT=decoded ... expected OUT=expected ... pass or FAIL",
             "* tb block B vector K readout: NET=volts at t_read ... V",
             "* and per block: tb block B: N of M vectors passed",
             f".include {netlist}",
             ".control",
             "option noinit",
             # the per-block counts live in the `const` plot (current here), which runs keep
             "let tb__pass = 0", "let tb__all = 0"]
    for k, vec in enumerate(vectors):
        if vec.index == 1:
            lines += ["let const.tb__pass = 0", "let const.tb__all = 0"]
        lines += [f"alterparam {name}={num(value)}"
                  for name, value in emitter.input_parameters(vec.stimulus)]
        lines += ["reset", "run", "let tb__n = length(time) - 1"]
        lines += _ngspice_decode(circuit, emitter, vec)
        lines += ["let const.tb__all = const.tb__all + 1", "if tb__ok > 0.5",
                  "let const.tb__pass = const.tb__pass + 1", "end", "destroy all"]
        if k + 1 == len(vectors) or vectors[k + 1].block != vec.block:
            lines += ["let tb__pass = const.tb__pass", "let tb__all = const.tb__all",
                      f'echo "tb block {vec.block}: $&tb__pass of $&tb__all vectors passed"']
    lines += ["quit", ".endc", ".end"]
    return "\n".join(lines) + "\n"


def _ngspice_decode(circuit: CircuitIR, em: NetlistEmitter, vec: TestbenchVector) -> list[str]:
    """The decoding of `vec`'s outputs in ngspice's control language and its echo lines.
    Vector names hold a double underscore, which no legal netlist name does (naming.py)."""
    vu = num(circuit.scaling.v_unit)
    nets = list(dict.fromkeys(em.net(n) for ro in circuit.readouts for n in ro.nets))
    lines = [f"let tb__v_{n} = v({n})[tb__n]" for n in nets]
    # a transient that stopped before the readout time fails the vector
    t_end = num(circuit.readout_time_s * (1 - _END_SLACK))
    lines += ["let tb__ok = 1", "let tb__end = time[tb__n]", f"if tb__end < {t_end}",
              "let tb__ok = 0",
              f'echo "tb block {vec.block} vector {vec.index}: the transient stopped before '
              f't_read"', "end"]
    got, expected = [], []
    for r, ro in enumerate(circuit.readouts):
        gs = [f"tb__g{r}_{i}" for i in range(len(ro.nets))]
        lines += [f"let {g} = tb__v_{em.net(n)} / {vu}" for g, n in zip(gs, ro.nets,
                                                                        strict=True)]
        outs = _ngspice_output(ro, r, gs, lines)
        name = em.namer.name(ro.op.name)
        got.append(f"{name}=" + ",".join(f"$&{o}" for o in outs))
        if ro.op.name not in vec.expected:
            continue  # judged as compiler/verdicts.py does: only the outputs a vector gives
        exp = vec.expected[ro.op.name]
        slack = _EXACT_SLACK if _exact(ro.op) else vec.tol
        for o, e in zip(outs, exp, strict=True):
            lines += [f"if abs({o} - {num(e)}) > {num(slack)}", "let tb__ok = 0", "end"]
        expected.append(f"{name}=" + ",".join(_text(e, _exact(ro.op)) for e in exp))
    head = LINE_FORMAT.format(block=vec.block, index=vec.index, got=" ".join(got),
                              expected=" ".join(expected), verdict="{}")
    lines += ["if tb__ok > 0.5", f'echo "{head.format("pass")}"', "else",
              f'echo "{head.format("FAIL")}"', "end"]
    for k in range(0, len(nets), _NETS_PER_ECHO):
        chunk = " ".join(f"{n}=$&tb__v_{n}" for n in nets[k:k + _NETS_PER_ECHO])
        lines.append(f'echo "tb block {vec.block} vector {vec.index} readout: {chunk} V"')
    return lines


def _ngspice_output(ro: Readout, r: int, gs: list[str], lines: list[str]) -> list[str]:
    """Append the `let`/`if` lines that decode readout `ro` (number `r`) from its activations
    `gs`; return the vectors holding its output values."""
    op = ro.op
    if op.kind == "value":
        return gs
    if op.kind == "sign":  # numpy's sign: 0 stays 0 (ngspice has no sgn)
        outs = [f"tb__o{r}_{i}" for i in range(len(gs))]
        for o, g in zip(outs, gs, strict=True):
            lines += [f"let {o} = 0", f"if {g} > 0", f"let {o} = 1", "end",
                      f"if {g} < 0", f"let {o} = -1", "end"]
        return outs
    decoder = np.eye(len(gs)) if op.decoder is None else np.asarray(op.decoder, dtype=float)
    offset = np.zeros(decoder.shape[0]) if op.offset is None else np.asarray(op.offset, float)
    scores = [f"tb__s{r}_{j}" for j in range(decoder.shape[0])]
    for j, s in enumerate(scores):
        terms = [f"{num(float(c))}*{g}" for c, g in zip(decoder[j], gs, strict=True) if c != 0]
        terms.append(num(float(offset[j])))
        lines.append(f"let {s} = " + " + ".join(terms[:_TERMS_PER_LET]))
        for k in range(_TERMS_PER_LET, len(terms), _TERMS_PER_LET):
            lines.append(f"let {s} = {s} + " + " + ".join(terms[k:k + _TERMS_PER_LET]))
    out = f"tb__o{r}_0"
    lines += [f"let {out} = 0", f"let tb__top = {scores[0]}"]
    for j, s in enumerate(scores[1:], start=1):  # strictly greater: the first maximum wins
        lines += [f"if {s} > tb__top", f"let {out} = {j}", f"let tb__top = {s}", "end"]
    return [out]


# ------------------------------------------------------------------------------------------------
# VACASK and its decoding script
# ------------------------------------------------------------------------------------------------


class VacaskTestbench(VacaskEmitter):
    """The VACASK top level with a control block that runs every test vector: per vector the
    circuit parameters (`alter instance("__topinst__")`, VACASK's top-level instance), the
    initial-state variables (`var`) and one transient `tb_<block>_<index>`."""

    def __init__(self, circuit: CircuitIR, vectors: Sequence[TestbenchVector], *,
                 namer: Namer, loc_comments: bool = True) -> None:
        super().__init__(circuit, namer=namer, loc_comments=loc_comments, includes="refer")
        self.vectors = list(vectors)

    def write_header_details(self) -> None:
        self.comment("testbench: every test vector, one transient (and raw file tb_B_K.raw) "
                     "each: decode them with the _tb_decode.py script next to this file")

    def write_epilogue(self) -> None:
        self.write_energy_probe()
        self.section("every test vector: its input parameters, then the transient")
        self.lines += self.control_head()
        self.write_saves(self.probe_saves())
        nodes = [n for n, _ in initial_node_voltages(self.circuit, self.stimulus)]
        for vec in self.vectors:
            for name, value in self.source_parameters(vec.stimulus):
                self.lines.append(f'  alter instance("__topinst__") {name}={num(value)}')
            self.lines += self.ic_vars(initial_node_voltages(self.circuit, vec.stimulus))
            self.lines.append(self.tran_line(vec.tag, nodes))
        self.lines.append("endc")


def decode_script(circuit: CircuitIR, em: NetlistEmitter,
                  vectors: Sequence[TestbenchVector]) -> str:
    """The Python script that decodes the VACASK testbench's raw files (in the current folder
    or the one given as its argument) and prints `LINE_FORMAT` per vector, then a summary per
    block. Its data are legal names and numbers, as JSON."""
    readouts: list[dict[str, object]] = []
    for ro in circuit.readouts:
        op = ro.op
        readouts.append({
            "name": em.namer.name(op.name), "kind": op.kind,
            "nets": [em.net(n) for n in ro.nets],
            "decoder": None if op.decoder is None else np.asarray(op.decoder).tolist(),
            "offset": None if op.offset is None else np.asarray(op.offset).tolist()})
    data = {"v_unit": circuit.scaling.v_unit, "readouts": readouts,
            "vectors": [{"block": v.block, "index": v.index, "tag": v.tag, "tol": v.tol,
                         "expected": [list(v.expected[ro.op.name])
                                      if ro.op.name in v.expected else None
                                      for ro in circuit.readouts]}
                        for v in vectors]}
    return DECODE_SCRIPT.replace("@DATA@", json.dumps(data, sort_keys=True))


#: The decoding script, its data (`decode_script`) in place of @DATA@.
DECODE_SCRIPT = '''\
"""denseamc: decode the VACASK testbench's raw files (tb_B_K.raw), one line per test vector.

Run after `vacask <model>_tb.sim` in the same folder: python3 <model>_tb_decode.py [FOLDER]
Generated by denseamc (numbers and generated names only); needs numpy.
"""

import json
import sys
from pathlib import Path

import numpy as np

DATA = json.loads(\'\'\'@DATA@\'\'\')  # noqa: E501


def read_raw(path):
    """name -> values of a binary raw file's first plot (VACASK writes float64, point-major)."""
    data = path.read_bytes()
    pos, head, names = 0, {}, []
    while True:
        end = data.index(b"\\n", pos)
        key, _, value = data[pos:end].decode("latin-1").partition(":")
        pos = end + 1
        key = key.strip().lower()
        if key == "variables":
            for _ in range(int(head["no. variables"])):
                end = data.index(b"\\n", pos)
                names.append(data[pos:end].decode("latin-1").split()[1])
                pos = end + 1
        elif key == "binary":
            break
        else:
            head[key] = value.strip()
    nvar, npts = int(head["no. variables"]), int(head["no. points"])
    arr = np.frombuffer(data, "<f8", nvar * npts, pos).reshape(npts, nvar)
    return {n: arr[:, j] for j, n in enumerate(names)}


def decode(ro, g):
    """The output of readout `ro` from its activations g (as denseamc decodes)."""
    if ro["kind"] == "sign":
        return np.sign(g)
    if ro["kind"] == "value":
        return g
    scores = g if ro["decoder"] is None else np.asarray(ro["decoder"]) @ g
    if ro["offset"] is not None:
        scores = scores + np.asarray(ro["offset"])
    return np.array([float(np.argmax(scores))])


def text(x, exact):
    return str(round(x)) if exact and float(x).is_integer() else repr(float(x))


def main():
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    passed = {}
    for vec in DATA["vectors"]:
        raw = read_raw(folder / (vec["tag"] + ".raw"))
        got, expected, ok, volts = [], [], True, []
        for ro, exp in zip(DATA["readouts"], vec["expected"], strict=True):
            v = np.array([raw[n][-1] for n in ro["nets"]])
            volts += [f"{n}={x:g}" for n, x in zip(ro["nets"], v, strict=True)]
            out = decode(ro, v / DATA["v_unit"])
            got.append(ro["name"] + "=" + ",".join(f"{o:g}" for o in out))
            if exp is None:  # the vector gives no value for this output: not judged
                continue
            exact = ro["kind"] != "value"
            slack = 0.5 if exact else vec["tol"]
            ok = ok and all(abs(o - e) <= slack for o, e in zip(out, exp, strict=True))
            expected.append(ro["name"] + "=" + ",".join(text(e, exact) for e in exp))
        head = f"tb block {vec['block']} vector {vec['index']}"
        print(f"{head}: {' '.join(got)} expected {' '.join(expected)} "
              f"{'pass' if ok else 'FAIL'}")
        for k in range(0, len(volts), 8):
            print(f"{head} readout: {' '.join(volts[k:k + 8])} V")
        n_pass, n_all = passed.get(vec["block"], (0, 0))
        passed[vec["block"]] = (n_pass + ok, n_all + 1)
    for block, (n_pass, n_all) in sorted(passed.items()):
        print(f"tb block {block}: {n_pass} of {n_all} vectors passed")


if __name__ == "__main__":
    main()
'''


# ------------------------------------------------------------------------------------------------
# Spectre
# ------------------------------------------------------------------------------------------------


class SpectreTestbench(SpectreEmitter):
    """The Spectre top level whose transient runs once per test vector: a `paramset` (one
    column per input parameter, one row per vector) and a `sweep` over it."""

    def __init__(self, circuit: CircuitIR, vectors: Sequence[TestbenchVector], *,
                 namer: Namer, loc_comments: bool = True) -> None:
        super().__init__(circuit, namer=namer, loc_comments=loc_comments, includes="refer")
        self.vectors = list(vectors)

    def write_header_details(self) -> None:
        self.comment("testbench: the transient once per test vector (sweep over the paramset "
                     "tb_vectors, rows in block order, vector order)")

    def write_epilogue(self) -> None:
        super().write_epilogue()
        tran = next(k for k, line in enumerate(self.lines) if line.startswith("tran1 tran "))
        names = [n for n, _ in self.input_parameters(self.stimulus)]
        table = ["", "// --- every test vector's input parameters, one row per vector",
                 "tb_vectors paramset {", *self.wrapped(" ", names, "")]
        for vec in self.vectors:
            values = [num(v) for _, v in self.input_parameters(vec.stimulus)]
            table += self.wrapped(" ", values, "")
        table += ["}", "tb_sweep sweep paramset=tb_vectors {", "  " + self.lines[tran], "}"]
        self.lines[tran:tran + 1] = table


# ------------------------------------------------------------------------------------------------
# the file set
# ------------------------------------------------------------------------------------------------


def testbench_files(circuit: CircuitIR, namer: Namer, wanted: Callable[[str], bool],
                    loc_comments: bool = True) -> Iterator[tuple[str, str]]:
    """The testbench files of `circuit` (none without test vectors), each as (path relative
    to the output directory, text), after the main netlists have registered their names with
    `namer`; only paths `wanted` accepts are built.

        spice/<model>_tb.cir            ngspice: .include <model>.cir, every vector, decoded
        veriloga/<model>_tb.sim         VACASK: every vector, one raw file tb_B_K.raw each
        veriloga/<model>_tb_decode.py   prints the VACASK runs decoded (numpy)
        veriloga/<model>_tb.scs         Spectre: paramset and sweep over every vector
    """
    vectors = testbench_vectors(circuit)
    if not vectors:
        return
    model = namer.name(circuit.name)
    for ro in circuit.readouts:  # output names, registered whichever files are wanted
        namer.name(ro.op.name)
    if wanted(f"spice/{model}_tb.cir"):
        em = NgspiceEmitter(circuit, namer=namer)
        yield (f"spice/{model}_tb.cir",
               ngspice_testbench(circuit, em, f"{model}.cir", vectors))
    if wanted(f"veriloga/{model}_tb.sim"):
        vacask = VacaskTestbench(circuit, vectors, namer=namer, loc_comments=loc_comments)
        yield f"veriloga/{model}_tb.sim", vacask.format()
        yield f"veriloga/{model}_tb_decode.py", decode_script(circuit, vacask, vectors)
    if wanted(f"veriloga/{model}_tb.scs"):
        spectre = SpectreTestbench(circuit, vectors, namer=namer, loc_comments=loc_comments)
        yield f"veriloga/{model}_tb.scs", spectre.format()
