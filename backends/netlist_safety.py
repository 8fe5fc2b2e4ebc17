"""Refuse netlists and Verilog-A sources that could run commands, touch files or mis-parse.

Contract: ``check_netlist`` and ``check_va_source`` return ``None`` for text the emitters produce
and raise ``UnsafeNetlistError`` (naming every problem found) for text holding a construct that
runs commands, reads or writes files, or silently mis-parses (``.control``, ``.include``/``.lib``,
``source``, backquotes, ``;``, ``shell``, ``postprocess``, ``embed``, ``load`` of an unexpected
file, ``$system``, ...).  The emitters never produce such constructs, so a hit is an emitter bug:
the simulator runners (``backends/runners.py``) call these checks before any process starts.
The one include a netlist may hold is of a crossbar include file emitted with it, by a
generated relative path inside the output directory (``without_generated_includes`` removes
exactly those lines before the scan; ``check_include_file`` scans the file itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

__all__ = ["DIALECTS", "VACASK_BUILTIN_OSDI", "UnsafeNetlistError", "check_decode_script",
           "check_include_file", "check_netlist", "check_testbench", "check_va_source",
           "without_generated_includes"]

#: The netlist dialects ``check_netlist`` knows.
DIALECTS = ("ngspice", "vacask")

#: Built-in VACASK device libraries a netlist may ``load`` besides our compiled modules.
VACASK_BUILTIN_OSDI = frozenset({"resistor.osdi", "capacitor.osdi", "inductor.osdi"})


class UnsafeNetlistError(RuntimeError):
    """Internal error: an emitter produced a forbidden construct (this is a bug, please report)."""


# Whole-text patterns, for both dialects, each with the lowercase word it needs (a cheap `in`
# test that skips the regular expression).  `;` is an inline comment in ngspice (it silently
# truncates a line); backquotes run shell commands in ngspice's front end.
_FORBIDDEN_ANYWHERE = (
    (re.compile(r"`"), "`", "backquote"),
    (re.compile(r";"), ";", "';'"),
    (re.compile(r"\bshell\b", re.I), "shell", "'shell'"),
    (re.compile(r"\bpostprocess\b", re.I), "postprocess", "'postprocess'"),
    (re.compile(r"\bembed\b", re.I), "embed", "'embed'"),
    (re.compile(r"\bunixcom\b", re.I), "unixcom", "'unixcom'"),
    (re.compile(r"\bcodemodel\b", re.I), "codemodel", "'codemodel'"),
    (re.compile(r"\bpre_osdi\b", re.I), "pre_osdi", "'pre_osdi'"),
)
# Line-start patterns (after leading blanks).
_FORBIDDEN_LINE_START = (
    (re.compile(r"^\s*\.(control|endc)\b", re.I), "'.control' block"),
    (re.compile(r"^\s*\.inc", re.I), "'.include'"),
    (re.compile(r"^\s*\.lib\b", re.I), "'.lib'"),
    (re.compile(r"^\s*source\b", re.I), "'source'"),
    (re.compile(r"^\s*(ahdl_)?include\b", re.I), "'include'"),
)
#: The line-start patterns as one multi-line search (used to skip the per-line scan).
_LINE_START_ANY = re.compile(
    "|".join(f"(?:{p.pattern})" for p, _ in _FORBIDDEN_LINE_START), re.I | re.M)
#: The lowercase words the line-start patterns need (`.inc` covers `.include`, `include`
#: covers `ahdl_include`).
_LINE_START_WORDS = (".control", ".endc", ".inc", ".lib", "source", "include")
#: The ASCII characters other than "\n" that str.splitlines() breaks lines at.
_OTHER_BREAK_CHARS = "\r\x0b\x0c\x1c\x1d\x1e"
_VACASK_LOAD_LINES = re.compile(r"^[^\S\n]*load\b[^\n]*", re.I | re.M)
_VACASK_LOAD = re.compile(r'^\s*load\s+"([^"]*)"\s*$', re.I)
_VACASK_ABORT_ALWAYS = re.compile(r"^\s*abort\s+always\s*$", re.M)
#: The only include paths a netlist may name: generated, relative, inside the output directory
#: (the crossbar folder next to the netlist, a legal name, our extension).
_GENERATED_INCLUDE = re.compile(r"crossbars/[a-z][a-z0-9_]{0,63}\.(inc|scs)")
#: An include line of ours: SPICE `.include PATH`, Spectre and VACASK `include "PATH"`.
_INCLUDE_LINE = re.compile(r'^(?:\.include ([^\s"]+)|include "([^"\n]*)")\n?', re.M)
_VA_FILE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\.va$")
_VA_ALLOWED_INCLUDES = frozenset({"constants.vams", "disciplines.vams"})


def check_netlist(text: str, *, dialect: str, allowed_loads: Iterable[str] = ()) -> None:
    """Raise ``UnsafeNetlistError`` if ``text`` contains a forbidden construct.

    ``dialect`` is ``"ngspice"`` or ``"vacask"``.  For VACASK every ``load`` line must name one of
    ``allowed_loads`` or a built-in device library, and the control block must say
    ``abort always``.
    """
    allowed = set(allowed_loads) | VACASK_BUILTIN_OSDI
    low = _Words(text)
    problems = [*_anywhere_problems(text, low), *_line_problems(text, low, dialect, allowed)]
    if dialect == "vacask" and not _VACASK_ABORT_ALWAYS.search(text):
        problems.append("no 'abort always' in the control block")
    if dialect not in DIALECTS:
        problems.append(f"unknown dialect {dialect!r}")
    if problems:
        raise UnsafeNetlistError(
            f"internal error: emitted {dialect} netlist is unsafe: " + "; ".join(problems)
            + " (this is an emitter bug, please report it)"
        )


def without_generated_includes(text: str, includes: Iterable[str]) -> str:
    """`text` without its include lines that name one of `includes` (the include files emitted
    with it: generated paths, `_GENERATED_INCLUDE`). Any other include line stays, so
    `check_netlist` then refuses it."""
    allowed = {p for p in includes if _GENERATED_INCLUDE.fullmatch(p)}
    if not allowed:
        return text

    def keep(m: re.Match[str]) -> str:
        return "" if (m.group(1) or m.group(2)) in allowed else m.group(0)
    return _INCLUDE_LINE.sub(keep, text)


def check_include_file(path: str, text: str, *, dialect: str) -> None:
    """Raise ``UnsafeNetlistError`` unless ``path`` is a generated include path and ``text``
    (a crossbar subcircuit) holds no forbidden construct, no include and no ``load``."""
    problems = [] if _GENERATED_INCLUDE.fullmatch(path) else [f"include path {path!r}"]
    low = _Words(text)
    problems += [*_anywhere_problems(text, low), *_line_problems(text, low, dialect, set())]
    if problems:
        raise UnsafeNetlistError(
            f"internal error: emitted include file {path} is unsafe: " + "; ".join(problems)
            + " (this is an emitter bug, please report it)")


#: Characters a crossbar file is made of (device lines, numbers): their presence is assumed,
#: so that finding which other characters a text holds is one `bytes.translate` pass.
_COMMON_CHARS = b"0123456789 \n_.()=+-ecilorstw"


class _Words:
    """Substring tests on a text's lowercase copy. A word is looked for only when each of its
    characters occurs in the text: which ones do (beyond `_COMMON_CHARS`, assumed) is found
    in one pass over the bytes. Every word of the scan has a character outside `_COMMON_CHARS`
    (a "rare" one), so an occurrence of a word lies within `_LONGEST_WORD` characters of a rare
    character: when the text has few of them (a crossbar file of millions of devices has its
    rare characters only in a few header lines), the words are looked for in the excerpts
    around them only, not in a lowercase copy of the whole text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._low: str | None = None
        self.present: set[str] | None = None
        if text.isascii():
            rare = text.encode("ascii").translate(None, _COMMON_CHARS).decode("ascii")
            self.present = set(rare.lower()) | set(_COMMON_CHARS.decode())
            if len(rare) <= _MAX_EXCERPTS:
                self._low = _excerpts(text, set(rare))

    def has(self, word: str) -> bool:
        if self.present is not None and not set(word) <= self.present:
            return False
        if self._low is None or set(word) <= _COMMON:  # (no excerpt holds an all-common word)
            self._low = self.text.lower()
        return word in self._low


