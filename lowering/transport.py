"""Transport of loop loads, rewritten at the TTIR level: pointer loads to tensor-descriptor loads (TMA).

A `tt.load` in an `scf.for` whose tile is a box of a strided tensor is the same read as a TMA copy of
that box. This module proves it on the kernel's TTIR (before Triton's pipeliner: the loads are still
plain `tt.load`s of loop-carried pointer tiles) and rewrites the TTIR; Triton's own passes then build
the pipeline for the chosen `num_stages` (cp.async rings for pointer loads, mbarrier TMA rings for
descriptor loads), so every candidate is a real `triton.compile` of the rewritten TTIR.

    %a = tt.load %ptrs                  (inside scf.for %iv = %lb to %ub step %st, %ptrs carried and
                                         advanced by `+ delta` each trip, or computed from %iv)
      ==  %d = tt.make_tensor_descriptor %root', [BIG, ...], [S_0, ..., S_{r-2}, 1]   (before the loop)
          %a = tt.descriptor_load %d[c_0(T), ..., c_{r-1}(T)]                          (in the loop)

where the address analysis (eqsat/dm/address.py, with each carried pointer made exact as
`init + T*delta`, T = (iv - lb) / step the trip number) gives the pointer tile as

    root + B + T*D + sum_d i_d * S_d      B, D, S_d polynomials over kernel arguments and program ids

`root' = root + B` (per program, before the loop), and `T*D` is split over the strides: the monomials
of D divisible by S_d go to coordinate d, the rest to the innermost (stride 1) one. A TMA copy reads
element `root' + sum_d (c_d + i_d) * S_d` for every box element whose coordinates lie in
`[0, extent_d)`; with extents BIG = 2^31 - 1 (the loads are unmasked, so the original program reads the
whole box) and every coordinate a polynomial with positive coefficients over non-negative symbols (trip
numbers, program ids, strides), no element is clipped and the copy reads exactly the pointer tile.

Legality (else `TransportIllegal` with the rule): Hopper (cuda:90); rank 2..5; unmasked and not
volatile; no address term from loaded data; affine in every tile index, innermost stride 1, no stride
0; outer strides multiples of 16 bytes and the base 16-byte aligned (from `tt.divisibility`); inner box
bytes >= 16, box dims powers of two (Triton's `make_tensor_descriptor` rules; Triton splits boxes over
256 into several copies); an element type TMA has. Runtime precondition, the same one
`tl.make_tensor_descriptor` has: the strides are positive (TMA strides are unsigned).

    loop_loads(ttir, label) -> [LoopLoad]       every load in an scf.for, TMA box or the reason why not
    rewrite_tma(ttir, names) -> ttir'            the named loads as descriptor loads
    epilogue_stores(ttir) / rewrite_tma_store     the same for a tile store outside loops (TMA store;
                                                 coordinates 0, the per-program offset in the base)
    compile_variant(ttir, target, ...) -> CompiledVariant   TTGIR, shared bytes, registers, spills

Imports xdsl (the analysis); `compile_variant` needs only triton.
"""

from __future__ import annotations

import math
import os
import re
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIG_EXTENT = 2**31 - 1
MAX_BOX = 256
TMA_ELEMENTS = ("f16", "bf16", "f32", "f64", "i8", "i16", "i32", "i64", "f8E4M3FN", "f8E5M2")
ELEM_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i8": 1, "i16": 2, "i32": 4, "i64": 8,
              "f8E4M3FN": 1, "f8E5M2": 1}


class TransportIllegal(Exception):
    """Why a loop load cannot become a tensor-descriptor load."""


@dataclass
class TmaBox:
    """A proven box: polynomials over kernel arguments, program ids and the trip symbol `T`."""

    root: str  # the kernel's pointer argument (SSA name without %)
    base: Any  # Poly: element offset of the descriptor's origin (loop invariant)
    strides: list[Any]  # Poly per dim, outermost first, the last is 1
    coords: list[Any]  # Poly per dim, over T and loop-invariant symbols
    elem: str  # MLIR element type text (f16)


