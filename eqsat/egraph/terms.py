"""The e-graph's term language: typed egglog sorts for register tiles, layouts, shared buffers and sinks.

A kernel's dm graph becomes one term per value. The invariant every rule keeps: **an e-class of `Tile`
denotes one tensor value held in one register layout**. Two terms are united only when they compute the
same elements *and* leave them in the same layout, so the layout is a property of the e-class (the
`layout_of` analysis) and a rule that changes a layout produces a term of a different class (wrapped in a
`convert` when it must land in the old one).

Leaves refer to the input program by dm op id (`eqsat ingest --format json`); their shape and element type
are in `ty` text (`"64x32xf32"`) so a cost function can price a node from its own arguments. Layouts and
shared encodings are their text in Triton's syntax, the same strings the dm JSON, plan.json and the cost
models use.

    Tile.value(op, L)                  the result of a non-movement dm op (reduce, dot, trans, other), in L
    Tile.load(op, L, ty)               global load `op` issued in layout L (its addresses, mask, other)
    Tile.indirect_load(op, L, ty)      indirect global load `op` issued in L
    t.convert(src, dst, ty)            ttg.convert_layout from src to dst, lowered as Triton does
    t.via_shared(src, enc, dst, ty)    explicit round trip: local_alloc with `enc`, local_load in dst
    Tile.gather(src, idx, axis, L, ty) tt.gather with result layout L (Triton: shuffles if warp-local)
    Tile.gather_shared(src, idx, axis, L, ty)   tt.gather forced through shared memory
    Tile.gather_global(op, idx, axis, L, ty)    the gather of global load `op`'s tile done as an indirect
                                                global load of only the gathered elements
    s.local_load(L, ty)                local_load of shared buffer s in L
    Tile.elementwise(op, a, L, ty)     elementwise dm op `op` (kind other, e.g. arith.mulf) of one tile a in L
    Tile.elementwise2(op, a, b, L, ty) elementwise dm op `op` of two tiles a, b (same shape, layout L)
    Tile.guarded_load(op, L, ty, v, g) global load `op` issued in L with v-element vectors, valid only in
                                       the version of the kernel compiled under guard set `g` (rules/
                                       specialize.py; priced infinite unless the extraction assumes g)

    Smem.alloc(op, t, enc)             local_alloc `op` initialised from t, with shared encoding enc
    Smem.buffer(op, enc)               mutable local_alloc `op` (written by local_store/async copies)
    Smem.staged(op, buf, enc, mode, stages)   global load `op` copied into buffer `buf`: mode is
                                       "sync" (load + local_store), "async_copy", "tma", "direct_to_lds"

    Sink.store(op, t)                  a global (or indirect) store `op` of t
    Sink.guarded_store(op, t, v, g)    store `op` of t (in its layout) with v-element vectors, valid
                                       only under guard set `g`
    Sink.local_store(op, s, t)         local_store `op` of t into s
    Sink.use(op, t)                    a non-movement consumer `op` (dot, reduce, other) reading t
    Sink.use_smem(op, s)               a consumer reading a shared buffer (warp_group_dot operand, ...)
    Sink.seq(a, b)                     both effects (the kernel root is one Sink)

Analyses (functions filled by rules or by Python when the graph is encoded; rules may require them):

    layout_of(t) -> Layout             the layout of a Tile class
    warp_local(idx_layout, axis, ty)   relation: a gather with this index layout is warp-local
    legal(kind, op, enc)               relation: staging/encoding `kind` is legal for op with enc
    ty_of(t) -> String                 the type text ("64x32xf32") of a Tile class

Facts computed in Python by the rule families' `seed` (eqsat.rules) and required by their rules:

    same_layout(a, b, ty)              a and b are the same F2 map on a tile of type ty (text may differ)
    load_candidate(op, L)              global (or indirect) load `op` may be issued in layout L
    via_candidate(a, b, m, ty)         a conversion a -> b of a ty tile may go through layout m
    convert_enc(a, b, ty, enc)         a conversion a -> b may go through shared memory with encoding enc
    convert_enc_synth(a, b, ty, enc)   ... with an XOR swizzle synthesised by z3 (eqsat.egraph.proofs)
    alloc_enc(op, enc)                 shared allocation `op` may use encoding enc
    alloc_enc_synth(op, enc)           ... an encoding synthesised by z3
    gather_layout(idx, axis, ty, W)    W is a warp-local layout for a gather with index layout idx
    mask_free_axis(op, axis)           the mask of global load `op` does not depend on coordinate `axis`
    stages_for(op, n)                  the loop around load `op` can be pipelined with n buffers
    spec_candidate(op, L, ty, v, g)    under guard set g, access `op` (of a ty tile) issued in L moves
                                       v-element vectors
                                       (eqsat.dm.specialize)
"""

