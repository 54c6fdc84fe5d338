"""The microbenchmark kernels of `eqsat calibrate` (Triton and Gluon; import only triton).

Each kernel isolates one quantity of the cost model (costmodels/common.py `Rates`):

    read_stream      tiles of BLOCK elements read from chunks (p + i*G) % n_chunks: the footprint decides
                     DRAM vs L2 vs L1, BLOCK / (32 warps) the vector width (b16, b32, v2, v4), CACHE the
                     L1 policy ("" = ld.global.ca, ".cg" = L2 only)
    copy_stream      grid-stride copy: DRAM copy bandwidth, and by grid size the occupancy curve
    strided_read     one 4-byte element per lane at a runtime stride: sectors / L1 lines per request
    gather_rows      random rows of ROW elements at data-dependent indices (indirect loads)
    shuffle_chain    shfl.sync.idx.b32 chains (inline PTX): shuffle results per clock
    barrier_loop     bar.sync in a loop: CTA barrier cost
    clock_spin       %clock64 against %globaltimer over a dependent FMA chain: the SM clock under load
    noop             an empty launch: launch overhead
    shared_loop      Gluon: a register tile stored to / loaded from a shared buffer in a loop, one barrier
                     per iteration (MODE 0 store, 1 load, 2 barrier only): wavefronts per clock by width
    cp_async_loop    Gluon: a tile copied global -> shared with cp.async (MODE 0) or ld.global + st.shared
                     (MODE 1), one commit/wait and barrier per iteration
    tma_loop         Triton tensor descriptors: a TMA box load per iteration (DESC 1) or the same tile
                     through pointers (DESC 0)
"""

from __future__ import annotations

import triton
import triton.language as tl
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.ampere import async_copy


@gluon.jit
def read_stream(
    x_ptr,
    out_ptr,
    n_chunks,
    ITERS: gl.constexpr,
    CHUNK: gl.constexpr,
    BLOCK: gl.constexpr,
    LAYOUT: gl.constexpr,
    CACHE: gl.constexpr,
):
    pid = gl.program_id(0)
    grid = gl.num_programs(0)
    offs = gl.arange(0, BLOCK, layout=LAYOUT)
    acc = gl.full([BLOCK], 0.0, gl.float32, layout=LAYOUT)
    for i in range(ITERS):
        c = (pid + i * grid) % n_chunks
        base = x_ptr + c.to(gl.int64) * CHUNK
        for j in range(0, CHUNK, BLOCK):
            acc += gl.load(base + j + offs, cache_modifier=CACHE).to(gl.float32)
    gl.store(out_ptr + pid * BLOCK + offs, acc)


