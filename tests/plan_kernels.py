"""Triton kernels for the plan-lowerability and lowering-order tests (tests/test_plan_lowerable.py):
kernels whose extracted plans once named choices the lowering could not apply. Compiled by the tests."""

import triton
import triton.language as tl


@triton.jit
def copy_row_to_runtime_offset(rows_ptr, indptr_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """A KV-index copy: a row read at a loaded row index, written at a loaded offset (issue 10 item 3)."""
    pid = tl.program_id(0)
    row = tl.load(rows_ptr + pid)
    out_off = tl.load(indptr_ptr + pid)
    offs = tl.arange(0, BLOCK)
    x = tl.load(src_ptr + row * BLOCK + offs)
    tl.store(dst_ptr + out_off + offs, x)
