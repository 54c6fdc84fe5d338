"""Address analysis: what a global access's pointer tensor looks like, from its def-use chain.

Every integer or pointer value of a kernel gets an abstract value (`IntValue`, `PtrValue`). An integer
tensor of shape `S` is modelled as

    v(i) = base + sum_{d affine} coeff[d] * i_d + R(i_{d not affine})

where `i_d` is the coordinate along dimension `d` of the tile, `base` and every known `coeff[d]` are
polynomials (`Poly`) over *symbols* (kernel arguments, program ids, loop induction variables) with integer
coefficients, and `R` is an unknown residual that only varies along the dimensions whose coefficient is
unknown (`None`). For `R` we keep, like Triton's AxisInfo lattice, a power of two that divides all its
values (`rdiv`), and per unknown dimension its contiguity (runs of +1) and constancy (runs of equal
values). A pointer is `root + offset` with `root` a kernel argument (or unknown) and `offset` an
`IntValue` in elements of the pointee type.

Every value also carries `sources`: the memory reads (`tt.load`, `ttg.local_load`, `amdg.buffer_load`,
...) whose results flow into it, and which of them may make elements of the tile differ (`lane_deps`).
A read reaches the lanes through a loaded tile (an index per row), a product of a varying value and a
loaded scalar (a loaded stride), or any non-linear op of a varying value; a loaded scalar added to the
tile, splat, or scaled by constants only moves the whole tile. An access whose pointer has lane sources
is *indirect* (embedding lookups, MoE scatters: a real gather); one whose sources are all uniform has a
*uniform data-dependent base* (`base_via`: cu_seqlens, a paged-KV block-table entry, a request-pool
index) and keeps its contiguous/strided class, strides and vector width (the base's alignment, from
`tl.multiple_of` hints on the load or the factors multiplying it, exactly as for an argument).
`scf.while` results and arguments may depend on every read inside the loop (a binary search over
loaded starts); arguments of blocks after a `cf` branch are the meet of what the branches pass.

Transfer functions walk back from a pointer through `tt.addptr`, `tt.splat`, `tt.broadcast`,
`tt.expand_dims`, `tt.make_range`, `arith.{constant,addi,subi,muli,extsi,extui,trunci,index_cast,remsi,
remui,divsi,divui,cmpi,andi,ori,select}`, `ttg.convert_layout`, `tt.trans` and `scf.for` induction
variables and iteration arguments. A loop-carried value whose update is `arg + delta` with `delta`
uniform over the tile (the `ptrs += BLOCK_K * stride` idiom) becomes `init + k*delta` with a fresh
symbol `k` whose divisibility is that of `delta`; anything else loop-carried is widened to unknown.

`access_of` turns this into the numbers the `dm` dialect records: per-dimension strides in elements
(an int, a symbolic expression such as `"sam"`, or unknown), the class (`contiguous` when the stride
along the fastest register dimension is 1, `strided` otherwise, `indirect` when the per-lane
addresses depend on a load), the contiguity along the fastest dimension, and the vector width Triton's
LLVM lowering would use:
`min(register contiguity, address contiguity, alignment, 16 bytes, mask constancy)` rounded down to a
power of two, where alignment follows `tt.divisibility` of the kernel arguments exactly as Triton's
`ModuleAxisInfoAnalysis::getAlignment` does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from xdsl.dialects.builtin import IntegerType, TensorType
from xdsl.ir import Attribute, BlockArgument, Operation, OpResult, SSAValue

from eqsat.ir.attributes import (
    BlockedEncodingAttr,
    MemDescType,
    PtrType,
    SliceEncodingAttr,
    element_bits,
)
from eqsat.ir.dialects.base import op_name_of, syntax_of
from eqsat.ir.syntax import Def, Lit

BIG = 1 << 40  # divisibility of zero
_MAX_LOOP_NESTING = 4
MAX_VECTOR_BYTES = 16


def pow2_div(n: int) -> int:
    """The largest power of two dividing `n` (BIG for 0)."""
    n = abs(n)
    return BIG if n == 0 else n & -n


def floor_pow2(n: int) -> int:
    return 1 if n < 1 else 1 << (n.bit_length() - 1)


# ------------------------------------------------------------------------------------------ Poly
Monomial = tuple[str, ...]  # sorted symbol names, with repetition for powers


@dataclass(frozen=True)
class Poly:
    """An integer polynomial over named symbols: `{monomial: coefficient}` with no zero coefficients."""

    terms: tuple[tuple[Monomial, int], ...] = ()

    @staticmethod
    def of(mapping: Mapping[Monomial, int]) -> Poly:
        return Poly(tuple(sorted((m, c) for m, c in mapping.items() if c != 0)))

    @staticmethod
    def const(c: int) -> Poly:
        return Poly.of({(): c})

    @staticmethod
    def sym(name: str) -> Poly:
        return Poly.of({(name,): 1})

    def as_dict(self) -> dict[Monomial, int]:
        return dict(self.terms)

    def __add__(self, other: Poly) -> Poly:
        d = self.as_dict()
        for m, c in other.terms:
            d[m] = d.get(m, 0) + c
        return Poly.of(d)

    def __neg__(self) -> Poly:
        return Poly(tuple((m, -c) for m, c in self.terms))

    def __sub__(self, other: Poly) -> Poly:
        return self + (-other)

    def __mul__(self, other: Poly) -> Poly:
        d: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                m = tuple(sorted(m1 + m2))
                d[m] = d.get(m, 0) + c1 * c2
        return Poly.of(d)

    @property
    def is_const(self) -> bool:
        return all(m == () for m, _ in self.terms)

    @property
    def const_value(self) -> int | None:
        if not self.is_const:
            return None
        return self.terms[0][1] if self.terms else 0

    @property
    def symbols(self) -> set[str]:
        return {s for m, _ in self.terms for s in m}

    def div(self, sym_div: Mapping[str, int]) -> int:
        """A power of two dividing every value of the polynomial, given each symbol's divisibility."""
        out = BIG
        for m, c in self.terms:
            d = pow2_div(c)
            for s in m:
                d = min(BIG, d * sym_div.get(s, 1))
            out = min(out, d)
        return out

    def evaluate(self, env: Mapping[str, int]) -> int:
        return sum(c * math.prod(env[s] for s in m) for m, c in self.terms)

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for m, c in sorted(self.terms, key=lambda t: (len(t[0]) == 0, t[0])):
            body = "*".join(m)
            if not body:
                parts.append(str(c))
            elif c == 1:
                parts.append(body)
            elif c == -1:
                parts.append("-" + body)
            else:
                parts.append(f"{c}*{body}")
        return " + ".join(parts).replace("+ -", "- ")


