"""Shared-memory encodings as linear layouts: ``offset[, block] -> dim0..dimN-1``.

``offset`` is the element index inside one CTA's allocation; the layout says which tensor element
lives there.  Builders follow Triton 3.6 (``swizzledSharedToLinearLayout``,
``nvmmaSharedToLinearLayout``, ``sharedToLinearLayoutAMDRotating``, ``SharedLinearEncodingAttr``,
``PaddedSharedEncodingAttr``); parameters are named as TTGIR prints them, in snake_case:

- ``swizzled_shared``      ``#ttg.swizzled_shared<{vec, perPhase, maxPhase, order}>``
- ``nvmma_shared``         ``#ttg.nvmma_shared<{swizzlingByteWidth, transposed, elementBitWidth}>``
- ``amd_rotating_shared``  ``#ttg.amd_rotating_shared<{vec, perPhase, maxPhase, order}>``
- ``shared_linear``        ``#ttg.shared_linear<{offset = [...]}, alignment = ...>``
- ``padded_shared``        ``#ttg.padded_shared<[interval:+pad, ...] {order, shape}>`` -- not linear:
  a linear remapping plus padding, see ``PaddedSharedLayout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .linear import LinearLayout, log2
from .shape import (
    CTALayoutLike,
    check_shape,
    combine_cta_cga_with_shape,
    ensure_not_smaller,
    shape_per_cta,
    standard_out_dims,
)

OFFSET, BLOCK = "offset", "block"


def _swizzled_2d(vec: int, per_phase: int, max_phase: int, order: Sequence[int], shape: Sequence[int],
                 rotating: bool) -> LinearLayout:
    rank = len(shape)
    names = standard_out_dims(rank)
    if rank == 1:
        return LinearLayout.identity_1d(int(shape[0]), OFFSET, "dim0")
    col_dim, row_dim = order[0], order[1]
    n_cols, n_rows = int(shape[col_dim]), int(shape[row_dim])
    bases: list[tuple[int, int]] = []
    col = 1
    while col < n_cols:
        bases.append((0, col))
        col *= 2
    row = 1
    while row < n_rows:
        phase = (row // per_phase) % max_phase
        if rotating:
            phase ^= (row // max_phase // per_phase) % max_phase
        bases.append((row, (vec * phase) % n_cols))
        row *= 2
    ll = LinearLayout({OFFSET: bases}, [names[row_dim], names[col_dim]])
    for d in order[2:]:
        ll = ll * LinearLayout.identity_1d(int(shape[d]), OFFSET, names[d])
    return ll


def swizzled_shared(vec: int, per_phase: int, max_phase: int, order: Sequence[int],
                    cta_layout: CTALayoutLike = None, *, shape: Sequence[int]) -> LinearLayout:
    """``#ttg.swizzled_shared``: rows of the two most-minor dims (``order[0]`` = columns) are
    stored contiguously, column groups of ``vec`` XOR-ed with the phase ``(row/perPhase) %
    maxPhase``; outer dims are stacked in ``order``."""
    shape = check_shape(shape)
    cta = _swizzled_2d(vec, per_phase, max_phase, order, shape_per_cta(cta_layout, shape), rotating=False)
    return combine_cta_cga_with_shape(cta, cta_layout, shape)


def amd_rotating_shared(vec: int, per_phase: int, max_phase: int, order: Sequence[int],
                        cta_layout: CTALayoutLike = None, *, shape: Sequence[int]) -> LinearLayout:
    """``#ttg.amd_rotating_shared``: like ``swizzled_shared`` but the phase is also XOR-ed with the
    block number ``(row/perPhase/maxPhase) % maxPhase`` so that consecutive row blocks rotate."""
    shape = check_shape(shape)
    cta = _swizzled_2d(vec, per_phase, max_phase, order, shape, rotating=True)
    return combine_cta_cga_with_shape(cta, cta_layout, shape)


def nvmma_swizzle_params(swizzling_byte_width: int, element_bit_width: int) -> tuple[int, int, int]:
    """``(vec, perPhase, maxPhase)`` of an NVMMA swizzle (16-byte vectors XOR-ed by row)."""
    if swizzling_byte_width == 0:
        return 1, 1, 1
    return 128 // element_bit_width, 128 // swizzling_byte_width, swizzling_byte_width // 16


def tma_block_shape(shape: Sequence[int], element_bit_width: int, swizzling_byte_width: int,
                    fp4_padded: bool, transposed: bool, packed_size: bool = True) -> list[int]:
    """Triton's ``getTMABlockShape``: each dim capped at 256, the contiguous dim cut to one
    swizzle row."""
    block = [int(s) for s in shape]
    contig = 0 if transposed else len(block) - 1
    if fp4_padded:
        block[contig] *= 2
    block = [min(s, 256) for s in block]
    if swizzling_byte_width:
        width = 8 * swizzling_byte_width // element_bit_width
        if block[contig] < width:
            raise ValueError(f"nvmma_shared: contiguous extent {block[contig]} < swizzle width {width}")
        block[contig] = width
    if fp4_padded and packed_size:
        block[contig] //= 2
    return block


def _nvmma_core(swizzling_byte_width: int, element_bit_width: int, fp4_padded: bool) -> LinearLayout:
    vec, per_phase, max_phase = nvmma_swizzle_params(swizzling_byte_width, element_bit_width)
    tile_rows = 8
    tile_cols = 8 * max(16, swizzling_byte_width) // element_bit_width
    bases: list[tuple[int, int]] = []
    col = 1
    while col < tile_cols:
        bases.append((0, col // 16 * 8 + col % 8) if fp4_padded else (0, col))
        col *= 2
    row = 1
    while row < tile_rows:
        c = vec * ((row // per_phase) % max_phase)
        bases.append((row, c // 16 * 8 + c % 8) if fp4_padded else (row, c))
        row *= 2
    return LinearLayout({OFFSET: bases}, ["dim0", "dim1"])


def reshape_row_major(ll: LinearLayout, shape: Sequence[int]) -> LinearLayout:
    """Triton's ``reshapeLayout``: reinterpret the out space as ``shape``, last dim minor."""
    rank = len(shape)
    src = list(ll.out_dims)[::-1]
    new = list(zip(standard_out_dims(rank), (int(s) for s in shape), strict=True))[::-1]
    return ll.transpose_outs(src).reshape_outs(new).transpose_outs(standard_out_dims(rank))


