"""Encoding: a dm JSON kernel (`eqsat.dm.json.dm_to_json`) -> egglog terms in a fresh e-graph.

Every dm op with a register result becomes the Tile term of its value (eqsat/egraph/terms.py):

    load           Tile.load(op, Layout(dst_layout), ty)
    indirect_load  Tile.indirect_load(op, Layout(dst_layout), ty)   (its index inputs become Sink.use)
    convert        input.convert(Layout(src), Layout(dst), ty)
    gather         Tile.gather(src, idx, axis, Layout(dst), ty)
    local_load     <buffer>.local_load(Layout(dst), ty)
    other, elementwise (arith./math. op whose tile inputs have its shape and layout; one or two of them)
                   Tile.elementwise(op, a, L, ty) / Tile.elementwise2(op, a, b, L, ty)
    trans, reduce, dot, other   Tile.value(op, Layout(dst))   (opaque; each register input -> Sink.use)

Shared memory: `local_alloc` with a tensor operand -> Smem.alloc(op, t, SharedEnc(enc)), without ->
Smem.buffer(op, enc); `async_copy` / `tma_load` -> Smem.staged(op, buf, enc, mode, stages) (stages = the
buffer's leading multi-buffer dimension, else 1). A reader of a buffer (local_load, a dot operand, a TMA
store) reads the latest staged copy into it that precedes it in program order (for a loop-carried reader,
the first copy inside the loop), else the buffer itself. Effects: store/indirect_store -> Sink.store of
the stored value (other register inputs -> Sink.use), local_store -> Sink.local_store, shared operands ->
Sink.use_smem, a staged copy no reader picked -> Sink.use_smem(copy, staged), and a value nothing reads
-> Sink.use(op, t). The kernel root is Sink.seq over all sinks in program order, so every encoded term is
reachable from the root. Barriers and waits have no value and no movement alternative: not encoded (listed
in `EncodedKernel.skipped`). Back edges (`loop_inputs`) are not followed: terms are trees.

`layout_of(t)` is set for every encoded Tile. `ty` is "<d0>x<d1>x...x<dtype>" (just the dtype for scalars);
a scalar or layout-less value has Layout("").
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from typing import Any

from egglog import EGraph, set_

from eqsat.egraph.terms import Layout, SharedEnc, Sink, Smem, Tile, layout_of

VALUE_KINDS = ("load", "indirect_load", "convert", "gather", "local_load", "trans", "reduce", "dot", "other")
OPAQUE_KINDS = ("trans", "reduce", "dot", "other")
STAGING_KINDS = {"async_copy": "async_copy", "tma_load": "tma"}


@dataclass
class EncodedKernel:
    """One kernel in an e-graph: what rules (`RuleFamily.seed`), extraction and decoding work from."""

    egraph: EGraph
    kernel: dict[str, Any]  # the dm JSON kernel
    target: str
    ops: dict[int, dict[str, Any]]  # op id -> dm JSON op
    tiles: dict[int, Tile] = field(default_factory=dict)  # op id -> Tile term of its register result
    smem: dict[int, Smem] = field(default_factory=dict)  # local_alloc/async_copy/tma_load id -> Smem term
    sinks: dict[int, list[Sink]] = field(default_factory=dict)  # op id -> its effects, in order
    root: Sink | None = None  # Sink.seq of every sink in program order
    skipped: dict[int, str] = field(default_factory=dict)  # op id -> why it has no term

    @property
    def name(self) -> str:
        return str(self.kernel["kernel"])


def ty_text(shape: list[int] | None, dtype: str | None) -> str:
    """`[64, 32], "f32"` -> `"64x32xf32"`; a scalar -> its dtype."""
    dt = dtype or "?"
    return "x".join([*(str(d) for d in shape or []), dt])


def parse_ty(ty: str) -> tuple[list[int], str]:
    """Inverse of `ty_text`: `"64x32xf32"` -> `([64, 32], "f32")` (dtypes may contain `x`, e.g. `!tt.ptr`)."""
    parts = ty.split("x")
    dims: list[int] = []
    for i, p in enumerate(parts):
        if p.isdigit() and i < len(parts) - 1:
            dims.append(int(p))
        else:
            return dims, "x".join(parts[i:])
    return dims, ""


def encode_kernel(kernel: dict[str, Any], target: str | None = None) -> EncodedKernel:
    """Encode a dm JSON kernel into a fresh e-graph (terms registered, root built)."""
    enc = _Encoder(kernel, target or str(kernel.get("target", "")))
    return enc.run()


class _Encoder:
    def __init__(self, kernel: dict[str, Any], target: str) -> None:
        self.ops = {int(o["id"]): o for o in kernel["ops"]}
        self.k = EncodedKernel(EGraph(), kernel, target, self.ops)
        self.program = [int(o["id"]) for o in kernel["ops"]]
        self.consumed: set[int] = set()
        self.copies: dict[int, list[int]] = {}  # buffer id -> staged copy ids in program order
        self.picked: set[int] = set()

    def run(self) -> EncodedKernel:
        for oid in self._order():
            self._encode(self.ops[oid])
        for oid in self.program:  # values nothing reads and copies no reader picked stay effects
            if oid in self.k.tiles and oid not in self.consumed:
                self._sink(oid, Sink.use(oid, self.k.tiles[oid]))
            if oid in self.k.smem and self.ops[oid]["kind"] in STAGING_KINDS and oid not in self.picked:
                self._sink(oid, Sink.use_smem(oid, self.k.smem[oid]))
        sinks = [s for oid in self.program for s in self.k.sinks.get(oid, [])]
        if not sinks:
            self.k.skipped[-1] = "kernel has no effect to encode"
            return self.k
        root = sinks[-1]
        for s in reversed(sinks[:-1]):
            root = Sink.seq(s, root)
        self.k.root = root
        self.k.egraph.register(root)
        for oid, t in self.k.tiles.items():
            self.k.egraph.register(set_(layout_of(t)).to(Layout(self.ops[oid].get("dst_layout") or "")))
        return self.k

    def _order(self) -> list[int]:
        """Program order, except that an op always comes after the ops its forward inputs name."""
        ts: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        position = {oid: i for i, oid in enumerate(self.program)}
        for oid in self.program:
            ts.add(oid, *[i for i in self.ops[oid]["inputs"] if i in self.ops])
        ts.prepare()
        order: list[int] = []
        while ts.is_active():
            ready = sorted(ts.get_ready(), key=position.__getitem__)
            order.extend(ready)
            ts.done(*ready)
        return order

    # ------------------------------------------------------------------------------------------ helpers

    def _sink(self, oid: int, s: Sink) -> None:
        self.k.sinks.setdefault(oid, []).append(s)

    def _tile_inputs(self, op: dict[str, Any]) -> list[int]:
        return [i for i in op["inputs"] if i in self.k.tiles]

    def _use(self, op: dict[str, Any], inputs: list[int]) -> None:
        for i in inputs:
            self.consumed.add(i)
            self._sink(op["id"], Sink.use(op["id"], self.k.tiles[i]))

    def _reader_smem(self, op: dict[str, Any], buf: int) -> Smem:
        """The Smem a reader of buffer `buf` sees: the latest staged copy before it, else the buffer."""
        copies = self.copies.get(buf, [])
        pos = self.program.index(op["id"])
        before = [c for c in copies if self.program.index(c) < pos]
        if before:
            chosen = before[-1]
        elif copies:
            chosen = copies[0]
        else:
            return self.k.smem[buf]
        self.picked.add(chosen)
        return self.k.smem[chosen]

    def _buffer_of(self, op: dict[str, Any]) -> int | None:
        buf = op.get("buffer")
        if buf is not None and buf in self.k.smem:
            return int(buf)
        for i in op["inputs"]:
            if i in self.k.smem and self.ops[i]["kind"] == "local_alloc":
                return int(i)
        return None

    # ------------------------------------------------------------------------------------------- encode

    def _encode(self, op: dict[str, Any]) -> None:
        kind, oid = op["kind"], int(op["id"])
        ty = ty_text(op.get("shape"), op.get("dtype"))
        dst = Layout(op.get("dst_layout") or "")
        if kind == "load":
            self.k.tiles[oid] = Tile.load(oid, dst, ty)
            self._use(op, self._tile_inputs(op))
        elif kind == "indirect_load":
            self.k.tiles[oid] = Tile.indirect_load(oid, dst, ty)
            self._use(op, self._tile_inputs(op))
        elif kind == "convert":
            src = self._tile_inputs(op)
            if not src:
                self.k.tiles[oid] = Tile.value(oid, dst)
                self.k.skipped[oid] = "convert without a register input: encoded as an opaque value"
                return
            self.consumed.add(src[0])
            self.k.tiles[oid] = self.k.tiles[src[0]].convert(Layout(op.get("src_layout") or ""), dst, ty)
            self._use(op, src[1:])
        elif kind == "gather":
            ins = self._tile_inputs(op)
            if len(ins) < 2:
                self.k.tiles[oid] = Tile.value(oid, dst)
                self._use(op, ins)
                self.k.skipped[oid] = "gather without two register inputs: encoded as an opaque value"
                return
            self.consumed.update(ins[:2])
            axis = int(op.get("info", {}).get("axis", 0))
            self.k.tiles[oid] = Tile.gather(self.k.tiles[ins[0]], self.k.tiles[ins[1]], axis, dst, ty)
            self._use(op, ins[2:])
        elif kind == "local_load":
            buf = self._buffer_of(op)
            if buf is None:
                self.k.tiles[oid] = Tile.value(oid, dst)
                self.k.skipped[oid] = "local_load of an unknown buffer: encoded as an opaque value"
                return
            self.k.tiles[oid] = self._reader_smem(op, buf).local_load(dst, ty)
        elif kind == "local_alloc":
            enc = SharedEnc(op.get("dst_layout") or op.get("layout") or "")
            ins = self._tile_inputs(op)
            if ins:
                self.consumed.add(ins[0])
                self.k.smem[oid] = Smem.alloc(oid, self.k.tiles[ins[0]], enc)
            else:
                self.k.smem[oid] = Smem.buffer(oid, enc)
        elif kind in STAGING_KINDS:
            buf = self._buffer_of(op)
            if buf is None:
                self.k.skipped[oid] = f"{kind} into an unknown buffer"
                return
            enc = SharedEnc(op.get("dst_layout") or self.ops[buf].get("dst_layout") or "")
            self.k.smem[oid] = Smem.staged(oid, buf, enc, STAGING_KINDS[kind], self._stages(op, buf))
            self.copies.setdefault(buf, []).append(oid)
            self._use(op, self._tile_inputs(op))
        elif kind in ("store", "indirect_store"):
            ins = self._tile_inputs(op)
            data = self._stored_value(op, ins)
            if data is None:
                self._use(op, ins)
                return
            self.consumed.add(data)
            self._sink(oid, Sink.store(oid, self.k.tiles[data]))
            self._use(op, [i for i in ins if i != data])
        elif kind == "local_store":
            buf = self._buffer_of(op)
            ins = self._tile_inputs(op)
            if buf is None or not ins:
                self._use(op, ins)
                self.k.skipped[oid] = "local_store without buffer or value"
                return
            self.consumed.add(ins[0])
            self._sink(oid, Sink.local_store(oid, self.k.smem[buf], self.k.tiles[ins[0]]))
            self._use(op, ins[1:])
        elif kind == "other" and self._elementwise(op):
            ins = self._tile_inputs(op)
            self.consumed.update(ins)
            a = self.k.tiles[ins[0]]
            self.k.tiles[oid] = (Tile.elementwise(oid, a, dst, ty) if len(ins) == 1
                                 else Tile.elementwise2(oid, a, self.k.tiles[ins[1]], dst, ty))
        elif kind in OPAQUE_KINDS:
            self._use(op, self._tile_inputs(op))
            for i in op["inputs"]:
                if i in self.k.smem and self.ops[i]["kind"] == "local_alloc":
                    self._sink(oid, Sink.use_smem(oid, self._reader_smem(op, int(i))))
            if op.get("shape") is not None and op.get("dst_space") != "shared":
                self.k.tiles[oid] = Tile.value(oid, dst)
        elif kind == "tma_store":
            buf = self._buffer_of(op)
            if buf is not None:
                self._sink(oid, Sink.use_smem(oid, self._reader_smem(op, buf)))
            self._use(op, self._tile_inputs(op))
        else:  # barrier, async_wait: no value, no movement alternative
            self.k.skipped[oid] = f"{kind}: no value to encode"

    def _elementwise(self, op: dict[str, Any]) -> bool:
        """An arith/math op on one or two tiles of its own shape and layout (no other dm inputs)."""
        origin = str(op.get("origin") or "")
        if not origin.startswith(("arith.", "math.")) or op.get("shape") is None:
            return False
        ins = self._tile_inputs(op)
        if not 1 <= len(ins) <= 2 or len(ins) != len(op["inputs"]) or not op.get("dst_layout"):
            return False
        return all(self.ops[i].get("shape") == op["shape"]
                   and self.ops[i].get("dst_layout") == op["dst_layout"] for i in ins)

    def _stored_value(self, op: dict[str, Any], ins: list[int]) -> int | None:
        """The input that is the stored data: the last one with the op's shape and layout."""
        layout, shape = op.get("src_layout"), op.get("shape")
        for want_layout in (True, False):
            for i in reversed(ins):
                src = self.ops[i]
                if src.get("shape") == shape and (not want_layout or src.get("dst_layout") == layout):
                    return i
        return ins[-1] if ins else None

    def _stages(self, op: dict[str, Any], buf: int) -> int:
        bshape, shape = self.ops[buf].get("shape") or [], op.get("shape") or []
        return int(bshape[0]) if len(bshape) == len(shape) + 1 and bshape else 1
