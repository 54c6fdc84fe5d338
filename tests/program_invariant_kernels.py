"""Kernels for tests/test_program_invariant.py: loads every program reads alike, and loads it does not."""

import triton
import triton.language as tl


@triton.jit
def table_lookup(table_ptr, idx_ptr, out_ptr, BLOCK: tl.constexpr):
    """The table is read alike by every program (invariant); idx and out are per program."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    table = tl.load(table_ptr + offs)
    idx = tl.load(idx_ptr + pid * BLOCK + offs)
    tl.store(out_ptr + pid * BLOCK + offs, tl.gather(table, idx, axis=0))


@triton.jit
def loop_weights(w_ptr, x_ptr, out_ptr, n_chunks, stride, BLOCK: tl.constexpr):
    """w[i] walked by the loop index only (invariant); x at the program's row (not); a base read from
    memory (not: loaded data)."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(n_chunks):
        w = tl.load(w_ptr + i * BLOCK + offs)
        x = tl.load(x_ptr + pid * stride + i * BLOCK + offs)
        acc += w * x
    shift = tl.load(w_ptr + tl.num_programs(0) * BLOCK + offs)
    tl.store(out_ptr + pid * BLOCK + offs, acc + shift)
