"""Triton kernels for the staging tests: dot operands loaded with `tl.load` (masked or not, several element
types and tile shapes) whose tiles Triton writes to shared memory with `ttg.local_alloc` (num_stages=1),
and the same with a TMA descriptor load (for the op forms Triton itself emits). Compiled by
tests/test_lowering_staging.py through `eqsat.ingest` specs."""

import triton
import triton.language as tl


@triton.jit
def masked_dot(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_bk, stride_cm,
               BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """Both operands masked by exactly the bounds of their matrices, `other` 0: TMA is legal."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = pid_n * BN + tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :],
                mask=(offs_m[:, None] < M) & (offs_k[None, :] < K), other=0.0)
    b = tl.load(b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :],
                mask=(offs_k[:, None] < K) & (offs_n[None, :] < N), other=0.0)
    c = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :], c,
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@triton.jit
def row_masked_dot(a_ptr, b_ptr, c_ptr, M, stride_am, BM: tl.constexpr, BN: tl.constexpr,
                   BK: tl.constexpr):
    """A masked by its rows only (TMA legal: the columns are the whole tile); B unmasked."""
    pid_m = tl.program_id(0)
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    a = tl.load(a_ptr + offs_m[:, None] * stride_am + offs_k[None, :], mask=offs_m[:, None] < M, other=0.0)
    b = tl.load(b_ptr + offs_k[:, None] * BN + offs_n[None, :])
    c = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * BN + offs_n[None, :], c, mask=offs_m[:, None] < M)


@triton.jit
def triangular_dot(a_ptr, b_ptr, c_ptr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """A masked by a triangle (not a bounds check), B with `other` 1: TMA illegal for both."""
    offs_m = tl.arange(0, BM)
    offs_n = tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    a = tl.load(a_ptr + offs_m[:, None] * BK + offs_k[None, :], mask=offs_m[:, None] >= offs_k[None, :],
                other=0.0)
    b = tl.load(b_ptr + offs_k[:, None] * BN + offs_n[None, :], mask=offs_n[None, :] < BN - 3, other=1.0)
    c = tl.dot(a, b)
    tl.store(c_ptr + offs_m[:, None] * BN + offs_n[None, :], c)


@triton.jit
def tma_desc_dot(a_ptr, b_ptr, c_ptr, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    """The same tiles through tensor descriptors, as Triton lowers them (the reference op forms)."""
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[K, 1], block_shape=[BM, BK])
    b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[N, 1], block_shape=[BK, BN])
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    a = a_desc.load([pid_m * BM, 0])
    b = b_desc.load([0, pid_n * BN])
    c = tl.dot(a, b)
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = pid_n * BN + tl.arange(0, BN)
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], c)
