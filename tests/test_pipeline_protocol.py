"""Typestate of the pipelines Triton really emits (rules/typestate.check_ttgir_pipeline), and planted
bugs in them: a deleted wait, a buffer reused before it is consumed, a dropped fence, a missing expect,
a wrong mbarrier phase. Every TTGIR here is a real compile of a corpus kernel."""

from __future__ import annotations

import re

import pytest
from eqsat.lowering.transport_variants import variants
from eqsat.rules.typestate import TypestateError, check_ttgir_pipeline

from eqsat.ingest import load_specs
from eqsat.ingest.compile import compile_spec
from eqsat.targets import get_target

MM = {s.name: s for s in load_specs("corpora/matmul.toml")[0]}


@pytest.fixture(scope="module")
def pipelines() -> dict[str, str]:
    vs = {v.key: v.ttgir for v in variants(MM["mm_bt_128x128x64"], "h100", stages=(3,))}
    tma_spec = next(s for s in load_specs("corpora/project.toml")[0] if s.name == "tma_matmul")
    vs["tl.make_tensor_descriptor"] = compile_spec(tma_spec, get_target("h100"), upto="ttgir").ttgir
    amd = variants(MM["mm_ab_128x128x64"], "mi300x", stages=(2,))
    vs["amd"] = next(v.ttgir for v in amd if v.mode == "direct_to_lds")
    return vs


def test_every_emitted_pipeline_passes(pipelines: dict[str, str]) -> None:
    for key, text in pipelines.items():
        for trips in (1, 2, 5):
            check_ttgir_pipeline(text, trips)
        assert check_ttgir_pipeline(text)["events"] > 50, key


def _drop(text: str, pattern: str, count: int = 0) -> str:
    lines = text.split("\n")
    hits = [i for i, ln in enumerate(lines) if re.search(pattern, ln)]
    assert hits, pattern
    drop = set(hits if count == 0 else hits[:count])
    return "\n".join(ln for i, ln in enumerate(lines) if i not in drop)


def _caught(text: str, why: str) -> None:
    with pytest.raises(TypestateError, match=why):
        check_ttgir_pipeline(text)


def test_deleted_wait_is_caught(pipelines: dict[str, str]) -> None:
    _caught(_drop(pipelines["cp_async@3"], r"ttg\.async_wait .*num = [1-9]"), "a wait is missing")
    _caught(_drop(pipelines["tma[a,b]@3"], r"ttng\.wait_barrier"), "a wait is missing")
    _caught(_drop(pipelines["amd"], r"ttg\.async_wait", 1), "a wait is missing|nothing filled")


def test_reuse_before_consumption_is_caught(pipelines: dict[str, str]) -> None:
    """The steady state's copy writes the slot the dot is reading (insert index := extract index)."""
    text = pipelines["cp_async@3"]
    extract = re.search(r"ttg\.memdesc_index %\w+\[(%[\w.-]+)\][^\n]*\n[^\n]*memdesc_index", text)
    copy_view = re.search(r"async_copy_global_to_local %[\w.-]+, (%[\w.-]+)", text.split("scf.for", 1)[1])
    assert extract and copy_view
    line = re.search(rf"{re.escape(copy_view.group(1))} = ttg\.memdesc_index %\w+\[(%[\w.-]+)\]", text)
    bad = text.replace(line.group(0), line.group(0).replace(line.group(1), extract.group(1)))
    _caught(bad, "reuse before consumption")


def test_dropped_fence_is_caught(pipelines: dict[str, str]) -> None:
    _caught(_drop(pipelines["registers@1"], r"ttng\.fence_async_shared"), "missing fence")
    _caught(_drop(pipelines["tl.make_tensor_descriptor"], r"ttng\.fence_async_shared"), "missing fence")


def test_missing_expect_and_wrong_phase_are_caught(pipelines: dict[str, str]) -> None:
    text = pipelines["tma[a,b]@3"]
    _caught(_drop(text, r"ttng\.barrier_expect"), "expects no bytes|expect")
    m = re.search(r"ttng\.wait_barrier (%[\w.-]+), (%[\w.-]+)", text.split("scf.for", 1)[1])
    zero = re.search(r"(%c0_i32) = arith\.constant 0 : i32", text)
    assert m and zero
    _caught(text.replace(m.group(0), f"ttng.wait_barrier {m.group(1)}, {zero.group(1)}"), "phase")


@pytest.mark.parametrize("manifest", ["project", "serving", "matmul"])
def test_no_false_alarm_on_the_corpus(manifest: str) -> None:
    """Every TTGIR Triton emits for the corpus (cp.async, TMA, AMD stream and direct-to-LDS pipelines,
    single-buffered kernels) passes: the checker reports protocol bugs, not Triton's own code."""
    from eqsat.ingest import ingest

    checked = 0
    for target in ("h100", "mi300x"):
        for k in ingest(f"corpora/{manifest}.toml", target):
            if getattr(k, "ttgir", None):
                check_ttgir_pipeline(k.ttgir)
                checked += 1
    assert checked >= 10
