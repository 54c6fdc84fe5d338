"""Lowering is order-independent (issue 9 item 5): choices are resolved against ops, not positions.

* The issue's reproducer: two independent `ttg.convert_layout` lines of a gather kernel swapped (every
  such pair of the corpus, both targets). Triton compiles the swapped file; eqsat optimizes it, the plan
  lowers and compiles, and it is predicted to cost what the unswapped kernel's plan costs.
* A choice on an op that an earlier choice removed is subsumed, not an error: on gather_rows_warp_local
  (mi300x) the plan that once failed with `cannot lower op 5 (ttg.convert_layout): an earlier choice of
  the plan removed this op` (the tile re-issued in the gather's layout, its convert dropped, the gather
  made an indirect load, which leaves the result's convert an identity, and that convert through shared
  memory) lowers, reports the two converts subsumed by the choices that removed them, and compiles.
* The order of a plan's list does not matter: every permutation of a plan's choices lowers to the same
  text.
"""

from __future__ import annotations

import itertools
import re

import pytest
from corpus_cases import corpus_cases, ingested
from eqsat.lowering.apply import LoweringReport, lower_with_report
from eqsat.lowering.machine_code import compile_text

from eqsat.dm.lift import source_ops
from eqsat.ir.dialects import op_name_of
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import format_attribute, print_ttgir
from eqsat.optimize import optimize
from eqsat.plan import Choice, Plan

_CONVERT = re.compile(r"^\s*(%[\w.]+) = ttg\.convert_layout ")


def _swapped_converts() -> list[tuple[str, str, str, int]]:
    """(manifest, kernel, target, line) for each two adjacent independent convert lines of the corpus."""
    out = []
    for manifest, name, target in corpus_cases():
        result = ingested(manifest, target)[name]
        if not result.ok:
            continue
        lines = result.ttgir.splitlines()
        for i in range(len(lines) - 1):
            first, second = _CONVERT.match(lines[i]), _CONVERT.match(lines[i + 1])
            if first and second and not re.search(re.escape(first.group(1)) + r"(?![\w.#])",
                                                  lines[i + 1].split("=", 1)[1]):
                out.append((manifest, name, target, i))
    return out


SWAPS = _swapped_converts()


def _swap(text: str, i: int) -> str:
    lines = text.splitlines()
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines) + "\n"


def test_the_corpus_has_swappable_converts() -> None:
    assert len({(n, t) for _, n, t, _ in SWAPS}) >= 4, SWAPS  # the gather kernels, both targets


@pytest.mark.parametrize("manifest,name,target,line", SWAPS, ids=[f"{n}-{t}-{i}" for _, n, t, i in SWAPS])
def test_swapped_independent_converts_optimize(manifest: str, name: str, target: str, line: int) -> None:
    text = ingested(manifest, target)[name].ttgir
    swapped = _swap(text, line)
    compile_text(swapped, target, name)  # the reproducer is a valid kernel: Triton compiles it
    plan = optimize(swapped, target)
    assert plan.extraction["lowering"]["refused"] == []
    lowered, report = lower_with_report(parse_ttgir(swapped, name), plan)
    assert len(report.applied) + len(report.subsumed) == len(plan.choices)
    if not plan.is_identity:
        compile_text(print_ttgir(lowered), target, name)
    reference = optimize(text, target)
    for key in ("cost_before", "cost_after"):
        assert getattr(plan, key)["total_ns"] == pytest.approx(getattr(reference, key)["total_ns"], rel=1e-9)


def _removed_op_plan(module) -> Plan:
    """load_layout of the gathered tile into the gather's layout, drop its convert, the gather as an
    indirect load, and the result's convert through shared memory (the plan of the issue's failure)."""
    ops = source_ops(module)
    gather_id = next(i for i, op in enumerate(ops) if op_name_of(op) == "tt.gather")
    gather = ops[gather_id]
    tile_convert = gather.operands[0].op
    tile_load = tile_convert.operands[0].op
    result_convert = next(iter(gather.results[0].uses)).operation
    ids = {id(op): i for i, op in enumerate(ops)}
    layout = format_attribute(tile_convert.results[0].type.encoding)
    shared = "#ttg.swizzled_shared<{vec = 4, perPhase = 2, maxPhase = 2, order = [1, 0]}>"
    return Plan("gather_rows_warp_local", "mi300x", {}, {}, [
        Choice(ids[id(tile_load)], "load_layout", {"layout": layout}, "test"),
        Choice(ids[id(tile_convert)], "convert_path", {"path": "drop"}, "test"),
        Choice(gather_id, "gather_strategy", {"strategy": "indirect_load"}, "test"),
        Choice(ids[id(result_convert)], "convert_path", {"path": "shared", "encoding": shared}, "test"),
    ])


def _warp_local_module(target: str = "mi300x"):
    manifest = next(m for m, n, _ in corpus_cases() if n == "gather_rows_warp_local")
    return parse_ttgir(ingested(manifest, target)["gather_rows_warp_local"].ttgir, "gather_rows_warp_local")


def test_a_choice_on_a_removed_op_is_subsumed() -> None:
    module = _warp_local_module()
    plan = _removed_op_plan(module)
    lowered, report = lower_with_report(module, plan)
    _, drop, _, through_shared = plan.choices
    assert [s.choice for s in report.subsumed] == [drop, through_shared]
    assert "load_layout" in report.subsumed[0].reason  # the re-issued tile made its convert an identity
    assert "gather_strategy" in report.subsumed[1].reason  # the indirect load made the result's one
    text = print_ttgir(lowered)
    assert "tt.gather" not in text and "ttg.local_alloc" not in text
    compile_text(text, "mi300x", "gather_rows_warp_local")


def test_the_order_of_the_plan_does_not_matter() -> None:
    module = _warp_local_module()
    plan = _removed_op_plan(module)
    texts = set()
    for perm in itertools.permutations(plan.choices):
        shuffled = Plan(plan.kernel, plan.target, {}, {}, list(perm))
        report = LoweringReport()
        lowered, _ = lower_with_report(module, shuffled, report=report)
        texts.add(print_ttgir(lowered))
        assert len(report.subsumed) == 2
    assert len(texts) == 1
