"""Legal identifiers for netlists: no text from a model ever reaches a netlist any other way.

Every name a netlist backend prints (nets, instances, file names, the model name in a title or a
provenance comment) is produced here from an IR name and is

* lowercase `[a-z][a-z0-9_]*`, at most 64 characters (ngspice folds case, VACASK does not, so a
  lowercase-only alphabet makes both read the same netlist the same way);
* not a keyword or command word of any target (SPICE, ngspice's front end, Spectre, VACASK,
  Verilog-A), so a name can never start a directive, a control block or a shell escape;
* unique within one `Namer` after lowercasing (two IR names that legalise to the same text get
  `_2`, `_3`, ... suffixes, in registration order, which the emitters keep deterministic).

Anything outside `[a-z0-9_]` becomes `_` (runs collapse), a name that does not start with a
letter gets an `n` in front, and an over-long name is cut and given a short hash of the original
so it stays unique and reproducible. The `Namer` keeps the IR-name -> netlist-name map; emitters
write it to a JSON sidecar (`names.json`), never into a netlist.

Instance names carry their element prefix (`r_`, `c_`, `b_`, `v_`, ...): ngspice decides an
element's type by its first letter, so the prefix, not the IR name, decides what a line is.
"""

from __future__ import annotations

import hashlib
import re

from denseamc.ir import InternalCompilerError
from denseamc.ir.loc import Loc, loc_spans

__all__ = ["IDENT", "MAX_LEN", "RESERVED", "Namer", "legalise", "provenance", "source_basename"]

IDENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_LEN = 64
#: Text that `legalise` returns unchanged (when not reserved and at most MAX_LEN - 4 long): already
#: lowercase, starts with a letter, single underscores between runs of [a-z0-9].
_ALREADY_LEGAL = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")

#: Words no identifier may be: SPICE/ngspice dot-commands and front-end commands, Spectre and
#: VACASK statements, Verilog-A keywords, and names simulators treat specially (gnd, inf, nan).
RESERVED = frozenset("""
    abort ac ahdl_include alias alter analog analysis and aspice assign begin bool branch
    break case cd codemodel connect control dc ddt def default define destroy disciplines
    discipline echo edit electrical else embed end endc endcase endfunction endmodule ends
    endsection endnature for from function gnd gnuplot ground global hardcopy idt if ifdef inc
    include inf initial inout input integer lang lib library linearize load meas model module
    mrdump nan nature noise not op options or osdi output parameter parameters plot
    postprocess pre_osdi print quit real reset rspice run save section set setplot shell
    simulator source spice statistics step string subckt sweep tran unixcom unset var vector
    while wrdata write wrs2p
""".split())


def legalise(text: str, fallback: str = "n") -> str:
    """A legal identifier derived from `text` (not yet made unique; see `Namer`)."""
    if len(text) <= MAX_LEN - 4 and text not in RESERVED and _ALREADY_LEGAL.fullmatch(text):
        return text  # fast path: the rules below would leave it as it is
    s = re.sub(r"[^a-z0-9_]+", "_", text.lower())
    s = re.sub(r"_+", "_", s).strip("_")
    if not s:
        s = fallback
    if not s[0].isalpha():
        s = "n" + s
    if len(s) > MAX_LEN - 4:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        s = s[: MAX_LEN - 14].rstrip("_") + "_" + digest
    if s in RESERVED:
        s += "_"
    _check(s)
    return s


def source_basename(file_name: str) -> str:
    """`basename.dam` of a source path with the stem legalised (for provenance comments)."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.removesuffix(".dam")
    return legalise(stem, "model") + ".dam"


def _check(name: str) -> None:
    if not IDENT.match(name) or name in RESERVED:
        raise InternalCompilerError(f"naming produced an illegal identifier {name!r}")


class Namer:
    """IR names -> unique legal identifiers for one emitted file set (one namespace).

    `net` maps circuit nets (ground "0" stays "0"); `inst` maps a component to an instance name
    with an element prefix; `name` maps anything else (models, tables). Asking again for the same
    (kind, IR name) returns the same identifier.
    """

    def __init__(self) -> None:
        self._map: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def _unique(self, base: str) -> str:
        cand, k = base, 1
        while cand in self._used or cand in RESERVED:
            k += 1
            suffix = f"_{k}"
            cand = base[: MAX_LEN - len(suffix)] + suffix
        _check(cand)
        self._used.add(cand)
        return cand

    def _get(self, kind: str, ir_name: str, base: str) -> str:
        key = (kind, ir_name)
        got = self._map.get(key)
        if got is None:
            got = self._map[key] = self._unique(base)
        return got

    def net(self, ir_net: str) -> str:
        """The netlist name of circuit net `ir_net` ("0" is ground in every target)."""
        if ir_net == "0":
            return "0"
        return self._get("net", ir_net, legalise(ir_net))

    def inst(self, prefix: str, ir_name: str) -> str:
        """An instance name `prefix_<legal ir_name>`; `prefix` is one of ours, e.g. "r" or "xa"."""
        if not re.fullmatch(r"[a-z][a-z0-9]{0,3}", prefix):
            raise InternalCompilerError(f"bad element prefix {prefix!r}")
        return self._get(f"inst:{prefix}", ir_name, legalise(f"{prefix}_{ir_name}"))

    def inst_many(self, prefix: str, ir_names: list[str]) -> list[str]:
        """`[inst(prefix, n) for n in ir_names]`, registered in that order, with less overhead."""
        if not re.fullmatch(r"[a-z][a-z0-9]{0,3}", prefix):
            raise InternalCompilerError(f"bad element prefix {prefix!r}")
        kind = f"inst:{prefix}"
        known, used = self._map, self._used
        out: list[str] = []
        for ir_name in ir_names:
            key = (kind, ir_name)
            got = known.get(key)
            if got is None:
                base = legalise(f"{prefix}_{ir_name}")
                if base in used:
                    got = self._unique(base)
                else:  # legalise checked it; not reserved, not used: _unique would keep it
                    used.add(base)
                    got = base
                known[key] = got
            out.append(got)
        return out

    def name(self, ir_name: str) -> str:
        """A unique legal identifier for a non-net, non-instance thing (a table, a file stem)."""
        return self._get("name", ir_name, legalise(ir_name))

    def mapping(self) -> dict[str, dict[str, str]]:
        """kind -> {IR name: netlist name} for every name that legalisation CHANGED, sorted.

        Every other netlist name is predictable and left out (a 1M-weight model would otherwise
        list millions of identities): a net keeps its IR name, an instance is `prefix_IRname`.
        """
        renamed = [
            (key, legal) for key, legal in self._map.items()
            if legal != (f"{key[0][5:]}_{key[1]}" if key[0].startswith("inst:") else key[1])
        ]
        out: dict[str, dict[str, str]] = {}
        for (kind, ir_name), legal in sorted(renamed):
            out.setdefault(kind, {})[ir_name] = legal
        return out


def provenance(loc: Loc) -> str:
    """`xor.dam:12` (comma-joined for fused locations) with every file name legalised; "" if none.

    Only the legalised basename and the integer line number of each span are used, so a source
    file called `x\\n.control.dam` cannot put a directive into a netlist comment.
    """
    seen: list[str] = []
    for span in loc_spans(loc):
        text = f"{source_basename(span.file.name)}:{int(span.line)}"
        if text not in seen:
            seen.append(text)
    return ",".join(seen)
