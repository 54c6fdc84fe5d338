"""Staging choices lowered to TTGIR that Triton 3.6 compiles: `tma` on Hopper (tensor descriptor + mbarrier,
PTX with cp.async.bulk.tensor) where TMA's bounds and alignment rules make it equal to the load, a
LoweringError with the rule otherwise; `direct_to_lds` on gfx942 (buffer_load ... lds of 4-byte lanes).

Oracles: Triton's own lowering of `tl.make_tensor_descriptor` + `desc.load` of the same tiles (box, element
type and swizzle mode of its `ttng.tensormap_create`), Triton's AMD pipeline with async copies (the
layout of its `amdg.buffer_load_to_local`), and the compilers themselves. Bit-identity needs a GPU (the
bench runs lowered kernels on an H100); here we check types, descriptor contents and machine code."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from corpus_cases import corpus_cases
from eqsat.lowering import lower
from eqsat.lowering.edits import LoweringError
from eqsat.lowering.machine_code import compile_text
from eqsat.lowering.staging import lds_layout
from eqsat.lowering.tma import tma_descriptor
from lowering_cases import choices, parsed, plan_of

from eqsat.dm.address import ONE, ZERO, Poly
from eqsat.dm.lift import source_ops
from eqsat.ingest import ingest
from eqsat.ingest.manifest import KernelSpec
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import print_ttgir
from eqsat.plan import Choice

CASES = corpus_cases()
KERNELS = str(Path(__file__).with_name("staging_kernels.py"))
MODE = {"h100": "tma", "mi300x": "direct_to_lds"}


def _staged(target: str) -> list[tuple[str, str, str]]:
    return [c for c in CASES if c[2] == target and choices(parsed(*c), "staging")]


def _staging(module, mode: str, only: int | None = None) -> list[Choice]:
    return [Choice(c.op, "staging", {"mode": mode, "stages": 1}, "test") for c in choices(module, "staging")
            if only is None or c.op == only]


# ------------------------------------------------------------------------------------- extra kernels
_DOT_SIG = {"a_ptr": "*{t}", "b_ptr": "*{t}", "c_ptr": "*fp32", "BM": "constexpr", "BN": "constexpr",
            "BK": "constexpr"}
SHAPES = {"fp16": (64, 64, 64), "bf16": (64, 128, 32), "fp32": (64, 32, 32)}


def _spec(name: str, function: str, dtype: str, extra: dict[str, str], divisible: list[str]) -> KernelSpec:
    sig = {k: v.format(t=dtype) for k, v in _DOT_SIG.items()}
    sig = {**{k: sig[k] for k in ("a_ptr", "b_ptr", "c_ptr")}, **extra,
           **{k: sig[k] for k in ("BM", "BN", "BK")}}
    bm, bn, bk = SHAPES[dtype]
    return KernelSpec(name=name, manifest="<inline>", path=KERNELS, function=function, signature=sig,
                      constexprs={"BM": bm, "BN": bn, "BK": bk}, divisible=tuple(divisible), num_stages=1)


@cache
def extra_kernel(name: str) -> str:
    """TTGIR (h100) of a kernel of tests/staging_kernels.py: `<function>_<dtype>`."""
    function, dtype = name.rsplit("_", 1)
    i32 = {"M": "i32", "N": "i32", "K": "i32"}
    if function == "masked_dot":
        spec = _spec(name, function, dtype, {**i32, "stride_am": "i32", "stride_bk": "i32", "stride_cm": "i32"},
                     ["a_ptr", "b_ptr", "c_ptr", "stride_am", "stride_bk", "stride_cm"])
    elif function == "tma_desc_dot":
        spec = _spec(name, function, dtype, i32, ["a_ptr", "b_ptr", "c_ptr", "M", "N", "K"])
    elif function == "row_masked_dot":
        spec = _spec(name, function, dtype, {"M": "i32", "stride_am": "i32"},
                     ["a_ptr", "b_ptr", "c_ptr", "stride_am"])
    elif function == "unaligned_dot":
        spec = _spec(name, "masked_dot", dtype,
                     {**i32, "stride_am": "i32", "stride_bk": "i32", "stride_cm": "i32"},
                     ["a_ptr", "b_ptr", "c_ptr", "stride_bk", "stride_cm"])  # stride_am not divisible
    else:
        spec = _spec(name, function, dtype, {}, ["a_ptr", "b_ptr", "c_ptr"])
    (result,) = ingest([spec], "h100")
    assert result.ok, result.error
    return result.ttgir


def _loads(module) -> list[tuple[int, object]]:
    return [(i, op) for i, op in enumerate(source_ops(module)) if op_name_of(op) == "tt.load"
            and any(op_name_of(u.operation) == "ttg.local_alloc" for u in op.results[0].uses)]


def _tensormaps(text: str) -> list[tuple[list[str], dict[str, str]]]:
    """(box operand names, attributes) of each ttng.tensormap_create, in order."""
    out = []
    for m in re.finditer(r"ttng\.tensormap_create [^\[]*\[([^\]]*)\][^{]*\{([^}]*)\}", text):
        attrs = dict(re.findall(r"(\w+) = (\d+)", m.group(2)))
        out.append((m.group(1).split(", "), attrs))
    return out


def _constants(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(%\w+) = arith\.constant (\d+) : i32", text)}


def _reads_loaded_data(load) -> bool:
    """Whether a load's pointer is computed from a value another load produced (walking the TTGIR)."""
    todo, seen = list(load.operands[:1]), set()
    while todo:
        v = todo.pop()
        if id(v) in seen or not hasattr(v, "op"):
            continue
        seen.add(id(v))
        if op_name_of(v.op) in ("tt.load", "amdg.buffer_load"):
            return True
        todo.extend(v.op.operands)
    return False


