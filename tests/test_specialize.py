"""Guarded versions (issue 11, items 1-4): guard evaluation, specialization facts, the specialize rules and
a planted wrong one, and the optimizer's versions for a row softmax, an RMSNorm (bf16) and a masked copy
at widths where 8 | n but 16 does not: each version compiles for h100 and mi300x, moves 16-byte vectors
where the fallback moves one element, and only kernels that the kernel-time model says gain get one."""

from __future__ import annotations

import json
import re
import time
from functools import cache
from pathlib import Path

import pytest
import torch
from egglog import eq, rule, union
from eqsat.lowering.machine_code import compile_text
from eqsat.lowering.specialize import GuardError, guards_hold, version_slug
from eqsat.rules import all_rules, planted
from eqsat.rules.specialize import RULES, g, guard_implies_width, lay, op, specialize_rule, t, ty, v, w

from eqsat.commands.rules import check_rules
from eqsat.dm.lift import functions
from eqsat.dm.specialize import best_guards, specialization_facts
from eqsat.egraph.terms import Tile, spec_candidate
from eqsat.ingest import ingest
from eqsat.ingest.manifest import KernelSpec
from eqsat.ir.parser import parse_ttgir
from eqsat.optimize import OptimizeOptions, Task, _optimize_task

KERNELS = str(Path(__file__).with_name("specialize_kernels.py"))
SIGS = {"softmax_rows": {"x_ptr": "*fp32", "y_ptr": "*fp32", "n_cols": "i32"},
        "rmsnorm_rows": {"x_ptr": "*bf16", "w_ptr": "*bf16", "y_ptr": "*bf16", "n_cols": "i32", "eps": "fp32"},
        "copy_masked": {"x_ptr": "*fp32", "y_ptr": "*fp32", "n": "i32"}}
MEMORY = r"(ld\.global[\w.]*|st\.global[\w.]*|buffer_load_dword\w*|buffer_store_dword\w*|buffer_load_short"
MEMORY += r"\w*|buffer_store_short\w*)"


@cache
def ttgir(name: str, target: str, block: int = 1024) -> str:
    sig = SIGS[name]
    spec = KernelSpec(name=name, manifest="<inline>", path=KERNELS, function=name,
                      signature={**sig, "BLOCK": "constexpr"}, constexprs={"BLOCK": block},
                      divisible=tuple(k for k, s in sig.items() if s.startswith("*")))
    (r,) = ingest([spec], target)
    assert r.ok, r.error
    return r.ttgir


def _launch(name: str, width: int) -> dict:
    if name == "copy_masked":
        return {"grid": [32000, 1, 1], "args": {"n": 32000 * width}}
    args = {"n_cols": width, **({"eps": 1e-6} if name == "rmsnorm_rows" else {})}
    return {"grid": [32768, 1, 1], "args": args}


@cache
def optimized(name: str, target: str, width: int, block: int, out: str) -> tuple[dict, Path]:
    kdir = Path(out) / f"{name}_{width}" / target
    task = Task(name, target, "<test>", ttgir(name, target, block), _launch(name, width), str(kdir), None)
    row = _optimize_task(task, OptimizeOptions(), time.perf_counter())
    assert row["status"] == "ok", row
    return json.loads((kdir / "plan.json").read_text()), kdir


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("versions"))


def _memory_ops(text: str, target: str) -> set[str]:
    return set(re.findall(MEMORY, compile_text(text, target).text))


