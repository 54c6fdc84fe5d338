"""convert_layout classification against reality: compile a TTGIR kernel (load in A, convert to B, store
in B) with Triton for sm_90 and check that the PTX has shuffles, shared memory, or neither, as the cost
model's path says; a convert to itself costs nothing."""

from __future__ import annotations

import random
import re

import pytest
from eqsat.costmodels.base import model_for
from eqsat.costmodels.conversion import classify_texts

from eqsat.ir.compile import compile_ttgir


def _offsets(lay: str, name: str, m: int, n: int) -> str:
    sl0 = f"#ttg.slice<{{dim = 1, parent = #{lay}}}>"
    sl1 = f"#ttg.slice<{{dim = 0, parent = #{lay}}}>"
    return f"""
    %{name}r = tt.make_range {{end = {m} : i32, start = 0 : i32}} : tensor<{m}xi32, {sl0}>
    %{name}re = tt.expand_dims %{name}r {{axis = 1 : i32}} : tensor<{m}xi32, {sl0}> -> tensor<{m}x1xi32, #{lay}>
    %{name}c = arith.constant dense<{n}> : tensor<{m}x1xi32, #{lay}>
    %{name}rm = arith.muli %{name}re, %{name}c : tensor<{m}x1xi32, #{lay}>
    %{name}k = tt.make_range {{end = {n} : i32, start = 0 : i32}} : tensor<{n}xi32, {sl1}>
    %{name}ke = tt.expand_dims %{name}k {{axis = 0 : i32}} : tensor<{n}xi32, {sl1}> -> tensor<1x{n}xi32, #{lay}>
    %{name}rb = tt.broadcast %{name}rm : tensor<{m}x1xi32, #{lay}> -> tensor<{m}x{n}xi32, #{lay}>
    %{name}kb = tt.broadcast %{name}ke : tensor<1x{n}xi32, #{lay}> -> tensor<{m}x{n}xi32, #{lay}>
    %{name}o = arith.addi %{name}rb, %{name}kb : tensor<{m}x{n}xi32, #{lay}>"""


def convert_kernel(a: str, b: str, m: int, n: int, dtype: str) -> str:
    """TTGIR: load an m x n tile in layout `a`, convert it to `b`, store it in `b`."""
    t = f"tensor<{m}x{n}x!tt.ptr<{dtype}>"
    return f"""#A = {a}
#B = {b}
module attributes {{"ttg.num-ctas" = 1 : i32, "ttg.num-warps" = 4 : i32, ttg.target = "cuda:90", "ttg.threads-per-warp" = 32 : i32}} {{
  tt.func public @cvt(%src: !tt.ptr<{dtype}> {{tt.divisibility = 16 : i32}}, %dst: !tt.ptr<{dtype}> {{tt.divisibility = 16 : i32}}) attributes {{noinline = false}} {{{_offsets("A", "a", m, n)}
    %ap = tt.splat %src : !tt.ptr<{dtype}> -> {t}, #A>
    %aq = tt.addptr %ap, %ao : {t}, #A>, tensor<{m}x{n}xi32, #A>
    %x = tt.load %aq : {t}, #A>
    %y = ttg.convert_layout %x : tensor<{m}x{n}x{dtype}, #A> -> tensor<{m}x{n}x{dtype}, #B>{_offsets("B", "b", m, n)}
    %bp = tt.splat %dst : !tt.ptr<{dtype}> -> {t}, #B>
    %bq = tt.addptr %bp, %bo : {t}, #B>, tensor<{m}x{n}xi32, #B>
    tt.store %bq, %y : {t}, #B>
    tt.return
  }}
}}
"""


def ptx_counts(ptx: str) -> dict[str, int]:
    return {"shfl": len(re.findall(r"shfl\.sync", ptx)),
            "st": len(re.findall(r"st\.shared|stmatrix", ptx)),
            "ld": len(re.findall(r"ld\.shared|ldmatrix", ptx)),
            "bar": len(re.findall(r"bar\.sync", ptx)),
            "sel": len(re.findall(r"\bselp|\bprmt", ptx))}


def path_agrees(path: str, c: dict[str, int]) -> bool:
    return {"none": c["shfl"] == 0 and c["st"] == 0 and c["ld"] == 0,
            "registers": c["shfl"] == 0 and c["st"] == 0 and c["ld"] == 0,
            "shuffle": c["shfl"] > 0 and c["st"] == 0,
            "shared": c["st"] > 0 and c["ld"] > 0 and c["shfl"] == 0}[path]


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    out = [1] * parts
    while total > 1:
        out[rng.randrange(parts)] *= 2
        total //= 2
    return out


def random_blocked(rng: random.Random) -> str:
    spt = [rng.choice([1, 2, 4]) for _ in range(2)]
    return (f"#ttg.blocked<{{sizePerThread = {spt}, threadsPerWarp = {_split(32, 2, rng)}, "
            f"warpsPerCTA = {_split(4, 2, rng)}, order = {rng.choice([[1, 0], [0, 1]])}}}>")


def _bits(dtype: str) -> int:
    return 32 if dtype == "f32" else 16


SHUFFLE_CASES = [  # lanes and registers trade one bit inside each warp: one mixed transposition
    ("#ttg.blocked<{sizePerThread = [1, 2], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>",
     "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [8, 4], warpsPerCTA = [4, 1], order = [1, 0]}>",
     32, 8),
    ("#ttg.blocked<{sizePerThread = [2, 1], threadsPerWarp = [4, 8], warpsPerCTA = [1, 4], order = [0, 1]}>",
     "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [4, 8], warpsPerCTA = [1, 4], order = [0, 1]}>",
     8, 32),
]