@dataclass
class LoopLoad:
    """A `tt.load` inside an `scf.for`: its tile and, when legal, its TMA box."""

    name: str  # result SSA name (without %)
    loop: str  # the loop's induction variable name
    shape: list[int]
    elem: str
    box: TmaBox | None = None
    reason: str = ""  # why not TMA (empty when legal)
    lb: int | None = None  # the loop's start and step when constant (a trip number T is then iv / step)
    step: int | None = None

    @property
    def tile_bytes(self) -> int:
        return math.prod(self.shape) * ELEM_BYTES.get(self.elem, 4)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "loop": self.loop, "shape": self.shape, "elem": self.elem,
                               "tma": self.box is not None}
        if self.box is not None:
            out["descriptor"] = {"root": self.box.root, "base": str(self.box.base),
                                 "strides": [str(s) for s in self.box.strides],
                                 "coords": [str(c) for c in self.box.coords]}
        else:
            out["reason"] = self.reason
        return out


# ------------------------------------------------------------------------------------------ analysis
def loop_loads(ttir: str, label: str = "kernel.ttir", target: str = "cuda:90") -> list[LoopLoad]:
    """Every `tt.load` directly in the body of an `scf.for` of the first function, with its TMA box."""
    from eqsat.dm.address import AddressAnalysis, value_name
    from eqsat.ir.dialects import op_name_of
    from eqsat.ir.parser import parse_ttgir

    module = parse_ttgir(ttir, label)
    funcs = [o for o in module.walk() if op_name_of(o) == "tt.func"]
    if not funcs:
        return []
    func = funcs[0]
    out: list[LoopLoad] = []
    for loop in func.walk():
        if op_name_of(loop) != "scf.for":
            continue
        analysis = AddressAnalysis(func)
        trip = _exact_carried(analysis, func, loop)
        body = loop.regions[0].blocks[0]
        for op in body.ops:
            if op_name_of(op) != "tt.load":
                continue
            t = op.results[0].type
            shape = list(t.get_shape()) if hasattr(t, "get_shape") else []
            elem = _elem_text(t)
            ll = LoopLoad(value_name(op.results[0]), value_name(body.args[0]), shape, elem,
                          lb=analysis.int_value(loop.operands[0]).base.const_value,
                          step=analysis.int_value(loop.operands[2]).base.const_value)
            try:
                ll.box = _box(op, loop, analysis, trip, target)
            except TransportIllegal as e:
                ll.reason = str(e)
            out.append(ll)
    return out


def _elem_text(t: Any) -> str:
    from eqsat.ir.printer import format_type

    text = format_type(t.element_type) if hasattr(t, "element_type") else format_type(t)
    return text


def _exact_carried(analysis: Any, func: Any, loop: Any) -> str:
    """Override every carried value of `loop` advanced by a uniform `delta` each trip with its exact value
    `init + T*delta` (T: a fresh trip-number symbol); return T's name."""
    from eqsat.dm.address import BIG, AddressAnalysis, Poly, _difference, _inside, _shift, value_name

    body = loop.regions[0].blocks[0]
    tname = "trip." + value_name(body.args[0])
    analysis.sym_div[tname] = 1
    yield_op = loop.regions[0].blocks[-1].last_op
    for k, arg in enumerate(body.args[1:]):
        if yield_op is None or k >= len(yield_op.operands):
            continue
        init = analysis.value(loop.operands[3 + k])
        probe = analysis.fresh("probe." + value_name(arg), BIG)
        provisional = _shift(init, probe)
        sub = AddressAnalysis(func, analysis.sym_div, {**analysis.overrides, arg: provisional},
                              memo={v: x for v, x in analysis.memo.items() if not _inside(v, loop)})
        delta = _difference(sub.value(yield_op.operands[k]), provisional)
        if delta is None or delta.symbols & probe.symbols:
            continue
        analysis.overrides[arg] = _shift(init, Poly.sym(tname) * delta)
    analysis.memo = {v: x for v, x in analysis.memo.items() if not _inside(v, loop)}
    return tname


