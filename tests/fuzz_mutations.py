"""Mutations of real TTGIR files, for the hostile-input tests and the fuzz benchmark.

    text, family, detail = mutate(seed_text, random.Random(7))
    for family in FAMILIES: MUTATORS[family](text, rng) -> (mutated, detail)

Each mutation is one edit of a real file, of one of these families (the issue's list):

| family | edit |
| --- | --- |
| `delete_line` | one line removed |
| `duplicate_line` | one line written twice |
| `swap_lines` | two lines exchanged (often two adjacent ops) |
| `literal` | one integer literal made huge (2^32, 2^63, 10^30), negative, zero, odd (3, 1025) |
| `encoding` | one field of a layout encoding changed: sizePerThread [3, 5], order [0, 0], a rank changed, a field dropped, an unknown field added, warps/threads that do not multiply out |
| `type` | one element type or shape changed (f16 <-> f32, i32 -> i64, a dimension doubled/zeroed/1025) |
| `truncate` | the file cut off, sometimes just inside a `(` |
| `junk` | bytes inserted: random bytes (invalid UTF-8 included), NUL, brackets, a stray `}` |
| `swap_converts` | two `ttg.convert_layout` lines of one block exchanged (valid when independent) |

Mutated texts are `bytes` (a `junk` mutation may break UTF-8); `mutate` is deterministic in its `rng`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

HUGE = ["4294967296", "9223372036854775808", "1000000000000000000000000000000", "2147483648", "65536"]
ODD = ["-1", "0", "3", "1025", "-2147483648", "7"]
_INT = re.compile(r"(?<![\w#%.\"])\d+(?![\w.])")
_ENC_LINE = re.compile(r"^#\w+ = #ttg\.\w+<\{.*\}>$", re.M)
_LIST_FIELD = re.compile(r"(sizePerThread|threadsPerWarp|warpsPerCTA|order|instrShape|CTAOrder|CTAsPerCGA|"
                         r"CTASplitNum|warpsPerCTA) = \[([\d, ]*)\]")
_SCALAR_FIELD = re.compile(r"(vec|perPhase|maxPhase|kWidth|opIdx|versionMajor|versionMinor|dim) = (\d+)")
_ELT = re.compile(r"\b(f16|f32|bf16|i32|i64|i1|f64|i8)\b")
_SHAPE = re.compile(r"tensor<((?:\d+x)+)")

Mutator = Callable[[str, random.Random], tuple[bytes, str]]


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _join(lines: list[str]) -> bytes:
    return "\n".join(lines).encode()


def _code_line(lines: list[str], rng: random.Random) -> int:
    """A random line, preferring op lines (not `#loc` lines, which rarely matter)."""
    ops = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#loc")]
    return rng.choice(ops or list(range(len(lines))))


def delete_line(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = _lines(text)
    i = _code_line(lines, rng)
    return _join(lines[:i] + lines[i + 1:]), f"line {i + 1} deleted"


def duplicate_line(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = _lines(text)
    i = _code_line(lines, rng)
    return _join(lines[:i + 1] + [lines[i]] + lines[i + 1:]), f"line {i + 1} duplicated"


def swap_lines(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = _lines(text)
    i = _code_line(lines, rng)
    j = min(len(lines) - 1, i + 1) if rng.random() < 0.6 else _code_line(lines, rng)
    lines[i], lines[j] = lines[j], lines[i]
    return _join(lines), f"lines {i + 1} and {j + 1} swapped"


def literal(text: str, rng: random.Random) -> tuple[bytes, str]:
    spots = [m for m in _INT.finditer(text) if not text[max(0, m.start() - 6):m.start()].endswith(('":', ":"))]
    if not spots:
        return text.encode(), "no literal"
    m = rng.choice(spots)
    new = rng.choice(HUGE if rng.random() < 0.5 else ODD)
    return (text[:m.start()] + new + text[m.end():]).encode(), f"literal {m.group(0)} -> {new} at {m.start()}"


def encoding(text: str, rng: random.Random) -> tuple[bytes, str]:
    encs = list(_ENC_LINE.finditer(text))
    if not encs:
        return literal(text, rng)
    e = rng.choice(encs)
    line = e.group(0)
    fields = list(_LIST_FIELD.finditer(line))
    choice = rng.randrange(6)
    if choice == 0 and fields:
        f = rng.choice(fields)
        n = len([x for x in f.group(2).split(",") if x.strip()])
        vals = rng.choice([[3, 5], [0] * n, [1] * (n + 1), [2 ** 20] * n, [1] * max(1, n - 1),
                           list(range(n))[::-1], [rng.choice([1, 2, 4, 8, 16, 32, 64]) for _ in range(n)]])
        new = line[:f.start(2)] + ", ".join(str(v) for v in vals) + line[f.end(2):]
        detail = f"{f.group(1)} = {vals}"
    elif choice == 1 and fields:
        f = rng.choice(fields)
        new = line[:f.start()] + line[f.end():]
        new = new.replace("{, ", "{").replace(", , ", ", ").replace(", }", "}")
        detail = f"{f.group(1)} dropped"
    elif choice == 2:
        new = line.replace("}>", ", bogusField = 3}>", 1)
        detail = "unknown field added"
    elif choice == 3:
        names = ["blocked", "slice", "nvidia_mma", "amd_mfma", "swizzled_shared", "linear", "dot_op", "bogus"]
        new = re.sub(r"#ttg\.\w+<", f"#ttg.{rng.choice(names)}<", line, count=1)
        detail = "encoding kind changed"
    else:
        scalars = list(_SCALAR_FIELD.finditer(line))
        if not scalars:
            return literal(text, rng)
        f = rng.choice(scalars)
        v = rng.choice(HUGE + ODD)
        new = line[:f.start(2)] + v + line[f.end(2):]
        detail = f"{f.group(1)} = {v}"
    return (text[:e.start()] + new + text[e.end():]).encode(), f"encoding: {detail}"


def type_change(text: str, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.5:
        spots = list(_ELT.finditer(text))
        if not spots:
            return literal(text, rng)
        m = rng.choice(spots)
        new = rng.choice([t for t in ("f16", "f32", "bf16", "i32", "i64", "i1", "f64", "i8") if t != m.group(1)])
        return (text[:m.start()] + new + text[m.end():]).encode(), f"type {m.group(1)} -> {new}"
    spots = list(_SHAPE.finditer(text))
    if not spots:
        return literal(text, rng)
    m = rng.choice(spots)
    dims = [d for d in m.group(1).split("x") if d]
    k = rng.randrange(len(dims))
    dims[k] = rng.choice([str(int(dims[k]) * 2), "0", "1025", "1", "1048576", str(max(1, int(dims[k]) // 2))])
    new = "tensor<" + "x".join(dims) + "x"
    return (text[:m.start()] + new + text[m.end():]).encode(), f"shape -> {new}"


def truncate(text: str, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.4:
        opens = [m.end() for m in re.finditer(r"\(", text)]
        if opens:
            at = rng.choice(opens)
            return text[:at].encode(), f"cut inside ( at {at}"
    at = rng.randrange(1, max(2, len(text)))
    return text[:at].encode(), f"cut at {at}"


def junk(text: str, rng: random.Random) -> tuple[bytes, str]:
    data = text.encode()
    at = rng.randrange(len(data) + 1)
    kind = rng.randrange(5)
    if kind == 0:
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    elif kind == 1:
        blob = b"\0"
    elif kind == 2:
        blob = rng.choice([b"(", b")", b"{", b"}", b"<", b">", b"[", b"]", b"\"", b"%", b"#", b"@"])
    elif kind == 3:
        blob = b"\xff\xfe"
    else:
        blob = rng.choice([b"(" * 500, b"[" * 300, b"tensor<" * 50])
    return data[:at] + blob + data[at:], f"junk {blob[:12]!r} at byte {at}"


def swap_converts(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = _lines(text)
    conv = [i for i, ln in enumerate(lines) if "ttg.convert_layout" in ln]
    if len(conv) < 2:
        return swap_lines(text, rng)
    i, j = rng.sample(conv, 2)
    lines[i], lines[j] = lines[j], lines[i]
    return _join(lines), f"convert_layout lines {i + 1} and {j + 1} swapped"


MUTATORS: dict[str, Mutator] = {
    "delete_line": delete_line, "duplicate_line": duplicate_line, "swap_lines": swap_lines,
    "literal": literal, "encoding": encoding, "type": type_change, "truncate": truncate, "junk": junk,
    "swap_converts": swap_converts,
}
FAMILIES = tuple(MUTATORS)


def mutate(text: str, rng: random.Random, family: str | None = None) -> tuple[bytes, str, str]:
    """(mutated bytes, family, what was changed) for one random edit of `text`."""
    fam = family or rng.choice(FAMILIES)
    data, detail = MUTATORS[fam](text, rng)
    return data, fam, detail


__all__ = ["FAMILIES", "MUTATORS", "mutate"]