#: The longest word `_Words.has` is asked for, and the most rare characters a text may have
#: for its words to be looked for in excerpts (beyond that, in the whole lowercase text).
_LONGEST_WORD = max(len(w) for w in (*(w for _, w, _ in _FORBIDDEN_ANYWHERE), *_LINE_START_WORDS,
                                     "load", *_OTHER_BREAK_CHARS))
_MAX_EXCERPTS = 10_000
_COMMON = set(_COMMON_CHARS.decode())


def _excerpts(text: str, rare: set[str]) -> str:
    """The lowercase text within `_LONGEST_WORD` - 1 characters of each rare character, the
    (merged) excerpts joined by NUL: a word with a rare character occurs in `text` exactly when
    it occurs in this string (NUL is in no word)."""
    positions = []
    for ch in rare:  # each `find` is a memchr; the rare characters are few
        at = text.find(ch)
        while at >= 0:
            positions.append(at)
            at = text.find(ch, at + 1)
    positions.sort()
    reach = _LONGEST_WORD - 1
    spans: list[list[int]] = []
    for at in positions:
        if spans and at - reach <= spans[-1][1]:
            spans[-1][1] = at + reach + 1
        else:
            spans.append([max(0, at - reach), at + reach + 1])
    return "\0".join(text[a:b] for a, b in spans).lower()