def permute_outs(ll: LinearLayout, order: Sequence[int]) -> LinearLayout:
    """Triton's ``transposeLinearLayout``: new out-dim ``k`` takes old component ``order[k]``
    (names stay ``dim0..``, sizes re-inferred)."""
    bases = {n: [tuple(b[i] for i in order) for b in bs] for n, bs in ll.bases.items()}
    return LinearLayout(bases, list(ll.out_dims))


def nvmma_shared(swizzling_byte_width: int, transposed: bool, element_bit_width: int,
                 cta_layout: CTALayoutLike = None, *, shape: Sequence[int],
                 fp4_padded: bool = False) -> LinearLayout:
    """``#ttg.nvmma_shared``: the wgmma/TMA layout.  The tensor is cut into column chunks one
    swizzle row wide (``swizzlingByteWidth`` bytes); each chunk is stored as 8-row core matrices
    whose 16-byte vectors are XOR-swizzled by row.  ``transposed`` makes dim0 the contiguous dim."""
    shape = check_shape(shape)
    rank = len(shape)
    spc = shape_per_cta(cta_layout, shape)
    tma = tma_block_shape(spc, element_bit_width, swizzling_byte_width, fp4_padded, transposed)
    names = standard_out_dims(rank)
    if swizzling_byte_width == 0:
        ll = LinearLayout.identity_1d(tma[rank - 1], OFFSET, names[rank - 1])
        for i in range(rank - 2, -1, -1):
            ll = ll * LinearLayout.identity_1d(tma[i], OFFSET, names[i])
        ll = ensure_not_smaller(ll, dict(zip(names, spc, strict=True)))
        return combine_cta_cga_with_shape(ll, cta_layout, shape)
    if rank < 2:
        raise ValueError("nvmma_shared with swizzling needs rank >= 2")
    collapsed = [1, tma[-1]]
    for s in tma[:-1]:
        collapsed[0] *= s
    if transposed:
        collapsed.reverse()
    tile = _nvmma_core(swizzling_byte_width, element_bit_width, fp4_padded)
    packing = 2 if fp4_padded else 1
    if collapsed[1] * packing < tile.get_out_dim_size("dim1") or collapsed[0] < tile.get_out_dim_size("dim0"):
        raise ValueError(f"nvmma_shared: shape per CTA {spc} smaller than one core matrix")
    ll = ensure_not_smaller(tile, {"dim0": collapsed[0], "dim1": collapsed[1]})
    pre = list(tma)
    if transposed:
        pre = pre[1:] + pre[:1]
    ll = reshape_row_major(ll, pre)
    if transposed:
        ll = permute_outs(ll, [rank - 1] + list(range(rank - 1)))
    ll = ensure_not_smaller(ll, dict(zip(names, spc, strict=True)))
    return combine_cta_cga_with_shape(ll, cta_layout, shape)


def shared_linear(offset: Sequence[Sequence[int]], block: Sequence[Sequence[int]] = (), *,
                  shape: Sequence[int]) -> LinearLayout:
    """``#ttg.shared_linear``: explicit ``offset`` (and ``block``) bases over ``shape``."""
    shape = check_shape(shape)
    names = standard_out_dims(len(shape))
    return LinearLayout({OFFSET: offset, BLOCK: block}, list(zip(names, shape, strict=True)))


@dataclass(frozen=True)
class PaddedSharedLayout:
    """``#ttg.padded_shared``: a linear remapping ``linear`` (logical offset -> tensor index)
    followed by padding: after every ``interval`` logical elements, ``pad`` unused elements are
    inserted (pairs add up).  So the physical offset of logical offset ``o`` is
    ``o + sum_i (o // interval_i) * pad_i``."""

    linear: LinearLayout
    intervals_pads: tuple[tuple[int, int], ...]

    def padded_offset(self, logical: int | np.ndarray) -> int | np.ndarray:
        """Physical (padded) offset of a logical offset; vectorised over arrays."""
        o = np.asarray(logical, dtype=np.int64)
        ret = o.copy()
        for interval, pad in self.intervals_pads:
            ret = ret + ((o >> log2(interval)) << log2(pad))
        return int(ret) if np.ndim(ret) == 0 else ret

    def offset_of(self, index: Sequence[int]) -> int:
        """Physical offset of tensor element ``index`` (a tuple, one entry per dim)."""
        inv = self._inverse
        logical = inv.apply(dict(zip(self.linear.out_dims, (int(i) for i in index), strict=True)))[OFFSET]
        return int(self.padded_offset(logical))

    @property
    def _inverse(self) -> LinearLayout:
        return self.linear.sublayout([OFFSET], list(self.linear.out_dims)).pseudo_invert()

    def offsets_all(self) -> np.ndarray:
        """Physical offset of every logical offset ``0 .. size-1``."""
        n = self.linear.get_in_dim_size(OFFSET)
        return np.asarray(self.padded_offset(np.arange(n)))

    def alloc_elements(self) -> int:
        """Elements the allocation spans, padding included."""
        n = self.linear.get_in_dim_size(OFFSET)
        return int(self.padded_offset(n - 1)) + 1


def padded_shared(intervals_pads: Sequence[Sequence[int]], order: Sequence[int] | None = None,
                  cta_layout: CTALayoutLike = None, *, shape: Sequence[int],
                  offset_bases: Sequence[Sequence[int]] | None = None) -> PaddedSharedLayout:
    """``#ttg.padded_shared``.  The linear part is ``offset_bases`` if given, else the identity
    walking dims in ``order`` (Gluon's ``PaddedSharedLayout.with_identity_for``)."""
    shape = check_shape(shape)
    rank = len(shape)
    pairs = tuple((int(i), int(p)) for i, p in intervals_pads)
    if not pairs or len({i for i, _ in pairs}) != len(pairs):
        raise ValueError(f"padded_shared: bad interval/padding pairs {pairs}")
    for i, p in pairs:
        log2(i)
        log2(p)
    if offset_bases is None:
        if order is None:
            raise ValueError("padded_shared needs order or offset_bases")
        offset_bases = []
        for d in order:
            for k in range(log2(shape[d])):
                offset_bases.append(tuple((1 << k) if j == d else 0 for j in range(rank)))
    names = standard_out_dims(rank)
    ll = LinearLayout({OFFSET: offset_bases}, list(zip(names, shape, strict=True)))
    if cta_layout is not None:
        ll = combine_cta_cga_with_shape(ll, cta_layout, shape)
    else:
        ll = ll * LinearLayout({BLOCK: []}, [])
    return PaddedSharedLayout(ll, pairs)
