"""Index a run directory into the store, and import GPU bench reports into the run they measured.

    index_run(store, run_dir)             run.json      -> runs (one row) + kernels (one row per entry)
                                          */*/plan.json -> plans, costs (ns per group, before and after),
                                                           choices, alternatives, rule_firings
                                          meta.json     -> runs.command, runs.versions_json (when present)
                                          bench.json, bench/*.json -> bench_imports + bench
    import_bench(store, run, report)      copies the report into RUN_DIR/bench/<id>.json, then indexes it

Indexing replaces every row of that run in one transaction, so indexing twice gives the same rows, and a
store deleted and rebuilt from the same directories holds the same rows (`indexed_at` aside). A bench
report names the run it measured (`run_dir`); rows of kernels the run does not have are refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError


@dataclass(frozen=True)
class RunRecord:
    id: str
    path: str
    kernels: int
    plans: int
    benches: int


def run_id_for(run_dir: Path) -> str:
    real = str(run_dir.resolve())
    return f"{run_dir.resolve().name}-{hashlib.sha256(real.encode()).hexdigest()[:8]}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EqsatError("no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EqsatError(f"cannot read file: {e}", str(path)) from None
    except json.JSONDecodeError as e:
        raise EqsatError(f"malformed JSON: {e.msg}", str(path), e.lineno, e.colno) from None


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "run.json"
    rows = _read_json(path)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise EqsatError("run.json must be a list of objects (one per kernel x target)", str(path))
    for i, r in enumerate(rows):
        missing = [k for k in ("kernel", "target", "status") if not isinstance(r.get(k), str)]
        if missing:
            raise EqsatError(f"entry {i} lacks {', '.join(missing)}", str(path))
    return rows


def plans_of(run_dir: Path) -> dict[tuple[str, str], tuple[Path, dict[str, Any]]]:
    """(kernel, target) -> (plan.json, its content), found by content (directory names are sanitised)."""
    found: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for p in sorted(run_dir.glob("*/*/plan.json")):
        plan = _read_json(p)
        if isinstance(plan, dict) and isinstance(plan.get("kernel"), str):
            found[(plan["kernel"], str(plan.get("target")))] = (p, plan)
    return found


def _bench_reports(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    files = ([run_dir / "bench.json"] if (run_dir / "bench.json").is_file() else []) + \
        sorted((run_dir / "bench").glob("*.json"))
    return [(f, _read_json(f)) for f in files]


def _ns(cost: dict[str, Any] | None) -> float | None:
    v = (cost or {}).get("total_ns")
    return float(v) if isinstance(v, int | float) else None


def index_run(store: Any, run_dir: Path) -> RunRecord:
    if not run_dir.is_dir():
        raise EqsatError("not a run directory (eqsat optimize --out DIR writes one)", str(run_dir))
    rows = _run_rows(run_dir)
    plans = plans_of(run_dir)
    meta = _read_json(run_dir / "meta.json") if (run_dir / "meta.json").is_file() else {}
    benches = _bench_reports(run_dir)
    rid = run_id_for(run_dir)
    created = meta.get("created_at") or _iso((run_dir / "run.json").stat().st_mtime)
    with store.transaction() as conn:
        conn.execute("DELETE FROM runs WHERE id = ? OR path = ?", (rid, str(run_dir.resolve())))
        conn.execute(
            "INSERT INTO runs (id, path, name, created_at, indexed_at, command, versions_json, kernels, ok, "
            "errors, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, str(run_dir.resolve()), run_dir.resolve().name, created,
             _iso(_dt.datetime.now(_dt.UTC).timestamp()), meta.get("command"),
             json.dumps(meta.get("versions", {}), sort_keys=True), len(rows),
             sum(r["status"] == "ok" for r in rows), sum(r["status"] != "ok" for r in rows),
             sum(bool(r.get("changed")) for r in rows)))
        n_plans = 0
        for r in rows:
            _insert_kernel(conn, rid, r)
            key = (r["kernel"], r["target"])
            if key in plans:
                _insert_plan(conn, rid, key, plans[key][1])
                n_plans += 1
        for path, report in benches:
            _insert_bench(conn, rid, path, report, {(r["kernel"], r["target"]) for r in rows})
    return RunRecord(rid, str(run_dir.resolve()), len(rows), n_plans, len(benches))


def _insert_kernel(conn: sqlite3.Connection, rid: str, r: dict[str, Any]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO kernels (run_id, kernel, target, status, cost_before, cost_after, changed, "
        "egraph_nodes, seconds, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rid, r["kernel"], r["target"], r["status"], r.get("cost_before"), r.get("cost_after"),
         int(bool(r.get("changed"))), r.get("egraph_nodes"), r.get("seconds"), r.get("error")))


def _insert_plan(conn: sqlite3.Connection, rid: str, key: tuple[str, str], plan: dict[str, Any]) -> None:
    from eqsat.plan import without_timing

    text = json.dumps(plan, sort_keys=True)
    identity = json.dumps(without_timing(plan), sort_keys=True)  # equal plans have equal shas
    eg = plan.get("egraph") or {}
    ex = plan.get("extraction") or {}
    choices = plan.get("choices") or []
    conn.execute(
        "INSERT INTO plans (run_id, kernel, target, plan_sha, applied, method, not_applied_reason, choices, "
        "egraph_nodes, egraph_classes, iterations, stop_reason, saturate_seconds, total_seconds, plan_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rid, *key, hashlib.sha256(identity.encode()).hexdigest(), int(bool(choices)), ex.get("method"),
         ex.get("not_applied_reason"), len(choices), eg.get("nodes"), eg.get("classes"), eg.get("iterations"),
         eg.get("stop_reason"), eg.get("seconds"), eg.get("total_seconds"), text))
    for side in ("before", "after"):
        for grp, ns in sorted(((plan.get(f"cost_{side}") or {}).get("ns") or {}).items()):
            conn.execute("INSERT INTO costs VALUES (?, ?, ?, ?, ?, ?)", (rid, *key, side, grp, float(ns)))
    for i, c in enumerate(choices):
        conn.execute("INSERT INTO choices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (rid, *key, i, int(c["op"]), c["kind"], json.dumps(c.get("params", {}), sort_keys=True),
                      c.get("rule", ""), _ns(c.get("cost_before")), _ns(c.get("cost_after"))))
        for j, a in enumerate(c.get("alternatives") or []):
            conn.execute("INSERT INTO alternatives VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (rid, *key, i, j, a.get("kind", ""), json.dumps(a.get("params", {}), sort_keys=True),
                          a.get("rule", ""), a.get("rejected", ""), _ns(a.get("cost"))))
    for rule, n in sorted((eg.get("rule_matches") or {}).items()):
        conn.execute("INSERT INTO rule_firings VALUES (?, ?, ?, ?, ?)", (rid, *key, rule, int(n)))


def _insert_bench(conn: sqlite3.Connection, rid: str, path: Path, report: Any,
                  known: set[tuple[str, str]]) -> None:
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise EqsatError("not an eqsat bench report (no 'results' list)", str(path))
    bid = _bench_id(report)
    conn.execute("INSERT OR REPLACE INTO bench_imports VALUES (?, ?, ?, ?, ?, ?)",
                 (bid, rid, str(path), report.get("device"), report.get("command"),
                  json.dumps(report.get("summary", {}), sort_keys=True)))
    for i, r in enumerate(report["results"]):
        key = (r.get("kernel"), r.get("target"))
        if key not in known:
            raise EqsatError(f"result {i} ({key[0]} [{key[1]}]) is not a kernel of this run: the report "
                             "measured another run", str(path))
        conn.execute("INSERT OR REPLACE INTO bench VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (rid, bid, *key, r.get("status", "ok"), _flag(r, "bit_identical"),
                      _flag(r, "ttgir_matches_jit"),
                      r.get("baseline_ms"), r.get("optimized_ms"), r.get("speedup"), r.get("noise"),
                      r.get("predicted_speedup"), _flag(r, "order_agrees"), json.dumps(r, sort_keys=True)))


def _flag(row: dict[str, Any], name: str) -> int | None:
    return None if row.get(name) is None else int(bool(row[name]))


def _bench_id(report: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:12]


def import_bench(store: Any, run: dict[str, Any], report_file: Path) -> RunRecord:
    """Keep the report in the run directory (so a rebuilt store has it too), then index the run."""
    report = _read_json(report_file)
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        raise EqsatError("not an eqsat bench report (no 'results' list)", str(report_file))
    run_dir = Path(run["path"])
    known = {(r["kernel"], r["target"]) for r in _run_rows(run_dir)}
    for i, r in enumerate(report["results"]):
        if (r.get("kernel"), r.get("target")) not in known:
            raise EqsatError(f"result {i} ({r.get('kernel')} [{r.get('target')}]) is not a kernel of run "
                             f"{run['id']}: the report measured another run", str(report_file))
    dest = run_dir / "bench" / f"{_bench_id(report)}.json"
    dest.parent.mkdir(exist_ok=True)
    if not dest.exists():
        shutil.copyfile(report_file, dest)
    return index_run(store, run_dir)