def _anywhere_problems(text: str, low: _Words) -> list[str]:
    """Non-ASCII text and the forbidden words, wherever they stand."""
    if not text.isascii():
        return ["non-ASCII characters"] + [what for pattern, _, what in _FORBIDDEN_ANYWHERE
                                           if pattern.search(text)]
    # an ASCII text can match a pattern only if its lowercase copy contains the pattern's word
    return [what for pattern, word, what in _FORBIDDEN_ANYWHERE
            if low.has(word) and pattern.search(text)]


def _line_problems(text: str, low: _Words, dialect: str, allowed: set[str]) -> list[str]:
    r"""Forbidden line starts and, for VACASK, ``load`` lines naming an unexpected file.

    Line 1 is the title in both dialects, but ngspice would still run a title that is a
    `.control` line's continuation, so every line is scanned.  Fast path (same findings): when
    "\n" is the only line break and one multi-line search finds no line-start hit (a match of
    `^\s*` across blank lines still ends on a line that hits by itself), only `load` lines
    need a look.
    """
    if not text.isascii() or any(low.has(c) for c in _OTHER_BREAK_CHARS):
        return _scan_every_line(text, dialect, allowed)
    # an ASCII text can hit a line-start pattern only if its lowercase copy holds the pattern's
    # word (one substring test each: a multi-megabyte crossbar file skips the regex search)
    if any(map(low.has, _LINE_START_WORDS)) and _LINE_START_ANY.search(text) is not None:
        return _scan_every_line(text, dialect, allowed)
    if dialect != "vacask" or not low.has("load"):
        return []
    problems = []
    for m in _VACASK_LOAD_LINES.finditer(text):
        line = m.group(0)
        if not _loads_allowed_file(line, allowed):
            lineno = text.count("\n", 0, m.start()) + 1
            problems.append(f"'load' of an unexpected file on line {lineno}: {line.strip()!r}")
    return problems


def _scan_every_line(text: str, dialect: str, allowed: set[str]) -> list[str]:
    problems = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for pattern, what in _FORBIDDEN_LINE_START:
            if pattern.search(line):
                problems.append(f"{what} on line {lineno}")
        if (dialect == "vacask" and re.match(r"^\s*load\b", line, re.I)
                and not _loads_allowed_file(line, allowed)):
            problems.append(f"'load' of an unexpected file on line {lineno}: {line.strip()!r}")
    return problems