def _box(load: Any, loop: Any, analysis: Any, tname: str, target: str, store: bool = False) -> TmaBox:
    """The TMA box of a load in `loop` (or, with `store`, of a tt.store outside loops: `loop` None)."""
    from eqsat.dm.address import BIG, ONE, ZERO, Poly, PtrValue, value_name

    if not target.startswith("cuda:") or int(target.split(":")[1]) < 90:
        raise TransportIllegal(f"TMA needs Hopper (cuda:90), the target is {target}")
    t = load.operands[1].type if store else load.results[0].type
    if not hasattr(t, "get_shape"):
        raise TransportIllegal("the access is a scalar")
    shape = list(t.get_shape())
    if not 2 <= len(shape) <= 5:
        raise TransportIllegal(f"rank {len(shape)}: tensor-descriptor tiles here have rank 2..5")
    elem = _elem_text(t)
    if elem not in TMA_ELEMENTS:
        raise TransportIllegal(f"element type {elem} has no TMA element type")
    eb = ELEM_BYTES[elem]
    if getattr(load, "mask", None) is not None or len(load.operands) > (2 if store else 1):
        raise TransportIllegal("the load is masked (only unmasked loop loads are rewritten: TMA zero-fills "
                               "outside the extents, equal to a mask only when it is exactly the bounds)")
    if "isVolatile" in str(load.attributes) or "volatile" in str(getattr(load, "properties", "")):
        raise TransportIllegal("the load is volatile")
    if any(n & (n - 1) for n in shape):
        raise TransportIllegal(f"box {shape}: tensor-descriptor block dims are powers of two")
    if shape[-1] * eb < 16:
        raise TransportIllegal(f"inner box of {shape[-1] * eb} bytes: TMA needs >= 16")
    ptr = analysis.value(load.operands[0])
    if not isinstance(ptr, PtrValue) or ptr.root is None:
        raise TransportIllegal("the pointer tile is not a kernel argument plus offsets")
    if ptr.all_sources:
        raise TransportIllegal("the address depends on loaded data (an indirect access)")
    off = ptr.offset
    if off.rdiv != BIG or any(c is None for c in off.coeffs):
        raise TransportIllegal("the address is not affine in the tile's indices")
    strides = list(off.coeffs)
    if strides[-1] != ONE:
        raise TransportIllegal(f"the innermost stride is {strides[-1]}, TMA needs 1")
    if any(s == ZERO for s in strides[:-1]):
        raise TransportIllegal("a tile dimension has stride 0 (broadcast rows)")
    sd = analysis.sym_div
    for d, s in enumerate(strides[:-1]):
        if not _single_monomial(s) or any(c <= 0 for _, c in s.terms):
            raise TransportIllegal(f"stride of dim {d} ({s}) is not one positive monomial")
        if min(BIG, s.div(sd) * eb) % 16:
            raise TransportIllegal(f"stride of dim {d} ({s} elements) is not known to be a multiple of 16 "
                                   f"bytes")
    iv = value_name(loop.regions[0].blocks[0].args[0]) if loop is not None else ""
    lb = analysis.int_value(loop.operands[0]) if loop is not None else None
    varying = {tname, iv} if loop is not None else set()
    inv = Poly.of({m: c for m, c in off.base.terms if not set(m) & varying})
    var = off.base - inv
    start = lb.base.const_value if lb is not None and lb.rdiv == BIG else None
    if iv and iv in var.symbols and (start is None or start < 0):
        raise TransportIllegal(f"the address uses the induction variable {iv}, whose start is not a "
                               f"constant >= 0")
    func = _function_of(load)
    args = {value_name(a): a for a in func.regions[0].blocks[0].args}
    for sym in sorted(inv.symbols):
        _check_invariant(sym, args)
    if ptr.root_div < 16 or min(BIG, inv.div(sd) * eb) % 16:
        raise TransportIllegal(f"the descriptor's base ({ptr.root} + {inv} elements) is not known to be "
                               f"16-byte aligned")
    coords = [ZERO] * len(shape)
    rest = var
    for d, s in enumerate(strides[:-1]):
        q, rest = _divide(rest, s)
        coords[d] = q
    coords[-1] = rest
    stride_syms = {x for s in strides for x in s.symbols}
    for d, c in enumerate(coords):
        for m, k in c.terms:
            if k <= 0:
                raise TransportIllegal(f"coordinate {d} ({c}) has a negative term: TMA zero-fills negative "
                                       f"coordinates")
            for x in m:
                if not (x in varying or x.startswith("pid.") or x in stride_syms):
                    raise TransportIllegal(f"coordinate {d} uses {x}, not known to be >= 0")
                if x not in varying and not x.startswith("pid."):
                    _check_invariant(x, args)
    return TmaBox(ptr.root, inv, strides, coords, elem)


