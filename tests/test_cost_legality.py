"""Legality rules: each TMA rule has a failing and a passing case; cp.async, direct-to-LDS, encodings and
capacity per target; an illegal TMA op is an infeasible Cost."""

from __future__ import annotations

import math

import pytest
from eqsat.costmodels.base import model_for

GOOD_TMA = {"box": [64, 64], "elem_bytes": 2, "base_align": 16, "strides": [4096, 1], "swizzle": 128}


@pytest.fixture(scope="module")
def h100():
    return model_for("h100")


@pytest.fixture(scope="module")
def mi300x():
    return model_for("mi300x")


def test_good_tma_is_legal(h100) -> None:
    assert h100.legality("tma", **GOOD_TMA) is None


@pytest.mark.parametrize("change,words", [
    ({"box": [2, 2, 2, 2, 2, 64]}, "rank"),
    ({"base_align": 8}, "aligned"),
    ({"strides": [4100, 1]}, "multiple of 16"),
    ({"strides": [4096, 2]}, "innermost stride"),
    ({"box": [512, 64]}, "box dim 512"),
    ({"box": [64, 4], "swizzle": 0}, "multiple of 16"),
    ({"box": [64, 96]}, "swizzle span"),
    ({"box": [48, 64]}, "powers of two"),
])
def test_each_tma_rule_fails(h100, change: dict, words: str) -> None:
    reason = h100.legality("tma", **{**GOOD_TMA, **change})
    assert reason is not None and words in reason


def test_tma_rules_pass_at_their_limits(h100) -> None:
    assert h100.legality("tma", **{**GOOD_TMA, "box": [256, 64]}) is None
    assert h100.legality("tma", **{**GOOD_TMA, "box": [1, 1, 1, 8, 64]}) is None
    assert h100.legality("tma", **{**GOOD_TMA, "box": [64, 8], "swizzle": 0}) is None
    # a block two swizzle spans wide is legal: Triton issues one copy per span (tma_matmul's operands)
    assert h100.legality("tma", **{**GOOD_TMA, "box": [64, 128]}) is None


def test_cdna3_has_no_tma_and_tma_op_is_infeasible(mi300x) -> None:
    assert mi300x.legality("tma", **GOOD_TMA) == "CDNA3 has no TMA"
    op = {"id": 0, "kind": "tma_load", "shape": [64, 64], "dtype": "f16", "info": {"box": [64, 64]}, "depth": 0}
    cost = mi300x.op_cost(op, {"ops": [op]})
    assert cost.illegal == "CDNA3 has no TMA" and math.isinf(cost.total_ns)


def test_cp_async_sizes(h100, mi300x) -> None:
    for size in (4, 8, 16):
        assert h100.legality("cp_async", bytes=size) is None
    assert "sizes" in h100.legality("cp_async", bytes=12)
    assert h100.legality("cp_async", bytes=8, cache="cg") is not None
    assert "direct-to-LDS" in mi300x.legality("cp_async", bytes=16)


def test_direct_to_lds(h100, mi300x) -> None:
    flat = "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"
    swz = "#ttg.swizzled_shared<{vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]}>"
    for size in (1, 2, 4):
        assert mi300x.legality("direct_to_lds", bytes=size, encoding=flat) is None
    assert mi300x.legality("direct_to_lds", bytes=16) is not None
    assert "swizzled" in mi300x.legality("direct_to_lds", bytes=4, encoding=swz)
    assert h100.legality("direct_to_lds", bytes=4) is not None


def test_shared_encodings_per_family(h100, mi300x) -> None:
    nvmma = "#ttg.nvmma_shared<{swizzlingByteWidth = 128, transposed = false, elementBitWidth = 16}>"
    rot = "#ttg.amd_rotating_shared<{vec = 4, perPhase = 1, maxPhase = 16, order = [0, 1]}>"
    assert h100.legality("shared_encoding", encoding=nvmma) is None
    assert "CDNA3" in mi300x.legality("shared_encoding", encoding=nvmma)
    assert mi300x.legality("shared_encoding", encoding=rot) is None
    assert "NVIDIA" in h100.legality("shared_encoding", encoding=rot)


def test_shared_capacity(h100, mi300x) -> None:
    assert h100.legality("shared_capacity", bytes=200 * 1024) is None
    assert mi300x.legality("shared_capacity", bytes=200 * 1024) is not None
    assert mi300x.legality("shared_capacity", bytes=64 * 1024) is None
    assert h100.legality("shared_capacity", bytes=228 * 1024) is not None