def _loads_allowed_file(line: str, allowed: set[str]) -> bool:
    m = _VACASK_LOAD.match(line)
    return m is not None and m.group(1) in allowed


def check_va_source(name: str, text: str) -> None:
    """Raise ``UnsafeNetlistError`` unless ``name`` is a plain ``.va`` file name and ``text``
    is ASCII, includes only the standard headers and calls no file or system task."""
    if not _VA_FILE_NAME.match(name):
        raise UnsafeNetlistError(f"internal error: bad Verilog-A file name {name!r}")
    if not text.isascii():
        raise UnsafeNetlistError(f"internal error: {name} contains non-ASCII characters")
    for inc in re.findall(r"`include\s+\"([^\"]*)\"", text):
        if inc not in _VA_ALLOWED_INCLUDES:
            raise UnsafeNetlistError(f"internal error: {name} includes {inc!r}")
    if re.search(r"\$(system|fopen|table_model)\b", text):
        raise UnsafeNetlistError(f"internal error: {name} uses a file or system task")


# ------------------------------------------------------------------------------------------------
# Testbenches (backends/testbench.py): a control block of exactly the commands they emit
# ------------------------------------------------------------------------------------------------

_TB_NAME = r"[a-z][a-z0-9_]{0,68}"  # a legal netlist name, or one behind a p_/p_ic_ prefix
_TB_NUM = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
#: the testbench's own vectors (no legal name holds "__"), in the current plot or `const`
_TB_VEC = r"(?:const\.)?tb__[a-z0-9_]+"
_TB_FACTOR = rf"(?:{_TB_NUM}|{_TB_VEC}|v\({_TB_NAME}\)\[tb__n\]|time\[tb__n\]|length\(time\))"
_TB_TERM = rf"{_TB_FACTOR}(?:\*{_TB_FACTOR})?"
_TB_EXPR = rf"{_TB_TERM}(?: [-+/] {_TB_TERM})*"
#: Every line an ngspice testbench's control block may hold (each must match one in full).
_NGSPICE_TB_CONTROL = re.compile("|".join([
    r"option noinit", r"reset", r"run", r"quit", r"destroy all", r"else", r"end",
    rf"alterparam p_{_TB_NAME}={_TB_NUM}",
    rf"let {_TB_VEC} = {_TB_EXPR}",
    rf"if {_TB_EXPR} [<>] {_TB_EXPR}",
    rf"if abs\({_TB_EXPR}\) > {_TB_NUM}",
    r'echo "(?:[A-Za-z0-9_ =.,:+-]|\$&tb__[a-z0-9_]+)*"',
]))
#: Lines outside it: the header comments (no command, quote or substitution characters), the
#: include of the main netlist, the block's delimiters and `.end`.
_NGSPICE_TB_COMMENT = re.compile(r"\*(?: [A-Za-z0-9_ =.,:+()/<>-]*)?")
#: Every line a VACASK testbench's control block may hold.
_VACASK_TB_CONTROL = re.compile("|".join([
    r"control", r"endc", r"  abort always",
    rf'  options(?: [a-z_]+=(?:{_TB_NUM}|"binary"))+',
    rf"  save(?: v\({_TB_NAME}\))+",
    rf"  var p_ic_{_TB_NAME}={_TB_NUM}",
    rf'  alter instance\("__topinst__"\) p_{_TB_NAME}={_TB_NUM}',
    rf"  analysis tb_\d+_\d+ tran stop={_TB_NUM} step={_TB_NUM} maxstep={_TB_NUM}"
    rf'(?: ic=\{{"{_TB_NAME}", p_ic_{_TB_NAME}(?:, "{_TB_NAME}", p_ic_{_TB_NAME})*\}})?',
]))