def _single_monomial(p: Any) -> bool:
    return len(p.terms) == 1


def _divide(p: Any, s: Any) -> tuple[Any, Any]:
    """(q, r) with p = q*s + r: q gets every monomial of `p` divisible by the monomial `s`."""
    from collections import Counter

    from eqsat.dm.address import Poly

    (sm, sc), = s.terms
    need = Counter(sm)
    q: dict[tuple[str, ...], int] = {}
    r: dict[tuple[str, ...], int] = {}
    for m, c in p.terms:
        have = Counter(m)
        if all(have[x] >= n for x, n in need.items()) and c % sc == 0:
            left = have - need
            q[tuple(sorted(left.elements()))] = c // sc
        else:
            r[m] = c
    return Poly.of(q), Poly.of(r)


def _check_invariant(sym: str, args: dict[str, Any]) -> None:
    from xdsl.dialects.builtin import IntegerType

    if sym.startswith("pid."):
        return
    a = args.get(sym)
    if a is None:
        raise TransportIllegal(f"the address uses {sym}, which is neither a kernel argument nor a program id "
                               f"(another loop-carried value?)")
    if not isinstance(a.type, IntegerType):
        raise TransportIllegal(f"the address uses {sym}, which is not an integer")


def _function_of(op: Any) -> Any:
    from eqsat.ir.dialects import op_name_of

    cur = op.parent_op()
    while cur is not None and op_name_of(cur) != "tt.func":
        cur = cur.parent_op()
    return cur


@dataclass
class StoreBox:
    """A `tt.store` of a whole tile outside loops (an epilogue) and, when legal, its TMA box."""

    ptr: str  # the pointer operand's SSA name (without %): how the store is found in the text
    value: str
    shape: list[int]
    elem: str
    box: TmaBox | None = None
    reason: str = ""


def epilogue_stores(ttir: str, label: str = "kernel.ttir", target: str = "cuda:90") -> list[StoreBox]:
    """Every `tt.store` of the first function that is in no loop, with its TMA box or why not."""
    from eqsat.dm.address import AddressAnalysis, value_name
    from eqsat.ir.dialects import op_name_of
    from eqsat.ir.parser import parse_ttgir

    module = parse_ttgir(ttir, label)
    funcs = [o for o in module.walk() if op_name_of(o) == "tt.func"]
    out: list[StoreBox] = []
    if not funcs:
        return out
    analysis = AddressAnalysis(funcs[0])
    for op in funcs[0].walk():
        if op_name_of(op) != "tt.store" or _in_loop(op):
            continue
        t = op.operands[1].type
        sb = StoreBox(value_name(op.operands[0]), value_name(op.operands[1]),
                      list(t.get_shape()) if hasattr(t, "get_shape") else [], _elem_text(t))
        try:
            sb.box = _box(op, None, analysis, "", target, store=True)
        except TransportIllegal as e:
            sb.reason = str(e)
        out.append(sb)
    return out


def _in_loop(op: Any) -> bool:
    from eqsat.ir.dialects import op_name_of

    cur = op.parent_op()
    while cur is not None:
        if op_name_of(cur) in ("scf.for", "scf.while"):
            return True
        cur = cur.parent_op()
    return False


