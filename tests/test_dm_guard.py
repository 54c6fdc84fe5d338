"""Guards of masked accesses on ragged (non-power-of-two) extents: the counts the lift reports match
`eqsat.layout.GuardedLayout` (an independent computation from the layout and the valid box)."""

from __future__ import annotations

from functools import cache

import numpy as np
import triton
import triton.language as tl
from hypothesis import given, settings
from hypothesis import strategies as st
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from eqsat.dm.json import to_json
from eqsat.dm.lift import Launch, lift
from eqsat.ir.layouts import linear_layout_of
from eqsat.ir.parser import parse_ttgir
from eqsat.layout import GuardedLayout


@triton.jit
def masked_copy(x, y, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y + offs, tl.load(x + offs, mask=m), mask=m)


@triton.jit
def masked_rows(x, y, n_rows, n_cols, stride, BM: tl.constexpr, BN: tl.constexpr):
    r = tl.program_id(0) * BM + tl.arange(0, BM)[:, None]
    c = tl.arange(0, BN)[None, :]
    m = (r < n_rows) & (c < n_cols)
    tl.store(y + r * stride + c, tl.load(x + r * stride + c, mask=m), mask=m)


@cache
def compiled(kernel: str, block: tuple[int, ...], num_warps: int, target: str = "h100"):
    tgt = GPUTarget("cuda", 90, 32) if target == "h100" else GPUTarget("hip", "gfx942", 64)
    if kernel == "masked_copy":
        src = ASTSource(masked_copy, {"x": "*fp32", "y": "*fp32", "n": "i32", "BLOCK": "constexpr"},
                        {"BLOCK": block[0]}, {(0,): [["tt.divisibility", 16]], (1,): [["tt.divisibility", 16]]})
    else:
        src = ASTSource(masked_rows, {"x": "*fp16", "y": "*fp16", "n_rows": "i32", "n_cols": "i32",
                                      "stride": "i32", "BM": "constexpr", "BN": "constexpr"},
                        {"BM": block[0], "BN": block[1]},
                        {(0,): [["tt.divisibility", 16]], (1,): [["tt.divisibility", 16]]})
    ttgir = triton.compile(src, target=tgt, options={"num_warps": num_warps}).asm["ttgir"]
    return parse_ttgir(ttgir, f"{kernel}.ttgir")


def guards(module, launch):
    ops = to_json(lift(module, launch=launch))["ops"]
    return [(o, o["info"]["guard"]) for o in ops if "guard" in o["info"]]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([64, 256, 1024]), st.sampled_from([1, 2, 4, 8]), st.integers(1, 5000),
       st.sampled_from(["h100", "mi300x"]))
def test_1d_tail_matches_guarded_layout(block, num_warps, n, target):
    module = compiled("masked_copy", (block,), num_warps, target)
    grid = -(-n // block)
    found = guards(module, Launch({"n": n}, (grid, 1, 1)))
    assert [o["kind"] for o, _ in found] == ["load", "store"]
    tail = n - (grid - 1) * block
    load = next(op for op in module.walk() if getattr(op, "name", "") == "tt.load")
    oracle = GuardedLayout(linear_layout_of(load.mask.type), (tail,))
    lanes_masked = int(oracle.valid_mask(["block", "warp", "lane", "register"]).any(axis=-1).size
                       - oracle.valid_mask(["block", "warp", "lane", "register"]).any(axis=-1).sum())
    for _, g in found:
        assert g["evaluated"] == 1 and g["tiles"] == grid
        assert g["masked_elements"] == grid * block - n
        assert g["masked_bytes"] == 4 * (grid * block - n)
        assert g["partial_tiles"] == (1 if tail < block else 0)
        assert g["valid_shape"] == ([tail] if tail < block else [block])
        # only the last tile is partial; the oracle counts its masked slots and idle lanes
        slots = oracle.layout.total_in_size()
        assert g["masked_elements"] * (slots // block) == oracle.num_masked()
        assert g["masked_lanes"] == lanes_masked


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 300), st.integers(1, 64), st.sampled_from([(16, 64), (32, 32)]))
def test_2d_box_matches_guarded_layout(n_rows, n_cols, block):
    module = compiled("masked_rows", block, 4)
    bm, bn = block
    grid = -(-n_rows // bm)
    found = guards(module, Launch({"n_rows": n_rows, "n_cols": n_cols, "stride": 64}, (grid, 1, 1)))
    assert found
    valid_cols = min(n_cols, bn)
    tail_rows = n_rows - (grid - 1) * bm
    expected = grid * bm * bn - n_rows * valid_cols
    for _, g in found:
        assert g["masked_elements"] == expected
        assert g["valid_shape"] == [tail_rows, valid_cols]  # the last tile is the most masked
        assert g["masked_bytes"] == 2 * expected


def test_runtime_bound_is_named_without_a_launch():
    module = compiled("masked_copy", (256,), 4)
    for _, g in guards(module, None):
        assert g["evaluated"] == 0 and g["runtime_args"] == ["n"]
        assert g["padded_shape"] == [256]


def test_guard_counts_can_fail():
    """A wrong launch (n off by one) changes the count: the check is not vacuous."""
    module = compiled("masked_copy", (256,), 4)
    a = guards(module, Launch({"n": 1000}, (4, 1, 1)))[0][1]["masked_elements"]
    b = guards(module, Launch({"n": 1001}, (4, 1, 1)))[0][1]["masked_elements"]
    assert a - b == 1 and np.sign(a) == 1
