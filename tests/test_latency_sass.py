"""The SASS decoder (eqsat/ir/sass.py) and the latency bound (costmodels/latency.py) on real compiles:
Triton kernels compiled to TTGIR, then by eqsat.ir.compile to a cubin, decoded from cuobjdump's output."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
from eqsat.costmodels.latency import (  # noqa: E402
    LatencyParams,
    compose,
    critical_path,
    latency_of,
    resident_ctas,
)
from triton.backends.compiler import GPUTarget  # noqa: E402

from eqsat.ir.compile import compile_ttgir  # noqa: E402
from eqsat.ir.sass import Instruction, Loop, Sass, SassError, decode_cubin, find_loops, parse_sass  # noqa: E402


@triton.jit
def _independent(a, b, c, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(c + offs, tl.load(a + offs) + tl.load(b + offs))


@triton.jit
def _dependent(idx, a, c, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    i = tl.load(idx + offs)
    tl.store(c + offs, tl.load(a + i))


@triton.jit
def _loop(a, c, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    p = a
    for _ in range(n):
        j = tl.load(p + offs)
        acc += tl.load(a + j)
        p += BLOCK
    tl.store(c + offs, acc)


_KERNELS = {
    "independent": (_independent, {"a": "*fp32", "b": "*fp32", "c": "*fp32", "BLOCK": "constexpr"}, 512),
    "dependent": (_dependent, {"idx": "*i32", "a": "*fp32", "c": "*fp32", "BLOCK": "constexpr"}, 512),
    "loop": (_loop, {"a": "*i32", "c": "*fp32", "n": "i32", "BLOCK": "constexpr"}, 256),
}


@cache
def _ttgir(name: str) -> str:
    fn, sig, block = _KERNELS[name]
    src = triton.compiler.ASTSource(fn, sig, {"BLOCK": block})
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_stages": 1}).asm["ttgir"]


@cache
def _sass(name: str) -> Sass:
    return decode_cubin(compile_ttgir(_ttgir(name), "h200", name).binary, name)


def _regs(first: str, opcode: str) -> set[str]:
    n = 4 if ".128" in opcode else 2 if ".64" in opcode else 1
    base = int(first[1:])
    return {f"R{base + k}" for k in range(n)}


def test_ldg_write_barrier_is_waited_on_by_its_first_use():
    sass = _sass("independent")
    ldgs = [i for i, x in enumerate(sass.instructions) if x.base == "LDG"]
    assert ldgs and sass.registers > 0
    for i in ldgs:
        ldg = sass.instructions[i]
        assert ldg.write_barrier is not None, ldg
        dst = _regs(ldg.operands.split(",")[0].strip(), ldg.opcode)
        use = next(j for j in range(i + 1, len(sass.instructions))
                   if dst & set(re.findall(r"\bR\d+\b", sass.instructions[j].operands.split(",", 1)[-1]
                                           if sass.instructions[j].base not in ("STG", "STS")
                                           else sass.instructions[j].operands)))
        assert any(sass.instructions[k].waits_on(ldg.write_barrier) for k in range(i + 1, use + 1)), (
            f"{ldg} first used at {sass.instructions[use]} with no wait on barrier {ldg.write_barrier}")


def test_dependent_load_chain_has_more_round_trips():
    indep = latency_of(_ttgir("independent"), "h200", {"grid": [1024]})
    dep = latency_of(_ttgir("dependent"), "h200", {"grid": [1024]})
    assert indep is not None and dep is not None
    assert indep.round_trips == 1
    assert dep.round_trips > indep.round_trips


def test_loop_round_trips_scale_with_trips():
    rt = {n: latency_of(_ttgir("loop"), "h200", {"grid": [1], "args": {"n": n}}).round_trips for n in (4, 8, 16)}
    assert rt[8] > rt[4]
    assert rt[16] - rt[4] == pytest.approx(3 * (rt[8] - rt[4]))


@pytest.mark.parametrize(
    "regs, shared, warps, expected",
    [
        (96, 1536, 4, 5),  # 96 x 32 = 3072 regs/warp: 21 warps -> 20 (granularity 4) -> 5 CTAs of 4 warps
        (32, 0, 4, 16),  # 1024 regs/warp: 64 warps; the 64-warp limit also gives 16
        (255, 1024, 8, 1),  # 255 x 32 = 8160 -> 8192 regs/warp: 8 warps -> 1 CTA of 8
        (255, 1024, 16, 0),  # a CTA of 16 such warps does not fit
        (40, 102400, 4, 2),  # shared: 233472 // 102400 = 2
        (16, 100, 1, 32),  # the 32-CTA limit (smem 100 -> 128 bytes)
        (64, 7000, 8, 4),  # 2048 regs/warp: 32 warps -> 4 CTAs; smem 7040 -> 33; warps 8
    ],
)
def test_resident_ctas_is_the_occupancy_formula(regs, shared, warps, expected):
    assert resident_ctas(regs, shared, warps, LatencyParams()) == expected


_OPS = ["LDG.E", "LDG.E.128", "FADD", "IMAD", "LDS", "STG.E", "LDGSTS.E", "LDGDEPBAR", "DEPBAR.LE", "BAR.SYNC"]


@st.composite
def _programs(draw):
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        op = draw(st.sampled_from(_OPS))
        wr = draw(st.one_of(st.none(), st.integers(0, 5))) if op in ("LDG.E", "LDG.E.128", "LDS") else None
        operands = f"SB0, {draw(st.integers(0, 2))}" if op == "DEPBAR.LE" else "R2, [R4.64]"
        out.append(Instruction(16 * i, "", op, operands, draw(st.integers(0, 15)), 0, wr, None,
                               draw(st.integers(0, 63))))
    loops = []
    if n > 4 and draw(st.booleans()):
        s = draw(st.integers(0, n - 2))
        e = draw(st.integers(s + 1, n - 1))
        loops = [Loop(16 * s, 16 * e)]
    trips = [float(draw(st.integers(0, 20)))] if loops else []
    return Sass("random", out, 32, 0, loops), trips


@settings(max_examples=150, deadline=None)
@given(_programs())
def test_round_trips_never_exceed_global_loads(program):
    sass, trips = program
    path = critical_path(sass, trips)
    assert 0 <= path.round_trips <= path.global_loads + 1e-9


def test_round_trips_at_most_loads_on_real_kernels():
    for name in _KERNELS:
        sass = _sass(name)
        path = critical_path(sass, [1.0] * len(sass.loops))
        assert path.round_trips <= sum(x.global_load for x in sass.instructions)


def test_loops_are_backward_branches():
    sass = _sass("loop")
    assert [lp for lp in sass.loops if lp.end > lp.start]
    assert find_loops([Instruction(0, "", "NOP", "", 1, 0, None, None, 0),
                       Instruction(16, "@P0", "BRA", "0x0", 1, 0, None, None, 0)]) == [Loop(0, 16, 0)]


def test_compose_is_a_smooth_max():
    assert compose(10.0, 0.0, 2.0) == 10.0
    assert compose(3.0 + 1.0, 4.0, 2.0, launch_ns=1.0) == pytest.approx(6.0)  # 1 + sqrt(3^2 + 4^2)
    assert compose(5.0, 2.0, float("inf")) == 5.0


def test_bad_sass_text_is_one_error_line():
    with pytest.raises(SassError) as e:
        parse_sass("this is not cuobjdump output\n", "x.cubin")
    assert str(e.value).startswith("x.cubin: error: ") and "\n" not in str(e.value)
    with pytest.raises(SassError):
        parse_sass("        /*0000*/                   LDC R1, c[0x0][0x28] ;   /* 0x00000a00ff017b82 */\n", "y")


def test_amd_has_no_latency_bound():
    assert latency_of("module {}", "mi300x", None) is None


def test_plan_not_faster_under_latency_falls_back_to_identity(tmp_path):
    from eqsat.optimize import OptimizeOptions, Task, _latency_check
    from eqsat.plan import Plan

    text = _ttgir("independent")
    launch = {"grid": [1024]}
    plan = Plan(kernel="k", target="h200", cost_before={"total_ns": 100.0}, cost_after={"total_ns": 50.0},
                choices=[{"op": 0, "kind": "convert_path", "params": {}}])  # type: ignore[list-item]
    task = Task("k", "h200", "k.ttgir", text, launch, str(tmp_path), None)
    assert not _latency_check(plan, task, OptimizeOptions(), text)  # the same program: no gain
    assert plan.is_identity and plan.cost_after == plan.cost_before
    assert plan.extraction["applied"] is False and plan.extraction["rejected_choices"] == 1
    assert "latency-aware kernel time" in plan.extraction["not_applied_reason"]
    check = plan.extraction["latency_check"]
    assert check["input"]["round_trips"] == 1 and check["gain_ns"] == 0
    # a plan with one dependent load chain more is slower under the latency bound too
    slower = Plan(kernel="k", target="h200", cost_before={}, cost_after={}, choices=[{"op": 0}])  # type: ignore[list-item]
    dep = Task("k", "h200", "k.ttgir", _ttgir("independent"), launch, str(tmp_path), None)
    assert not _latency_check(slower, dep, OptimizeOptions(), _ttgir("dependent"))
    assert slower.extraction["latency_check"]["plan"]["round_trips"] == 2
    # AMD: no latency bound, the plan stands untouched
    amd = Plan(kernel="k", target="mi300x", cost_before={}, cost_after={}, choices=[{"op": 0}])  # type: ignore[list-item]
    assert _latency_check(amd, Task("k", "mi300x", "k.ttgir", text, launch, str(tmp_path), None),
                          OptimizeOptions(), text)
    assert amd.choices and "latency_check" not in amd.extraction
