"""Triton kernels for the indirect-load gather tests: `tl.gather` of a loaded tile with address forms the
corpus does not have (masks along and across the gathered axis, `other`, an index shape that differs from
the source along the axis, i64 strides and indices, i16 indices, a shifted `tl.arange`, a wrapping
`% M` row, rank 3, a source tile that is also read directly) and two that cannot be lowered (the rows come
from a loaded permutation; a loop-carried pointer tile). Compiled by tests/test_lowering_gather.py."""

import triton
import triton.language as tl


@triton.jit
def gather_masked_rows(src_ptr, idx_ptr, out_ptr, M, stride_m, BM: tl.constexpr, BN: tl.constexpr,
                       BI: tl.constexpr):
    """Axis 0, rows masked by `M` with other -1, BI gathered rows out of BM (BI != BM)."""
    pid = tl.program_id(0)
    rm = pid * BM + tl.arange(0, BM)
    rn = tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :], mask=rm[:, None] < M, other=-1.0)
    ri = tl.arange(0, BI)
    idx = tl.load(idx_ptr + ri[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + ri[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_masked_cols(src_ptr, idx_ptr, out_ptr, M, N, stride_m, BM: tl.constexpr, BN: tl.constexpr):
    """Axis 1, mask on rows and on the gathered columns together."""
    pid = tl.program_id(0)
    rm = pid * BM + tl.arange(0, BM)
    rn = tl.arange(0, BN)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :], mask=mask, other=0.0)
    idx = tl.load(idx_ptr + rm[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=1)
    tl.store(out_ptr + rm[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_i64(src_ptr, idx_ptr, out_ptr, stride_m, BM: tl.constexpr, BN: tl.constexpr):
    """An i64 row stride (the offsets are i64) and i64 indices."""
    pid = tl.program_id(0)
    rm = tl.arange(0, BM)
    rn = pid * BN + tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :])
    idx = tl.load(idx_ptr + rm[:, None] * BN + tl.arange(0, BN)[None, :])
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + rm[:, None] * BN + tl.arange(0, BN)[None, :], y)


@triton.jit
def gather_i16_shifted(src_ptr, idx_ptr, out_ptr, stride_m, BM: tl.constexpr, BN: tl.constexpr):
    """i16 indices, rows from a shifted `tl.arange(BM, 2 * BM)`, fp16 data."""
    rm = tl.arange(BM, 2 * BM)
    rn = tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :])
    idx = tl.load(idx_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_wrapped_rows(src_ptr, idx_ptr, out_ptr, M, stride_m, BM: tl.constexpr, BN: tl.constexpr):
    """Rows `(pid * BM + i) % M`: not affine in the gathered coordinate, still element-wise."""
    pid = tl.program_id(0)
    rm = (pid * BM + tl.arange(0, BM)) % M
    rn = tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :])
    idx = tl.load(idx_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_3d(src_ptr, idx_ptr, out_ptr, stride_a, stride_b, A: tl.constexpr, B: tl.constexpr,
              C: tl.constexpr):
    """Rank 3, gathered along the middle axis."""
    ra = tl.arange(0, A)[:, None, None]
    rb = tl.arange(0, B)[None, :, None]
    rc = tl.arange(0, C)[None, None, :]
    x = tl.load(src_ptr + ra * stride_a + rb * stride_b + rc)
    dense = ra * (B * C) + rb * C + rc
    idx = tl.load(idx_ptr + dense)
    y = tl.gather(x, idx, axis=1)
    tl.store(out_ptr + dense, y)


@triton.jit
def gather_and_read(src_ptr, idx_ptr, out_ptr, stride_m, BM: tl.constexpr, BN: tl.constexpr):
    """The source tile is also read directly: the full-tile load must stay."""
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :])
    idx = tl.load(idx_ptr + rm[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=0) + x
    tl.store(out_ptr + rm[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_permuted_rows(src_ptr, perm_ptr, idx_ptr, out_ptr, stride_m, BM: tl.constexpr,
                         BN: tl.constexpr):
    """Refused: the rows of the source tile come from a loaded permutation."""
    rm = tl.load(perm_ptr + tl.arange(0, BM))
    rn = tl.arange(0, BN)
    x = tl.load(src_ptr + rm[:, None] * stride_m + rn[None, :])
    idx = tl.load(idx_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :])
    y = tl.gather(x, idx, axis=0)
    tl.store(out_ptr + tl.arange(0, BM)[:, None] * BN + rn[None, :], y)


@triton.jit
def gather_in_loop(src_ptr, idx_ptr, out_ptr, stride_m, K, BM: tl.constexpr, BN: tl.constexpr):
    """Refused: the gathered tile is loaded through a loop-carried pointer tile."""
    rm = tl.arange(0, BM)
    rn = tl.arange(0, BN)
    ptrs = src_ptr + rm[:, None] * stride_m + rn[None, :]
    idx = tl.load(idx_ptr + rm[:, None] * BN + rn[None, :])
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for _ in range(K):
        x = tl.load(ptrs)
        acc += tl.gather(x, idx, axis=0)
        ptrs += BN
    tl.store(out_ptr + rm[:, None] * BN + rn[None, :], acc)
