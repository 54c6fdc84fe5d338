"""Reductions with broadcasts back to the tile: row statistics, softmax and normalisations."""

import triton
import triton.language as tl


@triton.jit
def row_sum_subtract(x_ptr, y_ptr, n_cols, BLOCK_N: tl.constexpr):
    """Movement: row-sum reduction then a broadcast of the result back over the row (x - sum(x))."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
    s = tl.sum(x, axis=0)
    tl.store(y_ptr + row * n_cols + offs, x - s, mask=mask)


@triton.jit
def col_sum_broadcast(x_ptr, y_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: column-mean over a 2D tile (a reduction across warps along axis 0) broadcast back
    over the rows (x - mean(x, axis=0))."""
    pid = tl.program_id(0)
    rm = tl.arange(0, BLOCK_M)
    rn = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :], mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / M
    tl.store(y_ptr + rm[:, None] * N + rn[None, :], x - mean[None, :], mask=mask)


@triton.jit
def softmax_rows(x_ptr, y_ptr, n_cols, stride_row, BLOCK_N: tl.constexpr):
    """Movement: row softmax: max and sum reductions, each broadcast back over the row."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride_row + offs, mask=mask, other=-float("inf")).to(tl.float32)
    z = x - tl.max(x, axis=0)
    num = tl.exp(z)
    den = tl.sum(num, axis=0)
    tl.store(y_ptr + row * stride_row + offs, (num / den).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def layernorm_fwd(x_ptr, w_ptr, b_ptr, y_ptr, n_cols, eps, BLOCK_N: tl.constexpr):
    """Movement: layernorm: mean and variance reductions broadcast back, per-column weight and bias loads."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / n_cols
    d = tl.where(mask, x - mean, 0.0)
    var = tl.sum(d * d, axis=0) / n_cols
    rstd = 1.0 / tl.sqrt(var + eps)
    w = tl.load(w_ptr + offs, mask=mask)
    b = tl.load(b_ptr + offs, mask=mask)
    y = d * rstd * w + b
    tl.store(y_ptr + row * n_cols + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def rmsnorm_2d(x_ptr, w_ptr, y_ptr, n_rows, n_cols, eps, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: RMSNorm over a block of rows per program (2D tile, reduction along axis 1, broadcast of
    the per-row scale and of the weight row)."""
    pid = tl.program_id(0)
    rm = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < n_rows) & (rn[None, :] < n_cols)
    x = tl.load(x_ptr + rm[:, None] * n_cols + rn[None, :], mask=mask, other=0.0).to(tl.float32)
    ms = tl.sum(x * x, axis=1) / n_cols
    rstd = 1.0 / tl.sqrt(ms + eps)
    w = tl.load(w_ptr + rn, mask=rn < n_cols, other=0.0).to(tl.float32)
    y = x * rstd[:, None] * w[None, :]
    tl.store(y_ptr + rm[:, None] * n_cols + rn[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def pipelined_row_sum(x_ptr, y_ptr, n_cols, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: a `tl.range(..., num_stages=3)` loop over column blocks whose [BLOCK_M, BLOCK_N] tile
    loads become async copies into multi-buffered shared memory, then a row reduction."""
    pid = tl.program_id(0)
    rm = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for k in tl.range(0, n_cols, BLOCK_N, num_stages=3):
        rn = k + tl.arange(0, BLOCK_N)
        acc += tl.load(x_ptr + rm[:, None] * n_cols + rn[None, :]).to(tl.float32)
    tl.store(y_ptr + rm, tl.sum(acc, axis=1))
