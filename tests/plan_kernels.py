"""Triton kernels for the plan-lowerability and lowering-order tests (tests/test_plan_lowerable.py):
kernels whose extracted plans once named choices the lowering could not apply. Compiled by the tests."""

import triton
import triton.language as tl

from tests.serving_reproducers import copy_row_to_runtime_offset  # noqa: F401 - the corpus kernel


@triton.jit
def copy_rows_per_lane(rows_ptr, indptr_ptr, src_ptr, dst_ptr, D: tl.constexpr, R: tl.constexpr):
    """A gather of R rows, each lane's row read from `rows_ptr` (per-lane indirection), written at a
    loaded offset whose alignment is unknown (so Triton stores in another layout than it loads)."""
    pid = tl.program_id(0)
    r = tl.arange(0, R)
    rows = tl.load(rows_ptr + pid * R + r)
    out_off = tl.load(indptr_ptr + pid)
    cols = tl.arange(0, D)
    x = tl.load(src_ptr + rows[:, None] * D + cols[None, :])
    tl.store(dst_ptr + out_off + r[:, None] * D + cols[None, :], x)
