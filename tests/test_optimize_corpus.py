"""The whole bundled project corpus optimizes, lowers and compiles for both targets (issue 5's CPU
criterion): every kernel x target gets status ok, an identity plan prints back Triton's own text, and a
changed plan was compiled by `triton.compile` (optimize compiles every non-identity plan to decide
`changed` from machine code, so a plan that does not compile is an error row here)."""

from pathlib import Path

from eqsat.optimize import OptimizeOptions, optimize_paths
from eqsat.plan import Plan

ROOT = Path(__file__).resolve().parents[1]


def test_every_project_kernel_lowers_and_compiles(tmp_path: Path) -> None:
    rows = optimize_paths([str(ROOT / "corpora" / "project.toml")], ["h100", "mi300x"], tmp_path,
                          OptimizeOptions(), jobs=2)
    bad = [(r["kernel"], r["target"], r["error"]) for r in rows if r["status"] != "ok"]
    assert not bad, bad
    assert len(rows) >= 2 * 30
    for r in rows:
        kdir = tmp_path / r["kernel"] / r["target"]
        plan = Plan.load(kdir / "plan.json")
        before, after = r["cost_before"], r["cost_after"]
        if before is not None and after is not None:
            assert after <= before + 1e-6  # the input program is always in the e-graph
        if plan.is_identity:
            assert not r["changed"]
            assert (kdir / "optimized.ttgir").read_text() == (kdir / "input.ttgir").read_text()
    # the plans the GPU bench measured (benchmarks/results/bench_opt_h100.md) are still found
    changed = {(r["kernel"], r["target"]) for r in rows if r["changed"]}
    assert ("gather_rows_1024", "h100") in changed
