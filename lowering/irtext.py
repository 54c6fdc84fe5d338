"""Plain-text facts of a TTGIR module that the GPU side needs without a parser: the entry function's
argument names, the module's `ttg.target`, and the text with location info stripped (for comparing two
compiles of one kernel). Standard library only.
"""

from __future__ import annotations

import re

_FUNC_RE = re.compile(r"tt\.func\s+(?:public\s+)?@([\w$.\-]+)\s*\(")
_TARGET_RE = re.compile(r'"?ttg\.target"?\s*=\s*"([^"]+)"')


def _top_level_split(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside (), [], {}, <> and string literals."""
    parts: list[str] = []
    depth, in_str, start = 0, False, 0
    for i, c in enumerate(text):
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            in_str = not in_str
        elif in_str:
            continue
        elif c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    tail = text[start:]
    if tail.strip():
        parts.append(tail)
    return parts


def entry_arguments(ttgir: str) -> tuple[str, list[str]]:
    """`(function name, [argument names])` of the public `tt.func` of a module (names without `%`)."""
    m = _FUNC_RE.search(ttgir)
    if m is None:
        raise ValueError("no tt.func in the module")
    depth, in_str, i = 1, False, m.end()
    while i < len(ttgir) and depth:
        c = ttgir[i]
        if c == '"' and ttgir[i - 1] != "\\":
            in_str = not in_str
        elif not in_str and c == "(":
            depth += 1
        elif not in_str and c == ")":
            depth -= 1
        i += 1
    if depth:
        raise ValueError(f"unbalanced argument list of @{m.group(1)}")
    names = []
    for arg in _top_level_split(ttgir[m.end():i - 1]):
        am = re.match(r"\s*%([\w$.\-]+)\s*:", arg)
        if am is None:
            raise ValueError(f"cannot read argument {arg.strip()[:60]!r} of @{m.group(1)}")
        names.append(am.group(1))
    return m.group(1), names


def triton_target(ttgir: str) -> str | None:
    """The module's `ttg.target` (`cuda:90`, `hip:gfx942`), if it states one."""
    m = _TARGET_RE.search(ttgir)
    return m.group(1) if m else None


def drop_loc_suffixes(line: str) -> str:
    """`line` without its ` loc(...)` suffixes (balanced parentheses; strings and escapes inside kept)."""
    buf, i, n = [], 0, len(line)
    while i < n:
        if line.startswith(" loc(", i):
            depth, j, in_str = 0, i + 4, False
            while j < n:
                c = line[j]
                if in_str:
                    if c == "\\":
                        j += 1
                    elif c == '"':
                        in_str = False
                elif c == '"':
                    in_str = True
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
            continue
        buf.append(line[i])
        i += 1
    return "".join(buf)


def strip_locations(ir: str) -> str:
    """Drop `#locN = loc(...)` lines and every ` loc(...)` suffix (balanced parentheses, strings kept)."""
    out_lines = [drop_loc_suffixes(line).rstrip() for line in ir.splitlines()
                 if not re.match(r"\s*#loc\d* = loc\(", line)]
    return "\n".join(x for x in out_lines if x.strip()) + "\n"