ZERO = Poly()
ONE = Poly.const(1)


# ------------------------------------------------------------------------------- abstract values
@dataclass(frozen=True)
class IntValue:
    """`base + sum coeff[d]*i_d + R(i)`; see the module docstring. Also used for i1 masks."""

    shape: tuple[int, ...]
    base: Poly
    coeffs: tuple[Poly | None, ...]
    rdiv: int = BIG  # divisibility of the residual R (BIG: R == 0)
    rcontig: tuple[int, ...] = ()  # per dim, contiguity of R along unknown dims
    rconst: tuple[int, ...] = ()  # per dim, constancy of R along unknown dims
    sources: frozenset[int] = frozenset()
    # the sources that may make the value differ between elements of the tile (None: all of `sources`
    # unless the value is uniform); set by the transfer functions that keep a data-dependent part uniform
    lane_sources: frozenset[int] | None = None

    def __post_init__(self) -> None:
        n = len(self.shape)
        if not self.rcontig:
            object.__setattr__(self, "rcontig", (1,) * n)
        if not self.rconst:
            object.__setattr__(self, "rconst", (1,) * n)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def lane_deps(self) -> frozenset[int]:
        """The memory reads that may make elements differ (per-lane indirection); the rest of `sources`
        only shift the whole tile (a uniform data-dependent base)."""
        if self.lane_sources is not None:
            return self.lane_sources & self.sources
        return frozenset() if self.uniform else self.sources

    @property
    def uniform(self) -> bool:
        """The same value everywhere in the tile."""
        return all(s == 1 or c == ZERO for c, s in zip(self.coeffs, self.shape, strict=True))

    def contiguity(self, d: int) -> int:
        c = self.coeffs[d]
        if c is None:
            return self.rcontig[d]
        return self.shape[d] if c == ONE else 1

    def constancy(self, d: int) -> int:
        c = self.coeffs[d]
        if c is None:
            return self.rconst[d]
        return self.shape[d] if c == ZERO else 1

    def divisibility(self, d: int, sym_div: Mapping[str, int], skip_own: bool = False) -> int:
        """Triton's per-dimension divisibility: of the first value of each contiguous run along `d`
        (`d = -1`: of every value). `rdiv` holds at the starts of R's contiguous runs, so it only
        counts when R is not contiguous along another dimension. `skip_own` leaves out `d`'s own
        coefficient whatever it is (for comparisons)."""
        r = self.rdiv
        if any(self.coeffs[e] is None and self.rcontig[e] > 1 for e in range(self.rank) if e != d):
            r = 1
        out = min(self.base.div(sym_div), r)
        for e, c in enumerate(self.coeffs):
            if c is None or self.shape[e] == 1:
                continue
            if e == d and (c == ONE or skip_own):
                continue
            out = min(out, c.div(sym_div))
        return out


def uniform(shape: tuple[int, ...], base: Poly, sources: frozenset[int] = frozenset(),
            rdiv: int = BIG) -> IntValue:
    return IntValue(shape, base, tuple(ZERO for _ in shape), rdiv=rdiv,
                    rconst=tuple(shape), sources=sources, lane_sources=frozenset())


def unknown(shape: tuple[int, ...], sources: frozenset[int] = frozenset(), rdiv: int = 1) -> IntValue:
    """Nothing known: a residual varying along every dimension (of size > 1)."""
    coeffs = tuple(ZERO if s == 1 else None for s in shape)
    return IntValue(shape, ZERO, coeffs, rdiv=rdiv, sources=sources)


@dataclass(frozen=True)
class PtrValue:
    """`root + offset` (offset in elements of the pointee), `root` a kernel argument name or None."""

    root: str | None
    root_div: int  # bytes
    elem_bytes: int
    offset: IntValue
    sources: frozenset[int] = frozenset()

    @property
    def all_sources(self) -> frozenset[int]:
        return self.sources | self.offset.sources

    @property
    def lane_sources(self) -> frozenset[int]:
        """Reads that make the pointers of different elements differ other than by the affine strides
        (a loaded tile of pointers carries its read in the offset too)."""
        return self.offset.lane_deps

    @property
    def base_sources(self) -> frozenset[int]:
        """Reads that only move the whole tile: a uniform data-dependent base."""
        return self.all_sources - self.lane_sources


AbstractValue = IntValue | PtrValue


# ---------------------------------------------------------------------------------- arithmetic
def add_values(a: IntValue, b: IntValue, sub: bool = False) -> IntValue:
    """`a + b` (or `a - b`) of two values of the same shape."""
    return _add(a, b, sub)


def _add(a: IntValue, b: IntValue, sub: bool = False) -> IntValue:
    coeffs: list[Poly | None] = []
    rcontig, rconst = [], []
    for d in range(a.rank):
        ca, cb = a.coeffs[d], b.coeffs[d]
        if ca is not None and cb is not None:
            coeffs.append(ca - cb if sub else ca + cb)
            rcontig.append(1)
            rconst.append(1)
            continue
        coeffs.append(None)
        # Triton's add rule: contiguous + constant stays contiguous over the common runs
        rcontig.append(max(math.gcd(a.contiguity(d), b.constancy(d)),
                           math.gcd(a.constancy(d), b.contiguity(d)) if not sub else 1))
        rconst.append(math.gcd(a.constancy(d), b.constancy(d)))
    rdiv = min(_rdiv_at(a, coeffs, rcontig), _rdiv_at(b, coeffs, rcontig))
    return IntValue(a.shape, a.base - b.base if sub else a.base + b.base, tuple(coeffs),
                    rdiv=rdiv, rcontig=tuple(rcontig), rconst=tuple(rconst),
                    sources=a.sources | b.sources, lane_sources=a.lane_deps | b.lane_deps)


