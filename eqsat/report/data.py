"""What a report says, as plain JSON: built from the run store and the run directories it indexes.

    report_data(store, run_ref, compare_ref=None) -> {
        "run": {...runs row},  "compare": {...} | None,
        "kernels": [ per kernel x target: status, error, costs before/after (total and ns per group),
                     predicted speedup, choices (kind, op, params, rule, ns before/after, alternatives and
                     why each lost), e-graph (nodes, classes, iterations, stop reason, seconds), rules
                     fired, the TTGIR diff (unified, input -> optimized), the e-graph dump if written,
                     measured (bench: bit_identical, baseline/optimized ms, speedup, noise) ],
        "corpus": { predicted and measured speedups, rule firings per kernel x target, h100 versus mi300x
                    plan differences, totals },
        "changes": [ with --compare: per kernel x target in either run, what changed: added, removed,
                     plan (a different plan), cost_after, measured speedup before/after ] }

Speedups are cost_before / cost_after (predicted) and baseline_ms / optimized_ms (measured). The diff
is computed here from input.ttgir and optimized.ttgir, so a store alone never holds stale text.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

DIFF_CONTEXT = 3
DIFF_MAX_LINES = 400


def _speedup(before: Any, after: Any) -> float | None:
    if isinstance(before, int | float) and isinstance(after, int | float) and after > 0:
        return before / after
    return None


def _kernel_dirs(run_path: Path) -> dict[tuple[str, str], Path]:
    """(kernel, target) -> its directory in the run (names there are sanitised: read them off plan.json)."""
    from eqsat.store.index import plans_of

    return {key: path.parent for key, (path, _plan) in plans_of(run_path).items()}


def ttgir_diff(kdir: Path | None) -> dict[str, Any]:
    """Unified diff input.ttgir -> optimized.ttgir (location attributes kept, as Triton prints them)."""
    if kdir is None or not (kdir / "input.ttgir").is_file():
        return {"available": False, "lines": [], "changed_lines": 0, "truncated": False}
    before = (kdir / "input.ttgir").read_text().splitlines()
    opt = kdir / "optimized.ttgir"
    after = opt.read_text().splitlines() if opt.is_file() else before
    lines = list(difflib.unified_diff(before, after, "input.ttgir", "optimized.ttgir", n=DIFF_CONTEXT,
                                      lineterm=""))
    changed = sum(1 for ln in lines if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
    return {"available": True, "lines": lines[:DIFF_MAX_LINES], "changed_lines": changed,
            "truncated": len(lines) > DIFF_MAX_LINES}


def _kernel_rows(store: Any, run: dict[str, Any]) -> list[dict[str, Any]]:
    rid = run["id"]
    run_path = Path(run["path"])
    plans = {(p["kernel"], p["target"]): p
             for p in store.query("SELECT * FROM plans WHERE run_id = ?", (rid,))}
    firings: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for f in store.query("SELECT kernel, target, rule, matches FROM rule_firings WHERE run_id = ?", (rid,)):
        firings[(f["kernel"], f["target"])][f["rule"]] = f["matches"]
    bench: dict[tuple[str, str], dict[str, Any]] = {}
    for b in store.query("SELECT * FROM bench WHERE run_id = ? ORDER BY bench_id", (rid,)):
        bench.setdefault((b["kernel"], b["target"]), b)
    dirs = _kernel_dirs(run_path)
    out = []
    for k in store.query("SELECT * FROM kernels WHERE run_id = ? ORDER BY rowid", (rid,)):
        key = (k["kernel"], k["target"])
        p = plans.get(key)
        plan = json.loads(p["plan_json"]) if p else {}
        kdir = dirs.get(key)
        b = bench.get(key)
        dot = kdir / "egraph.dot" if kdir is not None and (kdir / "egraph.dot").is_file() else None
        out.append({
            "kernel": k["kernel"], "target": k["target"], "status": k["status"], "error": k["error"],
            "changed": bool(k["changed"]), "seconds": k["seconds"],
            "cost_before": k["cost_before"], "cost_after": k["cost_after"],
            "predicted_speedup": _speedup(k["cost_before"], k["cost_after"]),
            "ns_before": (plan.get("cost_before") or {}).get("ns", {}),
            "ns_after": (plan.get("cost_after") or {}).get("ns", {}),
            "plan_sha": p["plan_sha"] if p else None,
            "applied": bool(p and p["applied"]),
            "not_applied_reason": (plan.get("extraction") or {}).get("not_applied_reason"),
            "extraction_method": (plan.get("extraction") or {}).get("method"),
            "choices": [_choice(c) for c in plan.get("choices", [])],
            "egraph": {key2: (plan.get("egraph") or {}).get(key2)
                       for key2 in ("nodes", "classes", "iterations", "stop_reason", "stopped_in", "seconds",
                                    "total_seconds", "families")},
            "rules_fired": dict(sorted(firings.get(key, {}).items())),
            "diff": ttgir_diff(kdir),
            "egraph_dot": str(dot) if dot else None,
            "measured": None if b is None else {
                "bit_identical": None if b["bit_identical"] is None else bool(b["bit_identical"]),
                "baseline_ms": b["baseline_ms"], "optimized_ms": b["optimized_ms"], "speedup": b["speedup"],
                "noise": b["noise"], "status": b["status"]},
        })
    return out


def _choice(c: dict[str, Any]) -> dict[str, Any]:
    return {"op": c["op"], "kind": c["kind"], "params": c.get("params", {}), "rule": c.get("rule", ""),
            "before_ns": (c.get("cost_before") or {}).get("total_ns"),
            "after_ns": (c.get("cost_after") or {}).get("total_ns"),
            "alternatives": [{"kind": a.get("kind"), "params": a.get("params", {}),
                              "rule": a.get("rule", ""), "rejected": a.get("rejected", ""),
                              "cost_ns": (a.get("cost") or {}).get("total_ns")}
                             for a in c.get("alternatives", [])]}


def _plan_signature(row: dict[str, Any]) -> list[tuple[str, str]]:
    """What a plan does, comparable across targets: (kind, params) of each choice, op ids dropped."""
    return sorted((c["kind"], json.dumps(c["params"], sort_keys=True)) for c in row["choices"])


def _target_differences(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_kernel: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        by_kernel[r["kernel"]][r["target"]] = r
    diffs = []
    for name, per in by_kernel.items():
        if "h100" in per and "mi300x" in per:
            a, b = per["h100"], per["mi300x"]
            same = _plan_signature(a) == _plan_signature(b)
            diffs.append({"kernel": name, "same_plan": same,
                          "h100": [f"{c['kind']} {_short(c['params'])}" for c in a["choices"]],
                          "mi300x": [f"{c['kind']} {_short(c['params'])}" for c in b["choices"]],
                          "h100_speedup": a["predicted_speedup"], "mi300x_speedup": b["predicted_speedup"]})
    return diffs


def _short(params: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return text if len(text) <= 90 else text[:87] + "..."


def _changes(rows: list[dict[str, Any]], old_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    new = {(r["kernel"], r["target"]): r for r in rows}
    old = {(r["kernel"], r["target"]): r for r in old_rows}
    out = []
    for key in sorted(set(new) | set(old)):
        a, b = old.get(key), new.get(key)
        entry: dict[str, Any] = {"kernel": key[0], "target": key[1]}
        if a is None or b is None:
            entry["change"] = "added" if a is None else "removed"
        else:
            plan_changed = _plan_signature(a) != _plan_signature(b)
            status_changed = a["status"] != b["status"]
            ma, mb = (a["measured"] or {}).get("speedup"), (b["measured"] or {}).get("speedup")
            entry.update({
                "change": "status" if status_changed else "plan" if plan_changed else "none",
                "status_before": a["status"], "status_after": b["status"],
                "cost_after_before": a["cost_after"], "cost_after_after": b["cost_after"],
                "predicted_before": a["predicted_speedup"], "predicted_after": b["predicted_speedup"],
                "measured_before": ma, "measured_after": mb,
                "faster": None if ma is None or mb is None else mb > ma,
            })
        out.append(entry)
    return out


def report_data(store: Any, run_ref: str, compare_ref: str | None = None) -> dict[str, Any]:
    run = store.run(run_ref)
    rows = _kernel_rows(store, run)
    compare = store.run(compare_ref) if compare_ref else None
    ok = [r for r in rows if r["status"] == "ok"]
    corpus = {
        "kernels": len(rows), "ok": len(ok), "errors": len(rows) - len(ok),
        "applied": sum(1 for r in rows if r["applied"]), "changed": sum(1 for r in rows if r["changed"]),
        "benched": sum(1 for r in rows if r["measured"]),
        "predicted_speedups": [r["predicted_speedup"] for r in ok if r["predicted_speedup"] is not None],
        "measured_speedups": [r["measured"]["speedup"] for r in rows
                              if r["measured"] and r["measured"]["speedup"] is not None],
        "rule_firings": {f"{r['kernel']} [{r['target']}]": r["rules_fired"] for r in rows},
        "target_differences": _target_differences(rows),
    }
    return {"run": run, "compare": compare, "kernels": rows, "corpus": corpus,
            "changes": _changes(rows, _kernel_rows(store, compare)) if compare else []}