@triton.jit
def copy_stream(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    grid = tl.num_programs(0)
    offs = tl.arange(0, BLOCK)
    for start in range(pid * BLOCK, n, grid * BLOCK):
        tl.store(y_ptr + start + offs, tl.load(x_ptr + start + offs))


@gluon.jit
def strided_read(
    x_ptr,
    out_ptr,
    stride,
    mask_rows,
    ITERS: gl.constexpr,
    BLOCK: gl.constexpr,
    LAYOUT: gl.constexpr,
    CACHE: gl.constexpr,
):
    pid = gl.program_id(0)
    grid = gl.num_programs(0)
    offs = gl.arange(0, BLOCK, layout=LAYOUT)
    acc = gl.full([BLOCK], 0.0, gl.float32, layout=LAYOUT)
    for i in range(ITERS):
        row = ((pid + i * grid) * BLOCK + offs) & mask_rows
        acc += gl.load(x_ptr + row.to(gl.int64) * stride, cache_modifier=CACHE)
    gl.store(out_ptr + pid * BLOCK + offs, acc)


@triton.jit
def gather_rows(
    table_ptr, idx_ptr, out_ptr, idx_mask, ITERS: tl.constexpr, ROW: tl.constexpr, ROWS: tl.constexpr
):
    pid = tl.program_id(0)
    grid = tl.num_programs(0)
    cols = tl.arange(0, ROW)
    acc = tl.zeros([ROWS, ROW], dtype=tl.float32)
    for i in range(ITERS):
        r = ((pid + i * grid) * ROWS + tl.arange(0, ROWS)) & idx_mask
        rows = tl.load(idx_ptr + r)
        acc += tl.load(table_ptr + rows[:, None].to(tl.int64) * ROW + cols[None, :])
    out = out_ptr + pid * ROWS * ROW + tl.arange(0, ROWS)[:, None] * ROW + cols[None, :]
    tl.store(out, acc)


@triton.jit
def shuffle_chain(out_ptr, ITERS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = offs + tl.program_id(0)
    src = (offs * 7 + 3) & 31
    for _i in range(ITERS):
        x = tl.inline_asm_elementwise(
            "shfl.sync.idx.b32 $0, $1, $2, 31, -1;", "=r,r,r", [x, src], dtype=tl.int32, is_pure=True, pack=1
        )
    tl.store(out_ptr + tl.program_id(0) * BLOCK + offs, x)


@triton.jit
def barrier_loop(out_ptr, ITERS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = offs + tl.program_id(0)
    for _i in range(ITERS):
        tl.debug_barrier()
        x = x * 3 + 1
    tl.store(out_ptr + tl.program_id(0) * BLOCK + offs, x)


@triton.jit
def clock_spin(out_ptr, ITERS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    t0 = tl.inline_asm_elementwise(
        "mov.u64 $0, %globaltimer;", "=l,r", [offs], dtype=tl.int64, is_pure=False, pack=1
    )
    c0 = tl.inline_asm_elementwise(
        "mov.u64 $0, %clock64;", "=l,r", [offs], dtype=tl.int64, is_pure=False, pack=1
    )
    x = (t0 & 1).to(tl.float32) + (c0 & 1).to(tl.float32) + 1.0
    for _i in range(ITERS):
        x = x * 0.999 + 0.5
    bits = x.to(tl.int32, bitcast=True)
    c1 = tl.inline_asm_elementwise(
        "mov.u64 $0, %clock64;", "=l,r", [bits], dtype=tl.int64, is_pure=False, pack=1
    )
    t1 = tl.inline_asm_elementwise(
        "mov.u64 $0, %globaltimer;", "=l,r", [bits], dtype=tl.int64, is_pure=False, pack=1
    )
    base = out_ptr + (tl.program_id(0) * BLOCK + offs) * 3
    tl.store(base, c1 - c0)
    tl.store(base + 1, t1 - t0)
    tl.store(base + 2, bits.to(tl.int64))


@triton.jit
def noop(out_ptr, flag):
    if flag == 12345:
        tl.store(out_ptr + tl.program_id(0), 1)


@gluon.jit
def _tile_index(BM: gl.constexpr, BN: gl.constexpr, LAYOUT: gl.constexpr):
    """Row-major element offsets of a BM x BN tile in LAYOUT."""
    rows = gl.arange(0, BM, layout=gl.SliceLayout(1, LAYOUT))
    cols = gl.arange(0, BN, layout=gl.SliceLayout(0, LAYOUT))
    return rows[:, None] * BN + cols[None, :]


@gluon.jit
def _shared_rounds(smem, tile, ITERS: gl.constexpr, LAYOUT: gl.constexpr, MODE: gl.constexpr):
    """The timed part of `shared_loop` / `shared_loop_1d`: ITERS rounds of a store (MODE 0), a load (1)
    or nothing (2) of the whole buffer, one CTA barrier each; returns what was read, so nothing is dead."""
    gl.thread_barrier()
    acc = tile
    for _i in range(ITERS):
        if MODE == 0:
            acc = acc + tile
            smem.store(acc)
        elif MODE == 1:
            acc = acc + smem.load(LAYOUT)
        gl.thread_barrier()
    if MODE == 0:
        acc = acc + smem.load(LAYOUT)
    return acc


@gluon.jit
def shared_loop(
    out_ptr,
    ITERS: gl.constexpr,
    BM: gl.constexpr,
    BN: gl.constexpr,
    LAYOUT: gl.constexpr,
    SHARED: gl.constexpr,
    MODE: gl.constexpr,
    DTYPE: gl.constexpr,
):
    idx = _tile_index(BM, BN, LAYOUT)
    tile = (idx + gl.program_id(0)).to(DTYPE)
    smem = gl.allocate_shared_memory(DTYPE, [BM, BN], SHARED, tile)
    acc = _shared_rounds(smem, tile, ITERS, LAYOUT, MODE)
    gl.store(out_ptr + gl.program_id(0) * BM * BN + idx, acc)


@gluon.jit
def shared_loop_1d(
    out_ptr,
    ITERS: gl.constexpr,
    BLOCK: gl.constexpr,
    LAYOUT: gl.constexpr,
    SHARED: gl.constexpr,
    MODE: gl.constexpr,
    DTYPE: gl.constexpr,
):
    idx = gl.arange(0, BLOCK, layout=LAYOUT)
    tile = (idx + gl.program_id(0)).to(DTYPE)
    smem = gl.allocate_shared_memory(DTYPE, [BLOCK], SHARED, tile)
    acc = _shared_rounds(smem, tile, ITERS, LAYOUT, MODE)
    gl.store(out_ptr + gl.program_id(0) * BLOCK + idx, acc)


@gluon.jit
def cp_async_loop(
    x_ptr,
    out_ptr,
    n_chunks,
    ITERS: gl.constexpr,
    BM: gl.constexpr,
    BN: gl.constexpr,
    LAYOUT: gl.constexpr,
    SHARED: gl.constexpr,
    MODE: gl.constexpr,
):
    idx = _tile_index(BM, BN, LAYOUT)
    smem = gl.allocate_shared_memory(x_ptr.dtype.element_ty, [BM, BN], SHARED)
    pid = gl.program_id(0)
    grid = gl.num_programs(0)
    for i in range(ITERS):
        c = (pid + i * grid) % n_chunks
        ptrs = x_ptr + c * (BM * BN) + idx
        if MODE == 0:
            async_copy.async_copy_global_to_shared(smem, ptrs)
            async_copy.commit_group()
            async_copy.wait_group(0)
        else:
            smem.store(gl.load(ptrs))
        gl.thread_barrier()
    gl.store(out_ptr + pid * BM * BN + idx, smem.load(LAYOUT))


@triton.jit
def tma_loop(
    x_ptr, out_ptr, n_rows, ITERS: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, DESC: tl.constexpr
):
    pid = tl.program_id(0)
    grid = tl.num_programs(0)
    n_tiles = n_rows // BM
    acc = tl.zeros([BM, BN], dtype=tl.float32)
    rows = tl.arange(0, BM)
    cols = tl.arange(0, BN)
    if DESC:
        desc = tl.make_tensor_descriptor(x_ptr, shape=[n_rows, BN], strides=[BN, 1], block_shape=[BM, BN])
        for i in range(ITERS):
            t = (pid + i * grid) % n_tiles
            acc += desc.load([t * BM, 0]).to(tl.float32)
    else:
        for i in range(ITERS):
            t = (pid + i * grid) % n_tiles
            acc += tl.load(x_ptr + (t * BM + rows)[:, None] * BN + cols[None, :]).to(tl.float32)
    tl.store(out_ptr + pid * BM * BN + rows[:, None] * BN + cols[None, :], acc)


def vector_layout(vec: int, num_warps: int):
    """A 1-D Gluon layout of `vec` consecutive elements per lane (one `vec`-wide access per repetition)."""
    return gl.BlockedLayout([vec], [32], [num_warps], [0])


def row_layout(vec: int, num_warps: int):
    """A row-contiguous Gluon layout: `vec` elements per lane, 32 lanes along a row of 32 * vec elements."""
    return gl.BlockedLayout([1, vec], [1, 32], [num_warps, 1], [1, 0])


def plain_shared(rank: int = 2):
    """An unswizzled row-major shared buffer (a row-contiguous warp access is conflict-free)."""
    return gl.SwizzledSharedLayout(1, 1, 1, [1, 0] if rank == 2 else [0])


def padded_1d(block: int):
    """A 1-D shared buffer of `block` elements with 4 padding elements after its first half: accesses of
    up to 16 B per lane stay conflict-free, and Triton lowers them to plain ld/st.shared."""
    return gl.PaddedSharedLayout.with_identity_for([[block // 2, 4]], [block], [0])


KERNELS = {
    "read_stream": read_stream,
    "copy_stream": copy_stream,
    "strided_read": strided_read,
    "gather_rows": gather_rows,
    "shuffle_chain": shuffle_chain,
    "barrier_loop": barrier_loop,
    "clock_spin": clock_spin,
    "noop": noop,
    "shared_loop": shared_loop,
    "shared_loop_1d": shared_loop_1d,
    "cp_async_loop": cp_async_loop,
    "tma_loop": tma_loop,
}
_ = triton  # the module is imported for the decorators' side effects on some versions
