"""`eqsat optimize PATH... --target T [--target T2] --out DIR [--jobs N] [--timeout S] [--node-limit N]
[--min-gain PCT] [--dump-egraph]`: saturate, extract and lower every kernel; write the run directory.

Each kernel x target runs in a worker process that is killed at `--timeout` seconds (the whole kernel:
seeding, synthesis, saturation, extraction, lowering and the compile of the result) and whose address
space is capped at `--memory-limit` GiB; the e-graph's own time limit (`--saturation-timeout`) is the
smaller of 10 s and half of `--timeout` unless given. A failing kernel is that row's one-line error.
"""

from __future__ import annotations

import argparse
import math
import shlex
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
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="wall-clock limit of each kernel x target (its worker is killed at it; default 60)")
    p.add_argument("--saturation-timeout", type=float, default=None, metavar="S",
                   help="e-graph saturation time limit, checked between iterations "
                        "(default: 10 s or half of --timeout, whichever is smaller)")
    p.add_argument("--memory-limit", type=float, default=8.0, metavar="GIB",
                   help="address-space limit of each kernel's worker in GiB (default 8)")
    p.add_argument("--in-process", action="store_true",
                   help="optimize every kernel in this process: no worker, no deadline, no memory cap")
    p.add_argument("--node-limit", type=int, default=20_000, metavar="N", help="e-graph size limit (rows)")
    p.add_argument("--min-gain", type=float, default=2.0, metavar="PCT",
                   help="apply a plan only if it saves at least PCT %% of the input cost (and --min-gain-ns)")
    p.add_argument("--min-gain-ns", type=float, default=50.0, metavar="NS")
    p.add_argument("--exact-node-limit", type=int, default=2000, metavar="N",
                   help="run the exact (z3) extraction on e-graphs up to N nodes")
    p.add_argument("--dump-egraph", action="store_true", help="also write egraph.json and egraph.dot")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: worker processes here; ray: Ray tasks (cluster from --ray-address or "
                        "$RAY_ADDRESS, else a local Ray with --jobs CPUs)")
    p.add_argument("--ray-address", metavar="ADDR", help="address of an existing Ray cluster")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute every kernel (by default finished kernels come from the result cache)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--store", metavar="FILE", help="index the run into this run store (default as in "
                                                   "`eqsat runs`)")
    p.add_argument("--no-store", action="store_true", help="do not index the run into the run store")
    p.add_argument("--rules", action="append", dest="rule_sources", default=[], metavar="PATH.py|MODULE",
                   help="also use the rule family in this file or module (repeatable; eqsat.rules.user)")
    p.add_argument("--only", action="append", default=[], metavar="FAMILY|RULE",
                   help="use only these rules or families (repeatable)")
    p.add_argument("--disable", action="append", default=[], metavar="FAMILY|RULE",
                   help="switch these rules or families off (repeatable)")
    p.set_defaults(func=run)


def _positive(name: str, value: float, integer: bool = False, zero_ok: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if zero_ok else value > 0)
    if not ok:
        kind = "a non-negative" if zero_ok else "a positive"
        raise EqsatError(f"{name} must be {kind} {'integer' if integer else 'finite number'}, not {value}")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqsat.egraph.schedule import Limits
    from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths, summary_table

    _positive("--jobs", args.jobs, integer=True)
    _positive("--timeout", args.timeout)
    _positive("--memory-limit", args.memory_limit)
    _positive("--node-limit", args.node_limit, integer=True)
    _positive("--exact-node-limit", args.exact_node_limit, integer=True, zero_ok=True)
    _positive("--min-gain", args.min_gain, zero_ok=True)
    _positive("--min-gain-ns", args.min_gain_ns, zero_ok=True)
    if args.min_gain > 100:
        raise EqsatError(f"--min-gain is a percentage of the input cost (0..100), not {args.min_gain}")
    saturation = args.saturation_timeout
    if saturation is None:
        saturation = min(10.0, args.timeout / 2)
    _positive("--saturation-timeout", saturation)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise EqsatError("--out names an existing file, not a directory", args.out)
    from eqsat.rules.user import RuleSelection, selected_families

    selection = RuleSelection(sources=tuple(args.rule_sources), only=tuple(args.only),
                              disable=tuple(args.disable))
    selected_families(selection)  # a bad rule file or name is one line now, not one per kernel
    options = OptimizeOptions(limits=Limits(node_limit=args.node_limit, time_limit_s=saturation),
                              min_gain_frac=args.min_gain / 100.0, min_gain_ns=args.min_gain_ns,
                              exact_node_limit=args.exact_node_limit, dump_egraph=args.dump_egraph,
                              rules=None if selection.is_default else selection)
    memory = int(args.memory_limit * (1 << 30))
    isolation = RunIsolation(timeout_s=args.timeout, memory_bytes=memory, in_process=args.in_process,
                             debug=getattr(args, "debug", False), executor=args.executor,
                             ray_address=args.ray_address, use_cache=not args.no_cache)
    command = "eqsat " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    show = sys.stderr.isatty() if args.progress is None else args.progress
    if show:
        from eqsat.progress import RunProgress

        with RunProgress() as bar:
            rows = optimize_paths(args.paths, args.targets or ["h100"], args.out, options, jobs=args.jobs,
                                  isolation=isolation, progress=bar, command=command)
    else:
        rows = optimize_paths(args.paths, args.targets or ["h100"], args.out, options, jobs=args.jobs,
                              isolation=isolation, command=command)
    print(summary_table(rows), flush=True)
    if not args.no_store:
        _index(args.out, args.store)
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        line = " ".join(str(r["error"]).split())
        if r["kernel"] not in line:
            head, sep, rest = line.partition(": error: ")
            line = f"{head}{sep}{r['kernel']} [{r['target']}]: {rest}" if sep else f"{r['kernel']}: {line}"
        print(line, file=sys.stderr)
        if getattr(args, "debug", False) and r.get("traceback"):
            print(r["traceback"], file=sys.stderr)
    return 2 if failed else 0


def _index(run_dir: str, store_path: str | None) -> None:
    """Index the finished run into the run store; a store that cannot be written costs a warning line,
    never the run (the run directory is the truth and can be indexed later)."""
    from eqsat.store import open_store

    try:
        with open_store(store_path) as store:
            rec = store.index_run(run_dir)
        print(f"run {rec.id} indexed into {store.path}", flush=True)
    except EqsatError as e:
        print(f"warning: the run was not indexed: {' '.join(str(e).split())}", file=sys.stderr)
