"""Reference interpreter of e-graph terms (eqsat.egraph.terms) in numpy: the oracle of the rule checks.

A `Tile` term evaluates to a `TileValue`: the layout it is held in (text and F2 map) and its
*distribution*, the value each hardware slot (register, lane, warp, block: the layout's in-dims,
flattened first-dim-least-significant as `LinearLayout.apply_all` orders them) holds. The logical tensor
(values by tensor coordinate, padded to powers of two; `valid_shape` says which are real) is read off the
distribution. So a convert that redistributes wrongly, a shared encoding that loses elements, or a gather
that reads the wrong place all change what some slot holds.

Semantics, by constructor (the environment `Env` gives the leaves: global memory of each load op, the
values of non-movement ops, the functions of elementwise ops, the contents of mutable buffers):

    load / indirect_load(op, L)      slot s holds mask[c] ? memory[address[c]] : other, c = L(s)
    value(op, L)                     the op's logical tensor distributed by L
    t.convert(src, dst)              redistribution: dst slot x takes src slot X(x),
                                     X = dst.invert_and_compose(src)
    t.via_shared(src, enc, dst)      src slots store to shared at enc's address of their coordinate; dst
                                     slots load from the address of theirs (collisions overwrite)
    gather / gather_shared           result[c] = src[c with c[axis] = idx[c]] (np.take_along_axis)
    gather_global(op, idx, axis)     result[c] = mask[c with c[axis] = 0] ? memory[address[c, axis<-idx[c]]]
                                     : other -- the lowering re-addresses the load at the gathered
                                     coordinates but keeps the mask of the output coordinates, with the
                                     gathered coordinate dropped (sound only when the mask ignores it)
    elementwise(op, a, L)            f_op applied slot by slot; a must already be in L
    guarded_load(op, L, ty, v, g)    the load as the hardware does it with v-element vectors: each run of
                                     v consecutive registers of a thread (they must hold consecutive
                                     coordinates along the last dim) is one access predicated by the
                                     mask of its first element, at an address that must be v-aligned and
                                     contiguous (else the term has no meaning: a misaligned vector)
    Sink.store(op, t)                global memory after the masked store of t at op's addresses (a 1-D
                                     tile of the whole memory); guarded_store(op, t, v, g) the same with
                                     t's registers stored in v-element vectors as guarded_load reads them
    Smem.alloc(op, t, enc)           t stored by slots at enc's addresses; buffer(op, enc) / staged(op, ...)
                                     the environment's tensor / the load's tile stored by coordinate
    s.local_load(L)                  slot x loads the address of L(x)

Terms come in as egglog expressions or their printed text (`str(expr)`), which is Python source: it is
evaluated with mirror classes that build `Term` trees, so the interpreter runs what egglog extracted.
Ill-formed terms (a convert whose input is in another layout, an out-of-range gather index, a shared
encoding without an address for some element) raise `InterpretError`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from eqsat.layout import GuardedLayout, LinearLayout
from eqsat.layout.shared import PaddedSharedLayout


class InterpretError(ValueError):
    """A term that has no meaning (layout mismatch, out-of-range index, unaddressable element)."""


# ------------------------------------------------------------------------------------------ terms
@dataclass(frozen=True)
class Term:
    """A node of a term: constructor name and arguments (Terms, ints, or strings for layouts/types)."""

    kind: str
    args: tuple[Any, ...]

    def convert(self, src: str, dst: str, ty: str) -> Term:
        return Term("convert", (self, src, dst, ty))

    def via_shared(self, src: str, enc: str, dst: str, ty: str) -> Term:
        return Term("via_shared", (self, src, enc, dst, ty))

    def local_load(self, layout: str, ty: str) -> Term:
        return Term("local_load", (self, layout, ty))


def _ctor(kind: str) -> classmethod:
    return classmethod(lambda cls, *args: Term(kind, tuple(args)))


class _Tile:
    value = _ctor("value")
    load = _ctor("load")
    indirect_load = _ctor("indirect_load")
    gather = _ctor("gather")
    gather_shared = _ctor("gather_shared")
    gather_global = _ctor("gather_global")
    guarded_load = _ctor("guarded_load")
    elementwise = _ctor("elementwise")
    elementwise2 = _ctor("elementwise2")


class _Sink:
    store = _ctor("store")
    guarded_store = _ctor("guarded_store")


class _Smem:
    alloc = _ctor("alloc")
    buffer = _ctor("buffer")
    staged = _ctor("staged")


_NAMESPACE: dict[str, Any] = {"Tile": _Tile, "Smem": _Smem, "Sink": _Sink, "Layout": str, "SharedEnc": str,
                              "String": str, "i64": int, "__builtins__": {}}


def parse_term(text: str) -> Term:
    """A Term from egglog's printed form of an expression (let-bound subterms allowed)."""
    scope = dict(_NAMESPACE)
    try:
        module = ast.parse(str(text).strip())
        *lets, last = module.body
        if not isinstance(last, ast.Expr):
            raise InterpretError("the last statement is not an expression")
        # egglog prints shared subterms as `_Tile_1 = ...` bindings before the expression
        exec(compile(ast.Module(body=lets, type_ignores=[]), "<term>", "exec"), scope)
        term = eval(compile(ast.Expression(body=last.value), "<term>", "eval"), scope)
    except Exception as e:  # noqa: BLE001 - any failure here is a term we cannot read
        raise InterpretError(f"cannot read term {text!r}: {e}") from e
    if not isinstance(term, Term):
        raise InterpretError(f"not a term: {text!r}")
    return term