# ------------------------------------------------------------------------------------------------ tma
@pytest.mark.parametrize("case", _staged("h100"), ids=[c[1] for c in _staged("h100")])
def test_corpus_tiles_reaching_shared_memory_go_through_tma(case):
    module = parsed(*case)
    chosen = []
    for choice in _staging(module, "tma"):
        if _reads_loaded_data(source_ops(module)[choice.op]):
            # a tile at a base read from memory (varlen cu_seqlens): unless the descriptor's coordinates
            # can be derived, the lowering refuses it, saying why
            try:
                lower(module, plan_of(case[1], case[2], [choice]), case[1])
            except LoweringError as e:
                assert "depends on loaded data" in str(e), e
                continue
        chosen.append(choice)
    if not chosen:
        return
    text = print_ttgir(lower(module, plan_of(case[1], case[2], chosen), case[1]))
    names = [op_name_of(op) for op in parse_ttgir(text, case[1]).walk()]
    for op in ("ttng.tensormap_create", "ttng.tensormap_fenceproxy_acquire", "ttng.async_tma_copy_global_to_local",
               "ttng.init_barrier", "ttng.barrier_expect", "ttng.wait_barrier", "ttng.inval_barrier"):
        assert names.count(op) == len(chosen), op
    assert names.count("tt.load") == [op_name_of(o) for o in source_ops(module)].count("tt.load") - len(chosen)
    code = compile_text(text, case[2], case[1])
    assert code.text.count("cp.async.bulk.tensor") >= len(chosen)
    assert "mbarrier.try_wait" in code.text and "fence.proxy.tensormap" in code.text