def _rdiv_at(a: IntValue, coeffs: list[Poly | None], rcontig: list[int]) -> int:
    """The divisibility of `a`'s residual, plus the coefficients the result absorbs into its residual,
    at the starts of the result's runs (`rcontig`). Shorter runs start at positions inside `a`'s runs,
    where `a`'s residual is only known divisible by the new run length."""
    r = a.rdiv
    for e in range(a.rank):
        if coeffs[e] is not None or a.shape[e] == 1:
            continue
        k = max(1, rcontig[e])
        c = a.coeffs[e]
        if c is None:
            if a.rcontig[e] > k:
                r = min(r, k)
        elif c != ZERO:
            r = min(r, min(BIG, c.div(_NO_SYMBOLS) * k))
    return r


_NO_SYMBOLS: dict[str, int] = {}


def _scale(a: IntValue, u: IntValue, sym_div: Mapping[str, int]) -> IntValue:
    """`a * u` where `u` is uniform over the tile."""
    k = u.base
    if u.rdiv != BIG:  # u has an unknown uniform part: the product loses its affine structure
        coeffs = tuple(None if (c is None or c != ZERO) and s > 1 else ZERO
                       for c, s in zip(a.coeffs, a.shape, strict=True))
        rconst = tuple(a.constancy(d) for d in range(a.rank))
        rdiv = min(BIG, a.divisibility(-1, sym_div) * min(u.rdiv, k.div(sym_div)))
        return IntValue(a.shape, ZERO, coeffs, rdiv=rdiv, rconst=rconst, sources=a.sources | u.sources,
                        lane_sources=_scaled_lanes(a, u))
    coeffs = tuple(None if c is None else c * k for c in a.coeffs)
    kc = k.const_value
    rdiv = a.rdiv
    if kc != 1 and any(rc > 1 for rc in a.rcontig):  # runs end: R's divisibility held at run starts only
        rdiv = 1
    rdiv = BIG if rdiv == BIG else min(BIG, rdiv * k.div(sym_div))
    rcontig = tuple(rc if kc == 1 else 1 for rc in a.rcontig)
    return IntValue(a.shape, a.base * k, coeffs, rdiv=rdiv, rcontig=rcontig, rconst=a.rconst,
                    sources=a.sources | u.sources, lane_sources=_scaled_lanes(a, u))


def _scaled_lanes(a: IntValue, u: IntValue) -> frozenset[int]:
    """Lane sources of `a * u` (u uniform): a's, and u's when a varies (a data-dependent stride)."""
    return a.lane_deps | (frozenset() if a.uniform else u.sources)


def _mul(a: IntValue, b: IntValue, sym_div: Mapping[str, int]) -> IntValue:
    if b.uniform:
        return _scale(a, b, sym_div)
    if a.uniform:
        return _scale(b, a, sym_div)
    coeffs = tuple(ZERO if a.constancy(d) >= s and b.constancy(d) >= s else None
                   for d, s in enumerate(a.shape))
    rconst = tuple(math.gcd(a.constancy(d), b.constancy(d)) for d in range(a.rank))
    rdiv = min(BIG, a.divisibility(-1, sym_div) * b.divisibility(-1, sym_div))
    return IntValue(a.shape, ZERO, coeffs, rdiv=rdiv, rconst=rconst, sources=a.sources | b.sources)


def _run_div(a: IntValue, d: int, sym_div: Mapping[str, int]) -> int:
    return a.divisibility(d, sym_div)


def _rem(a: IntValue, b: IntValue, sym_div: Mapping[str, int], divide: bool) -> IntValue:
    """`a % b` or `a // b` for `b` uniform: Triton's rules for contiguity/constancy."""
    sources = a.sources | b.sources
    if not b.uniform or b.rdiv != BIG:
        return unknown(a.shape, sources)
    bdiv = b.base.div(sym_div)
    bc = b.base.const_value
    if a.uniform and a.rdiv == BIG and a.base.is_const and bc:
        v = a.base.const_value or 0
        q = abs(v) // abs(bc) * (1 if (v >= 0) == (bc > 0) else -1)
        return uniform(a.shape, Poly.const(q if divide else v - q * bc), sources)
    coeffs: list[Poly | None] = []
    rcontig, rconst = [], []
    for d, s in enumerate(a.shape):
        if a.constancy(d) >= s:
            coeffs.append(ZERO)
            rcontig.append(1)
            rconst.append(s)
            continue
        coeffs.append(None)
        w = min(a.contiguity(d), bdiv, _run_div(a, d, sym_div))
        w = floor_pow2(w) if a.contiguity(d) > 1 else 1
        if divide:
            rcontig.append(1)
            rconst.append(max(a.constancy(d), min(s, w)))
        else:
            rcontig.append(min(s, w))
            rconst.append(a.constancy(d))
    if divide:
        rdiv = 1
    else:
        varying = [d for d, s in enumerate(a.shape) if a.constancy(d) < s]
        run_div = min((a.divisibility(d, sym_div) for d in varying), default=a.divisibility(-1, sym_div))
        rdiv = max(1, min(bdiv, run_div))
    return IntValue(a.shape, ZERO, tuple(coeffs), rdiv=rdiv, rcontig=tuple(rcontig),
                    rconst=tuple(rconst), sources=sources)


# the sign of d(a - b)/di for which `a <pred> b` cannot flip inside an aligned run (see `_cmp`)
_SAFE_SLOPE = {"slt": 1, "ult": 1, "sge": 1, "uge": 1, "sgt": -1, "ugt": -1, "sle": -1, "ule": -1}


def _cmp(a: IntValue, b: IntValue, sym_div: Mapping[str, int], predicate: str = "slt") -> IntValue:
    """A comparison: an i1 tensor; only its constancy per dimension matters (mask alignment).

    Along a dimension where `a - b` moves by +1 per step, over a run of `w` steps starting at a multiple
    of `w` (`w` dividing `a - b` there), `a - b < 0` cannot change: it would have to pass from -1 to 0
    inside the run. The same holds for `>=`, and for `>`/`<=` when `a - b` moves by -1. Equality may flip
    anywhere."""
    diff = _add(a, b, sub=True)
    safe = _SAFE_SLOPE.get(predicate)
    coeffs: list[Poly | None] = []
    rconst = []
    for d, s in enumerate(a.shape):
        c = diff.coeffs[d]
        if diff.constancy(d) >= s:
            coeffs.append(ZERO)
            rconst.append(s)
        elif c is not None and safe is not None and c.const_value == safe:
            coeffs.append(None)
            rconst.append(min(s, floor_pow2(min(diff.divisibility(d, sym_div, skip_own=True), s))))
        else:
            coeffs.append(None)
            rconst.append(diff.rconst[d] if c is None else 1)
    return IntValue(a.shape, ZERO, tuple(coeffs), rdiv=1, rconst=tuple(rconst),
                    sources=a.sources | b.sources)


