"""Lowering of plans to TTGIR over the whole corpus: the identity plan gives the input text back, and for
every choice kind every op it applies to gets a non-trivial alternative whose lowering `triton.compile`s
for the kernel's target. (Bit-identity of the outputs needs a GPU: the bench runs lowered kernels on an
H100; on the CPU we check types, structure and that Triton accepts and compiles the result.)"""

from __future__ import annotations

from functools import cache

import pytest
from corpus_cases import corpus_cases
from eqsat.lowering import lower
from eqsat.lowering.edits import LoweringError
from eqsat.lowering.machine_code import compile_text
from lowering_cases import KINDS, choices, kernel_text, parsed, plan_of

from eqsat.dm.json import dm_to_json
from eqsat.dm.lift import lift, source_ops
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import print_ttgir

CASES = corpus_cases()
IDS = [f"{name}-{target}" for _, name, target in CASES]


@cache
def applicable() -> list[tuple[tuple[str, str, str], str]]:
    out = []
    for case in CASES:
        module = parsed(*case)
        for kind in KINDS:
            if choices(module, kind):
                out.append((case, kind))
    return out


def _lower_kind(case: tuple[str, str, str], kind: str):
    module = parsed(*case)
    chosen = choices(module, kind)
    return module, chosen, lower(module, plan_of(case[1], case[2], chosen), case[1])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_identity_plan_gives_the_input_text(case):
    module = parsed(*case)
    out = lower(module, plan_of(case[1], case[2], []), case[1])
    assert out is not module
    assert print_ttgir(out) == kernel_text(*case)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dm_ids_name_the_ops_they_were_lifted_from(case):
    module = parsed(*case)
    ops = dm_to_json(lift(module, kernel=case[1], target=case[2]))
    ops = (ops[0] if isinstance(ops, list) else ops)["ops"]
    assert [op_name_of(o) for o in source_ops(module)] == [o["origin"] for o in ops]


@pytest.mark.parametrize(("case", "kind"), applicable(),
                         ids=[f"{c[1]}-{c[2]}-{k}" for c, k in applicable()])
def test_every_applicable_op_gets_an_alternative_that_compiles(case, kind):
    _, name, target = case
    if kind == "staging" and target == "mi300x":
        with pytest.raises(LoweringError, match="direct_to_lds"):
            _lower_kind(case, kind)
        return
    try:
        module, chosen, out = _lower_kind(case, kind)
    except LoweringError as e:
        # the only illegal alternatives the generator makes: re-encoding a TMA buffer or an mbarrier
        assert kind == "shared_encoding" and ("tensor descriptor" in e.message or "mbarrier" in e.message), e
        _lower_tma_allocs_alone(case)
        return
    text = print_ttgir(out)
    assert text != print_ttgir(module)
    _check_applied(kind, parse_ttgir(text, name), chosen)
    compile_text(text, target, name)


def _lower_tma_allocs_alone(case):
    """Each local_alloc alone: the legal ones lower and compile, TMA buffers and barriers raise."""
    module = parsed(*case)
    for choice in choices(module, "shared_encoding"):
        plan = plan_of(case[1], case[2], [choice])
        try:
            out = lower(module, plan, case[1])
        except LoweringError as e:
            assert "tensor descriptor" in e.message or "mbarrier" in e.message
            assert case[1] in str(e) and f"op {choice.op}" in str(e)
            continue
        compile_text(print_ttgir(out), case[2], case[1])


def _check_applied(kind: str, module, chosen) -> None:
    names = [op_name_of(op) for op in module.walk()]
    if kind == "shared_encoding":
        text = print_ttgir(module)
        for c in chosen:
            assert c.params["encoding"] in text or c.params["encoding"].split("<")[0] in text
    elif kind == "convert_path_shared":
        assert names.count("ttg.local_alloc") >= len(chosen)
    elif kind == "gather_indirect":
        assert "tt.gather" not in names and "tt.ptr_to_int" not in names  # loads of computed addresses
    elif kind == "staging":
        assert names.count("ttg.async_copy_global_to_local") >= len(chosen)
        assert names.count("ttg.async_wait") >= len(chosen)


def _insert_identity_convert(case):
    """The kernel with an identity `ttg.convert_layout` after its first tensor load (text), or None."""
    from eqsat.lowering.edits import insert_after, new_op, replace_uses

    module = parsed(*case)
    loads = [op for op in source_ops(module) if op_name_of(op) in ("tt.load", "amdg.buffer_load")
             and hasattr(op.results[0].type, "encoding")]
    if not loads:
        return None
    load = loads[0]
    ident = new_op("ttg.convert_layout", [load.results[0]], [load.results[0].type], "%0 : $o0 -> $r0")
    insert_after(load, ident)
    replace_uses(load.results[0], ident.results[0], keep=ident)
    return parse_ttgir(print_ttgir(module), case[1])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_identity_convert_is_dropped_and_the_input_comes_back(case):
    with_identity = _insert_identity_convert(case)
    if with_identity is None:
        pytest.skip("no tensor load to put an identity convert after")
    ops = source_ops(with_identity)
    ids = [i for i, op in enumerate(ops) if op_name_of(op) == "ttg.convert_layout"
           and op.operands[0].type == op.results[0].type]
    assert len(ids) == 1
    from eqsat.plan import Choice

    out = lower(with_identity, plan_of(case[1], case[2], [Choice(ids[0], "convert_path", {"path": "drop"}, "t")]))
    assert print_ttgir(out) == kernel_text(*case)


