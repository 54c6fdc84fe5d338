"""`eqsat optimize PATH... --target T [--target T2] --out DIR [--jobs N] [--timeout S] [--node-limit N]
[--min-gain PCT] [--dump-egraph]`: saturate, extract and lower every kernel; write the run directory."""

from __future__ import annotations

import argparse
import sys

from eqsat.errors import EqsatError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("optimize", help="optimize the data movement of kernels; write a run directory")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="a .ttgir/.ttir file or a corpus manifest (.toml)")
    p.add_argument("--target", action="append", dest="targets", metavar="T",
                   help="target; repeat for several")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory to write")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="kernels optimized in parallel")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="saturation time limit per kernel x target (checked between iterations)")
    p.add_argument("--node-limit", type=int, default=20_000, metavar="N", help="e-graph size limit (rows)")
    p.add_argument("--min-gain", type=float, default=2.0, metavar="PCT",
                   help="apply a plan only if it saves at least PCT %% of the input cost (and --min-gain-ns)")
    p.add_argument("--min-gain-ns", type=float, default=50.0, metavar="NS")
    p.add_argument("--exact-node-limit", type=int, default=2000, metavar="N",
                   help="run the exact (z3) extraction on e-graphs up to N nodes")
    p.add_argument("--dump-egraph", action="store_true", help="also write egraph.json and egraph.dot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eqsat.egraph.schedule import Limits
    from eqsat.optimize import OptimizeOptions, optimize_paths, summary_table

    if args.jobs < 1 or args.timeout <= 0 or args.node_limit < 1:
        raise EqsatError("--jobs, --timeout and --node-limit must be positive")
    options = OptimizeOptions(limits=Limits(node_limit=args.node_limit, time_limit_s=args.timeout),
                              min_gain_frac=args.min_gain / 100.0, min_gain_ns=args.min_gain_ns,
                              exact_node_limit=args.exact_node_limit, dump_egraph=args.dump_egraph)
    rows = optimize_paths(args.paths, args.targets or ["h100"], args.out, options, jobs=args.jobs)
    print(summary_table(rows))
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(str(r["error"]).replace("\n", " "), file=sys.stderr)
    return 2 if failed else 0