def _meet(a: IntValue, b: IntValue) -> IntValue:
    """Both values are possible (select, loop joins): keep only what holds for both."""
    coeffs: list[Poly | None] = []
    rcontig, rconst = [], []
    for d in range(a.rank):
        if a.coeffs[d] is not None and a.coeffs[d] == b.coeffs[d]:
            coeffs.append(a.coeffs[d])
            rcontig.append(1)
            rconst.append(1)
        else:
            coeffs.append(None)
            rcontig.append(math.gcd(a.contiguity(d), b.contiguity(d)))
            rconst.append(math.gcd(a.constancy(d), b.constancy(d)))
    return IntValue(a.shape, ZERO, tuple(coeffs), rdiv=1, rcontig=tuple(rcontig), rconst=tuple(rconst),
                    sources=a.sources | b.sources)


def _logic(a: IntValue, b: IntValue) -> IntValue:
    """andi/ori/xori of masks: constant where both are."""
    coeffs = tuple(ZERO if a.constancy(d) >= s and b.constancy(d) >= s else None
                   for d, s in enumerate(a.shape))
    rconst = tuple(math.gcd(a.constancy(d), b.constancy(d)) for d in range(a.rank))
    return IntValue(a.shape, ZERO, coeffs, rdiv=1, rconst=rconst, sources=a.sources | b.sources)


def _reshape_dims(a: IntValue, shape: tuple[int, ...], perm: list[int | None]) -> IntValue:
    """New dims in `shape`; `perm[k]` is the old dim that new dim k comes from, or None for a new one
    (size-1 inserted or broadcast, coefficient 0)."""
    coeffs, rcontig, rconst = [], [], []
    for k, old in enumerate(perm):
        if old is None or a.shape[old] == 1:
            coeffs.append(ZERO)
            rcontig.append(1)
            rconst.append(shape[k])
        else:
            coeffs.append(a.coeffs[old])
            rcontig.append(a.rcontig[old])
            rconst.append(a.rconst[old])
    return IntValue(shape, a.base, tuple(coeffs), rdiv=a.rdiv, rcontig=tuple(rcontig),
                    rconst=tuple(rconst), sources=a.sources, lane_sources=a.lane_deps)


# ------------------------------------------------------------------------------------ helpers
def shape_of(t: Attribute) -> tuple[int, ...]:
    if isinstance(t, TensorType):
        return tuple(t.get_shape())
    if isinstance(t, MemDescType):
        return t.shape
    return ()


def element_of(t: Attribute) -> Attribute:
    if isinstance(t, TensorType | MemDescType):
        return t.element_type
    return t


def value_name(v: SSAValue) -> str:
    name = getattr(v, "eqsat_name", None) or v.name_hint or "v"
    return name.lstrip("%")


def func_arg_attrs(func: Operation) -> dict[int, str]:
    """Argument index -> the verbatim text of its attribute dict in the signature (`{tt.divisibility..}`)."""
    syntax = syntax_of(func)
    out: dict[int, str] = {}
    if syntax is None:
        return out
    current: int | None = None
    for p in syntax.pieces:
        if isinstance(p, Def) and p.region == 0:
            current = p.arg
        elif isinstance(p, Lit) and p.text.startswith("{") and current is not None:
            out[current] = p.text
        elif isinstance(p, Lit) and p.text == ")":
            current = None
    return out


_INT_ATTR = r"{key}\s*=\s*(-?\d+)"


def read_int_attr(text: str, key: str) -> int | None:
    m = re.search(_INT_ATTR.format(key=re.escape(key)), text)
    return int(m.group(1)) if m else None


def _hint(op: Operation, key: str) -> int | None:
    """`tt.divisibility`/`tt.contiguity`/`tt.constancy` hints on an op (`dense<16> : tensor<1xi32>`)."""
    attr = op.attributes.get(key)
    if attr is None:
        return None
    text = getattr(getattr(attr, "text", None), "data", None) or str(attr)
    m = re.search(r"(-?\d+)", text)
    return int(m.group(1)) if m else None


def _constant_text(op: Operation) -> str | None:
    syntax = syntax_of(op)
    if syntax is None:
        value = op.attributes.get("value")
        return None if value is None else str(value)
    for p in syntax.pieces:
        if isinstance(p, Lit):
            return p.text
    return None


def _parse_int(text: str | None) -> int | None:
    if text is None:
        return None
    m = re.fullmatch(r"(?:dense<)?(-?\d+|true|false)>?", text.strip())
    if not m:
        return None
    body = m.group(1)
    return {"true": 1, "false": 0}.get(body, None) if body in ("true", "false") else int(body)


# ---------------------------------------------------------------------------------- analysis
MEMORY_READS = {"tt.load", "ttg.local_load", "amdg.buffer_load", "tt.descriptor_load", "tt.descriptor_gather",
                "tt.atomic_rmw", "tt.atomic_cas"}
_CASTS = {"arith.extsi", "arith.extui", "arith.trunci", "arith.index_cast", "arith.index_castui",
          "ttg.convert_layout", "tt.int_to_ptr", "tt.ptr_to_int"}