@pytest.mark.parametrize("dtype", sorted(SHAPES))
def test_tma_descriptor_matches_tritons_own(dtype):
    """Masked by their bounds, both tiles go through TMA with the box, element type and swizzle Triton picks
    for the same tiles through `tl.make_tensor_descriptor` — except fp32 B, whose buffer is transposed."""
    name = f"masked_dot_{dtype}"
    module = parse_ttgir(extra_kernel(name), name)
    theirs = _tensormaps(extra_kernel(f"tma_desc_dot_{dtype}"))
    ref_consts = _constants(extra_kernel(f"tma_desc_dot_{dtype}"))
    loads = _loads(module)
    assert len(loads) == 2 and len(theirs) == 2
    legal = []
    for (i, load), (box, attrs) in zip(loads, theirs, strict=True):
        alloc = next(u.operation for u in load.results[0].uses if op_name_of(u.operation) == "ttg.local_alloc")
        if alloc.results[0].type.encoding.transposed:
            with pytest.raises(LoweringError, match="transposed nvmma_shared"):
                lower(module, plan_of(name, "h100", [Choice(i, "staging", {"mode": "tma"}, "t")]), name)
            continue
        legal.append(i)
        desc = tma_descriptor(load, alloc.results[0].type)
        assert [ref_consts[b] for b in box] == list(reversed(desc.block))
        assert int(attrs["elem_type"]) == desc.elem_type and int(attrs["swizzle_mode"]) == desc.swizzle_mode
        assert desc.strides[-1] == ONE and desc.base == ZERO  # the masked coordinates moved into coords
        assert desc.coords[0 if i == loads[0][0] else 1] != ZERO
    out = lower(module, plan_of(name, "h100", [Choice(i, "staging", {"mode": "tma"}, "t") for i in legal]), name)
    text = print_ttgir(out)
    kept = [t for t, (i, _) in zip(theirs, loads, strict=True) if i in legal]
    for (box, attrs), (ours_box, ours) in zip(kept, _tensormaps(text), strict=True):
        assert attrs == ours and [ref_consts[b] for b in box] == [_constants(text)[b] for b in ours_box]
    assert compile_text(text, "h100", name).text.count("cp.async.bulk.tensor") >= len(legal)


def test_masked_dimensions_become_coordinates_and_extents():
    name = "masked_dot_fp16"
    module = parse_ttgir(extra_kernel(name), name)
    (_, a), (_, b) = _loads(module)
    ta = next(u.operation for u in a.results[0].uses).results[0].type
    da = tma_descriptor(a, ta)
    assert da.dims == [Poly.sym("M"), Poly.sym("K")] and da.strides == [Poly.sym("stride_am"), ONE]
    assert da.coords == [Poly.sym("pid.x") * Poly.const(64), ZERO] and da.tile_bytes == 64 * 64 * 2
    db = tma_descriptor(b, next(u.operation for u in b.results[0].uses).results[0].type)
    assert db.dims == [Poly.sym("K"), Poly.sym("N")] and db.coords == [ZERO, Poly.sym("pid.y") * Poly.const(64)]


def test_a_row_mask_bounds_one_dimension_and_compiles():
    name = "row_masked_dot_fp16"
    module = parse_ttgir(extra_kernel(name), name)
    (ia, a), (ib, b) = _loads(module)
    da = tma_descriptor(a, next(u.operation for u in a.results[0].uses).results[0].type)
    assert da.dims == [Poly.sym("M"), Poly.const(64)] and da.coords[1] == ZERO
    db = tma_descriptor(b, next(u.operation for u in b.results[0].uses).results[0].type)
    assert db.dims == [Poly.const(64), Poly.const(64)] and db.coords == [ZERO, ZERO] and db.base == ZERO
    chosen = [Choice(i, "staging", {"mode": "tma"}, "t") for i in (ia, ib)]
    text = print_ttgir(lower(module, plan_of(name, "h100", chosen), name))
    assert compile_text(text, "h100", name).text.count("cp.async.bulk.tensor") >= 2


@pytest.mark.parametrize(("name", "which", "reason"), [
    ("triangular_dot_fp16", 0, "the mask compares with .sge.: only index < bound"),
    ("triangular_dot_fp16", 1, r"masked-off elements read dense<1\.0+e\+00>, TMA fills them with \+0"),
    ("unaligned_dot_fp16", 0, "stride of dim 0 .stride_am elements. is not known to be a multiple of 16"),
    ("masked_dot_fp32", 1, "transposed nvmma_shared"),
])
def test_illegal_tma_is_refused_with_the_rule(name, which, reason):
    module = parse_ttgir(extra_kernel(name), name)
    i, _ = _loads(module)[which]
    with pytest.raises(LoweringError, match=reason) as err:
        lower(module, plan_of(name, "h100", [Choice(i, "staging", {"mode": "tma"}, "t")]), name)
    assert name in str(err.value) and f"op {i}" in str(err.value) and "TMA is illegal" in str(err.value)