from __future__ import annotations

from egglog import Expr, String, StringLike, Unit, function, i64, i64Like, relation


class Layout(Expr):
    """A distributed (register) layout, by its encoding text."""

    def __init__(self, text: StringLike) -> None: ...


class SharedEnc(Expr):
    """A shared-memory encoding, by its encoding text."""

    def __init__(self, text: StringLike) -> None: ...


class Tile(Expr):
    """A register tensor value in one layout (see the module docstring for the constructors)."""

    @classmethod
    def value(cls, op: i64Like, layout: Layout) -> Tile: ...

    @classmethod
    def load(cls, op: i64Like, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def indirect_load(cls, op: i64Like, layout: Layout, ty: StringLike) -> Tile: ...

    def convert(self, src: Layout, dst: Layout, ty: StringLike) -> Tile: ...

    def via_shared(self, src: Layout, enc: SharedEnc, dst: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def gather(cls, src: Tile, idx: Tile, axis: i64Like, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def gather_shared(cls, src: Tile, idx: Tile, axis: i64Like, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def gather_global(cls, op: i64Like, idx: Tile, axis: i64Like, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def elementwise(cls, op: i64Like, a: Tile, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def elementwise2(cls, op: i64Like, a: Tile, b: Tile, layout: Layout, ty: StringLike) -> Tile: ...

    @classmethod
    def guarded_load(cls, op: i64Like, layout: Layout, ty: StringLike, vec: i64Like, guard: StringLike
                     ) -> Tile: ...


class Smem(Expr):
    """A shared-memory buffer with its encoding."""

    @classmethod
    def alloc(cls, op: i64Like, t: Tile, enc: SharedEnc) -> Smem: ...

    @classmethod
    def buffer(cls, op: i64Like, enc: SharedEnc) -> Smem: ...

    @classmethod
    def staged(cls, op: i64Like, buf: i64Like, enc: SharedEnc, mode: StringLike, stages: i64Like) -> Smem: ...

    def local_load(self, layout: Layout, ty: StringLike) -> Tile: ...


class Sink(Expr):
    """An effect of the kernel: what must happen to the moved values."""

    @classmethod
    def store(cls, op: i64Like, t: Tile) -> Sink: ...

    @classmethod
    def local_store(cls, op: i64Like, s: Smem, t: Tile) -> Sink: ...

    @classmethod
    def use(cls, op: i64Like, t: Tile) -> Sink: ...

    @classmethod
    def use_smem(cls, op: i64Like, s: Smem) -> Sink: ...

    @classmethod
    def seq(cls, a: Sink, b: Sink) -> Sink: ...

    @classmethod
    def guarded_store(cls, op: i64Like, t: Tile, vec: i64Like, guard: StringLike) -> Sink: ...


@function(merge=lambda old, new: old)
def layout_of(t: Tile) -> Layout: ...


warp_local = relation("warp_local", Layout, i64, String)
legal = relation("legal", String, i64, SharedEnc)
made_by = relation("made_by", Tile, String)
smem_made_by = relation("smem_made_by", Smem, String)


@function(merge=lambda old, new: old)
def ty_of(t: Tile) -> String: ...


same_layout = relation("same_layout", Layout, Layout, String)
load_candidate = relation("load_candidate", i64, Layout)
via_candidate = relation("via_candidate", Layout, Layout, Layout, String)
convert_enc = relation("convert_enc", Layout, Layout, String, SharedEnc)
convert_enc_synth = relation("convert_enc_synth", Layout, Layout, String, SharedEnc)
alloc_enc = relation("alloc_enc", i64, SharedEnc)
alloc_enc_synth = relation("alloc_enc_synth", i64, SharedEnc)
gather_layout = relation("gather_layout", Layout, i64, String, Layout)
mask_free_axis = relation("mask_free_axis", i64, i64)
stages_for = relation("stages_for", i64, i64)
spec_candidate = relation("spec_candidate", i64, Layout, String, i64, String)

__all__ = ["Layout", "SharedEnc", "Tile", "Smem", "Sink", "layout_of", "warp_local", "legal", "Unit", "i64",
           "ty_of", "same_layout", "load_candidate", "via_candidate", "convert_enc", "convert_enc_synth",
           "alloc_enc", "alloc_enc_synth", "gather_layout", "mask_free_axis", "stages_for", "spec_candidate"]
