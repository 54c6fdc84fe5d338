"""Guarded versions of a kernel: the guards a version is valid under, and the TTGIR edit that makes it.

A version of a plan (`plan.json` `"versions"`, eqsat/plan.py) is the kernel compiled under guards on its
runtime arguments. Guard kinds (`arg` is the ORIGINAL kernel's runtime parameter name, spec.json):

    {"arg": "n", "kind": "divisible", "by": 8}      int(n) % 8 == 0
    {"arg": "n", "kind": "equal", "value": 1000}    int(n) == 1000
    {"arg": "n", "kind": "at_most", "bound": 4096}  int(n) <= 4096
    {"arg": "x", "kind": "aligned", "bytes": 16}    x.data_ptr() % 16 == 0 (a tensor; an int is an address)

    guards_hold(guards, values) -> bool      every guard holds on the call's argument values (name -> value);
                                             GPU-safe: the standard library only (tensors by data_ptr())
    specialize_signature(text, kernel, divisible)   the TTGIR with `tt.divisibility = d` on the guarded
                                             integer / pointer arguments of the kernel's tt.func (Triton's
                                             LLVM lowering recomputes AxisInfo from them: masks `offs < n`
                                             become constant over runs of d, row bases `x + r * n` d-aligned)
    apply_specialize(op, params, fail)       the `specialize` plan choice: the global load / store `op` is
                                             issued in `params["layout"]` (16-byte vectors), its address,
                                             mask and other rematerialised (needs xdsl: imported lazily)

The versions of a plan are tried most specific first; the first whose guards all hold runs; the unguarded
plan (`optimized.ttgir`) is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

GUARD_KINDS: dict[str, str] = {"divisible": "by", "equal": "value", "at_most": "bound", "aligned": "bytes"}


class GuardError(ValueError):
    """A malformed guard, or a guard on an argument the call does not have."""


def _address(value: Any) -> int:
    ptr = getattr(value, "data_ptr", None)
    if callable(ptr):
        return int(ptr())
    if isinstance(value, bool) or not isinstance(value, int):
        raise GuardError(f"an aligned guard needs a tensor or an address, not {type(value).__name__}")
    return int(value)


def _integer(value: Any) -> int:
    if hasattr(value, "data_ptr"):
        raise GuardError("an integer guard on a tensor argument")
    return int(value)


def guard_holds(guard: Mapping[str, Any], value: Any) -> bool:
    kind = guard.get("kind")
    if kind not in GUARD_KINDS or GUARD_KINDS[kind] not in guard:
        raise GuardError(f"bad guard {dict(guard)}: kinds are {', '.join(GUARD_KINDS)} with their field")
    k = int(guard[GUARD_KINDS[kind]])
    if kind == "aligned":
        return _address(value) % k == 0
    v = _integer(value)
    if kind == "divisible":
        return k != 0 and v % k == 0
    if kind == "equal":
        return v == k
    return v <= k


def guards_hold(guards: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> bool:
    """True when every guard holds on `values` (the call's runtime arguments by parameter name)."""
    for g in guards:
        arg = g.get("arg")
        if arg not in values:
            raise GuardError(f"guard on '{arg}', which is not a runtime argument ({', '.join(values)})")
        if not guard_holds(g, values[arg]):
            return False
    return True


def guard_text(guard: Mapping[str, Any]) -> str:
    """`n_cols%8`, `n_cols==1000`, `n_cols<=4096`, `x_ptr@16`."""
    kind, arg = guard["kind"], guard["arg"]
    k = guard[GUARD_KINDS[kind]]
    return {"divisible": f"{arg}%{k}", "equal": f"{arg}=={k}", "at_most": f"{arg}<={k}",
            "aligned": f"{arg}@{k}"}[kind]


def version_name(guards: Sequence[Mapping[str, Any]]) -> str:
    return " && ".join(guard_text(g) for g in guards) or "always"


def version_slug(guards: Sequence[Mapping[str, Any]]) -> str:
    """A file-name-safe slug: `n_cols_mod8`, `n_eq1000`, `n_le4096`, `x_ptr_al16`, joined by `__`."""
    words = {"divisible": "mod", "equal": "eq", "at_most": "le", "aligned": "al"}
    parts = [f"{g['arg']}_{words[g['kind']]}{g[GUARD_KINDS[g['kind']]]}" for g in guards]
    return re.sub(r"[^A-Za-z0-9_]", "_", "__".join(parts)) or "always"


# ------------------------------------------------------------------------------ the signature edit
_FUNC = re.compile(r"^[ \t]*tt\.func\s+(?:public\s+|private\s+)?@(?P<name>[\w$.]+)\s*\(", re.M)


def _signature_span(text: str, kernel: str | None) -> tuple[int, int]:
    for m in _FUNC.finditer(text):
        if kernel is not None and m.group("name") != kernel:
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        return m.end(), i - 1
    raise GuardError(f"no tt.func @{kernel} in the TTGIR")


def _split_args(sig: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in sig:
        if ch in "<({[":
            depth += 1
        elif ch in ">)}]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


def specialize_signature(text: str, kernel: str | None, divisible: Mapping[int, int]) -> str:
    """`text` with `tt.divisibility = d` on argument `i` of the kernel's tt.func for each `i: d` (the
    larger of d and an existing divisibility is kept; other attributes of the argument stay)."""
    if not divisible:
        return text
    start, end = _signature_span(text, kernel)
    args = _split_args(text[start:end])
    for i, d in divisible.items():
        if not 0 <= i < len(args):
            raise GuardError(f"argument {i} of @{kernel}: the function has {len(args)}")
        a = args[i]
        m = re.search(r"tt\.divisibility\s*=\s*(\d+)\s*:\s*i32", a)
        if m:
            if int(m.group(1)) >= d:
                continue
            a = a[:m.start(1)] + str(int(d)) + a[m.end(1):]
        elif "{" in a:
            a = a.replace("{", f"{{tt.divisibility = {int(d)} : i32, ", 1)
        else:
            loc = a.find(" loc(")
            cut = len(a.rstrip()) if loc < 0 else loc
            a = a[:cut] + f" {{tt.divisibility = {int(d)} : i32}}" + a[cut:]
        args[i] = a
    return text[:start] + ",".join(args) + text[end:]


def apply_specialize(op: Any, params: dict[str, Any], fail: Any) -> Any:
    """The `specialize` choice: issue the global load or store `op` in `params["layout"]`."""
    from eqsat.lowering.vector_access import reissue_access  # needs xdsl: not on the GPU side

    return reissue_access(op, params, fail)


__all__ = ["GUARD_KINDS", "GuardError", "apply_specialize", "guard_holds", "guard_text", "guards_hold",
           "specialize_signature", "version_name", "version_slug"]