# ------------------------------------------------------------------------------------------- guards
def test_guards_hold_on_values_and_tensors() -> None:
    x = torch.zeros(64)
    guards = [{"arg": "n", "kind": "divisible", "by": 8}, {"arg": "x", "kind": "aligned", "bytes": 16}]
    assert guards_hold(guards, {"n": 1000, "x": x})
    assert not guards_hold(guards, {"n": 1004, "x": x})
    assert not guards_hold(guards, {"n": 1000, "x": x[1:]})  # 4 bytes off
    assert guards_hold([{"arg": "n", "kind": "equal", "value": 7}], {"n": 7})
    assert not guards_hold([{"arg": "n", "kind": "at_most", "bound": 7}], {"n": 8})
    assert guards_hold([], {})
    with pytest.raises(GuardError):
        guards_hold(guards, {"n": 8})
    with pytest.raises(GuardError):
        guards_hold([{"arg": "n", "kind": "odd"}], {"n": 8})
    assert version_slug(guards[:1]) == "n_mod8"


# -------------------------------------------------------------------------------------------- facts
@pytest.mark.parametrize(("name", "expect"), [("softmax_rows", 4), ("rmsnorm_rows", 8), ("copy_masked", 4)])
def test_facts_find_the_weakest_guard_for_16_byte_vectors(name: str, expect: int) -> None:
    text = ttgir(name, "h100")
    module = parse_ttgir(text, name)
    facts = specialization_facts(module, functions(module)[0])
    arg = "n" if name == "copy_masked" else "n_cols"
    assert all(wd == 1 for wd in facts.now.values())  # 1000 columns: Triton issues one element
    assert best_guards(facts, {arg: 1000}) == [{"arg": arg, "kind": "divisible", "by": expect}]
    assert best_guards(facts, {arg: 1001}) == []  # no divisor holds at an odd width: no version
    by = {e.guard.get("by"): e for a in facts.args for e in a.effects if e.guard["kind"] == "divisible"}
    assert max(wd for _, wd in by[expect].widths.values()) == 16 // (2 if name == "rmsnorm_rows" else 4)
    assert all(wd <= 2 for _, wd in by[2].widths.values())  # n % 2 gives at most pairs


# -------------------------------------------------------------------------------------------- rules
def test_rules_check_covers_the_specialize_rules() -> None:
    names = {r.name for r in all_rules()}
    assert {"specialize.vector_load", "specialize.vector_store"} <= names
    for name, failure, _ in check_rules(RULES, 6):
        assert failure is None, (name, failure)


def test_a_guard_that_does_not_imply_the_width_is_caught() -> None:
    """Planted: `n % 4` claimed to give 16-byte (8-element) fp16 vectors."""
    bad = specialize_rule(
        "specialize.fp16_rows_mod4", "planted: 8-element fp16 vectors under n % 4",
        [rule(eq(t).to(Tile.load(op, lay, ty)), spec_candidate(op, w, ty, v, g), name="specialize.fp16_rows_mod4")
         .then(union(t).with_(Tile.guarded_load(op, w, ty, v, g).convert(w, lay, ty)))],
        store=False, divisor=4, vec=8, dtype="f16")
    with planted(bad):
        assert bad in all_rules()
        [(name, failure, _)] = check_rules([bad], 6)
    assert bad not in all_rules()
    assert name == bad.name and failure is not None and "\n" not in failure
    assert "n%4" in failure
    assert guard_implies_width(4, 8) is not None and guard_implies_width(8, 8) is None


# --------------------------------------------------------------------------------------- versions
VERSIONED = [("rmsnorm_rows", 1000, 1024, "h100"), ("rmsnorm_rows", 1000, 1024, "mi300x"),
             ("rmsnorm_rows", 5000, 8192, "h100"), ("rmsnorm_rows", 1544, 2048, "mi300x")]