# ------------------------------------------------------------------------------------------ types
DTYPES: dict[str, np.dtype] = {"f16": np.dtype(np.float16), "bf16": np.dtype(np.float32),
                               "f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
                               "i8": np.dtype(np.int8), "i16": np.dtype(np.int16), "i32": np.dtype(np.int32),
                               "i64": np.dtype(np.int64), "i1": np.dtype(np.bool_)}


def parse_ty(ty: str) -> tuple[tuple[int, ...], str]:
    """`"64x20xf16"` -> ((64, 20), "f16")."""
    parts = ty.split("x")
    try:
        shape = tuple(int(p) for p in parts[:-1])
    except ValueError as e:
        raise InterpretError(f"bad tile type {ty!r}") from e
    if parts[-1] not in DTYPES or not shape:
        raise InterpretError(f"bad tile type {ty!r}")
    return shape, parts[-1]


def ty_text(shape: tuple[int, ...] | list[int], dtype: str) -> str:
    return "x".join(str(int(s)) for s in shape) + "x" + dtype


@lru_cache(maxsize=4096)
def layout_for(text: str, shape: tuple[int, ...]) -> LinearLayout | GuardedLayout | PaddedSharedLayout:
    from eqsat.errors import EqsatError
    from eqsat.ir.layouts import layout_from_text

    try:
        return layout_from_text(text, shape)
    except (ValueError, KeyError, EqsatError) as e:
        raise InterpretError(f"no layout {text} on {shape}: {e}") from e


def _pow2_layout(text: str, shape: tuple[int, ...]) -> LinearLayout:
    ll = layout_for(text, shape)
    if isinstance(ll, GuardedLayout):
        return ll.layout
    if isinstance(ll, PaddedSharedLayout):
        raise InterpretError(f"{text} is a shared encoding, not a register layout")
    return ll


def padded(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 << max(0, (int(s) - 1).bit_length()) for s in shape)