def rewrite_tma_store(ttir: str, stores: list[StoreBox]) -> str:
    """`ttir` with each of `stores` (legal ones) a `tt.descriptor_store` of the same tile."""
    lines = ttir.split("\n")
    for k, sb in enumerate(stores):
        if sb.box is None:
            raise TransportIllegal(f"store to %{sb.ptr}: {sb.reason}")
        at = _find(lines, rf"^\s*tt\.store %{re.escape(sb.ptr)}, %{re.escape(sb.value)}\b",
                   f"tt.store %{sb.ptr}")
        ind = re.match(r"\s*", lines[at]).group(0)
        em = _Emitter("\n".join(lines), _arg_types(ttir), ind, f"eqsat_s{k}_")
        box = sb.box
        base = f"%{box.root}"
        if box.base.terms:
            base = em.line(f"tt.addptr %{box.root}, {em.poly(box.base, 'i64')} : !tt.ptr<{box.elem}>, i64")
        big = em.const(BIG_EXTENT, "i32")
        strides = [em.poly(s_, "i64") for s_ in box.strides[:-1]] + [em.const(1, "i64")]
        block = "x".join(str(n) for n in sb.shape)
        desc_t = f"tensor<{block}x{box.elem}>"
        desc = em.line(f"tt.make_tensor_descriptor {base}, [{', '.join([big] * len(sb.shape))}], "
                       f"[{', '.join(strides)}] : <{box.elem}>, <{desc_t}>")
        zero = em.const(0, "i32")
        loc = re.search(r" loc\(#?[\w\"().:/ -]*\)\s*$", lines[at])
        new = (f"{ind}tt.descriptor_store {desc}[{', '.join([zero] * len(sb.shape))}], %{sb.value} : "
               f"!tt.tensordesc<{desc_t}>, {desc_t}{loc.group(0) if loc else ''}")
        lines[at:at + 1] = em.lines + [new]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ rewrite
class _Emitter:
    """TTIR text lines of scalar arithmetic; polynomials become values of one integer type."""

    def __init__(self, text: str, arg_types: dict[str, str], indent: str, stem: str) -> None:
        self.text, self.arg_types, self.indent, self.stem = text, arg_types, indent, stem
        self.lines: list[str] = []
        self.memo: dict[tuple[Any, ...], str] = {}
        self.n = 0

    def fresh(self) -> str:
        while True:
            name = f"%{self.stem}{self.n}"
            self.n += 1
            if not re.search(re.escape(name) + r"\b", self.text):
                return name

    def line(self, rhs: str, key: tuple[Any, ...] | None = None) -> str:
        if key is not None and key in self.memo:
            return self.memo[key]
        name = self.fresh()
        self.lines.append(f"{self.indent}{name} = {rhs}")
        if key is not None:
            self.memo[key] = name
        return name

    def const(self, v: int, ty: str) -> str:
        return self.line(f"arith.constant {v} : {ty}", ("c", v, ty))

    def symbol(self, s: str, ty: str, trip: tuple[str, str, str, str] | None = None) -> str:
        """`s` as a value of type `ty` (kernel argument, program id, induction variable, trip number)."""
        if s.startswith("pid."):
            v, vt = self.line(f"tt.get_program_id {s[4:]} : i32", ("pid", s)), "i32"
        elif trip is not None and s == trip[0]:
            tname, iv, lb, step = trip
            diff = self.line(f"arith.subi %{iv}, %{lb} : i32", ("sub", iv, lb))
            v, vt = self.line(f"arith.divsi {diff}, %{step} : i32", ("div", iv, step)), "i32"
        elif s in self.arg_types:
            v, vt = f"%{s}", self.arg_types[s]
        else:
            raise TransportIllegal(f"no value for symbol {s}")
        if vt == ty:
            return v
        op = "arith.extsi" if ty == "i64" else "arith.trunci"
        return self.line(f"{op} {v} : {vt} to {ty}", ("cast", v, ty))

    def poly(self, p: Any, ty: str, trip: tuple[str, str, str, str] | None = None) -> str:
        total: str | None = None
        for monomial, coeff in p.terms:
            term: str | None = None
            for s in monomial:
                v = self.symbol(s, ty, trip)
                term = v if term is None else self.line(f"arith.muli {term}, {v} : {ty}")
            if term is None:
                term = self.const(coeff, ty)
            elif coeff != 1:
                term = self.line(f"arith.muli {term}, {self.const(coeff, ty)} : {ty}")
            total = term if total is None else self.line(f"arith.addi {total}, {term} : {ty}")
        return total if total is not None else self.const(0, ty)


def rewrite_tma(ttir: str, loads: list[LoopLoad]) -> str:
    """`ttir` with each of `loads` (legal ones, from `loop_loads` of this text) a tensor-descriptor load."""
    lines = ttir.split("\n")
    for k, ll in enumerate(loads):
        arg_types = {**_arg_types(ttir), ll.loop: "i32"}
        if ll.box is None:
            raise TransportIllegal(f"load %{ll.name}: {ll.reason}")
        box = ll.box
        loop_at = _find(lines, rf"scf\.for %{re.escape(ll.loop)} = ", f"scf.for %{ll.loop}")
        m = re.search(rf"scf\.for %{re.escape(ll.loop)} = %([\w$.-]+) to %([\w$.-]+) step %([\w$.-]+)",
                      lines[loop_at])
        if m is None:
            raise TransportIllegal(f"scf.for %{ll.loop}: bounds are not SSA values")
        trip = ("trip." + ll.loop, ll.loop, m.group(1), m.group(3))
        indent = re.match(r"\s*", lines[loop_at]).group(0)
        text = "\n".join(lines)
        pre = _Emitter(text, arg_types, indent, f"eqsat_d{k}_")
        base = f"%{box.root}"
        if box.base.terms:
            off = pre.poly(box.base, "i64")
            base = pre.line(f"tt.addptr %{box.root}, {off} : !tt.ptr<{box.elem}>, i64")
        big = pre.const(BIG_EXTENT, "i32")
        strides = [pre.poly(s, "i64") for s in box.strides[:-1]] + [pre.const(1, "i64")]
        block = "x".join(str(n) for n in ll.shape)
        desc_t = f"tensor<{block}x{box.elem}>"
        desc = pre.line(f"tt.make_tensor_descriptor {base}, [{', '.join([big] * len(ll.shape))}], "
                        f"[{', '.join(strides)}] : <{box.elem}>, <{desc_t}>")
        lines[loop_at:loop_at] = pre.lines
        load_at = _find(lines, rf"^\s*%{re.escape(ll.name)} = tt\.load ", f"%{ll.name} = tt.load")
        ind = re.match(r"\s*", lines[load_at]).group(0)
        inner = _Emitter("\n".join(lines), arg_types, ind, f"eqsat_c{k}_")
        coords = [inner.poly(_by_iv(c, ll, trip[0]), "i32", trip) for c in box.coords]
        loc = re.search(r" loc\(#?[\w\"().:/ -]*\)\s*$", lines[load_at])
        new = (f"{ind}%{ll.name} = tt.descriptor_load {desc}[{', '.join(coords)}] : !tt.tensordesc<{desc_t}> "
               f"-> tensor<{block}x{box.elem}>{loc.group(0) if loc else ''}")
        lines[load_at:load_at + 1] = inner.lines + [new]
    return "\n".join(lines)


def _by_iv(p: Any, ll: LoopLoad, tname: str) -> Any:
    """With a loop from 0 by a constant step s, the term c*T (s | c) is (c/s)*iv: no division emitted."""
    from eqsat.dm.address import Poly

    if ll.lb != 0 or not ll.step or ll.step <= 0:
        return p
    out: dict[tuple[str, ...], int] = {}
    for m, c in p.terms:
        if m.count(tname) == 1 and c % ll.step == 0:
            m, c = tuple(sorted(ll.loop if x == tname else x for x in m)), c // ll.step
        out[m] = out.get(m, 0) + c
    return Poly.of(out)


def _find(lines: list[str], pattern: str, what: str) -> int:
    hits = [i for i, ln in enumerate(lines) if re.search(pattern, ln)]
    if len(hits) != 1:
        raise TransportIllegal(f"{what}: found {len(hits)} times in the TTIR text")
    return hits[0]


