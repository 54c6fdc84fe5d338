"""Every extracted plan is one the lowering applies (issue 10 item 3).

Two layers, each tested on its own:

* decode: a load re-issued in another layout, also an indirect one (`Tile.indirect_load(op, L)`), is a
  `load_layout` choice, so the conversion it feeds can be dropped. The kernels of tests/plan_kernels.py
  (the issue's KV-index copy, and a per-lane row gather) are optimized *without* the module, so nothing
  but the decoded choices decides whether the lowering can apply them; then lowered and compiled.
* the check in `optimize_kernel`: given the module, a plan whose lowering refuses a choice is extracted
  again without the refused e-node. A rule planted for the test claims that a computed value (a dot, an
  elementwise op) can be made directly in its consumer's layout, so the extractor drops the conversion
  with nothing to re-issue: the plan it extracts unchecked does not lower; the checked plan lowers,
  compiles and records the refusal.

The whole corpus (every manifest x both targets, optimized with the check and compiled) is
tests/test_optimize_corpus.py.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from egglog import String, eq, i64, rule, union, var
from eqsat.lowering import lower
from eqsat.lowering.edits import LoweringError
from eqsat.lowering.machine_code import compile_text
from eqsat.rules import Rule, planted

from eqsat.dm.json import dm_to_json
from eqsat.dm.lift import lift_module
from eqsat.egraph.terms import Layout, Tile
from eqsat.ingest import ingest
from eqsat.ingest.manifest import KernelSpec
from eqsat.ir.parser import parse_ttgir
from eqsat.ir.printer import print_ttgir
from eqsat.optimize import OptimizeOptions, optimize, optimize_kernel

KERNELS = str(Path(__file__).with_name("plan_kernels.py"))
TARGETS = ("h100", "mi300x")
_PTRS = {"rows_ptr": "*i32", "indptr_ptr": "*i32", "src_ptr": "*fp32", "dst_ptr": "*fp32"}
SPECS = {
    "copy_row_to_runtime_offset": ({**_PTRS}, {"BLOCK": 512}),
    "copy_rows_per_lane": ({**_PTRS}, {"D": 128, "R": 16}),
}


@cache
def kernel_text(name: str, target: str) -> str:
    signature, constexprs = SPECS[name]
    spec = KernelSpec(name=name, manifest="<inline>", path=KERNELS, function=name,
                      signature={**signature, **{k: "constexpr" for k in constexprs}},
                      constexprs=constexprs, divisible=tuple(signature))
    (result,) = ingest([spec], target)
    assert result.ok, result.error
    return result.ttgir


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_decoded_plan_lowers_and_compiles(name: str, target: str) -> None:
    text = kernel_text(name, target)
    module = parse_ttgir(text, f"{name}[{target}]")
    dm = dm_to_json(lift_module(module, kernel=name, target=target), target)
    unchecked = optimize_kernel(dm, target).plan  # no module: no lowering check, the decode alone
    assert unchecked.extraction["lowering"]["checked"] is False
    lowered = lower(module, unchecked)
    compile_text(print_ttgir(lowered), target, name)
    checked = optimize(text, target)
    assert checked.extraction["lowering"]["checked"] is True
    assert checked.extraction["lowering"]["refused"] == []
    assert checked.choices == unchecked.choices
    # a dropped conversion between different layouts always comes with the re-issue of its source
    drops = [c.op for c in checked.choices if c.kind == "convert_path" and c.params["path"] == "drop"]
    if drops:
        assert any(c.kind == "load_layout" for c in checked.choices), checked.choices


# --------------------------------------------------------------------------- the check, with a planted rule
_t, _op, _ty = var("t", Tile), var("op", i64), var("ty", String)
_a, _b = var("a", Layout), var("b", Layout)
VALUE_ANYWHERE = Rule(
    "convert.value_in_any_layout", "convert",
    "planted by tests/test_plan_lowerable.py: a computed value is made directly in its consumer's layout "
    "(no plan choice re-lays out a computation, so the conversion is dropped with nothing re-issued)",
    "none", "interpreter", check=lambda seed: None,
    egg_rules=[rule(eq(_t).to(Tile.value(_op, _a).convert(_a, _b, _ty)), name="convert.value_in_any_layout")
               .then(union(_t).with_(Tile.value(_op, _b)))],
    plan_choice="convert_path")
# project kernels with a conversion of a computed value (dot, elementwise) on h100
CANDIDATES = ("rope_interleave", "matmul_single_tile", "pipelined_row_sum", "moe_combine")
# no gain margin: these kernels are memory-bound, so their conversions mostly hide under DRAM time
# (costmodels/overlap.py) and dropping one gains less than the default 50 ns; the test is about refusal
ANY_GAIN = OptimizeOptions(min_gain_frac=0.0, min_gain_ns=0.0)


def test_a_refused_choice_is_extracted_again() -> None:
    from tests.egraph_cases import PROJECT, kernels

    refused_somewhere = 0
    for name in CANDIDATES:
        k = kernels(PROJECT, "h100")[name]
        dm = dm_to_json(k.dm, "h100")
        with planted(VALUE_ANYWHERE):
            unchecked = optimize_kernel(dm, "h100", ANY_GAIN).plan
            checked = optimize_kernel(k, "h100", ANY_GAIN).plan  # a KernelIR brings its module
        try:
            lower(k.module, unchecked)
            continue  # the planted rule did not pay off here
        except LoweringError as e:
            assert e.choice in unchecked.choices
        refused_somewhere += 1
        low = checked.extraction["lowering"]
        assert low["checked"] and low["refused"], (name, low)
        assert all("path 'drop' needs equal source and destination layouts" in r for r in low["refused"])
        before, after = checked.cost_before["total_ns"], checked.cost_after["total_ns"]
        assert after <= before + 1e-6
        lowered = print_ttgir(lower(k.module, checked))
        compile_text(lowered, "h100", name)
    assert refused_somewhere, "the planted rule never made an unlowerable plan: the test proves nothing"
