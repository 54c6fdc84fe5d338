"""`eqsat runs [--store FILE] list | show RUN | rm RUN | index DIR... | import-bench RUN FILE.json |
rebuild DIR... | verify-import RUN_DIR FILE.json`: the run store (eqsat.store), an SQLite index of run
directories and their GPU benches, and device verification records of guarded versions.

    list            one row per run: id, kernels, ok, errors, changed, benches, created
    show RUN        the run's kernels: status, predicted before/after, choices, rules fired, measured speedup
    rm RUN          forget the run (its directory stays)
    index DIR...    add or refresh runs from their directories
    import-bench    keep an `eqsat bench` report in the run's directory and index it
    rebuild DIR...  empty the store and index the directories again
    verify-import   write a device verification report (benchmarks/gpu_verify_versions.py) into the run's
                    plan folders as verified.json (lowering/verified.py): the loader then dispatches the
                    versions found bit-identical on the device, and only those (the store is not touched)

`--format json` prints the same rows as JSON. RUN is an id, a unique id prefix, a directory name or path.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="the run store: list, show, remove and index runs")
    p.add_argument("--store", metavar="FILE", help="store file (default $EQSAT_STORE, else "
                                                   "$XDG_DATA_HOME/eqsat/store.sqlite)")
    sub = p.add_subparsers(dest="runs_command", required=True)
    ls = sub.add_parser("list", help="every run in the store")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    show = sub.add_parser("show", help="one run's kernels, plans and measurements")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--format", choices=("table", "json"), default="table")
    rm = sub.add_parser("rm", help="forget a run (the directory is left alone)")
    rm.add_argument("run", metavar="RUN")
    idx = sub.add_parser("index", help="add or refresh runs from their directories")
    idx.add_argument("dirs", nargs="+", metavar="DIR")
    imp = sub.add_parser("import-bench", help="import an `eqsat bench` report into the run it measured")
    imp.add_argument("run", metavar="RUN")
    imp.add_argument("report", metavar="FILE.json")
    reb = sub.add_parser("rebuild", help="empty the store and index these run directories again")
    reb.add_argument("dirs", nargs="+", metavar="DIR")
    ver = sub.add_parser("verify-import", help="write a device verification report into a run's plan "
                                               "folders (verified.json)")
    ver.add_argument("run_dir", metavar="RUN_DIR")
    ver.add_argument("report", metavar="FILE.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eqsat.store import open_store

    if args.runs_command == "verify-import":
        return verify_import(args.run_dir, args.report)
    with open_store(args.store) as store:
        cmd = args.runs_command
        if cmd == "list":
            rows = _list_rows(store)
            print(json.dumps(rows, indent=1) if args.format == "json" else _table(rows, LIST_COLUMNS))
        elif cmd == "show":
            detail = show_run(store, args.run)
            if args.format == "json":
                print(json.dumps(detail, indent=1))
            else:
                r = detail["run"]
                print(f"run {r['id']}  {r['path']}\ncreated {r['created_at']}  kernels {r['kernels']}  "
                      f"ok {r['ok']}  errors {r['errors']}  changed {r['changed']}  "
                      f"command: {r['command'] or '-'}\n")
                print(_table(detail["kernels"], SHOW_COLUMNS))
        elif cmd == "rm":
            r = store.remove(args.run)
            print(f"removed {r['id']} (directory {r['path']} left as it is)")
        elif cmd in ("index", "rebuild"):
            if cmd == "rebuild":
                records = store.rebuild(args.dirs)
            else:
                records = [store.index_run(d) for d in args.dirs]
            for rec in records:
                print(f"{rec.id}: {rec.kernels} kernel x target, {rec.plans} plans, "
                      f"{rec.benches} bench reports")
        else:  # import-bench
            rec = store.import_bench(args.run, args.report)
            print(f"{rec.id}: {rec.benches} bench reports")
    return 0


def verify_import(run_dir: str, report: str) -> int:
    """`eqsat runs verify-import`: one line per version, as the loader will dispatch it."""
    from eqsat.lowering.verified import import_verified

    rows = import_verified(run_dir, report)
    for folder, slug, status in rows:
        print(f"{folder}  {slug}  {status}")
    print(f"{len(rows)} version record(s) written to {len({r[0] for r in rows})} plan folder(s) of {run_dir}")
    return 0


LIST_COLUMNS = ("id", "kernels", "ok", "errors", "changed", "benches", "created_at")
SHOW_COLUMNS = ("kernel", "target", "status", "cost_before", "cost_after", "choices", "rules_fired",
                "changed", "speedup", "bit_identical")


def _list_rows(store: Any) -> list[dict[str, Any]]:
    return store.query(
        "SELECT r.id, r.path, r.kernels, r.ok, r.errors, r.changed, r.created_at, r.command, "
        "(SELECT COUNT(*) FROM bench_imports b WHERE b.run_id = r.id) AS benches "
        "FROM runs r ORDER BY r.created_at, r.id")


def show_run(store: Any, ref: str) -> dict[str, Any]:
    """The run's row and one row per kernel x target with its plan, rule firings and latest bench."""
    run = store.run(ref)
    kernels = store.query(
        "SELECT k.kernel, k.target, k.status, k.cost_before, k.cost_after, k.changed, k.error, "
        "COALESCE(p.choices, 0) AS choices, p.stop_reason, p.method, "
        "(SELECT COALESCE(SUM(f.matches), 0) FROM rule_firings f WHERE f.run_id = k.run_id "
        " AND f.kernel = k.kernel AND f.target = k.target) AS rules_fired, "
        "(SELECT b.speedup FROM bench b WHERE b.run_id = k.run_id AND b.kernel = k.kernel "
        " AND b.target = k.target ORDER BY b.bench_id LIMIT 1) AS speedup, "
        "(SELECT b.bit_identical FROM bench b WHERE b.run_id = k.run_id AND b.kernel = k.kernel "
        " AND b.target = k.target ORDER BY b.bench_id LIMIT 1) AS bit_identical "
        "FROM kernels k LEFT JOIN plans p ON p.run_id = k.run_id AND p.kernel = k.kernel "
        "AND p.target = k.target WHERE k.run_id = ? ORDER BY k.rowid", (run["id"],))
    return {"run": run, "kernels": kernels}


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)