def _arg_types(ttir: str) -> dict[str, str]:
    """Integer kernel arguments of the first tt.func: name -> i32/i64."""
    m = re.search(r"tt\.func\s+(?:public\s+|private\s+)?@[\w.$-]+\((.*?)\)\s*(?:attributes|\{)", ttir, re.S)
    out: dict[str, str] = {}
    if m:
        for name, ty in re.findall(r"%([\w$.-]+)\s*:\s*(i\d+)\b", m.group(1)):
            out[name] = ty
    return out


# ------------------------------------------------------------------------------------------ compile
@dataclass
class CompiledVariant:
    """One transport variant compiled by Triton: its TTGIR and what it uses of the SM."""

    mode: str
    stages: int
    ttgir: str
    shared: int
    registers: int | None
    spills: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "stages": self.stages, "shared": self.shared, "registers": self.registers,
                "spills": self.spills, **self.extra}


def compile_variant(ttir: str, target: Any, mode: str, stages: int, num_warps: int, num_ctas: int = 1,
                    options: dict[str, Any] | None = None) -> CompiledVariant:
    """`triton.compile` of the TTIR text with `num_stages = stages` for `target` (an eqsat Target).
    `mode` "direct_to_lds" sets Triton's AMD async-copy knob (TRITON_HIP_USE_ASYNC_COPY) for the compile."""
    import triton

    opts = {**(options or {}), "num_warps": num_warps, "num_stages": stages, "num_ctas": num_ctas}
    env_key = "TRITON_HIP_USE_ASYNC_COPY"
    saved = os.environ.get(env_key)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.ttir"
        path.write_text(ttir)
        try:
            if mode == "direct_to_lds":
                os.environ[env_key] = "1"
            elif saved is not None:
                del os.environ[env_key]
            k = triton.compile(str(path), target=target.gpu_target(), options=opts)
        finally:
            if saved is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = saved
    md = k.metadata
    regs, spills = None, None
    if "cubin" in k.asm:
        regs = cubin_registers(k.asm["cubin"])
    elif "amdgcn" in k.asm:
        regs, spills = amdgcn_registers(k.asm["amdgcn"])
    ttgir = k.asm["ttgir"]
    ttgir = ttgir.decode() if isinstance(ttgir, bytes) else str(ttgir)
    return CompiledVariant(mode, stages, ttgir, int(getattr(md, "shared", 0) or 0), regs, spills,
                           {"global_scratch": int(getattr(md, "global_scratch_size", 0) or 0)})


def cubin_registers(cubin: bytes) -> int | None:
    """Registers per thread of the (single) kernel of a cubin: EIATTR_REGCOUNT (0x2f) of `.nv.info`."""
    try:
        shoff, = struct.unpack_from("<Q", cubin, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", cubin, 0x3A)
        secs = [struct.unpack_from("<IIQQQQIIQQ", cubin, shoff + i * shentsize) for i in range(shnum)]
        stroff = secs[shstrndx][4]
        for s in secs:
            name = cubin[stroff + s[0]:cubin.index(b"\0", stroff + s[0])]
            if not name.startswith(b".nv.info"):
                continue
            data, i = cubin[s[4]:s[4] + s[5]], 0
            while i + 4 <= len(data):
                fmt, attr = data[i], data[i + 1]
                if fmt == 0x04:
                    size, = struct.unpack_from("<H", data, i + 2)
                    if attr == 0x2F:
                        return struct.unpack_from("<II", data, i + 4)[1]
                    i += 4 + size
                else:
                    i += 4
    except (struct.error, ValueError, IndexError):
        return None
    return None


def amdgcn_registers(asm: str) -> tuple[int | None, int | None]:
    """(VGPRs, spilled VGPRs) from an AMDGCN listing's comments."""
    v = re.search(r"; NumVgprs: (\d+)", asm)
    s = re.search(r"; VGPRSpill: (\d+)", asm) or re.search(r"; ScratchSize: (\d+)", asm)
    return (int(v.group(1)) if v else None), (int(s.group(1)) if s else None)