@dataclass
class AddressAnalysis:
    """Abstract values of a function's integer and pointer SSA values, computed on demand."""

    func: Operation
    sym_div: dict[str, int] = field(default_factory=dict)
    overrides: dict[SSAValue, AbstractValue] = field(default_factory=dict)
    memo: dict[SSAValue, AbstractValue] = field(default_factory=dict)
    source_ops: dict[int, Operation] = field(default_factory=dict)
    depth: int = 0

    def __post_init__(self) -> None:
        self.arg_attrs = func_arg_attrs(self.func)
        self._pending: set[SSAValue] = set()

    # -------------------------------------------------------------------------------- entry
    def value(self, v: SSAValue) -> AbstractValue:
        if v in self.overrides:
            return self.overrides[v]
        got = self.memo.get(v)
        if got is None:
            got = self._compute(v)
            self.memo[v] = got
        return got

    def int_value(self, v: SSAValue) -> IntValue:
        got = self.value(v)
        return got.offset if isinstance(got, PtrValue) else got

    def fresh(self, stem: str, div: int) -> Poly:
        # numbered per function (sub-analyses of loops share `sym_div`), never per process: the
        # symbols may appear in strides of the dm JSON, which must not depend on what ran before
        n = len(self.sym_div)
        while f"{stem}.{n}" in self.sym_div:
            n += 1
        name = f"{stem}.{n}"
        self.sym_div[name] = div
        return Poly.sym(name)

    def _source(self, op: Operation) -> frozenset[int]:
        self.source_ops[id(op)] = op
        return frozenset({id(op)})

    # ------------------------------------------------------------------------------ compute
    def _compute(self, v: SSAValue) -> AbstractValue:
        t = v.type
        shape = shape_of(t)
        if isinstance(v, BlockArgument):
            return self._block_arg(v, shape)
        assert isinstance(v, OpResult)
        op = v.op
        try:
            return self._op_result(op, v, shape)
        except (ValueError, IndexError, KeyError, AssertionError, ZeroDivisionError):
            return self._unknown_like(t, shape, frozenset())

    def _unknown_like(self, t: Attribute, shape: tuple[int, ...], sources: frozenset[int]) -> AbstractValue:
        elem = element_of(t)
        if isinstance(elem, PtrType):
            return PtrValue(None, 1, _elem_bytes(elem.pointee), unknown(shape), sources)
        return unknown(shape, sources)

    def _block_arg(self, v: BlockArgument, shape: tuple[int, ...]) -> AbstractValue:
        owner = v.block.parent_op()
        name = value_name(v)
        is_func = owner is self.func or (owner is not None and op_name_of(owner) == "tt.func")
        if is_func and v.block is not owner.regions[0].blocks[0]:
            return self._branch_arg(v, shape)
        if is_func:
            attrs = self.arg_attrs.get(v.index, "")
            div = read_int_attr(attrs, "tt.divisibility") or 1
            if isinstance(v.type, PtrType):
                return PtrValue(name, div, _elem_bytes(v.type.pointee), uniform((), ZERO))
            self.sym_div[name] = div
            return uniform(shape, Poly.sym(name))
        if owner is not None and op_name_of(owner) == "scf.for":
            return self._for_arg(owner, v, shape)
        if owner is not None and op_name_of(owner) == "scf.while":
            return self._unknown_like(v.type, shape, self._while_sources(owner))
        return self._unknown_like(v.type, shape, frozenset())

    def _branch_arg(self, v: BlockArgument, shape: tuple[int, ...]) -> AbstractValue:
        """An argument of a non-entry block: what every branch into the block passes (their meet)."""
        from eqsat.dm.cfg import incoming

        values = []
        for _, passed in incoming(v.block):
            if v.index >= len(passed):
                return self._unknown_like(v.type, shape, frozenset())
            if passed[v.index] in self._pending:  # a cycle of branches: widen
                return self._unknown_like(v.type, shape, frozenset())
            self._pending.add(passed[v.index])
            try:
                values.append(self.value(passed[v.index]))
            finally:
                self._pending.discard(passed[v.index])
        if not values:
            return self._unknown_like(v.type, shape, frozenset())
        out = values[0]
        for x in values[1:]:
            if out == x:
                continue
            if isinstance(out, IntValue) and isinstance(x, IntValue) and out.shape == x.shape:
                out = _meet(out, x)
            else:
                return self._unknown_like(v.type, shape, frozenset().union(*(_sources(y) for y in values)))
        return out

    def _while_sources(self, loop: Operation) -> frozenset[int]:
        """An `scf.while` argument may be anything its loop computes: the reads of its initial values
        and of every memory read inside the loop (a binary search over loaded sequence starts)."""
        out: set[int] = set()
        for init in loop.operands:
            if init not in self._pending:
                self._pending.add(init)
                try:
                    out |= _sources(self.value(init))
                finally:
                    self._pending.discard(init)
        for inner in loop.walk():
            if inner is not loop and op_name_of(inner) in MEMORY_READS:
                out |= self._source(inner)
        return frozenset(out)

    def _for_arg(self, loop: Operation, v: BlockArgument, shape: tuple[int, ...]) -> AbstractValue:
        lb, _ub, step = (self.int_value(loop.operands[i]) for i in range(3))
        if v.index == 0:  # induction variable: lb + k*step
            name = value_name(v)
            sd = self.sym_div
            sd[name] = min(lb.base.div(sd), step.base.div(sd), lb.rdiv, step.rdiv)
            return uniform((), Poly.sym(name), lb.sources | step.sources)
        k = v.index - 1
        init = self.value(loop.operands[3 + k])
        yield_op = loop.regions[0].blocks[-1].last_op
        if yield_op is None or k >= len(yield_op.operands):
            return init
        yielded = yield_op.operands[k]
        if self.depth >= _MAX_LOOP_NESTING:
            return _widen(init, self._unknown_like(v.type, shape, _sources(init)))
        stem = value_name(v)
        probe_sym = self.fresh("it." + stem, BIG)
        provisional = _shift(init, probe_sym)
        sub = AddressAnalysis(self.func, self.sym_div, {**self.overrides, v: provisional},
                              memo={k: x for k, x in self.memo.items() if not _inside(k, loop)},
                              source_ops=self.source_ops, depth=self.depth + 1)
        after = sub.value(yielded)
        delta = _difference(after, provisional)
        if delta is not None and not (delta.symbols & {next(iter(probe_sym.symbols))}):
            step_sym = self.fresh("k." + stem, delta.div(self.sym_div))
            out = _shift(init, step_sym)
            return _with_sources(out, _sources(after) | _sources(init))
        # not an induction: widen to what both the initial and the updated value satisfy
        widened = _widen(init, after)
        return widened

    def _op_result(self, op: Operation, v: OpResult, shape: tuple[int, ...]) -> AbstractValue:
        name = op_name_of(op)
        ops = op.operands
        sd = self.sym_div
        if name in MEMORY_READS:
            src = self._source(op)
            if isinstance(element_of(v.type), PtrType):  # loaded pointers: per lane unless a scalar
                return PtrValue(None, 1, _elem_bytes(element_of(v.type).pointee), unknown(shape, src), src)
            return self._apply_hints(op, unknown(shape, src))  # tl.multiple_of(tl.load(...), 16)
        if name == "arith.constant":
            c = _parse_int(_constant_text(op))
            return uniform(shape, Poly.const(c)) if c is not None else unknown(shape)
        if name == "tt.make_range":
            start = op.attributes["start"].value.data
            return IntValue(shape, Poly.const(start), (ONE,), rcontig=(1,), rconst=(1,))
        if name == "tt.get_program_id" or name == "tt.get_num_programs":
            syntax = syntax_of(op)
            axis = next((p.text for p in syntax.pieces if isinstance(p, Lit)), "x") if syntax else "x"
            stem = "pid" if name == "tt.get_program_id" else "nprog"
            sd[f"{stem}.{axis}"] = 1
            return uniform((), Poly.sym(f"{stem}.{axis}"))
        if name == "tt.splat":
            a = self.value(ops[0])
            if isinstance(a, PtrValue):
                return replace(a, offset=uniform(shape, a.offset.base, a.offset.sources, a.offset.rdiv))
            return uniform(shape, a.base, a.sources, a.rdiv)
        if name == "tt.broadcast":
            return self._map(self.value(ops[0]), lambda a: _reshape_dims(
                a, shape, [d if a.shape[d] == shape[d] else None for d in range(len(shape))]))
        if name == "tt.expand_dims":
            axis = op.attributes["axis"].value.data
            perm: list[int | None] = [d if d < axis else d - 1 for d in range(len(shape))]
            perm[axis] = None
            return self._map(self.value(ops[0]), lambda a: _reshape_dims(a, shape, perm))
        if name in ("tt.trans",):
            order = order_attr(op) or list(reversed(range(len(shape))))
            return self._map(self.value(ops[0]), lambda a: _reshape_dims(a, shape, list(order)))
        if name in _CASTS:
            a = self.value(ops[0])
            if name == "tt.int_to_ptr" and isinstance(a, IntValue):
                return PtrValue(None, 1, _elem_bytes(element_of(v.type).pointee), a, frozenset())
            if name == "tt.ptr_to_int" and isinstance(a, PtrValue):
                return replace(a.offset, sources=a.all_sources)
            return a
        if name == "tt.addptr":
            p = self.value(ops[0])
            off = self.int_value(ops[1])
            if not isinstance(p, PtrValue):
                return self._unknown_like(v.type, shape, _sources(p) | off.sources)
            return replace(p, offset=_add(_fit(p.offset, shape), _fit(off, shape)))
        if name in ("arith.addi", "arith.subi", "arith.muli", "arith.remsi", "arith.remui", "arith.divsi",
                    "arith.divui", "arith.andi", "arith.ori", "arith.xori", "arith.maxsi", "arith.minsi",
                    "arith.maxui", "arith.minui", "arith.shli", "arith.ceildivsi", "arith.floordivsi"):
            a, b = self.int_value(ops[0]), self.int_value(ops[1])
            out = self._binary(name, a, b, v, sd)
            return self._apply_hints(op, out)
        if name == "arith.cmpi":
            syntax = syntax_of(op)
            pred = next((p.text for p in syntax.pieces if isinstance(p, Lit)), "eq") if syntax else "eq"
            return _cmp(self.int_value(ops[0]), self.int_value(ops[1]), sd, pred)
        if name == "arith.select":
            c = self.int_value(ops[0])
            a, b = self.value(ops[1]), self.value(ops[2])
            if isinstance(a, PtrValue) and isinstance(b, PtrValue):
                root = a.root if a.root == b.root else None
                off = _meet(a.offset, b.offset)
                if not c.uniform:  # a per-lane condition picks per lane
                    lanes = off.lane_deps | c.sources
                    off = replace(off, sources=off.sources | c.sources, lane_sources=lanes)
                return PtrValue(root, math.gcd(a.root_div, b.root_div), a.elem_bytes,
                                off, a.sources | b.sources | c.sources)
            if isinstance(a, IntValue) and isinstance(b, IntValue):
                if a == b:
                    return a
                m = _meet(a, b)
                return replace(m, rdiv=min(a.divisibility(-1, sd), b.divisibility(-1, sd)),
                               sources=m.sources | c.sources)
        if name in ("scf.for", "scf.while", "scf.if"):
            return self._region_result(op, v, shape)
        if name == "ttng.warp_group_dot_wait":
            return self.value(ops[v.index])
        sources = frozenset().union(*(_sources(self.value(o)) for o in ops))
        return self._unknown_like(v.type, shape, sources)

    def _binary(self, name: str, a: IntValue, b: IntValue, v: OpResult, sd: Mapping[str, int]) -> IntValue:
        if a.shape != b.shape:
            a, b = _fit(a, b.shape if len(b.shape) > len(a.shape) else a.shape), _fit(b, a.shape)
        if name == "arith.addi":
            return _add(a, b)
        if name == "arith.subi":
            return _add(a, b, sub=True)
        if name == "arith.muli":
            return _mul(a, b, sd)
        if name in ("arith.remsi", "arith.remui"):
            return _rem(a, b, sd, divide=False)
        if name in ("arith.divsi", "arith.divui", "arith.floordivsi"):
            return _rem(a, b, sd, divide=True)
        if name == "arith.shli" and b.uniform and b.base.is_const and b.rdiv == BIG:
            return _scale(a, uniform(a.shape, Poly.const(1 << (b.base.const_value or 0))), sd)
        if name in ("arith.andi", "arith.ori", "arith.xori") and isinstance(element_of(v.type), IntegerType) \
                and element_of(v.type).width.data == 1:
            return _logic(a, b)
        known = a.rdiv == BIG and b.rdiv == BIG and a.base.is_const and b.base.is_const
        if a.uniform and b.uniform and known:
            x, y = a.base.const_value or 0, b.base.const_value or 0
            res = {"arith.andi": x & y, "arith.ori": x | y, "arith.xori": x ^ y, "arith.maxsi": max(x, y),
                   "arith.minsi": min(x, y), "arith.maxui": max(x, y), "arith.minui": min(x, y)}.get(name)
            if res is not None:
                return uniform(a.shape, Poly.const(res))
        m = _logic(a, b)
        return replace(m, rdiv=1)

    def _apply_hints(self, op: Operation, out: IntValue) -> IntValue:
        """`tl.multiple_of` / `tl.max_contiguous` hints Triton attached to the op."""
        div = _hint(op, "tt.divisibility")
        contig = _hint(op, "tt.contiguity")
        if div is None and contig is None:
            return out
        coeffs = list(out.coeffs)
        rcontig = list(out.rcontig)
        rdiv = out.rdiv
        if contig is not None and out.rank:
            d = out.rank - 1
            if coeffs[d] is None:
                rcontig[d] = max(rcontig[d], min(contig, out.shape[d]))
        if div is not None and coeffs and any(c is None for c in coeffs):
            rdiv = max(out.rdiv if out.rdiv != BIG else 1, div)
        elif div is not None and min(out.base.div(self.sym_div), out.rdiv) < div:
            # a hint on an affine value: its base (with any unknown uniform part, such as a loaded
            # scalar) is a multiple of `div`; its strides stay exact
            return replace(out, base=self.fresh("hint", div), rdiv=BIG)
        return replace(out, coeffs=tuple(coeffs), rcontig=tuple(rcontig), rdiv=rdiv)

    def _region_result(self, op: Operation, v: OpResult, shape: tuple[int, ...]) -> AbstractValue:
        name = op_name_of(op)
        k = v.index
        if name == "scf.for":
            body = op.regions[0].blocks[0]
            if k + 1 < len(body.args):
                return self.value(body.args[k + 1])
        if name == "scf.while":
            return self._unknown_like(v.type, shape, self._while_sources(op))
        yields = [b.last_op for r in op.regions for b in r.blocks
                  if b.last_op is not None and op_name_of(b.last_op) in ("scf.yield",)]
        values = [self.value(y.operands[k]) for y in yields if k < len(y.operands)]
        if name == "scf.if" and len(values) == 2:
            a, b = values
            if isinstance(a, IntValue) and isinstance(b, IntValue):
                return a if a == b else _meet(a, b)
        return self._unknown_like(v.type, shape, frozenset().union(*(_sources(x) for x in values)))

    def _map(self, a: AbstractValue, f) -> AbstractValue:
        if isinstance(a, PtrValue):
            return replace(a, offset=f(a.offset))
        return f(a)


