"""The optimizer driver: identity round trip on every project kernel, plans, the run directory, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from eqsat.egraph.schedule import Limits
from eqsat.optimize import RUN_FIELDS, OptimizeOptions, optimize_kernel, optimize_paths
from eqsat.plan import Plan
from tests.egraph_cases import PROJECT, ROOT, dm_kernel, kernels

NO_RULES = OptimizeOptions(use_rules=False)


@pytest.mark.parametrize("target", ["h100", "mi300x"])
def test_unrewritten_egraph_extracts_the_identity_plan(target: str) -> None:
    """With no rules the e-graph holds only the input: both extractions return it, no choice is made."""
    for name in kernels(PROJECT, target):
        plan = optimize_kernel(dm_kernel(PROJECT, name, target), target, NO_RULES).plan
        assert plan.is_identity, (name, plan.choices)
        assert plan.cost_before == plan.cost_after, name
        ex = plan.extraction
        if plan.cost_before["total_ns"] is not None:
            assert ex["exact_ns"] is not None and math.isclose(ex["exact_ns"], ex["greedy_ns"], abs_tol=1e-3)
            assert math.isclose(ex["greedy_ns"], plan.cost_before["total_ns"], rel_tol=1e-6, abs_tol=1e-3)
        assert plan.egraph["stop_reason"] == "saturated"
        assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_plan_never_costs_more_than_the_input_with_rules() -> None:
    for name in ("gather_rows_warp_local", "transpose_2d", "matmul_single_tile"):
        plan = optimize_kernel(dm_kernel(PROJECT, name, "h100"), "h100",
                               OptimizeOptions(limits=Limits(time_limit_s=5))).plan
        before, after = plan.cost_before["total_ns"], plan.cost_after["total_ns"]
        if before is not None:
            assert after is not None and after <= before + 1e-6, name
        assert plan.egraph["stop_reason"] in ("saturated", "node_limit", "time_limit", "iteration_limit")


def test_min_gain_margin_keeps_the_identity() -> None:
    """With an unreachable margin every plan is the identity and says why."""
    plan = optimize_kernel(dm_kernel(PROJECT, "gather_rows_warp_local", "h100"), "h100",
                           OptimizeOptions(min_gain_ns=1e12)).plan
    assert plan.is_identity
    if plan.extraction.get("rejected_choices"):
        assert "below the margin" in plan.extraction["not_applied_reason"]


def test_run_directory_and_run_json(tmp_path: Path) -> None:
    ir = str(ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir")
    rows = optimize_paths([ir, str(tmp_path / "missing.ttgir")], ["h100"], tmp_path / "run", NO_RULES)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run == rows
    for row in run:
        assert set(RUN_FIELDS) <= set(row)
    ok = [r for r in run if r["status"] == "ok"]
    bad = [r for r in run if r["status"] == "error"]
    assert len(ok) == 1 and len(bad) == 1 and "no such file" in bad[0]["error"]
    kdir = tmp_path / "run" / "softmax_rows.h100" / "h100"
    for f in ("input.ttgir", "optimized.ttgir", "plan.json"):
        assert (kdir / f).is_file()
    assert not (kdir / "spec.json").exists()  # an IR file has no KernelSpec
    assert ok[0]["changed"] is False and Plan.load(kdir / "plan.json").is_identity


def test_manifest_run_writes_specs_and_dumps(tmp_path: Path) -> None:
    manifest = tmp_path / "one.toml"
    text = (ROOT / "corpora" / "project.toml").read_text()
    entry = text[text.index("[[kernel]]\nname = \"transpose_2d\""):]
    entry = entry[: entry.index("[[kernel]]", 10)]
    manifest.write_text(entry.replace('path = "project/', f'path = "{ROOT}/corpora/project/'))
    options = OptimizeOptions(use_rules=False, dump_egraph=True)
    rows = optimize_paths([str(manifest)], ["h100", "mi300x"], tmp_path / "run", options, jobs=2)
    assert [(r["kernel"], r["target"], r["status"]) for r in rows] == [
        ("transpose_2d", "h100", "ok"), ("transpose_2d", "mi300x", "ok")]
    kdir = tmp_path / "run" / "transpose_2d" / "h100"
    spec = json.loads((kdir / "spec.json").read_text())
    assert spec["name"] == "transpose_2d" and not Path(spec["path"]).is_absolute()
    assert (ROOT / spec["path"]).is_file()
    # the GPU bench reads it back with the loader's own reader (stdlib + eqsat.ingest)
    from eqsat.lowering.rundir import spec_from_json

    assert spec_from_json(spec, str(kdir / "spec.json")).name == "transpose_2d"
    assert json.loads((kdir / "egraph.json").read_text())["nodes"]
    assert (kdir / "egraph.dot").read_text().startswith("digraph")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqsat.cli", "optimize", *args], capture_output=True, text=True,
                          cwd=ROOT)


def test_cli_bad_input_one_line_exit_2(tmp_path: Path) -> None:
    missing = _cli("no/such/file.ttgir", "--target", "h100", "--out", str(tmp_path / "a"))
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = _cli(str(ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir"), "--target", "h999",
                   "--out", str(tmp_path / "b"))
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()] and "h999" in unknown.stderr


def test_python_api() -> None:
    import eqsat

    text = (ROOT / "corpora" / "ir" / "softmax_rows.h100.ttgir").read_text()
    plan = eqsat.optimize(text, target="h100")
    assert plan.target == "h100" and plan.cost_before["total_ns"] is not None
