"""`eqsat cost`: price data movement with a target's cost model.

    eqsat cost bank-conflicts --target T --batch FILE.jsonl
        one JSON line out per input line (costmodels/batch.py; the design.md contract)
    eqsat cost kernel PATH... --target T [--format table|json]
        the movement cost of each kernel as it stands: front end (ingest, parse, lift), dm JSON, then
        `kernel_cost`; one row per op (id, kind, main terms, ns) and the total. The manifest's launch
        grid, when it has one, sets the number of CTAs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from eqsat.errors import EqsatError
from eqsat.targets import TARGETS

MAIN_TERMS = ("global_sectors", "shared_wavefronts", "shared_conflicts", "shuffle_rounds", "barriers")


def register(subparsers: Any) -> None:
    cost = subparsers.add_parser("cost", help="price data movement with a target's cost model")
    sub = cost.add_subparsers(dest="cost_command", required=True)
    bank = sub.add_parser("bank-conflicts",
                          help="bank conflicts of register/shared layout pairs (JSON lines)")
    bank.add_argument("--target", required=True, metavar="T")
    bank.add_argument("--batch", required=True, metavar="FILE.jsonl")
    bank.set_defaults(func=run_bank_conflicts)
    kern = sub.add_parser("kernel", help="movement cost breakdown of kernels as they stand")
    kern.add_argument("paths", nargs="+", metavar="PATH", help="a .ttgir file or a corpus manifest (.toml)")
    kern.add_argument("--target", required=True, metavar="T")
    kern.add_argument("--format", choices=("table", "json"), default="table")
    kern.set_defaults(func=run_kernel)


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise EqsatError(f"unknown target '{target}' (known: {', '.join(sorted(TARGETS))})")


def run_bank_conflicts(args: argparse.Namespace) -> int:
    from eqsat.costmodels.batch import bank_conflicts_lines

    _check_target(args.target)
    from eqsat.ir.verify import read_ir_file

    try:
        lines = read_ir_file(args.batch).splitlines(keepends=True)  # size-bounded, UTF-8 at line:col
    except EqsatError as e:
        raise EqsatError(f"cannot read batch file: {e.message}", args.batch, e.line, e.column) from None
    out = list(bank_conflicts_lines(lines, args.target, args.batch))  # all or nothing: errors first
    sys.stdout.write("".join(line if line.endswith("\n") else line + "\n" for line in out))
    return 0


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.1f}"


def _table(kernel: dict[str, Any], cost: Any) -> None:
    print(f"== {kernel['kernel']} ({kernel['target']})")
    print(f"{'id':>4} {'kind':14} " + " ".join(f"{t:>17}" for t in MAIN_TERMS) + f" {'ns':>11}")
    ops = {o["id"]: o for o in kernel["ops"]}
    for op_id, c in cost.info["ops"].items():
        if ops[op_id]["kind"] == "other":
            continue
        terms = c["terms"]
        ns = "illegal: " + c["illegal"] if c["illegal"] else _fmt(c["total_ns"] or 0.0)
        print(f"{op_id:>4} {ops[op_id]['kind']:14} "
              + " ".join(f"{terms.get(t, 0):>17.1f}" for t in MAIN_TERMS) + f" {ns:>11}")
    print(f"{'':>4} {'total':14} " + " ".join(f"{cost.terms.get(t, 0):>17.1f}" for t in MAIN_TERMS)
          + f" {_fmt(cost.total_ns):>11}")


def run_kernel(args: argparse.Namespace) -> int:
    from eqsat.costmodels.base import model_for
    from eqsat.dm.json import dm_to_json
    from eqsat.pipeline import front_end, internal_error

    _check_target(args.target)
    model = model_for(args.target)
    failed = 0
    for k in front_end(args.paths, [args.target]):
        error = k.error
        if error is None:
            try:
                kernel = dm_to_json(k.dm, args.target)
                grid = (k.launch or {}).get("grid")
                if grid:
                    kernel["grid"] = list(grid)
                cost = model.kernel_cost(kernel)
                if args.format == "json":
                    print(json.dumps({"kernel": kernel["kernel"], "target": args.target, **cost.to_json()}),
                          flush=True)
                else:
                    _table(kernel, cost)
                    sys.stdout.flush()
            except EqsatError as e:
                if e.file is None:
                    e.file = k.source
                error = e
            except BrokenPipeError:
                raise
            except BaseException as e:  # noqa: BLE001 - one kernel's failure must not stop the others
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                error = internal_error(e, "cost model", k.name, args.target, k.source)
        if error is not None:
            print(" ".join(str(error).split()), file=sys.stderr)
            if getattr(args, "debug", False) and getattr(error, "traceback", None):
                print(error.traceback, file=sys.stderr)
            failed += 1
    return 2 if failed else 0
