"""The run store (eqsat.store): a real SQLite file indexing a real run directory of `eqsat optimize`.

Checked: every run.json row and plan.json lands in its tables with the same numbers; indexing is
idempotent and a store deleted and rebuilt from the directories holds the same rows; bench reports are
kept in the run directory and refused for another run; migrations bring an old store forward with its
rows, refuse a newer one and a file that is not a store; processes opening a new store at once all
succeed; the CLI answers bad references with one line and exit 2."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import pytest

from eqsat.cli import main
from eqsat.errors import EqsatError
from eqsat.store import SCHEMA_VERSION, open_store
from eqsat.store.schema import migrate, schema_version
from tests.run_fixtures import make_run

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "results" / "bench_opt_h100.json"
TABLES = ("runs", "kernels", "plans", "costs", "choices", "alternatives", "rule_firings", "bench_imports",
          "bench")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "gather_run")


def _dump(store_path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(store_path)
    out = {}
    for t in TABLES:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info({t})") if c[1] != "indexed_at"]
        out[t] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
    conn.close()
    return out


def test_index_holds_every_row_and_plan(run_dir: Path, tmp_path: Path) -> None:
    rows = json.loads((run_dir / "run.json").read_text())
    with open_store(tmp_path / "s.sqlite") as store:
        rec = store.index_run(run_dir)
        assert rec.kernels == len(rows) == rec.plans
        got = {(k["kernel"], k["target"]): k for k in store.query("SELECT * FROM kernels")}
        for r in rows:
            k = got[(r["kernel"], r["target"])]
            assert (k["status"], k["cost_before"], k["cost_after"], bool(k["changed"])) == \
                (r["status"], r["cost_before"], r["cost_after"], r["changed"])
        for plan_file in run_dir.glob("*/*/plan.json"):
            plan = json.loads(plan_file.read_text())
            key = (plan["kernel"], plan["target"])
            ns = {row["grp"]: row["ns"] for row in store.query(
                "SELECT grp, ns FROM costs WHERE kernel = ? AND target = ? AND side = 'after'", key)}
            assert ns == plan["cost_after"]["ns"]
            fired = {row["rule"]: row["matches"] for row in store.query(
                "SELECT rule, matches FROM rule_firings WHERE kernel = ? AND target = ?", key)}
            assert fired == {r: n for r, n in plan["egraph"]["rule_matches"].items()}
            stored = store.query("SELECT plan_json FROM plans WHERE kernel = ? AND target = ?", key)
            assert json.loads(stored[0]["plan_json"]) == plan
            choices = store.query("SELECT * FROM choices WHERE kernel = ? AND target = ? ORDER BY idx", key)
            assert [(c["op"], c["kind"]) for c in choices] == [(c["op"], c["kind"]) for c in plan["choices"]]
            n_alt = store.query("SELECT COUNT(*) AS n FROM alternatives WHERE kernel = ? AND target = ?", key)
            assert n_alt[0]["n"] == sum(len(c["alternatives"]) for c in plan["choices"])
        changed = store.query("SELECT kernel FROM kernels WHERE changed = 1")
        assert {c["kernel"] for c in changed} == {r["kernel"] for r in rows if r["changed"]}


def test_index_is_idempotent_and_rebuild_gives_the_same_rows(run_dir: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with open_store(a) as store:
        store.index_run(run_dir)
        store.index_run(run_dir)
    with open_store(b) as store:
        store.index_run(run_dir)
    assert _dump(a) == _dump(b)
    assert len(_dump(a)["runs"]) == 1
    a.unlink()
    with open_store(a) as store:
        store.rebuild([run_dir])
    assert _dump(a) == _dump(b)


def _report_for(run_dir: Path) -> dict:
    """A bench report in `eqsat bench`'s format (an H200 result of the project's), naming this run's
    kernels; the run directory's copy is what the store reads."""
    report = json.loads(BENCH.read_text())
    template = next(r for r in report["results"] if r["kernel"] == "gather_rows_1024")
    rows = json.loads((run_dir / "run.json").read_text())
    report["results"] = [{**template, "kernel": r["kernel"], "target": r["target"]}
                         for r in rows if r["target"] == "h100"]
    report["run_dir"] = str(run_dir)
    return report


def test_bench_import_is_kept_in_the_run_and_survives_a_rebuild(run_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    report = _report_for(work)
    f = tmp_path / "bench_h200.json"
    f.write_text(json.dumps(report))
    store_file = tmp_path / "s.sqlite"
    with open_store(store_file) as store:
        store.index_run(work)
        rec = store.import_bench(work.name, f)
        assert rec.benches == 1 and len(list((work / "bench").glob("*.json"))) == 1
        rows = store.query("SELECT kernel, target, speedup, bit_identical FROM bench")
        assert len(rows) == len(report["results"])
        assert all(r["speedup"] == pytest.approx(report["results"][0]["speedup"]) for r in rows)
        store.import_bench(work.name, f)  # twice: still one report
        assert store.query("SELECT COUNT(*) AS n FROM bench_imports")[0]["n"] == 1
    before = _dump(store_file)
    store_file.unlink()
    with open_store(store_file) as store:
        store.index_run(work)
    assert _dump(store_file) == before

    other = dict(report, results=[{**report["results"][0], "kernel": "not_in_this_run"}])
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps(other))
    with open_store(store_file) as store, pytest.raises(EqsatError, match="not a kernel of run"):
        store.import_bench(work.name, bad)


def test_migration_from_version_1_keeps_rows(run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), upto=1)
    conn.execute("INSERT INTO runs VALUES ('r-1', '/x', 'x', 't', 't', NULL, '{}', 1, 1, 0, 0)")
    conn.execute("INSERT INTO kernels VALUES ('r-1', 'k', 'h100', 'ok', 1.0, 1.0, 0, 3, 0.1, NULL)")
    assert schema_version(conn) == 1
    conn.close()
    with open_store(path) as store:
        assert schema_version(store.conn) == SCHEMA_VERSION
        assert store.run("r-1")["path"] == "/x"
        assert store.query("SELECT kernel FROM kernels") == [{"kernel": "k"}]
        store.remove("r-1")
        assert store.query("SELECT COUNT(*) AS n FROM kernels")[0]["n"] == 0  # cascades


def test_newer_or_foreign_files_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(EqsatError, match="newer than this eqsat"):
        open_store(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EqsatError, match="not a usable eqsat store"):
        open_store(junk)


def _open_and_close(path: str) -> int:
    with open_store(path) as store:
        return schema_version(store.conn)


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.sqlite")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        versions = pool.map(_open_and_close, [path] * 8)
    assert versions == [SCHEMA_VERSION] * 8


def test_cli_list_show_rm_and_bad_references(run_dir: Path, tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "cli.sqlite")
    assert main(["runs", "--store", store, "index", str(run_dir)]) == 0
    assert "plans" in capsys.readouterr().out
    assert main(["runs", "--store", store, "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["kernels"] for r in listed] == [len(json.loads((run_dir / "run.json").read_text()))]
    assert main(["runs", "--store", store, "show", run_dir.name]) == 0
    out = capsys.readouterr().out
    assert "gather_rows_1024" in out and "softmax_rows" in out
    assert main(["runs", "--store", store, "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: no run 'nope' in the store" in err
    assert main(["runs", "--store", store, "index", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["runs", "--store", store, "rm", listed[0]["id"]]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["runs", "--store", store, "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run_dir.is_dir()
