"""`eqsat bench RUN_DIR [--kernel NAME] [--out FILE.json] [--repeat N]`: check and time a run on a GPU.

Every optimized kernel of the run is compared bit for bit with Triton's JIT compile of its source and
timed against it (`eqsat.lowering.bench`). Writes FILE.json (default RUN_DIR/bench.json) and FILE.md
beside it, prints one line per kernel. Exit 0 when every benched kernel is bit-identical and its
baseline TTGIR is the run's input; 1 when one is not or a kernel failed; 2 for bad input (missing run
directory, malformed run.json) or a machine without a CUDA GPU. Imports nothing beyond triton and torch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="check optimized kernels against the JIT on a GPU, time them")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `eqsat optimize`")
    p.add_argument("--kernel", action="append", dest="kernels", metavar="NAME",
                   help="only this kernel (repeat for several)")
    p.add_argument("--out", metavar="FILE.json", help="report path (default RUN_DIR/bench.json); "
                                                      "a markdown table is written beside it (.md)")
    p.add_argument("--repeat", type=int, default=2, metavar="N",
                   help="timing rounds of baseline/optimized/baseline per kernel (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eqsat.lowering.bench import bench_run, markdown, ok

    report = bench_run(args.run_dir, kernels=args.kernels, rounds=args.repeat, seed=args.seed,
                       log=lambda line: print(line, flush=True))
    command = getattr(args, "command_line", None) or "eqsat " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report["command"] = command
    out = Path(args.out) if args.out else Path(args.run_dir) / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report, command))
    s = report["summary"]
    print(f"{s['bit_identical']}/{s['benched']} bit-identical, {s['skipped']} skipped, {s['errors']} errors; "
          f"report {out}")
    return 0 if ok(report) else 1
