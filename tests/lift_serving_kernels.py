"""Kernels of the shapes LLM serving engines run, for the whole-kernel lift tests (issue 10): early
returns (`cf.cond_br`), `scf.if`, `scf.while` binary searches, tiles at bases loaded once per program
(cu_seqlens, start locations, request-pool indices) and loops bounded by launch values.

`compile_kernel(name, target)` compiles one of them with Triton 3.6 for `h100` or `mi300x` (pointer
arguments 16-byte aligned, as the JIT specializes torch tensors) and returns the TTGIR text."""

from __future__ import annotations

from functools import cache

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from tests.serving_reproducers import copy_row_to_runtime_offset, early_return, scalar_base_copy  # noqa: F401

TARGETS = {"h100": GPUTarget("cuda", 90, 32), "mi300x": GPUTarget("hip", "gfx942", 64)}




@triton.jit
def aligned_base_copy(start_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    start = tl.multiple_of(tl.load(start_ptr + pid), 16)
    offs = tl.arange(0, BLOCK)
    tl.store(dst_ptr + pid * BLOCK + offs, tl.load(src_ptr + start + offs))



@triton.jit
def gather_rows(idx_ptr, src_ptr, dst_ptr, D: tl.constexpr, BLOCK_R: tl.constexpr):
    """Per-lane indirection (a real gather): every row of the tile has its own loaded index."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    c = tl.arange(0, D)
    rows = tl.load(idx_ptr + r)
    tl.store(dst_ptr + r[:, None] * D + c[None, :], tl.load(src_ptr + rows[:, None] * D + c[None, :]))


@triton.jit
def guarded_tail(src_ptr, dst_ptr, n_rows, BLOCK: tl.constexpr):
    """An early return on a scalar argument (`pid >= n_rows`), then a branch on the program id."""
    pid = tl.program_id(0)
    if pid >= n_rows:
        return
    offs = tl.arange(0, BLOCK)
    x = tl.load(src_ptr + pid * BLOCK + offs)
    if pid % 2 == 0:
        x = x * 2.0
        tl.store(dst_ptr + pid * BLOCK + offs, x)
    else:
        tl.store(dst_ptr + pid * BLOCK + offs, tl.load(src_ptr + offs))


@triton.jit
def varlen_rows(cu_seqlens_ptr, src_ptr, dst_ptr, D: tl.constexpr, BLOCK_M: tl.constexpr):
    """Varlen prefill: the rows of sequence `pid` start at cu_seqlens[pid]; the loop runs over them."""
    pid = tl.program_id(0)
    start = tl.load(cu_seqlens_ptr + pid)
    end = tl.load(cu_seqlens_ptr + pid + 1)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    for m in range(start, end, BLOCK_M):
        rows = m + offs_m
        mask = (rows < end)[:, None]
        x = tl.load(src_ptr + rows[:, None] * D + offs_d[None, :], mask=mask)
        tl.store(dst_ptr + rows[:, None] * D + offs_d[None, :], x, mask=mask)


@triton.jit
def scalar_trips(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    """A loop bounded by a scalar argument, and an inner loop whose bound depends on the outer one."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for i in range(0, n, BLOCK):
        acc += tl.load(src_ptr + i + offs, mask=i + offs < n, other=0.0)
    for j in range(0, pid + 1):
        for k in range(0, j):
            acc += tl.load(src_ptr + k * BLOCK + offs)
    tl.store(dst_ptr + pid * BLOCK + offs, acc)


@triton.jit
def guarded_loop(src_ptr, dst_ptr, n_rows, n, BLOCK: tl.constexpr):
    """An early return before a loop bounded by a scalar argument."""
    pid = tl.program_id(0)
    if pid >= n_rows:
        return
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for i in range(0, n, BLOCK):
        acc += tl.load(src_ptr + i + offs, mask=i + offs < n, other=0.0)
    tl.store(dst_ptr + pid * BLOCK + offs, acc)


@triton.jit
def while_search(starts_ptr, n, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """A binary search over loaded sequence starts (`scf.while`), then a copy at the found row."""
    pid = tl.program_id(0)
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if tl.load(starts_ptr + mid) <= pid:
            lo = mid + 1
        else:
            hi = mid
    offs = tl.arange(0, BLOCK)
    tl.store(dst_ptr + pid * BLOCK + offs, tl.load(src_ptr + lo * BLOCK + offs))


KERNELS = {
    "early_return": (early_return, {"idx_ptr": "*i32", "src_ptr": "*fp32", "dst_ptr": "*fp32"},
                     {"BLOCK": 128}),
    "scalar_base_copy": (scalar_base_copy, {"start_ptr": "*i32", "src_ptr": "*fp32", "dst_ptr": "*fp32"},
                         {"BLOCK": 128}),
    "aligned_base_copy": (aligned_base_copy, {"start_ptr": "*i32", "src_ptr": "*fp32", "dst_ptr": "*fp32"},
                          {"BLOCK": 512}),
    "copy_row_to_runtime_offset": (copy_row_to_runtime_offset,
                                   {"rows_ptr": "*i32", "indptr_ptr": "*i32", "src_ptr": "*fp32",
                                    "dst_ptr": "*fp32"}, {"BLOCK": 512}),
    "gather_rows": (gather_rows, {"idx_ptr": "*i32", "src_ptr": "*fp16", "dst_ptr": "*fp16"},
                    {"D": 64, "BLOCK_R": 32}),
    "guarded_tail": (guarded_tail, {"src_ptr": "*fp32", "dst_ptr": "*fp32", "n_rows": "i32"}, {"BLOCK": 256}),
    "varlen_rows": (varlen_rows, {"cu_seqlens_ptr": "*i32", "src_ptr": "*fp16", "dst_ptr": "*fp16"},
                    {"D": 64, "BLOCK_M": 16}),
    "scalar_trips": (scalar_trips, {"src_ptr": "*fp32", "dst_ptr": "*fp32", "n": "i32"}, {"BLOCK": 128}),
    "guarded_loop": (guarded_loop, {"src_ptr": "*fp32", "dst_ptr": "*fp32", "n_rows": "i32", "n": "i32"},
                     {"BLOCK": 128}),
    "while_search": (while_search, {"starts_ptr": "*i32", "n": "i32", "src_ptr": "*fp32", "dst_ptr": "*fp32"},
                     {"BLOCK": 128}),
}


@cache
def compiled(name: str, target: str):
    fn, sig, constexprs = KERNELS[name]
    signature = {**sig, **{k: "constexpr" for k in constexprs}}
    aligned = {(i,): [["tt.divisibility", 16]] for i, t in enumerate(sig.values()) if t.startswith("*")}
    src = ASTSource(fn, signature, constexprs, aligned)
    return triton.compile(src, target=TARGETS[target], options={"num_warps": 4})


def compile_kernel(name: str, target: str) -> str:
    return compiled(name, target).asm["ttgir"]
