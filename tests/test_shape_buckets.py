"""Shape buckets: `[[kernel.shapes]]` in a manifest (resolved over `launch`, validated with one-line
errors, the specialization checked at every shape), one plan per production shape priced at that shape
(the real optimizer, in process), the run directory and run.json layout (primary bucket in
`<kernel>/<target>/`, others under `buckets/`), the result cache keyed per bucket, the run store and
report reading such a run, and the loader picking the bucket by the call's arguments."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from eqsat.lowering.loader import load
from eqsat.lowering.rundir import read_run

from eqsat.errors import EqsatError
from eqsat.ingest.launch import check_consistency
from eqsat.ingest.manifest import load_manifest, parse_manifest
from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "corpora" / "project"

HEAD = f'''
[[kernel]]
name = "softmax"
path = "{PROJECT / 'ragged.py'}"
function = "softmax_rows_ragged"
signature = {{ x_ptr = "*fp32", y_ptr = "*fp32", n_cols = "i32", BLOCK_N = "constexpr" }}
constexprs = {{ BLOCK_N = 1024 }}
divisible = ["x_ptr", "y_ptr"]
[kernel.launch]
grid = [4]
[kernel.launch.args]
x_ptr = {{ shape = [4, 1000], dtype = "float32", init = "randn" }}
y_ptr = {{ shape = [4, 1000], dtype = "float32", init = "poison" }}
n_cols = 1000
'''
SHAPES = '''
[[kernel.shapes]]
name = "big_w1000"
grid = [8192]
args = { x_ptr = { shape = [8192, 1000], dtype = "float32", init = "randn" }, y_ptr = { shape = [8192, 1000], dtype = "float32", init = "poison" } }
[[kernel.shapes]]
name = "mid_w1001"
grid = [512]
args = { x_ptr = { shape = [512, 1001], dtype = "float32", init = "randn" }, y_ptr = { shape = [512, 1001], dtype = "float32", init = "poison" }, n_cols = 1001 }
'''


def _manifest(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


def test_shapes_resolve_over_launch(tmp_path: Path) -> None:
    m = load_manifest(_manifest(tmp_path, HEAD + SHAPES + "[[kernel.shapes]]\nargs = { n_cols = 999 }\n"))
    assert not m.errors
    shapes = m.kernels[0].production_shapes()
    assert [n for n, _ in shapes] == ["big_w1000", "mid_w1001", "shape2"]
    assert shapes[0][1]["grid"] == [8192] and shapes[0][1]["args"]["n_cols"] == 1000
    assert shapes[1][1]["args"]["x_ptr"]["shape"] == [512, 1001]
    assert shapes[2][1]["grid"] == [4] and shapes[2][1]["args"]["x_ptr"]["shape"] == [4, 1000]  # merged
    assert check_consistency(m.kernels[0]) == []


def test_production_shape_defaults_to_bench_then_launch(tmp_path: Path) -> None:
    bench = '[kernel.bench]\ngrid = [64]\n[kernel.bench.args]\nx_ptr = { shape = [64, 1000], dtype = ' \
            '"float32", init = "randn" }\ny_ptr = { shape = [64, 1000], dtype = "float32", init = "poison" }\n' \
            'n_cols = 1000\n'
    with_bench = load_manifest(_manifest(tmp_path, HEAD + bench)).kernels[0]
    assert [(n, t["grid"]) for n, t in with_bench.production_shapes()] == [("bench", [64])]
    plain = load_manifest(_manifest(tmp_path, HEAD)).kernels[0]
    assert [(n, t["grid"]) for n, t in plain.production_shapes()] == [("launch", [4])]


@pytest.mark.parametrize(("extra", "message"), [
    ('[[kernel.shapes]]\nname = "a"\n[[kernel.shapes]]\nname = "a"\ngrid = [9]\n', "duplicate name 'a'"),
    ('[[kernel.shapes]]\ngrid = [9]\n[[kernel.shapes]]\ngrid = [9]\n', "is the same launch as shapes[0]"),
    ('[[kernel.shapes]]\nname = "a/b"\n', "shapes[0].name must be"),
    ('[[kernel.shapes]]\nname = "buckets"\n', "shapes[0].name must be"),
    ('[[kernel.shapes]]\nsize = 3\n', "shapes[0]: unknown key(s) size"),
    ('[[kernel.shapes]]\ngrid = [0]\n', "shapes[0].grid must be"),
    ('[[kernel.shapes]]\nargs = { n_cols = 1.5 }\n', "is a float"),
    ('[[kernel.shapes]]\nargs = { nope = 3 }\n', "'nope' is not in the signature"),
])
def test_bad_shapes_are_one_line_at_their_entry(tmp_path: Path, extra: str, message: str) -> None:
    m = load_manifest(_manifest(tmp_path, HEAD + extra))
    assert not m.kernels and len(m.errors) == 1
    err = m.errors[0][1]
    assert message in str(err) and "\n" not in str(err) and err.line is not None


def test_consistency_is_checked_at_every_shape(tmp_path: Path) -> None:
    m = load_manifest(_manifest(tmp_path, HEAD + '[[kernel.shapes]]\nname = "w1024"\nargs = { n_cols = 1024 }\n'))
    problems = check_consistency(m.kernels[0])
    assert problems and all(p.startswith("shapes.w1024: ") for p in problems)
    assert "divisible by 16" in problems[0]


def test_per_target_shapes_replace(tmp_path: Path) -> None:
    over = '[kernel.per_target.mi300x]\nshapes = [{ name = "amd", grid = [77] }]\n'
    spec = load_manifest(_manifest(tmp_path, HEAD + over + SHAPES)).kernels[0]
    assert [n for n, _ in spec.for_target("h100").production_shapes()] == ["big_w1000", "mid_w1001"]
    amd = spec.for_target("mi300x").production_shapes()
    assert [(n, t["grid"], t["args"]["n_cols"]) for n, t in amd] == [("amd", [77], 1000)]
    wrong = parse_manifest({"kernel": [{"name": "k", "path": str(PROJECT / "ragged.py"), "function": "f",
                                        "signature": {"n": "i32"}, "launch": {"grid": [1], "args": {"n": 3}},
                                        "per_target": {"h100": {"shapes": [{"args": {"n": 2.5}}]}}}]},
                           "x.toml", ROOT)
    assert not wrong.kernels and "per_target.h100: shapes[0]" in str(wrong.errors[0][1])


@pytest.fixture(scope="module")
def bucket_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("buckets")
    manifest = _manifest(tmp, HEAD + SHAPES)
    iso = RunIsolation(in_process=True, cache_dir=tmp / "cache")
    rows = optimize_paths([str(manifest)], ["h100"], tmp / "run", OptimizeOptions(), isolation=iso)
    return tmp, manifest, rows


def test_one_plan_per_bucket_priced_at_its_shape(bucket_run: tuple[Path, Path, list[dict]]) -> None:
    tmp, _, rows = bucket_run
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "ok" and row["bucket"] == "big_w1000"
    assert [(b["bucket"], b["dir"], b["status"]) for b in row["buckets"]] == [
        ("big_w1000", "", "ok"), ("mid_w1001", "buckets/mid_w1001", "ok")]
    assert row["buckets"][0]["cost_before"] == row["cost_before"]
    # priced at its own grid: 8192 rows cost more than 512 rows of (nearly) the same width
    assert row["buckets"][0]["cost_before"] > 4 * row["buckets"][1]["cost_before"]
    plan_dir = tmp / "run" / "softmax" / "h100"
    for d in (plan_dir, plan_dir / "buckets" / "mid_w1001"):
        assert {p.name for p in d.iterdir()} >= {"input.ttgir", "optimized.ttgir", "plan.json", "spec.json"}
    entries = read_run(tmp / "run")
    assert len(entries) == 1 and entries[0].bucket == "big_w1000" and len(entries[0].buckets or []) == 2


def test_each_bucket_has_its_cache_entry(bucket_run: tuple[Path, Path, list[dict]]) -> None:
    tmp, manifest, rows = bucket_run
    assert len(list((tmp / "cache").glob("*/*/row.json"))) == 2
    iso = RunIsolation(in_process=True, cache_dir=tmp / "cache")
    again = optimize_paths([str(manifest)], ["h100"], tmp / "rerun", OptimizeOptions(), isolation=iso)
    assert len(list((tmp / "cache").glob("*/*/row.json"))) == 2  # both restored, none recomputed
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again] == strip
    assert (tmp / "rerun" / "softmax" / "h100" / "buckets" / "mid_w1001" / "plan.json").is_file()


def test_store_and_report_read_a_bucketed_run(bucket_run: tuple[Path, Path, list[dict]]) -> None:
    from eqsat.report.data import report_data
    from eqsat.store import open_store

    tmp, _, _ = bucket_run
    with open_store(tmp / "store.sqlite") as store:
        rec = store.index_run(tmp / "run")
        assert rec.kernels == 1 and rec.plans == 1
        data = report_data(store, rec.id)
    assert json.dumps(data, default=str)


def test_loader_picks_the_bucket_by_the_call(bucket_run: tuple[Path, Path, list[dict]]) -> None:
    tmp, _, _ = bucket_run
    k = load(tmp / "run" / "softmax" / "h100")
    assert [b.name for b in k.buckets] == ["big_w1000", "mid_w1001"]
    x = torch.empty(16, dtype=torch.float32)
    assert k.select(x, x, 1000, grid=(8192,)).bucket == "big_w1000"
    assert k.select(x, x, 1001, grid=(512,)).bucket == "mid_w1001"
    rng = random.Random(5)
    for _ in range(200):
        n, rows = rng.randrange(2, 5000), rng.randrange(1, 20000)
        if n % 16 == 0:
            continue
        d_big = abs(_log2(n) - _log2(1000)) + abs(_log2(rows) - _log2(8192))
        d_mid = abs(_log2(n) - _log2(1001)) + abs(_log2(rows) - _log2(512))
        want = "big_w1000" if d_big <= d_mid else "mid_w1001"
        assert k.select(x, x, n, grid=(rows,)).bucket == want, (n, rows)


def _log2(v: int) -> float:
    import math

    return math.log2(v)


def test_a_bucket_whose_folder_is_gone_is_not_loaded(bucket_run: tuple[Path, Path, list[dict]],
                                                     tmp_path: Path) -> None:
    import shutil

    src, _, _ = bucket_run
    d = tmp_path / "softmax" / "h100"
    shutil.copytree(src / "run" / "softmax" / "h100", d)
    shutil.rmtree(d / "buckets")
    assert [b.name for b in load(d).buckets] == ["big_w1000"]
    (d / "optimized.ttgir").write_text("garbage")
    with pytest.raises(EqsatError):
        load(d)
