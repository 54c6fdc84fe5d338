"""Write calibrated values into a parameter file's text (costmodels/params/<device>.toml), keeping the rest.

    update_text(text, values, note) -> text'

`values` maps dotted keys (`clock_ghz`, `barrier.latency_ns`, `occupancy.copy_fraction`) to (value,
comment). A key that exists in its section has its line replaced by `key = value  # comment` (a value over
several lines, a list, is replaced whole); a missing key is added at the end of its section, a missing
section at the end of the file. Every written key leaves the top-level `assumed` list; a section whose
keys were all measured and that says `assumption = true` says `assumption = false`. `note` (one line) goes
into the file's leading comment block as `# Calibrated: ...` (replacing an earlier such line). The result
parses with tomllib, and its values equal `values` (`check_text` verifies both).
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")


def fmt(value: Any) -> str:
    """A TOML literal for `value` (bool, int, float, str, list, dict as an inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {fmt(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _split(key: str) -> tuple[str, str]:
    sec, _, name = key.rpartition(".")
    return sec, name


def _sections(lines: list[str]) -> list[tuple[str, int, int]]:
    """(section name, first line, end line exclusive); the top level is '' and starts at 0."""
    marks = [("", 0)]
    for i, ln in enumerate(lines):
        m = _HEADER.match(ln)
        if m:
            marks.append((m.group(1).strip(), i))
    out = []
    for j, (name, start) in enumerate(marks):
        end = marks[j + 1][1] if j + 1 < len(marks) else len(lines)
        out.append((name, start, end))
    return out


def _value_end(lines: list[str], i: int) -> int:
    """The line after the value that starts on line i (lists may span lines)."""
    depth = 0
    j = i
    while j < len(lines):
        code = lines[j].split("#", 1)[0] if '"' not in lines[j] else lines[j]
        depth += code.count("[") - code.count("]")
        j += 1
        if depth <= 0:
            return j
    return j


def _set(lines: list[str], sec: str, name: str, line: str) -> list[str]:
    key_re = re.compile(rf"^\s*{re.escape(name)}\s*=")
    for s, start, end in _sections(lines):
        if s != sec:
            continue
        for i in range(start + (1 if sec else 0), end):
            if key_re.match(lines[i]):
                return lines[:i] + [line] + lines[_value_end(lines, i) :]
        last = start
        for i in range(start + (1 if sec else 0), end):
            if lines[i].strip() and not lines[i].lstrip().startswith("#"):
                last = i
            if not sec and lines[i].strip() and not lines[i].lstrip().startswith("#"):
                last = _value_end(lines, i) - 1
        return lines[: last + 1] + [line] + lines[last + 1 :]
    return lines + ["", f"[{sec}]", line]


def update_text(text: str, values: dict[str, tuple[Any, str]], note: str = "") -> str:
    data = tomllib.loads(text)
    lines = text.splitlines()
    for key, (value, comment) in values.items():
        sec, name = _split(key)
        lines = _set(lines, sec, name, f"{name} = {fmt(value)}" + (f"  # {comment}" if comment else ""))
    assumed = [a for a in data.get("assumed", []) if a not in values]
    lines = _set(lines, "", "assumed", "assumed = " + fmt(assumed))
    measured_sections = {_split(k)[0] for k in values}
    for sec in measured_sections:
        table = data
        for part in sec.split(".") if sec else []:
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if isinstance(table, dict) and table.get("assumption") is True:
            lines = _set(lines, sec, "assumption", "assumption = false  # measured by eqsat calibrate")
    if note:
        lines = [ln for ln in lines if not ln.startswith("# Calibrated:")]
        head = 0
        while head < len(lines) and lines[head].startswith("#"):
            head += 1
        lines = lines[:head] + [f"# Calibrated: {note}"] + lines[head:]
    out = "\n".join(lines) + "\n"
    check_text(out, values)
    return out


def _lookup(data: dict[str, Any], key: str) -> Any:
    cur: Any = data
    sec, name = _split(key)
    for part in sec.split(".") if sec else []:
        cur = cur[part]
    return cur[name]


def check_text(text: str, values: dict[str, tuple[Any, str]]) -> None:
    """Raise ValueError unless `text` parses and holds every value of `values`, none of them `assumed`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"calibrated parameter file does not parse: {e}") from None
    for key, (value, _) in values.items():
        got = _lookup(data, key)
        if got != value:
            raise ValueError(f"calibrated parameter {key}: wrote {value!r}, reads back {got!r}")
        if key in data.get("assumed", []):
            raise ValueError(f"calibrated parameter {key} is still listed as assumed")
