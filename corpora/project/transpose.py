"""Transposes and permutations of tiles, and strided (column-major) loads."""

import triton
import triton.language as tl


@triton.jit
def transpose_2d(x_ptr, y_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: 2D tile transpose done by the store addresses (load row-major, store column-major)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :], mask=mask)
    tl.store(y_ptr + rn[None, :] * M + rm[:, None], x, mask=mask)


@triton.jit
def trans_tile(x_ptr, y_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: `tl.trans` of a loaded tile, then a row-major store of the transposed tile
    (the layout conversion that makes both sides coalesced)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :])
    xt = tl.trans(x)
    tl.store(y_ptr + rn[:, None] * M + rm[None, :], xt)


@triton.jit
def permute_3d(x_ptr, y_ptr, B: tl.constexpr, M: tl.constexpr, N: tl.constexpr):
    """Movement: 3D `tl.permute` (b, m, n) -> (n, b, m) of one tile per program."""
    pid = tl.program_id(0)
    base = pid * B * M * N
    rb = tl.arange(0, B)[:, None, None]
    rm = tl.arange(0, M)[None, :, None]
    rn = tl.arange(0, N)[None, None, :]
    x = tl.load(x_ptr + base + rb * M * N + rm * N + rn)
    y = tl.permute(x, (2, 0, 1))
    qn = tl.arange(0, N)[:, None, None]
    qb = tl.arange(0, B)[None, :, None]
    qm = tl.arange(0, M)[None, None, :]
    tl.store(y_ptr + base + qn * B * M + qb * M + qm, y)


@triton.jit
def column_major_load(x_ptr, y_ptr, M, N, stride_xm, stride_xn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: strided load of a column-major matrix (stride_xm == 1 is folded to a constant by the
    JIT) and a row-major store of its tiles."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * stride_xm + rn[None, :] * stride_xn, mask=mask)
    tl.store(y_ptr + rm[:, None] * N + rn[None, :], x, mask=mask)


@triton.jit
def rope_interleave(x_ptr, cos_ptr, sin_ptr, out_ptr, HEAD_DIM: tl.constexpr):
    """Movement: rotary embedding on interleaved pairs: `tl.split` of a reshaped row into even and
    odd lanes, then `tl.join` + reshape back (register permutations)."""
    row = tl.program_id(0)
    HALF: tl.constexpr = HEAD_DIM // 2
    offs = tl.arange(0, HEAD_DIM)
    x = tl.load(x_ptr + row * HEAD_DIM + offs)
    x2 = tl.reshape(x, (HALF, 2))
    even, odd = tl.split(x2)
    rh = tl.arange(0, HALF)
    c = tl.load(cos_ptr + row * HALF + rh)
    s = tl.load(sin_ptr + row * HALF + rh)
    out = tl.join(even * c - odd * s, even * s + odd * c)
    tl.store(out_ptr + row * HEAD_DIM + offs, tl.reshape(out, (HEAD_DIM,)))