@lru_cache(maxsize=4096)
def slot_coords(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """Tensor coordinate held by every slot of register layout `text` (rows: flattened in-dims)."""
    ll = _pow2_layout(text, shape)
    if "offset" in ll.in_dims:
        raise InterpretError(f"{text} is a shared encoding, not a register layout")
    if not ll.is_surjective():
        raise InterpretError(f"{text} does not hold every element of a {shape} tile")
    coords = ll.apply_all()
    coords.setflags(write=False)
    return coords


@lru_cache(maxsize=4096)
def shared_addresses(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """Element address in one buffer of every tensor coordinate (array of the padded shape), as the
    hardware computes it from the encoding: the inverse of offset -> coordinate."""
    ll = layout_for(text, shape)
    pshape = padded(shape)
    grid = np.indices(pshape).reshape(len(pshape), -1).T
    try:
        if isinstance(ll, PaddedSharedLayout):
            inv = ll._inverse
            logical = inv.apply_array({d: grid[:, k] for k, d in enumerate(inv.in_dims)})["offset"]
            addr = np.asarray(ll.padded_offset(logical))
        else:
            lin = ll.layout if isinstance(ll, GuardedLayout) else ll
            if "offset" not in lin.in_dims:
                raise InterpretError(f"{text} is not a shared encoding")
            sub = lin.sublayout(["offset"], list(lin.out_dims))
            inv = sub.pseudo_invert()
            back = sub.apply_array({"offset": inv.apply_array({d: grid[:, k] for k, d in
                                                                enumerate(inv.in_dims)})["offset"]})
            held = np.stack([back[d] for d in lin.out_dims], axis=1)
            if not np.array_equal(held, grid):
                bad = grid[np.flatnonzero((held != grid).any(axis=1))[0]]
                raise InterpretError(f"{text} gives no address to element {tuple(int(x) for x in bad)}")
            addr = inv.apply_array({d: grid[:, k] for k, d in enumerate(inv.in_dims)})["offset"]
    except ValueError as e:
        if isinstance(e, InterpretError):
            raise
        raise InterpretError(f"{text} has no address map on {shape}: {e}") from e
    out = np.asarray(addr, dtype=np.int64).reshape(pshape)
    out.setflags(write=False)
    return out


# ------------------------------------------------------------------------------------------ values
@dataclass
class TileValue:
    """A register tile: its layout and what each slot holds."""

    layout: str
    shape: tuple[int, ...]  # valid (logical) shape
    dtype: str
    dist: np.ndarray  # float64 value per slot

    @property
    def coords(self) -> np.ndarray:
        return slot_coords(self.layout, self.shape)

    def slot_valid(self) -> np.ndarray:
        c = self.coords
        ok = np.ones(c.shape[0], dtype=bool)
        for k, s in enumerate(self.shape):
            ok &= c[:, k] < s
        return ok

    def logical(self) -> np.ndarray:
        """The tensor (padded shape; NaN where no slot holds an element). Raises if two slots holding the
        same valid element disagree."""
        out = np.full(padded(self.shape), np.nan)
        c = self.coords
        idx = tuple(c.T)
        out[idx] = self.dist
        ok = self.slot_valid()
        again = out[idx]
        differ = ok & ~((again == self.dist) | (np.isnan(again) & np.isnan(self.dist)))
        if differ.any():
            k = int(np.flatnonzero(differ)[0])
            raise InterpretError(f"slots disagree on element {tuple(int(x) for x in c[k])} in {self.layout}")
        return out

    @staticmethod
    def from_logical(values: np.ndarray, layout: str, shape: tuple[int, ...], dtype: str) -> TileValue:
        full = np.full(padded(shape), np.nan)
        sl = tuple(slice(0, s) for s in values.shape)
        full[sl] = values
        c = slot_coords(layout, shape)
        return TileValue(layout, shape, dtype, full[tuple(c.T)])


@dataclass
class SmemValue:
    """A shared buffer: its encoding, the tensor shape, and the flat memory (NaN = never written)."""

    enc: str
    shape: tuple[int, ...]
    dtype: str
    memory: np.ndarray

    def read(self, coords: np.ndarray) -> np.ndarray:
        addr = shared_addresses(self.enc, self.shape)[tuple(coords.T)]
        return self.memory[addr]

    def logical(self) -> np.ndarray:
        grid = np.indices(padded(self.shape)).reshape(len(self.shape), -1).T
        return self.read(grid).reshape(padded(self.shape))


def _new_buffer(enc: str, shape: tuple[int, ...], dtype: str) -> SmemValue:
    size = int(shared_addresses(enc, shape).max()) + 1
    return SmemValue(enc, shape, dtype, np.full(size, np.nan))


def _store(buf: SmemValue, coords: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> None:
    ok = np.ones(coords.shape[0], dtype=bool)
    for k, s in enumerate(shape):
        ok &= coords[:, k] < s
    addr = shared_addresses(buf.enc, buf.shape)[tuple(coords[ok].T)]
    buf.memory[addr] = values[ok]


# ------------------------------------------------------------------------------------------ env
@dataclass
class GlobalAccess:
    """A global (or indirect) load: element address and mask per coordinate of its tile (padded shape)."""

    memory: np.ndarray
    address: np.ndarray
    mask: np.ndarray
    other: float = 0.0


@dataclass
class Env:
    loads: dict[int, GlobalAccess] = field(default_factory=dict)
    values: dict[int, tuple[np.ndarray, str]] = field(default_factory=dict)  # op -> (logical, ty)
    elementwise: dict[int, Callable[..., np.ndarray]] = field(default_factory=dict)
    buffers: dict[int, np.ndarray] = field(default_factory=dict)  # mutable local_alloc op -> logical


def _read_global(acc: GlobalAccess, address: np.ndarray, mask: np.ndarray) -> np.ndarray:
    safe = np.clip(address, 0, acc.memory.size - 1)
    inside = (address >= 0) & (address < acc.memory.size)
    if (mask & ~inside).any():
        raise InterpretError("unmasked global access out of bounds")
    return np.where(mask, acc.memory.reshape(-1)[safe].astype(np.float64), acc.other)


def _same_map(a: str, b: str, shape: tuple[int, ...]) -> bool:
    return a == b or np.array_equal(slot_coords(a, shape), slot_coords(b, shape))


def _expect_layout(t: TileValue, layout: str, what: str) -> None:
    if not _same_map(t.layout, layout, t.shape):
        raise InterpretError(f"{what}: input held in {t.layout}, term says {layout}")


def _gather_index(src_shape: tuple[int, ...], idx: TileValue, axis: int) -> np.ndarray:
    """Indices of a gather as ints (padded shape of idx), checked against the source extent."""
    raw = idx.logical()
    valid = np.zeros(raw.shape, dtype=bool)
    valid[tuple(slice(0, s) for s in idx.shape)] = True
    ints = np.where(valid, np.nan_to_num(raw), 0).astype(np.int64)
    if (valid & ((ints < 0) | (ints >= src_shape[axis]))).any():
        raise InterpretError(f"gather index out of range [0, {src_shape[axis]})")
    return ints


def _take(src: np.ndarray, ints: np.ndarray, axis: int) -> np.ndarray:
    """np.take_along_axis where the index tile's other dims may be padded differently from the source."""
    sl = [slice(0, min(a, b)) for a, b in zip(src.shape, ints.shape, strict=True)]
    sl[axis] = slice(None)
    pad = np.zeros(tuple(ints.shape[k] if k != axis else src.shape[k] for k in range(src.ndim)))
    pad_sl = list(sl)
    pad[tuple(pad_sl)] = src[tuple(sl)]
    return np.take_along_axis(pad, ints, axis)


class Interpreter:
    """Evaluates Terms in one environment (memoised per term)."""

    def __init__(self, env: Env):
        self.env = env
        self._memo: dict[Term, Any] = {}

    def __call__(self, term: Term | str | Any) -> TileValue | SmemValue:
        if not isinstance(term, Term):
            term = parse_term(str(term))
        if term not in self._memo:
            self._memo[term] = getattr(self, "_" + term.kind)(*term.args)
        return self._memo[term]

    # ---- tiles
    def _access(self, op: int, layout: str, ty: str) -> TileValue:
        shape, dtype = parse_ty(ty)
        if op not in self.env.loads:
            raise InterpretError(f"no global access for op {op}")
        acc = self.env.loads[op]
        vals = _read_global(acc, acc.address, acc.mask)
        return TileValue.from_logical(vals, layout, shape, dtype)

    def _load(self, op: int, layout: str, ty: str) -> TileValue:
        return self._access(op, layout, ty)

    def _indirect_load(self, op: int, layout: str, ty: str) -> TileValue:
        return self._access(op, layout, ty)

    def _value(self, op: int, layout: str) -> TileValue:
        if op not in self.env.values:
            raise InterpretError(f"no value for op {op}")
        vals, ty = self.env.values[op]
        shape, dtype = parse_ty(ty)
        return TileValue.from_logical(vals, layout, shape, dtype)

    def _convert(self, t: Term, src: str, dst: str, ty: str) -> TileValue:
        val = self(t)
        assert isinstance(val, TileValue)
        _expect_layout(val, src, "convert")
        shape, dtype = parse_ty(ty)
        a = _pow2_layout(src, shape)
        b = _pow2_layout(dst, shape)
        try:
            x = b.invert_and_compose(a)  # dst slot -> src slot holding the same element
        except ValueError as e:
            raise InterpretError(f"convert {src} -> {dst}: {e}") from e
        src_slot = x.apply_all_flat()
        # in-dims are flattened in the same order on both sides (register, lane, warp, block)
        return TileValue(dst, shape, dtype, val.dist[src_slot])

    def _via_shared(self, t: Term, src: str, enc: str, dst: str, ty: str) -> TileValue:
        val = self(t)
        assert isinstance(val, TileValue)
        _expect_layout(val, src, "via_shared")
        shape, dtype = parse_ty(ty)
        buf = _new_buffer(enc, shape, dtype)
        _store(buf, val.coords, val.dist, shape)
        return TileValue(dst, shape, dtype, buf.read(slot_coords(dst, shape)))

    def _gather_common(self, src_val: np.ndarray, src_shape: tuple[int, ...], idx: Term, axis: int,
                       layout: str, ty: str) -> TileValue:
        iv = self(idx)
        assert isinstance(iv, TileValue)
        shape, dtype = parse_ty(ty)
        ints = _gather_index(src_shape, iv, axis)
        return TileValue.from_logical(_take(src_val, ints, axis), layout, shape, dtype)

    def _gather(self, src: Term, idx: Term, axis: int, layout: str, ty: str) -> TileValue:
        sv = self(src)
        assert isinstance(sv, TileValue)
        return self._gather_common(sv.logical(), sv.shape, idx, axis, layout, ty)

    def _gather_shared(self, src: Term, idx: Term, axis: int, layout: str, ty: str) -> TileValue:
        return self._gather(src, idx, axis, layout, ty)

    def _gather_global(self, op: int, idx: Term, axis: int, layout: str, ty: str) -> TileValue:
        if op not in self.env.loads:
            raise InterpretError(f"no global access for op {op}")
        acc = self.env.loads[op]
        iv = self(idx)
        assert isinstance(iv, TileValue)
        shape, dtype = parse_ty(ty)
        ints = _gather_index(acc.address.shape, iv, axis)
        address = _take(acc.address.astype(np.float64), ints, axis).astype(np.int64)
        # the mask of the output coordinate with the gathered coordinate dropped (see the docstring)
        mask0 = np.take(acc.mask, [0], axis=axis)
        mask = _broadcast_like(mask0, ints.shape, axis)
        return TileValue.from_logical(_read_global(acc, address, mask), layout, shape, dtype)

    def _elementwise(self, op: int, a: Term, layout: str, ty: str) -> TileValue:
        return self._map(op, [a], layout, ty)

    # ---- vector accesses (guarded versions) and stores
    def _vector_runs(self, acc: GlobalAccess, layout: str, shape: tuple[int, ...], vec: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Slot coordinates and, per slot, the mask of its vector (the mask of the run's first slot);
        raises InterpretError when a run is not v consecutive, v-aligned, contiguous addresses."""
        coords = slot_coords(layout, shape)
        vec = max(1, int(vec))
        if coords.shape[0] % vec:
            raise InterpretError(f"{coords.shape[0]} slots do not split into {vec}-element vectors")
        runs = coords.reshape(-1, vec, coords.shape[1])
        last = runs[:, :, -1]
        if vec > 1 and ((last - last[:, :1]) != np.arange(vec)).any() or \
                vec > 1 and (runs[:, :, :-1] != runs[:, :1, :-1]).any():
            raise InterpretError(f"{layout} holds no {vec}-register runs along the last dim")
        addr = acc.address[tuple(runs.reshape(-1, coords.shape[1]).T)].reshape(-1, vec)
        first_mask = acc.mask[tuple(runs[:, 0, :].T)]
        live = first_mask & (acc.mask.size > 0)
        bad_align = live & (addr[:, 0] % vec != 0)
        bad_contig = live & ((addr - addr[:, :1]) != np.arange(vec)).any(axis=1)
        if bad_align.any() or bad_contig.any():
            k = int(np.flatnonzero(bad_align | bad_contig)[0])
            why = "misaligned" if bad_align[k] else "non-contiguous"
            raise InterpretError(f"{why} {vec}-element vector at address {int(addr[k, 0])}")
        return coords, np.repeat(first_mask, vec)

    def _guarded_load(self, op: int, layout: str, ty: str, vec: int, guard: str) -> TileValue:
        shape, dtype = parse_ty(ty)
        if op not in self.env.loads:
            raise InterpretError(f"no global access for op {op}")
        acc = self.env.loads[op]
        coords, mask = self._vector_runs(acc, layout, shape, vec)
        address = acc.address[tuple(coords.T)]
        return TileValue(layout, shape, dtype, _read_global(acc, address, mask))

    def _written(self, op: int, t: Term, vec: int | None) -> TileValue:
        if op not in self.env.loads:
            raise InterpretError(f"no global access for store op {op}")
        acc = self.env.loads[op]
        val = self(t)
        assert isinstance(val, TileValue)
        if vec is None:
            coords = val.coords
            mask = acc.mask[tuple(coords.T)]
        else:
            coords, mask = self._vector_runs(acc, val.layout, val.shape, vec)
        address = acc.address[tuple(coords.T)]
        if (mask & ((address < 0) | (address >= acc.memory.size))).any():
            raise InterpretError("unmasked global store out of bounds")
        memory = acc.memory.reshape(-1).astype(np.float64).copy()
        memory[address[mask]] = val.dist[mask]
        flat = "#ttg.blocked<{sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]}>"
        return TileValue.from_logical(memory, flat, (memory.size,), val.dtype)

    def _store(self, op: int, t: Term) -> TileValue:
        return self._written(op, t, None)

    def _guarded_store(self, op: int, t: Term, vec: int, guard: str) -> TileValue:
        return self._written(op, t, vec)

    def _elementwise2(self, op: int, a: Term, b: Term, layout: str, ty: str) -> TileValue:
        return self._map(op, [a, b], layout, ty)

    def _map(self, op: int, args: list[Term], layout: str, ty: str) -> TileValue:
        if op not in self.env.elementwise:
            raise InterpretError(f"no function for elementwise op {op}")
        shape, dtype = parse_ty(ty)
        vals = []
        for a in args:
            v = self(a)
            assert isinstance(v, TileValue)
            _expect_layout(v, layout, f"elementwise op {op}")
            vals.append(v.dist)
        return TileValue(layout, shape, dtype, np.asarray(self.env.elementwise[op](*vals), dtype=np.float64))

    def _local_load(self, s: Term, layout: str, ty: str) -> TileValue:
        buf = self(s)
        assert isinstance(buf, SmemValue)
        shape, dtype = parse_ty(ty)
        if shape != buf.shape:
            raise InterpretError(f"local_load of {ty} from a {buf.shape} buffer")
        return TileValue(layout, shape, dtype, buf.read(slot_coords(layout, shape)))

    # ---- shared buffers
    def _alloc(self, op: int, t: Term, enc: str) -> SmemValue:
        val = self(t)
        assert isinstance(val, TileValue)
        buf = _new_buffer(enc, val.shape, val.dtype)
        _store(buf, val.coords, val.dist, val.shape)
        return buf

    def _by_coordinate(self, logical: np.ndarray, enc: str, shape: tuple[int, ...], dtype: str) -> SmemValue:
        buf = _new_buffer(enc, shape, dtype)
        grid = np.indices(shape).reshape(len(shape), -1).T
        _store(buf, grid, logical[tuple(grid.T)], shape)
        return buf

    def _buffer(self, op: int, enc: str) -> SmemValue:
        if op not in self.env.buffers or op not in self.env.values:
            raise InterpretError(f"no contents for buffer {op}")
        _, ty = self.env.values[op]
        shape, dtype = parse_ty(ty)
        return self._by_coordinate(self.env.buffers[op], enc, shape, dtype)

    def _staged(self, op: int, buf: int, enc: str, mode: str, stages: int) -> SmemValue:
        if op not in self.env.loads or op not in self.env.values:
            raise InterpretError(f"no global access for staged load {op}")
        acc = self.env.loads[op]
        _, ty = self.env.values[op]
        shape, dtype = parse_ty(ty)
        vals = _read_global(acc, acc.address, acc.mask)
        del buf, mode, stages
        return self._by_coordinate(vals, enc, shape, dtype)


def _broadcast_like(mask0: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Mask slice (extent 1 along `axis`) broadcast to `shape` (other dims cropped/padded with False)."""
    out = np.zeros(shape, dtype=bool)
    sl = tuple(slice(0, min(a, b)) if k != axis else slice(None)
               for k, (a, b) in enumerate(zip(mask0.shape, shape, strict=True)))
    out_sl = tuple(s if k != axis else slice(None) for k, s in enumerate(sl))
    src_sl = tuple(s if k != axis else slice(0, 1) for k, s in enumerate(sl))
    out[out_sl] = mask0[src_sl]
    return out


# ------------------------------------------------------------------------------------------ compare
def difference(a: TileValue | SmemValue, b: TileValue | SmemValue) -> str | None:
    """None when a and b are the same value (same elements; for tiles also the same layout as an F2 map
    and the same distribution on every slot holding a real element), else a one-line description."""
    if type(a) is not type(b):
        return f"a {type(a).__name__} vs a {type(b).__name__}"
    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    sl = tuple(slice(0, s) for s in a.shape)
    if isinstance(a, TileValue) and isinstance(b, TileValue):
        if not _same_map(a.layout, b.layout, a.shape):
            return f"layouts differ: {a.layout} vs {b.layout}"
    la, lb = a.logical()[sl], b.logical()[sl]
    same = (la == lb) | (np.isnan(la) & np.isnan(lb))
    if not same.all():
        k = tuple(int(x) for x in np.argwhere(~same)[0])
        return f"element {k}: {la[k]!r} vs {lb[k]!r}"
    if isinstance(a, TileValue) and isinstance(b, TileValue):
        ok = a.slot_valid()
        da, db = a.dist[ok], b.dist[ok]
        same = (da == db) | (np.isnan(da) & np.isnan(db))
        if not same.all():
            k = int(np.flatnonzero(ok)[np.flatnonzero(~same)[0]])
            return f"slot {k} holds {a.dist[k]!r} vs {b.dist[k]!r}"
    return None
