"""The whole bundled corpus optimizes, lowers and compiles for both targets (issue 5's CPU criterion, and
issue 10's "every extracted plan is one the lowering can apply"): for every manifest, every kernel x
target gets status ok, its plan was checked against the lowering with no choice refused (the decode
alone yields lowerable plans; the re-extraction in `optimize_kernel` is only a safety net), an identity
plan prints back Triton's own text, and a changed plan was compiled by `triton.compile` (optimize
compiles every non-identity plan to decide `changed` from machine code, so a plan that does not compile
is an error row here)."""

from pathlib import Path

import pytest

from eqsat.optimize import OptimizeOptions, optimize_paths
from eqsat.plan import Plan

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((ROOT / "corpora").glob("*.toml"))


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.stem for m in MANIFESTS])
def test_every_corpus_kernel_lowers_and_compiles(manifest: Path, tmp_path: Path) -> None:
    rows = optimize_paths([str(manifest)], ["h100", "mi300x"], tmp_path, OptimizeOptions(), jobs=2)
    bad = [(r["kernel"], r["target"], r["error"]) for r in rows if r["status"] != "ok"]
    assert not bad, bad
    assert rows
    for r in rows:
        kdir = tmp_path / r["kernel"] / r["target"]
        plan = Plan.load(kdir / "plan.json")
        lowering = plan.extraction["lowering"]
        assert lowering["checked"], r["kernel"]
        assert lowering["refused"] == [], (r["kernel"], r["target"], lowering["refused"])
        before, after = r["cost_before"], r["cost_after"]
        if before is not None and after is not None:
            assert after <= before + 1e-6  # the input program is always in the e-graph
        if plan.is_identity:
            assert not r["changed"]
            assert after == before
            assert (kdir / "optimized.ttgir").read_text() == (kdir / "input.ttgir").read_text()
    if manifest.stem == "project":
        assert len(rows) >= 2 * 30
        # the plans the GPU bench measured (benchmarks/results/bench_opt_h100.md) are still found
        changed = {(r["kernel"], r["target"]) for r in rows if r["changed"]}
        assert ("gather_rows_1024", "h100") in changed