def check_testbench(text: str, *, dialect: str, netlist: str = "",
                    allowed_loads: Iterable[str] = ()) -> None:
    """Raise ``UnsafeNetlistError`` unless ``text`` is a testbench as backends/testbench.py
    writes it: every line of its control block one of the commands it emits (a whitelist:
    anything else, a shell escape or a file command included, is refused).

    ngspice: header comments, ``.include NETLIST`` (``netlist``, the main netlist's generated
    file name next to it), one ``.control`` block (``option noinit``, ``alterparam``,
    ``reset``, ``run``, ``let``/``if``/``else``/``end`` of the decoding, ``echo`` of its
    vectors, ``destroy all``, ``quit``), ``.endc``, ``.end``. VACASK: a netlist that passes
    ``check_netlist`` whose control block holds only ``abort always``, the options, ``save``,
    ``var p_ic_*``, ``alter instance("__topinst__") p_*`` and ``analysis tb_B_K tran``.
    """
    if dialect == "ngspice":
        problems = _ngspice_tb_problems(text, netlist)
    elif dialect == "vacask":
        problems = []
        try:
            check_netlist(text, dialect="vacask", allowed_loads=allowed_loads)
        except UnsafeNetlistError as exc:
            problems.append(str(exc))
        problems += _vacask_tb_problems(text)
    else:
        problems = [f"unknown testbench dialect {dialect!r}"]
    if problems:
        raise UnsafeNetlistError(
            f"internal error: emitted {dialect} testbench is unsafe: " + "; ".join(problems[:5])
            + " (this is an emitter bug, please report it)")


def _ngspice_tb_problems(text: str, netlist: str) -> list[str]:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}\.cir", netlist):
        return [f"main netlist name {netlist!r}"]
    problems = [] if text.isascii() else ["non-ASCII characters"]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    state = "head"  # head -> control -> tail
    for lineno, line in enumerate(lines, start=1):
        ok = False
        if state == "head":
            if line == ".control":
                state, ok = "control", True
            else:
                ok = (line == f".include {netlist}"
                      or _NGSPICE_TB_COMMENT.fullmatch(line) is not None)
        elif state == "control":
            if line == ".endc":
                state, ok = "tail", True
            else:
                ok = _NGSPICE_TB_CONTROL.fullmatch(line) is not None
        else:
            ok = line == ".end" and lineno == len(lines)
        if not ok:
            problems.append(f"line {lineno} is not a testbench line: {line[:60]!r}")
    if state != "tail":
        problems.append("no complete '.control' ... '.endc' block and '.end'")
    return problems


def _vacask_tb_problems(text: str) -> list[str]:
    problems = []
    inside = False
    blocks = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line == "control":
            inside, blocks = True, blocks + 1
        if inside and _VACASK_TB_CONTROL.fullmatch(line) is None:
            problems.append(f"control line {lineno} is not a testbench line: {line[:60]!r}")
        if line == "endc":
            inside = False
    if blocks != 1 or inside:
        problems.append("not exactly one complete control block")
    return problems


def check_decode_script(text: str, template: str) -> None:
    """Raise ``UnsafeNetlistError`` unless ``text`` is ``template`` (the VACASK testbench's
    decoding script, backends/testbench.py) with its one ``@DATA@`` replaced by one line of
    JSON whose strings are all legal names: nothing else of a generated script may vary."""
    head, _, tail = template.partition("@DATA@")
    problems = []
    if not (text.isascii() and text.startswith(head) and text.endswith(tail)
            and len(text) >= len(head) + len(tail)):
        problems.append("the script differs from its template")
    else:
        data = text[len(head):len(text) - len(tail)]
        try:
            strings = _json_strings(json.loads(data)) if "\n" not in data else None
        except ValueError:
            strings = None
        if strings is None:
            problems.append("its data are not one line of JSON")
        else:
            problems += [f"string {s[:40]!r} in its data" for s in strings
                         if not re.fullmatch(r"[a-z][a-z0-9_]{0,68}", s)]
    if problems:
        raise UnsafeNetlistError("internal error: emitted decoding script is unsafe: "
                                 + "; ".join(problems[:5])
                                 + " (this is an emitter bug, please report it)")


def _json_strings(value: object) -> list[str]:
    """Every string (keys included) in a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value.keys(), *(s for v in value.values() for s in _json_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []
