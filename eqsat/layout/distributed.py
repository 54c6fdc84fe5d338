"""Register ("distributed") encodings as linear layouts: ``register, lane, warp, block -> dim0..``.

One builder per TTGIR encoding, parameters named as Triton prints them (snake_case), each following
Triton 3.6's ``toLinearLayout`` (lib/Dialect/TritonGPU/IR/LinearLayoutConversions.cpp):

- ``blocked``      ``#ttg.blocked<{sizePerThread, threadsPerWarp, warpsPerCTA, order}>``
- ``slice``        ``#ttg.slice<{dim, parent}>``
- ``linear``       ``#ttg.linear<{register, lane, warp, block}>``
- ``nvidia_mma``   ``#ttg.nvidia_mma<{versionMajor, versionMinor, warpsPerCTA, instrShape}>``
- ``amd_mfma``     ``#ttg.amd_mfma<{version, warpsPerCTA, instrShape, isTransposed, tilesPerWarp}>``
- ``dot_operand``  ``#ttg.dot_op<{opIdx, parent, kWidth}>`` (NVIDIA mma v2/v3 and AMD mfma parents)

Every builder takes a power-of-two ``shape``; ``guard.build`` handles other shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .linear import LinearLayout
from .shape import (
    CTALayoutLike,
    check_shape,
    combine_cta_cga_with_shape,
    dot_operand_order,
    identity_standard_nd,
    matrix_order,
    standard_out_dims,
)

REG, LANE, WARP, BLOCK = "register", "lane", "warp", "block"


def blocked(
    size_per_thread: Sequence[int],
    threads_per_warp: Sequence[int],
    warps_per_cta: Sequence[int],
    order: Sequence[int],
    cta_layout: CTALayoutLike = None,
    *,
    shape: Sequence[int],
) -> LinearLayout:
    """``#ttg.blocked``: registers, then lanes, then warps tile the dims minor-to-major (``order``)."""
    shape = check_shape(shape)
    cta = (
        identity_standard_nd(REG, size_per_thread, order)
        * identity_standard_nd(LANE, threads_per_warp, order)
        * identity_standard_nd(WARP, warps_per_cta, order)
    )
    return combine_cta_cga_with_shape(cta, cta_layout, shape)


ParentLike = LinearLayout | Callable[[tuple[int, ...]], LinearLayout]


def slice(dim: int, parent: ParentLike, shape: Sequence[int]) -> LinearLayout:  # noqa: A001
    """``#ttg.slice``: the parent layout built for ``shape`` with a size-1 ``dim`` inserted, with
    that out-dim dropped and the register bases that became zero removed.

    ``parent`` is a callable ``parent_shape -> LinearLayout`` (e.g. ``functools.partial(blocked,
    ...)`` taking ``shape=``) or a layout already built for the parent shape.
    """
    shape = check_shape(shape)
    parent_shape = shape[:dim] + (1,) + shape[dim:]
    if isinstance(parent, LinearLayout):
        pll = parent
    else:
        try:
            pll = parent(parent_shape)
        except TypeError:
            pll = parent(shape=parent_shape)  # type: ignore[call-arg]
    rank = len(parent_shape)
    names = standard_out_dims(rank)
    new_names = standard_out_dims(rank - 1)
    transform = LinearLayout.empty()
    for d in pll.out_dims:
        i = names.index(d)
        size = pll.get_out_dim_size(d)
        if i == dim:
            transform = transform * LinearLayout.zeros_1d(size, d, new_names[0] if new_names else "dim0")
        else:
            transform = transform * LinearLayout.identity_1d(size, d, new_names[i - (0 if i < dim else 1)])
    sl = pll.compose(transform)
    bases = sl.bases
    if REG in bases:
        bases[REG] = [b for b in bases[REG] if any(b)]
    out = LinearLayout(bases, [(d, sl.get_out_dim_size(d)) for d in sl.out_dims])
    if list(out.out_dims) != new_names:
        out = out.transpose_outs(new_names)
    return out


def linear(
    register: Sequence[Sequence[int]],
    lane: Sequence[Sequence[int]],
    warp: Sequence[Sequence[int]],
    block: Sequence[Sequence[int]] = (),
    *,
    shape: Sequence[int],
) -> LinearLayout:
    """``#ttg.linear``: explicit bases; out-dim sizes are ``shape``."""
    shape = check_shape(shape)
    names = standard_out_dims(len(shape))
    return LinearLayout(
        {REG: register, LANE: lane, WARP: warp, BLOCK: block}, list(zip(names, shape, strict=True))
    )


# ---------------------------------------------------------------------- NVIDIA mma


def _nvidia_mma_tile(tile_shape: Sequence[int], k_width: int, order: Sequence[int],
                     rep_order: Sequence[int]) -> LinearLayout:
    """One mma fragment: kWidth registers and 4 lanes along ``order[0]``, 8 lanes along
    ``order[1]``, then registers repeat the 8x(4*kWidth) core over the tile."""
    rank = len(rep_order)
    names = standard_out_dims(rank)
    ret = identity_standard_nd(REG, [1] * rank, rep_order)
    inner, outer = order[0], order[1]
    m, n = tile_shape[outer], tile_shape[inner]
    ret = (
        ret
        * LinearLayout.identity_1d(k_width, REG, names[inner])
        * LinearLayout.identity_1d(4, LANE, names[inner])
        * LinearLayout.identity_1d(8, LANE, names[outer])
        * LinearLayout.identity_1d(m // 8, REG, names[outer])
        * LinearLayout.identity_1d(n // (k_width * 4), REG, names[inner])
    )
    return ret


def _broadcasted_dot_operand(
    shape: Sequence[int], order: Sequence[int], k_dim: int, in_dim: str
) -> LinearLayout:
    """Warps (or lanes) of a dot operand: identity on the non-K dims, broadcast along K."""
    names = standard_out_dims(len(shape))
    ret = LinearLayout.empty()
    for d in order:
        if d == k_dim:
            ret = ret * LinearLayout.zeros_1d(int(shape[d]), in_dim, names[d])
        else:
            ret = ret * LinearLayout.identity_1d(int(shape[d]), in_dim, names[d])
    return ret


@dataclass(frozen=True)
class NvidiaMmaParams:
    """``#ttg.nvidia_mma`` fields (a dot-operand parent)."""

    version_major: int
    version_minor: int
    warps_per_cta: tuple[int, ...]
    instr_shape: tuple[int, ...]
    cta_layout: CTALayoutLike = None


@dataclass(frozen=True)
class AmdMfmaParams:
    """``#ttg.amd_mfma`` fields (a dot-operand parent)."""

    version: int
    warps_per_cta: tuple[int, ...]
    instr_shape: tuple[int, ...]
    is_transposed: bool
    tiles_per_warp: tuple[int, ...] | None = None
    element_bitwidth: int | None = None
    cta_layout: CTALayoutLike = None


def nvidia_mma(
    version_major: int,
    version_minor: int,
    warps_per_cta: Sequence[int],
    instr_shape: Sequence[int],
    cta_layout: CTALayoutLike = None,
    *,
    shape: Sequence[int],
) -> LinearLayout:
    """``#ttg.nvidia_mma`` accumulator layout, v2 (Ampere, instrShape ``[16, 8]``) or v3 (Hopper,
    instrShape ``[16, N, 16]``; warps column-major)."""
    shape = check_shape(shape)
    rank = len(shape)
    if version_major == 2:
        tile = list(instr_shape)
        if len(tile) < rank:
            tile = [1] * (rank - len(tile)) + tile
    elif version_major == 3:
        tile = [int(instr_shape[0]), int(instr_shape[1])]
    else:
        raise ValueError(f"nvidia_mma version {version_major} not supported")
    order = matrix_order(rank, True)
    cta = _nvidia_mma_tile(tile, 2, order, matrix_order(rank, True))
    warp_order = matrix_order(rank, row_major=version_major != 3)
    cta = cta * identity_standard_nd(WARP, warps_per_cta, warp_order).transpose_outs(list(cta.out_dims))
    return combine_cta_cga_with_shape(cta, cta_layout, shape)


def amd_mfma(
    version: int,
    warps_per_cta: Sequence[int],
    instr_shape: Sequence[int],
    is_transposed: bool,
    cta_layout: CTALayoutLike = None,
    *,
    shape: Sequence[int],
    tiles_per_warp: Sequence[int] | None = None,
    element_bitwidth: int | None = None,
) -> LinearLayout:
    """``#ttg.amd_mfma`` accumulator layout (wave64)."""
    del version  # the layout does not depend on the CDNA generation
    shape = check_shape(shape)
    rank = len(shape)
    has_batch = rank == 3
    m_index, n_index = int(has_batch), 1 + int(has_batch)
    names = standard_out_dims(rank)
    order = matrix_order(rank, True)
    dim_m, dim_n = names[order[1]], names[order[0]]
    m_dim, n_dim = int(instr_shape[0]), int(instr_shape[1])
    bits = 32 if element_bitwidth is None else element_bitwidth
    height = 1 if bits == 64 else 4
    warp_size = 64
    tpw = list(tiles_per_warp) if tiles_per_warp else [1] * rank
    tiles = (m_dim * n_dim) // (warp_size * height)
    if not is_transposed:
        tile = LinearLayout.identity_1d(height, REG, dim_m) * (
            LinearLayout.identity_1d(n_dim, LANE, dim_n)
            * LinearLayout.identity_1d(warp_size // n_dim, LANE, dim_m)
        )
        if tiles > 0:
            tile = tile * LinearLayout.identity_1d(tiles, REG, dim_m)
    else:
        tile = LinearLayout.identity_1d(height, REG, dim_n) * (
            LinearLayout.identity_1d(m_dim, LANE, dim_m)
            * LinearLayout.identity_1d(warp_size // m_dim, LANE, dim_n)
        )
        if tiles > 0:
            tile = tile * LinearLayout.identity_1d(tiles, REG, dim_n)
    tile = tile.transpose_outs([dim_n, dim_m])
    wm, wn = int(warps_per_cta[m_index]), int(warps_per_cta[n_index])
    tm, tn = tpw[m_index], tpw[n_index]
    tile = tile * LinearLayout.identity_1d(tn, REG, dim_n)
    tile = tile * LinearLayout.identity_1d(wn, WARP, dim_n)
    rep_n = shape[n_index] // (n_dim * wn * tn)
    tile = tile * LinearLayout.identity_1d(max(rep_n, 1), REG, dim_n)
    tile = tile * LinearLayout.identity_1d(tm, REG, dim_m)
    tile = tile * LinearLayout.identity_1d(wm, WARP, dim_m)
    if has_batch:
        b = names[order[2]]
        tile = tile * LinearLayout.identity_1d(1, REG, b) * LinearLayout.identity_1d(1, LANE, b)
        tile = tile * LinearLayout.identity_1d(int(warps_per_cta[0]), WARP, b)
    return combine_cta_cga_with_shape(tile, cta_layout, shape)


def _mfma_dot(op_idx: int, p: AmdMfmaParams, k_width: int, shape: tuple[int, ...]) -> LinearLayout:
    rank = len(shape)
    has_batch = rank == 3
    non_k_index = rank - 2 if op_idx == 0 else rank - 1
    k_index = rank - 1 if op_idx == 0 else rank - 2
    tpw = list(p.tiles_per_warp) if p.tiles_per_warp else [1] * rank
    m_dim, n_dim = int(p.instr_shape[0]), int(p.instr_shape[1])
    non_k_dim = m_dim if op_idx == 0 else n_dim
    warp_size = 64
    k_size = shape[k_index]
    names = standard_out_dims(rank)
    order = dot_operand_order(op_idx, rank, True)
    dim_k, dim_non_k = names[order[0]], names[order[1]]
    warp_order = matrix_order(rank, True)
    tile = LinearLayout.identity_1d(k_width, REG, dim_k) * (
        LinearLayout.identity_1d(non_k_dim, LANE, dim_non_k)
        * LinearLayout.identity_1d(warp_size // non_k_dim, LANE, dim_k)
    )
    k_tile = warp_size // non_k_dim * k_width
    if (m_dim == 64 and n_dim == 4 and op_idx == 0) or (m_dim == 4 and n_dim == 64 and op_idx == 1):
        tile = tile * LinearLayout.identity_1d(16, REG, dim_k)
        k_tile *= 16
    if k_size > k_tile:
        tile = tile * LinearLayout.identity_1d(k_size // k_tile, REG, dim_k)
    tile = tile * LinearLayout.identity_1d(tpw[non_k_index], REG, dim_non_k)
    tile = tile.transpose_outs([dim_k, dim_non_k])
    if has_batch:
        b = names[order[2]]
        tile = tile * LinearLayout.identity_1d(1, REG, b) * LinearLayout.identity_1d(1, LANE, b)
    cta = tile * identity_standard_nd(WARP, p.warps_per_cta, warp_order)
    return combine_cta_cga_with_shape(cta, p.cta_layout, shape).transpose_outs(names)


def _nvidia_dot(op_idx: int, p: NvidiaMmaParams, k_width: int, shape: tuple[int, ...]) -> LinearLayout:
    rank = len(shape)
    is_a = op_idx == 0
    tile = [1] * rank
    if is_a:
        tile[rank - 2], tile[rank - 1] = 16, k_width * 8
    else:
        if p.version_major != 2:
            raise ValueError("Hopper (mma v3) takes operand B from shared memory: no register layout")
        tile[rank - 2], tile[rank - 1] = k_width * 8, 8
    order = dot_operand_order(op_idx, rank, True)
    cta = _nvidia_mma_tile(tile, k_width, order, order)
    k_dim = rank - 1 if is_a else rank - 2
    warp_order = matrix_order(rank, row_major=p.version_major != 3)
    cta = cta * _broadcasted_dot_operand(p.warps_per_cta, warp_order, k_dim, WARP).transpose_outs(
        list(cta.out_dims)
    )
    return combine_cta_cga_with_shape(cta, p.cta_layout, shape)


def dot_operand(op_idx: int, parent: NvidiaMmaParams | AmdMfmaParams, k_width: int, *,
                shape: Sequence[int]) -> LinearLayout:
    """``#ttg.dot_op``: operand ``op_idx`` (0 = A ``[M, K]``, 1 = B ``[K, N]``) of an mma/mfma."""
    shape = check_shape(shape)
    if isinstance(parent, NvidiaMmaParams):
        return _nvidia_dot(op_idx, parent, k_width, shape)
    if isinstance(parent, AmdMfmaParams):
        return _mfma_dot(op_idx, parent, k_width, shape)
    raise TypeError(f"unsupported dot_operand parent {parent!r}")
