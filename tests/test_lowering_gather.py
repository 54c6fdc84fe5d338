"""The `indirect_load` gather strategy: `tt.gather(load(P, M, O), I, axis)` becomes one load of addresses
computed from the indices, with no gather left (no shuffles, no shared memory, no gathered pointers).

Oracles: a numpy evaluator of the TTGIR address arithmetic (tests/ttgir_eval.py, independent of the
lowering) checks on random indices and random argument values (wide enough that i32 arithmetic wraps)
that every operand of the new load is the original operand at the gathered coordinates,
`P'[c] == P[c with c_axis := I[c]]` (pointers, buffer offsets, masks, other); `triton.compile` for h100
and mi300x and the machine code (no `shfl` / `ds_bpermute`, global loads only). The loaded *data* are
not compared here: running the lowered kernels needs a GPU (the bench of another engineer runs lowered
kernels on an H100 for bit-identity); on the CPU the check stops at the addresses and masks.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from corpus_cases import corpus_cases
from eqsat.lowering import lower
from eqsat.lowering.edits import LoweringError
from eqsat.lowering.machine_code import compile_text
from lowering_cases import choices, parsed, plan_of
from ttgir_eval import Evaluator, pointer_args
from xdsl.dialects.builtin import TensorType
from xdsl.ir import OpResult

from eqsat.dm.lift import functions, source_ops
from eqsat.ingest import ingest
from eqsat.ingest.manifest import KernelSpec
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import print_ttgir
from eqsat.plan import Choice

LOADS = ("tt.load", "amdg.buffer_load")
TARGETS = ("h100", "mi300x")
CORPUS = [c for c in corpus_cases() if choices(parsed(*c), "gather_indirect")]
KERNELS = str(Path(__file__).with_name("gather_kernels.py"))


def _spec(function: str, signature: dict[str, str], constexprs: dict[str, int]) -> KernelSpec:
    divisible = tuple(k for k, v in signature.items() if v.startswith("*") or k.startswith("stride"))
    sig = {**signature, **{k: "constexpr" for k in constexprs}}
    return KernelSpec(name=function, manifest="<inline>", path=KERNELS, function=function, signature=sig,
                      constexprs=constexprs, divisible=divisible)


_F32 = {"src_ptr": "*fp32", "idx_ptr": "*i32", "out_ptr": "*fp32"}
EXTRA = {
    "gather_masked_rows": _spec("gather_masked_rows", {**_F32, "M": "i32", "stride_m": "i32"},
                                {"BM": 32, "BN": 16, "BI": 64}),
    "gather_masked_cols": _spec("gather_masked_cols", {**_F32, "M": "i32", "N": "i32", "stride_m": "i32"},
                                {"BM": 16, "BN": 32}),
    "gather_i64": _spec("gather_i64", {**_F32, "idx_ptr": "*i64", "stride_m": "i64"}, {"BM": 64, "BN": 16}),
    "gather_i16_shifted": _spec("gather_i16_shifted", {"src_ptr": "*fp16", "idx_ptr": "*i16",
                                                       "out_ptr": "*fp16", "stride_m": "i32"},
                                {"BM": 32, "BN": 32}),
    "gather_wrapped_rows": _spec("gather_wrapped_rows", {**_F32, "M": "i32", "stride_m": "i32"},
                                 {"BM": 32, "BN": 16}),
    "gather_3d": _spec("gather_3d", {**_F32, "stride_a": "i32", "stride_b": "i32"}, {"A": 4, "B": 16, "C": 8}),
    "gather_and_read": _spec("gather_and_read", {**_F32, "stride_m": "i32"}, {"BM": 32, "BN": 16}),
}
REFUSED = {
    "gather_permuted_rows": (_spec("gather_permuted_rows", {"src_ptr": "*fp32", "perm_ptr": "*i32",
                                                            "idx_ptr": "*i32", "out_ptr": "*fp32",
                                                            "stride_m": "i32"}, {"BM": 32, "BN": 16}),
                             "varies along the gathered axis through (tt.load|amdg.buffer_load)"),
    "gather_in_loop": (_spec("gather_in_loop", {**_F32, "stride_m": "i32", "K": "i32"}, {"BM": 32, "BN": 16}),
                       "varies along the gathered axis through a block argument"),
}


@cache
def _extra(name: str, target: str):
    spec = EXTRA[name] if name in EXTRA else REFUSED[name][0]
    (result,) = ingest([spec], target)
    assert result.ok, result.error
    return parse_ttgir(result.ttgir, f"{name}[{target}]")


def _indirect(module, kernel: str, target: str) -> list[Choice]:
    return [Choice(i, "gather_strategy", {"strategy": "indirect_load"}, "test")
            for i, op in enumerate(source_ops(module)) if op_name_of(op) == "tt.gather"]


def _behind_converts(v):
    while isinstance(v, OpResult) and op_name_of(v.op) == "ttg.convert_layout":
        v = v.op.operands[0]
    return v


def _loads_reading_loads(module) -> list[tuple]:
    """(load, the load its operands depend on) for every load whose address comes through another load."""
    out = []
    for op in module.walk():
        if op_name_of(op) not in LOADS or not isinstance(op.results[0].type, TensorType):
            continue
        seen, todo = set(), list(op.operands)
        while todo:
            v = todo.pop()
            if not isinstance(v, OpResult) or id(v) in seen:
                continue
            seen.add(id(v))
            if op_name_of(v.op) in LOADS:
                out.append((op, v.op))
                break
            todo.extend(v.op.operands)
    return out


def check_addresses(original, lowered, kernel: str, seeds: int = 4) -> None:
    """Every operand of the new load == the original load's operand at the gathered coordinates."""
    (gather,) = [op for op in source_ops(original) if op_name_of(op) == "tt.gather"]
    axis = gather.attributes["axis"].value.data
    tile = _behind_converts(gather.operands[0]).op
    src_shape = tuple(tile.results[0].type.get_shape())
    pairs = _loads_reading_loads(lowered)
    assert len(pairs) == 1, f"expected one load of computed addresses, got {len(pairs)}"
    new_load, index_load = pairs[0]
    index_shape = tuple(index_load.results[0].type.get_shape())
    assert tuple(new_load.results[0].type.get_shape()) == index_shape
    assert len(new_load.operands) == len(tile.operands)
    args = functions(original)[0].regions[0].blocks[0].args
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        env = pointer_args(list(args), rng)
        pid = int(rng.integers(0, 1 << 16))
        indices = rng.integers(0, src_shape[axis], size=index_shape)
        before = Evaluator(env, pid)
        after = Evaluator(env, pid, {index_load.results[0]: indices})
        for k, (old, new) in enumerate(zip(tile.operands, new_load.operands, strict=True)):
            want, got = before(old), after(new)
            if isinstance(old.type, TensorType):
                want = np.take_along_axis(np.broadcast_to(want, src_shape), indices, axis=axis)
            assert np.array_equal(np.broadcast_to(got, want.shape), want), \
                f"{kernel}: operand {k} of the load differs at the gathered coordinates (seed {seed})"