def _elem_bytes(t: Attribute) -> int:
    try:
        return max(1, element_bits(t) // 8)
    except ValueError:
        return 1


def order_attr(op: Operation) -> list[int] | None:
    attr = op.attributes.get("order")
    if attr is None:
        return None
    text = getattr(getattr(attr, "text", None), "data", None) or str(attr)
    nums = re.findall(r"-?\d+", text.split(":", 1)[-1])
    return [int(x) for x in nums] or None


def _inside(v: SSAValue, loop: Operation) -> bool:
    """Whether `v` is defined inside `loop`'s regions (it may depend on the loop's arguments)."""
    op = v.op if isinstance(v, OpResult) else v.block.parent_op()
    while op is not None:
        if op is loop:
            return True
        op = op.parent_op()
    return False


def _sources(a: AbstractValue) -> frozenset[int]:
    return a.all_sources if isinstance(a, PtrValue) else a.sources


def _with_sources(a: AbstractValue, s: frozenset[int]) -> AbstractValue:
    """`a` also depending on the reads `s` through a part uniform over the tile (a loop's start or step)."""
    if isinstance(a, PtrValue):
        return replace(a, sources=a.sources | s)
    return replace(a, sources=a.sources | s, lane_sources=a.lane_deps)


def _fit(a: IntValue, shape: tuple[int, ...]) -> IntValue:
    """A scalar used where a tensor is expected (never in valid IR except splat-like constants)."""
    if a.shape == shape:
        return a
    if a.rank == 0:
        return uniform(shape, a.base, a.sources, a.rdiv)
    return a


def _shift(a: AbstractValue, p: Poly) -> AbstractValue:
    if isinstance(a, PtrValue):
        return replace(a, offset=replace(a.offset, base=a.offset.base + p))
    return replace(a, base=a.base + p)


def _difference(after: AbstractValue, before: AbstractValue) -> Poly | None:
    """`after - before` if it is a uniform polynomial (same root, same coefficients, same residual)."""
    if isinstance(after, PtrValue) != isinstance(before, PtrValue):
        return None
    if isinstance(after, PtrValue):
        assert isinstance(before, PtrValue)
        if after.root != before.root or after.elem_bytes != before.elem_bytes:
            return None
        after, before = after.offset, before.offset
    assert isinstance(after, IntValue) and isinstance(before, IntValue)
    if after.coeffs != before.coeffs or after.rdiv != before.rdiv or after.shape != before.shape:
        return None
    if any(c is None for c in after.coeffs):
        return None
    return after.base - before.base


def _widen(init: AbstractValue, after: AbstractValue) -> AbstractValue:
    s = _sources(init) | _sources(after)
    if isinstance(init, PtrValue):
        off_after = after.offset if isinstance(after, PtrValue) else unknown(init.offset.shape)
        root = init.root if isinstance(after, PtrValue) and after.root == init.root else None
        same = off_after.shape == init.offset.shape
        m = _meet(init.offset, off_after) if same else unknown(init.offset.shape)
        return PtrValue(root, init.root_div if root else 1, init.elem_bytes, replace(m, rdiv=1), s)
    if isinstance(after, IntValue) and after.shape == init.shape:
        return replace(_meet(init, after), sources=s)
    return unknown(init.shape, s)


# ------------------------------------------------------------------------------------ layouts
def layout_order(encoding: Attribute | None, rank: int) -> list[int]:
    """Triton's `getOrder` for the layouts whose fields say it (blocked, slice of blocked); else
    row-major (the last dimension fastest)."""
    if isinstance(encoding, BlockedEncodingAttr):
        return list(encoding.order)
    if isinstance(encoding, SliceEncodingAttr):
        parent = layout_order(encoding.parent, rank + 1)
        return [d if d < encoding.dim else d - 1 for d in parent if d != encoding.dim]
    return list(reversed(range(rank)))


def register_contiguity(tensor_type: Attribute, dim: int, num_warps: int,
                        threads_per_warp: int) -> tuple[int, str]:
    """Elements one thread holds contiguously along `dim` (Triton's `getContigPerThread`), and how it
    was computed: "linear_layout" through `eqsat.ir.layouts` when that bridge is importable, else
    "encoding_fields" (sizePerThread of a blocked layout or of a slice's blocked parent)."""
    ll = _linear_layout(tensor_type)
    if ll is not None:
        return ll.contiguous_elements("register", f"dim{dim}"), "linear_layout"
    enc = tensor_type.encoding if isinstance(tensor_type, TensorType) else None
    shape = shape_of(tensor_type)
    return min(_spt(enc, dim), shape[dim] if shape else 1), "encoding_fields"


def _linear_layout(tensor_type: Attribute):
    """The F2 layout of a tensor type through the bridge `eqsat.ir.layouts`, or None (bridge missing, or
    an encoding it does not model). The warp and lane counts are in the encoding itself."""
    try:
        from eqsat.ir.layouts import linear_layout_of
    except ImportError:
        return None
    try:
        ll = linear_layout_of(tensor_type)
    except (ValueError, TypeError, KeyError, NotImplementedError):
        return None
    return getattr(ll, "layout", ll)  # a GuardedLayout wraps the power-of-two layout


def fastest_dim(tensor_type: Attribute, dims: list[int]) -> int:
    """Triton's `order[0]` among `dims`: the blocked order when the encoding says it, else the dimension
    along which a thread holds the most contiguous registers (ties: the later dimension)."""
    enc = tensor_type.encoding if isinstance(tensor_type, TensorType) else None
    if isinstance(enc, BlockedEncodingAttr | SliceEncodingAttr):
        order = [d for d in layout_order(enc, len(shape_of(tensor_type))) if d in dims]
        if order:
            return order[0]
    ll = _linear_layout(tensor_type)
    if ll is None:
        return dims[-1] if dims else len(shape_of(tensor_type)) - 1
    return max(reversed(dims), key=lambda d: ll.contiguous_elements("register", f"dim{d}"))


def _spt(enc: Attribute | None, dim: int) -> int:
    if isinstance(enc, BlockedEncodingAttr):
        return enc.size_per_thread[dim]
    if isinstance(enc, SliceEncodingAttr):
        return _spt(enc.parent, dim if dim < enc.dim else dim + 1)
    return 1


# ------------------------------------------------------------------------------------ access
@dataclass(frozen=True)
class Access:
    """What `dm` records about one global access."""

    klass: str  # contiguous | strided | indirect
    strides: tuple[int | str | None, ...]
    fastest_dim: int | None
    contiguity: int
    register_contiguity: int
    alignment: int
    mask_constancy: int | None
    vector_width: int
    vector_bytes: int
    indirect_via: tuple[int, ...]  # python ids of the reads per-lane addresses depend on (lift: dm ids)
    layout_source: str
    base_via: tuple[int, ...] = ()  # python ids of the reads a uniform base depends on


def _stride_repr(c: Poly | None) -> int | str | None:
    if c is None:
        return None
    v = c.const_value
    return v if v is not None else str(c)


def access_of(ptr: PtrValue, tensor_type: Attribute, analysis: AddressAnalysis, mask: IntValue | None,
              num_warps: int, threads_per_warp: int, elem_bytes: int | None = None) -> Access:
    """Classify an access through `ptr` (whose type is `tensor_type`) under `mask`."""
    off = ptr.offset
    rank = off.rank
    eb = elem_bytes or ptr.elem_bytes
    sd = analysis.sym_div
    strides = tuple(_stride_repr(c) for c in off.coeffs)
    sources = ptr.all_sources
    if rank == 0 or all(s == 1 for s in off.shape):
        f = None
        contig = reg = 1
        how = "scalar"
    else:
        f = fastest_dim(tensor_type, [d for d in range(rank) if off.shape[d] > 1] or [rank - 1])
        reg, how = register_contiguity(tensor_type, f, num_warps, threads_per_warp)
        contig = off.contiguity(f)
    # alignment in elements: min(divisibility in bytes / element bytes, contiguity)
    div_elems = off.divisibility(f, sd) if f is not None else min(off.base.div(sd), off.rdiv)
    div_bytes = min(ptr.root_div, min(BIG, div_elems * eb))
    align = max(1, div_bytes // eb)
    vec = min(reg, contig, align, max(1, MAX_VECTOR_BYTES // eb))
    mask_c = None
    if mask is not None and f is not None:
        mask_c = mask.constancy(f)
        vec = min(vec, mask_c)
    vec = floor_pow2(max(1, vec))
    lanes = ptr.lane_sources
    if lanes:
        klass = "indirect"
    elif f is None or off.coeffs[f] == ONE:
        klass = "contiguous"
    else:
        klass = "strided"
    return Access(klass, strides, f, contig, reg, min(align, BIG), mask_c, vec, vec * eb,
                  tuple(sorted(lanes)), how, tuple(sorted(sources - lanes)))


def program_invariant(ptr: PtrValue) -> bool:
    """Every program reads the same addresses: `ptr` is a kernel argument plus an exactly known offset
    (no residual, no loaded data) that mentions neither the program id nor the grid size (a lookup
    table, a norm's weight row, a bias). Loop indices may appear: every program walks them alike."""
    off = ptr.offset
    if ptr.root is None or ptr.all_sources or off.rdiv != BIG or any(c is None for c in off.coeffs):
        return False
    polys = [off.base, *(c for c in off.coeffs if c is not None)]
    return not any(sym.startswith(("pid.", "nprog.")) for p in polys for m, _ in p.terms for sym in m)


def descriptor_strides(block_shape: Iterable[int]) -> tuple[int, ...]:
    """Row-major element strides of a TMA box (its last dimension is contiguous by TMA's rules)."""
    shape = list(block_shape)
    out = []
    acc = 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


__all__ = [
    "Access",
    "AddressAnalysis",
    "IntValue",
    "Poly",
    "PtrValue",
    "access_of",
    "program_invariant",
    "layout_order",
    "fastest_dim",
    "register_contiguity",
]