def test_dropping_a_real_conversion_is_refused():
    from eqsat.plan import Choice

    case = next(c for c in CASES if c[1] == "transpose_2d" and c[2] == "h100")
    module = parsed(*case)
    i = next(i for i, op in enumerate(source_ops(module)) if op_name_of(op) == "ttg.convert_layout")
    with pytest.raises(LoweringError, match="drop.*equal source and destination") as err:
        lower(module, plan_of(case[1], case[2], [Choice(i, "convert_path", {"path": "drop"}, "t")]))
    assert "transpose_2d" in str(err.value) and f"op {i}" in str(err.value)


def test_a_choice_on_the_wrong_op_or_id_is_refused():
    from eqsat.plan import Choice

    case = next(c for c in CASES if c[1] == "copy_2d" and c[2] == "h100")
    module = parsed(*case)
    with pytest.raises(LoweringError, match="convert_path applies to ttg.convert_layout, not tt.load"):
        lower(module, plan_of(case[1], case[2], [Choice(0, "convert_path", {"path": "drop"}, "t")]))
    with pytest.raises(LoweringError, match="dm op 99"):
        lower(module, plan_of(case[1], case[2], [Choice(99, "convert_path", {"path": "drop"}, "t")]))
    with pytest.raises(LoweringError, match="not a register layout"):
        lower(module, plan_of(case[1], case[2], [Choice(0, "load_layout", {"layout": "#ttg.swizzled_shared<{vec = 1, perPhase = 1, maxPhase = 1, order = [1, 0]}>"}, "t")]))


def test_wgmma_operand_needs_nvmma():
    from eqsat.plan import Choice

    case = next(c for c in CASES if c[1] == "matmul_fp16" and c[2] == "h100")
    module = parsed(*case)
    i = next(i for i, op in enumerate(source_ops(module)) if op_name_of(op) == "ttg.local_alloc")
    enc = "#ttg.swizzled_shared<{vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]}>"
    with pytest.raises(LoweringError, match="warp_group_dot.*nvmma_shared"):
        lower(module, plan_of(case[1], case[2], [Choice(i, "shared_encoding", {"encoding": enc}, "t")]))


def test_warp_shuffle_needs_a_warp_local_layout_and_compiles():
    from eqsat.plan import Choice

    for target, lanes in (("h100", 32), ("mi300x", 64)):
        case = next(c for c in CASES if c[1] == "gather_rows_warp_local" and c[2] == target)
        module = parsed(*case)
        i = next(i for i, op in enumerate(source_ops(module)) if op_name_of(op) == "tt.gather")
        local = f"#ttg.blocked<{{sizePerThread = [1, 2], threadsPerWarp = [{lanes // 16}, 16], warpsPerCTA = [4, 1], order = [1, 0]}}>"
        out = lower(module, plan_of(case[1], target, [Choice(i, "gather_strategy", {"strategy": "warp_shuffle", "layout": local}, "t")]))
        text = print_ttgir(out)
        assert "efficient_layout" in text and "sizePerThread = [1, 2]" in text
        compile_text(text, target, case[1])
        across = f"#ttg.blocked<{{sizePerThread = [1, 1], threadsPerWarp = [{lanes}, 1], warpsPerCTA = [1, 4], order = [0, 1]}}>"
        with pytest.raises(LoweringError, match="not warp-local"):
            lower(module, plan_of(case[1], target, [Choice(i, "gather_strategy", {"strategy": "warp_shuffle", "layout": across}, "t")]))


def test_machine_code_differs_only_when_the_code_does():
    from eqsat.lowering.machine_code import machine_code_differs

    case = next(c for c in CASES if c[1] == "transpose_2d" and c[2] == "h100")
    text = kernel_text(*case)
    assert not machine_code_differs(text, text, "h100", case[1])
    canonical = print_ttgir(parse_ttgir(text), canonical=True)
    assert canonical != text and not machine_code_differs(text, canonical, "h100", case[1])
    module = parsed(*case)
    via = lower(module, plan_of(case[1], case[2], choices(module, "convert_path_shared")))
    assert machine_code_differs(text, print_ttgir(via), "h100", case[1])
