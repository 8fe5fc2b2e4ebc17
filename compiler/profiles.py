"""Hardware profiles: YAML files of hardware settings, checked with file:line:col locations.

A profile is a flat YAML mapping `key: value` with the keys of `ir.hardware.KEYS`. Values are
numbers, or strings with one SI prefix and optionally the key's unit (`100uS`, `1GHz`, `10k`), or
the words the key accepts (`auto`, `dual_rail`, ...). `load_profile` returns the settings with
their locations in the YAML file, so errors from `resolve_hardware` point into the profile; the
model's own `hardware { }` block overrides it. Built-in profiles live in backends/profiles/ and
can be named without a path (`ideal`, `rram_cmos`).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from denseamc.ir import (
    DenseAMCError,
    Diagnostic,
    HardwareSetting,
    Severity,
    SourceFile,
    Span,
    error,
)
from denseamc.ir.hardware import KEYS, _suggest, check_value

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "backends" / "profiles"


def builtin_profiles() -> dict[str, Path]:
    """Name -> path of every profile shipped with denseamc."""
    base = _builtin_dir()
    return {p.stem: p for p in sorted(base.glob("*.yaml"))}


def _builtin_dir() -> Path:
    try:
        import denseamc.backends as b

        return Path(b.__file__).resolve().parent / "profiles"
    except (ImportError, AttributeError, TypeError):  # pragma: no cover
        return BUILTIN_DIR


def find_profile(name_or_path: str | Path) -> Path:
    """A built-in profile name (`ideal`) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    known = builtin_profiles()
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    raise DenseAMCError(error(
        f"no hardware profile {str(name_or_path)!r}; built-in profiles: {', '.join(known)}"))


def _span(src: SourceFile, node: yaml.Node) -> Span:
    return Span(src, node.start_mark.index, max(node.end_mark.index, node.start_mark.index + 1))


def _scalar(node: yaml.ScalarNode) -> float | str | bool | None:
    value = yaml.safe_load(yaml.serialize(node))
    return value  # type: ignore[no-any-return]


def load_profile(path: str | Path) -> dict[str, HardwareSetting]:
    """Read and check a profile; every setting keeps its file:line:col. Errors raised together."""
    p = find_profile(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DenseAMCError(Diagnostic(Severity.ERROR, "cannot read hardware profile: "
                                       f"{exc.strerror}", file=str(p))) from None
    src = SourceFile(str(p), text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        span = Span(src, mark.index, mark.index + 1) if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise DenseAMCError(error(f"hardware profile is not valid YAML: {problem}", span)) \
            from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise DenseAMCError(error("a hardware profile must be a mapping of `key: value` lines",
                                  _span(src, root)))
    out: dict[str, HardwareSetting] = {}
    diags: list[Diagnostic] = []
    for knode, vnode in root.value:
        key = str(knode.value)
        if key in out:
            diags.append(error(f"hardware setting '{key}' appears twice", _span(src, knode)))
            continue
        setting = _setting(src, knode, vnode)
        if isinstance(setting, Diagnostic):
            diags.append(setting)
        else:
            out[key] = setting
    if diags:
        raise DenseAMCError(diags)
    return out


def _setting(src: SourceFile, knode: yaml.Node, vnode: yaml.Node) -> HardwareSetting | Diagnostic:
    """One `key: value` line of a profile, checked; or what is wrong with it."""
    key = str(knode.value)
    kspan, vspan = _span(src, knode), _span(src, vnode)
    if key not in KEYS:
        return error(f"unknown hardware setting '{key}'", kspan, *_suggest(key))
    if not isinstance(vnode, yaml.ScalarNode):
        return error(f"hardware '{key}' needs a single value", vspan)
    value = _scalar(vnode)
    if value is None or isinstance(value, bool):
        return error(f"hardware '{key}': expected a value, got {vnode.value!r}", vspan)
    if not isinstance(value, int | float | str):
        value = str(vnode.value)
    _, diag = check_value(key, value, vspan)
    return diag if diag is not None else HardwareSetting(key, value, vspan)