def check_machine_code(text: str, target: str, name: str, shared_free: bool) -> None:
    code = compile_text(text, target, name).text
    if target == "mi300x":
        assert "ds_bpermute" not in code
        assert re.search(r"\b(buffer|global)_load_dword", code)
        if shared_free:
            assert not re.search(r"\bds_(read|write|load|store)", code)
    else:
        assert "shfl" not in code
        assert "ld.global" in code
        if shared_free:
            assert not re.search(r"\b(ld|st)\.shared|ldmatrix|stmatrix", code)


def _lowered(module, kernel: str, target: str):
    chosen = _indirect(module, kernel, target)
    assert chosen, f"{kernel}: no gather"
    out = lower(module, plan_of(kernel, target, chosen), kernel)
    text = print_ttgir(out)
    names = [op_name_of(op) for op in out.walk()]
    assert "tt.gather" not in names and "tt.ptr_to_int" not in names and "tt.int_to_ptr" not in names
    return out, text


def test_the_corpus_has_gathers_of_loaded_tiles_on_both_targets():
    names = {(c[1], c[2]) for c in CORPUS}
    for kernel in ("gather_rows_warp_local", "gather_cols_axis0", "gather_rows_1024", "gather_1d_cross_warp"):
        assert {(kernel, t) for t in TARGETS} <= names


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c[1]}-{c[2]}" for c in CORPUS])
def test_corpus_gathers_become_loads_of_computed_addresses(case):
    _, kernel, target = case
    module = parsed(*case)
    out, text = _lowered(module, kernel, target)
    loads = [op for op in out.walk() if op_name_of(op) in LOADS]
    assert len(loads) == 2, "the full-tile load has no other reader: only the index load and the new one"
    check_addresses(module, out, kernel)
    # the layout the indices are produced in: Triton's converts around the gather are all gone
    assert "ttg.convert_layout" not in text
    check_machine_code(text, target, kernel, shared_free=True)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(EXTRA))
