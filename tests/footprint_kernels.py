"""Kernels for tests/test_indirect_footprint.py: indirect loads from a table and from the CTA's own rows."""

import triton
import triton.language as tl


@triton.jit
def table_gather(table_ptr, idx_ptr, out_ptr, BLOCK: tl.constexpr):
    """out = table[idx]: an indirect load whose footprint is the whole table."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    idx = tl.load(idx_ptr + offs)
    tl.store(out_ptr + offs, tl.load(table_ptr + idx))


@triton.jit
def own_rows_gather(src_ptr, idx_ptr, out_ptr, stride_m, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """out[r, c] = src[r, idx[r, c]]: an indirect load within the rows of the CTA's own tile."""
    pid = tl.program_id(0)
    rm = pid * BLOCK_M + tl.arange(0, BLOCK_M)[:, None]
    rn = tl.arange(0, BLOCK_N)[None, :]
    idx = tl.load(idx_ptr + rm * stride_m + rn)
    tl.store(out_ptr + rm * stride_m + rn, tl.load(src_ptr + rm * stride_m + idx))