def test_tma_off_hopper_and_stages_are_refused():
    amd = _staged("mi300x")[0]
    module = parsed(*amd)
    with pytest.raises(LoweringError, match="TMA is a Hopper"):
        lower(module, plan_of(amd[1], amd[2], _staging(module, "tma")[:1]), amd[1])
    nv = _staged("h100")[0]
    module = parsed(*nv)
    with pytest.raises(LoweringError, match="direct_to_lds is CDNA3"):
        lower(module, plan_of(nv[1], nv[2], _staging(module, "direct_to_lds")[:1]), nv[1])
    two = [Choice(c.op, "staging", {"mode": "tma", "stages": 2}, "t") for c in choices(module, "staging")[:1]]
    with pytest.raises(LoweringError, match="2 stages"):
        lower(module, plan_of(nv[1], nv[2], two), nv[1])


# --------------------------------------------------------------------------------------- direct_to_lds
@pytest.mark.parametrize("case", _staged("mi300x"), ids=[c[1] for c in _staged("mi300x")])
def test_direct_to_lds_compiles_on_gfx942(case):
    module = parsed(*case)
    chosen = _staging(module, "direct_to_lds")
    text = print_ttgir(lower(module, plan_of(case[1], case[2], chosen), case[1]))
    copies = re.findall(r"amdg\.buffer_load_to_local .*\{contiguity = (\d+) : i32\} : <(\w+)>\[tensor<[^,]*, "
                        r"#ttg\.blocked<\{sizePerThread = \[([\d, ]+)\]", text)
    assert len(copies) == len(chosen)
    for vec, elem, size in copies:  # exactly one dword per lane
        bits = {"f16": 16, "bf16": 16, "f32": 32, "i8": 8}[elem]
        assert int(vec) * bits == 32 and max(int(x) for x in size.split(", ")) == int(vec)
    code = compile_text(text, case[2], case[1])
    assert re.search(r"buffer_load_dword .* lds", code.text)


def test_tritons_own_async_copy_layout_is_what_lds_layout_builds():
    """Triton 3.6's AMD pipeline (TRITON_HIP_USE_ASYNC_COPY=1) on matmul_fp16 copies its 128x64 A and
    64x128 B tiles in [1, 2] x [2, 32] x [4, 1] and [1, 2] x [1, 64] x [4, 1] (checked by hand)."""
    a = lds_layout([128, 64], [1, 0], 2, 64, 4)
    b = lds_layout([64, 128], [1, 0], 2, 64, 4)
    assert (a.size_per_thread, a.threads_per_warp, a.warps_per_cta) == ((1, 2), (2, 32), (4, 1))
    assert (b.size_per_thread, b.threads_per_warp, b.warps_per_cta) == ((1, 2), (1, 64), (4, 1))


@pytest.mark.parametrize("shape", [(64, 64), (32, 16), (16, 256), (128, 8), (8, 4, 32), (256, 2)])
@pytest.mark.parametrize("vec", [1, 2, 4])
def test_lds_layout_is_a_legal_blocked_layout(shape, vec):
    order = list(reversed(range(len(shape))))
    enc = lds_layout(list(shape), order, vec, 64, 4)
    prod = 1
    for t in enc.threads_per_warp:
        prod *= t
    wprod = 1
    for w in enc.warps_per_cta:
        wprod *= w
    assert prod == 64 and wprod == 4
    assert enc.size_per_thread[order[0]] == vec and sum(enc.size_per_thread) == vec + len(shape) - 1
    # lanes go along the fastest dimension first, as far as the tile is wide
    assert enc.threads_per_warp[order[0]] == min(64, max(1, shape[order[0]] // vec))