@pytest.mark.parametrize("seed", range(3))
def test_random_blocked_pairs_agree_with_ptx(seed: int) -> None:
    rng = random.Random(seed)
    seen = set()
    for _ in range(8):
        m, n = rng.choice([(32, 32), (64, 32), (16, 64), (64, 64), (128, 16)])
        a = random_blocked(rng)
        b = a if rng.random() < 0.15 else random_blocked(rng)
        dtype = rng.choice(["f32", "f16"])
        plan = classify_texts(a, b, (m, n), _bits(dtype))
        counts = ptx_counts(compile_ttgir(convert_kernel(a, b, m, n, dtype), "h100").text)
        assert path_agrees(plan.path, counts), (plan.path, counts, a, b, m, n, dtype)
        seen.add(plan.path)
    assert "shared" in seen


@pytest.mark.parametrize("a,b,m,n", SHUFFLE_CASES)
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_shuffle_path_counts_match_ptx(a: str, b: str, m: int, n: int, dtype: str) -> None:
    plan = classify_texts(a, b, (m, n), _bits(dtype))
    counts = ptx_counts(compile_ttgir(convert_kernel(a, b, m, n, dtype), "h100").text)
    assert plan.path == "shuffle" and path_agrees("shuffle", counts)
    assert plan.shuffles_per_thread == counts["shfl"]
    assert plan.selects_per_thread == counts["sel"]


def test_convert_to_itself_costs_nothing() -> None:
    rng = random.Random(7)
    model = model_for("h100")
    for _ in range(10):
        a = random_blocked(rng)
        for shape in [(32, 32), (64, 16)]:
            c = model.convert(a, a, shape, "f32")
            assert c.total_ns == 0 and c.info["path"] == "none"


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_convert_costs_nonnegative_and_shared_path_has_barriers(target: str) -> None:
    rng = random.Random(3)
    model = model_for(target)
    warp = 64 if target == "mi300x" else 32
    for _ in range(10):
        a = random_blocked(rng)
        b = random_blocked(rng)
        if warp == 64:
            spt = [rng.choice([1, 2, 4]) for _ in range(2)]
            a = (f"#ttg.blocked<{{sizePerThread = {spt}, threadsPerWarp = {_split(64, 2, rng)}, "
                 f"warpsPerCTA = {_split(4, 2, rng)}, order = {rng.choice([[1, 0], [0, 1]])}}}>")
            b = (f"#ttg.blocked<{{sizePerThread = [1, 1], threadsPerWarp = {_split(64, 2, rng)}, "
                 f"warpsPerCTA = {_split(4, 2, rng)}, order = [1, 0]}}>")
        c = model.convert(a, b, (64, 64), "f16")
        assert all(v >= 0 for v in c.terms.values()) and c.total_ns >= 0
        if c.info["path"] == "shared":
            assert c.terms.get("shared_wavefronts", 0) > 0


@pytest.mark.parametrize("family", ["nvidia", "amd"])
def test_swizzle_is_a_bijection_with_rounds_in_registers(family: str) -> None:
    """Every shared layout the model builds maps offsets one-to-one onto the tile, and a round (`reps`)
    basis is a register of both sides (so each round moves whole registers)."""
    from eqsat.costmodels.common import pow2_layout
    from eqsat.costmodels.conversion import _rref, flat_bases, remove_broadcast_registers

    rng = random.Random(21 if family == "nvidia" else 22)
    checked = 0
    for _ in range(40):
        a, b = random_blocked(rng), random_blocked(rng)
        shape = rng.choice([(32, 32), (64, 16), (16, 128)])
        plan = classify_texts(a, b, shape, rng.choice([8, 16, 32]), family, 90 if family == "nvidia" else 0)
        if plan.path != "shared":
            continue
        sw = plan.swizzle
        offs = sw.vector + sw.bank + sw.segment + sw.reps
        dim = sum(v.bit_length() - 1 for v in sw.out_sizes.values())
        assert len(offs) == dim and sum(1 for r in _rref(offs, dim) if r) == dim
        regs_a = set(flat_bases(remove_broadcast_registers(pow2_layout(a, shape)), "register"))
        regs_b = set(flat_bases(remove_broadcast_registers(pow2_layout(b, shape)), "register"))
        assert all(r in regs_a and r in regs_b for r in sw.reps)
        checked += 1
    assert checked >= 10


def test_model_convert_reports_the_round_trip() -> None:
    """`convert` on the shared path reports the swizzle, rounds, barriers and per-round instructions, and
    its wavefront term is the per-round wavefronts times the rounds."""
    model = model_for("h100")
    a = "#ttg.blocked<{sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]}>"
    b = "#ttg.blocked<{sizePerThread = [1, 1], threadsPerWarp = [2, 16], warpsPerCTA = [4, 1], order = [1, 0]}>"
    c = model.convert(a, b, (64, 32), "f32")
    info = c.info
    assert info["path"] == "shared" and info["swizzle"].startswith("#ttg.shared_linear")
    assert info["barriers"] == 2 * info["reps"] - 1
    per_round = info["store"]["wavefronts"] + info["load"]["wavefronts"]
    assert c.terms["shared_wavefronts"] == per_round * info["reps"]
    assert info["store"]["instruction"] and info["load"]["instruction"]