def test_address_forms_lower_exactly_and_compile(name, target):
    module = _extra(name, target)
    out, text = _lowered(module, name, target)
    check_addresses(module, out, name)
    tile_loads = [op for op in out.walk() if op_name_of(op) in LOADS]
    assert len(tile_loads) == (3 if name == "gather_and_read" else 2)
    check_machine_code(text, target, name, shared_free=name != "gather_and_read")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_addresses_that_come_through_data_are_refused(name, target):
    module = _extra(name, target)
    chosen = _indirect(module, name, target)
    with pytest.raises(LoweringError, match=REFUSED[name][1]) as err:
        lower(module, plan_of(name, target, chosen), name)
    assert name in str(err.value) and f"op {chosen[0].op} (tt.gather)" in str(err.value)


def test_the_evaluator_sees_a_wrong_address():
    """The oracle can fail: a lowering that forgets the row stride is caught."""
    case = next(c for c in CORPUS if c[1] == "gather_rows_1024" and c[2] == "h100")
    module = parsed(*case)
    out, _ = _lowered(module, case[1], case[2])
    new_load, _ = _loads_reading_loads(out)[0]
    muli = next(op for op in out.walk() if op_name_of(op) == "arith.muli"
                and _behind_converts(op.operands[0]).op is _loads_reading_loads(out)[0][1])
    muli.operands = [muli.operands[0], muli.operands[0]]  # idx * idx instead of idx * stride
    with pytest.raises(AssertionError, match="operand 0 of the load differs"):
        check_addresses(module, out, case[1], seeds=1)


@pytest.mark.parametrize("target", TARGETS)
def test_indices_in_a_linear_layout_are_converted_to_a_sliceable_one(target):
    """A linear layout is tied to one shape (the address chain needs its slices): the indices are
    converted to the tile load's layout, and the addresses are still exact."""
    from eqsat.ir.layouts import encoding_from_text, linear_layout_of

    case = next(c for c in CORPUS if c[1] == "gather_rows_1024" and c[2] == target)
    module = parsed(*case)
    ops = source_ops(module)
    gather_id = next(i for i, op in enumerate(ops) if op_name_of(op) == "tt.gather")
    index_load = _behind_converts(ops[gather_id].operands[1]).op
    t = index_load.results[0].type
    lanes, warps = module.threads_per_warp, module.num_warps
    blocked = encoding_from_text(f"#ttg.blocked<{{sizePerThread = [2, 1], threadsPerWarp = [{lanes // 4}, 4], "
                                 f"warpsPerCTA = [{warps}, 1], order = [0, 1]}}>")
    ll = linear_layout_of(TensorType(t.element_type, t.get_shape(), blocked))
    ll = getattr(ll, "layout", ll)
    bases = {d: [list(b) for b in ll.in_bases(d)] for d in ("register", "lane", "warp", "block")}
    linear = "#ttg.linear<{" + ", ".join(f"{d} = {b}" for d, b in bases.items()) + "}>"
    plan = plan_of(case[1], target, [Choice(ops.index(index_load), "load_layout", {"layout": linear}, "test"),
                                     Choice(gather_id, "gather_strategy", {"strategy": "indirect_load"}, "t")])
    out = lower(module, plan, case[1])
    text = print_ttgir(out)
    assert "tt.gather" not in text and "#ttg.linear" in text
    check_addresses(module, out, case[1], seeds=2)
    check_machine_code(text, target, case[1], shared_free=False)
