"""Specialization facts: which global accesses would get wider vectors under which guard on an argument.

Triton's JIT specializes an integer argument only when it is divisible by 16 (its TTGIR argument then
carries `tt.divisibility = 16`). At a row width of 1000 (8 | n, 16 does not) the mask `offs < n` is known
constant over runs of 1 only and the row base `x + row * n` aligned to one element, so every access is
issued one element at a time. For each runtime integer and pointer argument of a kernel this module
re-runs the address analysis (eqsat.dm.address, through the lift's own pointer walk) with the argument
assumed as a guard says, and records per access the vector width Triton's LLVM lowering would use with
the access issued in a layout of 16-byte vectors (`rules.gather.wide_layout`):

    width = floor_pow2(min(address contiguity, alignment, 16 bytes / element, mask constancy, extent))

    divisible {by: d}     d in 2..16: the argument's symbol gets divisibility d (its largest power of two
                          is what AxisInfo keeps: a non-power-of-two d helps as much as its 2-part, so
                          the analysis runs once per power of two)
    equal {value: c}      the argument is the constant c: divisibility = the largest power of two of c
    at_most {bound: b}    no effect on any vector width (recorded with no accesses: a bound decides trip
                          counts and masks of whole tiles, not the runs inside one)
    aligned {bytes: 16}   a pointer argument whose TTGIR does not already say 16-byte divisibility

    specialization_facts(module, func, arg_names) -> Facts      every argument, every guard, the accesses
                                                                 whose width changes (now -> under)
    widths_under(module, func, divisible) -> {dm id: width}     several arguments assumed at once
    best_guards(facts, values) -> [guard]                        per argument the weakest guard reaching
                                                                 its widest vectors (and holding at the
                                                                 launch's values when they are known)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xdsl.dialects.builtin import IntegerType
from xdsl.ir import Operation

from eqsat.dm.address import BIG, MAX_VECTOR_BYTES, PtrValue, floor_pow2, pow2_div, read_int_attr, value_name
from eqsat.ir.attributes import PtrType
from eqsat.ir.dialects.base import op_name_of

ACCESSES = ("tt.load", "tt.store", "amdg.buffer_load", "amdg.buffer_store")
DIVISORS = tuple(range(2, 17))


@dataclass(frozen=True)
class Effect:
    """One guard on one argument and what it does to the accesses: dm id -> (width now, width under)."""

    guard: dict[str, Any]
    widths: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def widened(self) -> dict[int, tuple[int, int]]:
        return {k: v for k, v in self.widths.items() if v[1] > v[0]}

    def to_json(self) -> dict[str, Any]:
        return {"guard": self.guard, "widened": {str(k): list(v) for k, v in sorted(self.widened.items())}}


@dataclass
class ArgFacts:
    name: str
    index: int
    kind: str  # "int" | "ptr"
    divisibility: int  # what the TTGIR already says (1: nothing)
    effects: list[Effect] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"arg": self.name, "index": self.index, "kind": self.kind, "divisibility": self.divisibility,
                "effects": [e.to_json() for e in self.effects if e.widened]}


@dataclass
class Facts:
    args: list[ArgFacts]
    now: dict[int, int]  # dm id -> vector width Triton issues today (in the op's own layout)

    def to_json(self) -> dict[str, Any]:
        return {"now": {str(k): v for k, v in sorted(self.now.items())},
                "args": [a.to_json() for a in self.args if any(e.widened for e in a.effects)]}


def _entry_args(func: Operation) -> list[Any]:
    return list(func.regions[0].blocks[0].args)


def _lifter(module: Any, func: Operation) -> Any:
    from eqsat.dm.lift import Lifter, Locations

    return Lifter(module, func, Locations(module))


def _access_ops(lifter: Any) -> list[tuple[int, Operation]]:
    return [(i, p.op) for i, p in enumerate(lifter.plan()) if op_name_of(p.op) in ACCESSES]


def _width(lifter: Any, op: Operation) -> int | None:
    """The vector width of `op` issued in a 16-byte-vector layout, under the lifter's analysis."""
    name = op_name_of(op)
    try:
        ptr, _, mask, elem_bytes = lifter._pointer(op, name)
    except (ValueError, KeyError, IndexError, AttributeError, StopIteration):
        return None
    if not isinstance(ptr, PtrValue) or ptr.lane_sources:
        return None
    off = ptr.offset
    eb = elem_bytes or ptr.elem_bytes
    dims = [d for d in range(off.rank) if off.shape[d] > 1]
    if not dims:
        return None
    f = dims[-1]
    if off.coeffs[f] is None or off.coeffs[f].const_value != 1:
        return None  # not contiguous along the fastest dim: no vector whatever the guard
    sd = lifter.analysis.sym_div
    div_elems = off.divisibility(f, sd)
    div_bytes = min(ptr.root_div, min(BIG, div_elems * eb))
    width = min(off.contiguity(f), max(1, div_bytes // eb), max(1, MAX_VECTOR_BYTES // eb), off.shape[f])
    if mask is not None:
        width = min(width, mask.constancy(f))
    return floor_pow2(max(1, width))


def widths_under(module: Any, func: Operation, divisible: Mapping[int, int]) -> dict[int, int]:
    """dm id -> vector width of every contiguous global access with argument i assumed divisible by
    `divisible[i]` (bytes for a pointer, elements' count for an integer), issued in 16-byte vectors."""
    lifter = _lifter(module, func)
    attrs = lifter.analysis.arg_attrs
    for i, d in divisible.items():
        old = attrs.get(i, "")
        have = read_int_attr(old, "tt.divisibility") or 1
        attrs[i] = f"{{tt.divisibility = {max(have, int(d))} : i32}}"
    out = {}
    for i, op in _access_ops(lifter):
        w = _width(lifter, op)
        if w is not None:
            out[i] = w
    return out


def access_roots(module: Any, func: Operation) -> dict[int, str]:
    """dm id -> the pointer argument (TTGIR name) each contiguous global access addresses."""
    lifter = _lifter(module, func)
    out = {}
    for i, op in _access_ops(lifter):
        try:
            ptr = lifter._pointer(op, op_name_of(op))[0]
        except (ValueError, KeyError, IndexError, AttributeError, StopIteration):
            continue
        if isinstance(ptr, PtrValue) and ptr.root:
            out[i] = ptr.root
    return out


def specialization_facts(module: Any, func: Operation, arg_names: Sequence[str] | None = None,
                         values: Mapping[str, int] | None = None) -> Facts:
    """Every runtime integer and pointer argument of `func`, every guard kind, and what it widens.
    `arg_names` renames the TTGIR's arguments (the original kernel's runtime parameters, in order);
    `values` (the launch's integer arguments) adds an `equal` guard at each known value."""
    from eqsat.dm.address import func_arg_attrs

    attrs = func_arg_attrs(func)
    now = widths_under(module, func, {})
    memo: dict[tuple[int, int], dict[int, int]] = {}  # (arg, power-of-two divisibility) -> widths

    def effect(index: int, div: int, guard: dict[str, Any]) -> Effect:
        if div <= 1:
            return Effect(guard, {k: (w, w) for k, w in now.items()})
        if (index, div) not in memo:
            memo[(index, div)] = widths_under(module, func, {index: div})
        under = memo[(index, div)]
        return Effect(guard, {k: (now[k], under.get(k, now[k])) for k in now})

    args = []
    for i, a in enumerate(_entry_args(func)):
        name = arg_names[i] if arg_names is not None and i < len(arg_names) else value_name(a)
        have = read_int_attr(attrs.get(i, ""), "tt.divisibility") or 1
        if isinstance(a.type, PtrType):
            facts = ArgFacts(name, i, "ptr", have)
            if have < 16:
                facts.effects.append(effect(i, 16, {"arg": name, "kind": "aligned", "bytes": 16}))
        elif isinstance(a.type, IntegerType) and a.type.width.data in (32, 64):
            facts = ArgFacts(name, i, "int", have)
            for d in DIVISORS:
                if pow2_div(d) <= have:
                    continue
                facts.effects.append(effect(i, pow2_div(d), {"arg": name, "kind": "divisible", "by": d}))
            v = (values or {}).get(name)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                equal = {"arg": name, "kind": "equal", "value": v}
                facts.effects.append(effect(i, min(16, pow2_div(v)), equal))
                facts.effects.append(Effect({"arg": name, "kind": "at_most", "bound": v}, {}))
        else:
            continue
        args.append(facts)
    return Facts(args, now)


def best_guards(facts: Facts, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per argument the weakest guard that reaches the widest vectors its guards give (integers: the
    smallest divisor, among those dividing the launch's value when it is known; pointers: 16-byte
    alignment), over the arguments whose guards widen some access. Integers first, then pointers."""
    ints, ptrs = [], []
    for a in facts.args:
        cands = [e for e in a.effects if e.widened and e.guard["kind"] in ("divisible", "aligned")]
        v = (values or {}).get(a.name)
        if a.kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            cands = [e for e in cands if v % int(e.guard["by"]) == 0]
        if not cands:
            continue
        score = [sum(w for _, w in e.widths.values()) for e in cands]
        top = max(score)
        best = next(e for e, s in zip(cands, score, strict=True) if s == top)
        (ints if a.kind == "int" else ptrs).append(best.guard)
    return ints + ptrs


__all__ = ["ArgFacts", "Effect", "Facts", "access_roots", "best_guards", "specialization_facts",
           "widths_under"]
