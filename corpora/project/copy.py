"""Plain and ragged copies: coalescing, vectorisation and masks on non-power-of-two extents."""

import triton
import triton.language as tl


@triton.jit
def ragged_copy(x_ptr, y_ptr, n_cols, BLOCK_N: tl.constexpr):
    """Movement: masked row copy of a non-power-of-two width (1000 columns in a 1024-wide block)."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask)
    tl.store(y_ptr + row * n_cols + offs, x, mask=mask)


@triton.jit
def copy_2d(x_ptr, y_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: vectorised 2D tile copy with aligned, divisible extents (the coalescing baseline)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs = rm[:, None] * N + rn[None, :]
    tl.store(y_ptr + offs, tl.load(x_ptr + offs))


@triton.jit
def unaligned_copy(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    """Movement: 1D copy whose pointers are offset by one element and whose length is odd
    (no divisibility: scalar, unvectorised accesses)."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


@triton.jit
def concat_halves(a_ptr, b_ptr, y_ptr, N: tl.constexpr):
    """Movement: interleave two loaded rows with `tl.join` and flatten them (an in-register zip)."""
    row = tl.program_id(0)
    offs = tl.arange(0, N)
    a = tl.load(a_ptr + row * N + offs)
    b = tl.load(b_ptr + row * N + offs)
    y = tl.reshape(tl.join(a, b), (2 * N,))
    tl.store(y_ptr + row * 2 * N + tl.arange(0, 2 * N), y)