@pytest.mark.parametrize(("name", "width", "block", "target"), VERSIONED)
def test_versions_pay_and_compile_with_16_byte_vectors(name: str, width: int, block: int, target: str,
                                                       out: str) -> None:
    plan, kdir = optimized(name, target, width, block, out)
    assert plan["choices"] == []  # the fallback is the input
    [version] = plan["versions"]
    assert set(version) >= {"name", "slug", "guards", "choices", "cost_after", "predicted_ns", "fallback_ns",
                            "ttgir"}
    assert version["guards"][0]["arg"] == "n_cols" and version["guards"][0]["kind"] == "divisible"
    assert width % version["guards"][0]["by"] == 0
    assert {gd["kind"] for gd in version["guards"][1:]} == {"aligned"}
    assert version["predicted_ns"] < version["fallback_ns"]
    assert {c["kind"] for c in version["choices"]} == {"specialize"}
    text = (kdir / version["ttgir"]).read_text()
    assert "tt.divisibility = " in text and "sizePerThread = [" in text
    fallback, wide = _memory_ops((kdir / "optimized.ttgir").read_text(), target), _memory_ops(text, target)
    _assert_vectorized(name, target, fallback, wide)


def _assert_vectorized(name: str, target: str, fallback: set[str], wide: set[str]) -> None:
    if target == "h100":
        scalar = "ld.global.b16" if name == "rmsnorm_rows" else "ld.global.b32"
        assert scalar in fallback and "ld.global.v4.b32" not in fallback
        assert {"ld.global.v4.b32", "st.global.v4.b32"} <= wide and scalar not in wide
    else:
        assert "buffer_load_dwordx4" in wide and "buffer_store_dwordx4" in wide
        assert "buffer_load_dwordx4" not in fallback


@pytest.mark.parametrize("target", ["h100", "mi300x"])
@pytest.mark.parametrize(("name", "width", "block"), [("softmax_rows", 1000, 1024), ("softmax_rows", 1544, 2048),
                                                      ("copy_masked", 1000, 1024)])
def test_every_candidate_version_lowers_to_16_byte_vectors(name: str, width: int, block: int,
                                                           target: str) -> None:
    """The version TTGIR of every candidate, kept or not: fp32 rows of 1000 move `ld.global.v4.b32` where
    the fallback moves `ld.global.b32` (and `buffer_load_dwordx4` on CDNA3), loads and stores alike."""
    from eqsat.lowering import lower
    from eqsat.lowering.specialize import specialize_signature

    from eqsat.guarded_versions import candidates
    from eqsat.ir.printer import print_ttgir
    from eqsat.plan import Choice, Plan

    text = ttgir(name, target, block)
    module = parse_ttgir(text, name)
    from eqsat.dm.json import dm_to_json
    from eqsat.dm.lift import lift_module

    kernel = dm_to_json(lift_module(module, kernel=name, target=target), target)
    [(key, cand)] = candidates(module, kernel, _launch(name, width)).items()
    choices = [Choice(int(i), "specialize", {"layout": c["layout"], "vec": c["vec"], "version": key}, "t")
               for i, c in cand["ops"].items()]
    version = specialize_signature(print_ttgir(lower(module, Plan(name, target, {}, {}, choices))), name,
                                   cand["divisible"])
    _assert_vectorized(name, target, _memory_ops(text, target), _memory_ops(version, target))


@pytest.mark.parametrize(("name", "target"), [("copy_masked", "h100"), ("copy_masked", "mi300x"),
                                              ("softmax_rows", "h100")])
def test_kernels_at_bandwidth_get_no_version(name: str, target: str, out: str) -> None:
    """A masked copy (measured 1.00x) and an fp32 row softmax (measured 1.004x on an H200,
    benchmarks/results/gpu_versions_h200.md) are memory-bound with scalar accesses: identity plans."""
    plan, kdir = optimized(name, target, 1000, 1024, out)
    assert plan["choices"] == [] and plan["versions"] == []
    [rejected] = plan["rejected_versions"]
    assert "below the margin" in rejected["reason"] and not (kdir / "versions").exists()
    assert rejected["predicted_ns"] >= rejected["fallback_ns"]


def test_an_odd_width_gets_no_version(out: str) -> None:
    plan, _ = optimized("rmsnorm_rows", "h100", 1001, 1024, out)
    assert plan["versions"] == [] and plan["rejected_versions"] == []
