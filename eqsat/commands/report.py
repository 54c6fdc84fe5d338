"""`eqsat report RUN [--compare RUN2] --format html|md|json [--out FILE] [--store FILE]`: one run's plans,
costs, alternatives, e-graphs and measurements, across the corpus and per kernel (eqsat.report).

RUN and RUN2 are run directories (indexed into the store first) or references to runs already in the
store (`eqsat runs list`). Without --out the report goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eqsat.errors import EqsatError


def register(subparsers: argparse._SubParsersAction) -> None:
    from eqsat.report import FORMATS

    p = subparsers.add_parser("report", help="a report of a run (HTML, Markdown or JSON), optionally "
                                             "compared with another run")
    p.add_argument("run", metavar="RUN", help="run directory or store reference")
    p.add_argument("--compare", metavar="RUN2", help="an earlier run to compare with")
    p.add_argument("--format", choices=FORMATS, default="html")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--store", metavar="FILE", help="store file (default as in `eqsat runs`)")
    p.set_defaults(func=run)


def _ref(store, ref: str) -> str:
    if os.path.isdir(ref):
        return store.index_run(ref).id
    if os.path.sep in ref or ref.endswith(".json"):
        raise EqsatError("no such run directory", ref)
    return store.run(ref)["id"]


def run(args: argparse.Namespace) -> int:
    from eqsat.report import render
    from eqsat.report.data import report_data
    from eqsat.store import open_store

    if args.out and Path(args.out).is_dir():
        raise EqsatError("--out names a directory; give a file name", args.out)
    with open_store(args.store) as store:
        rid = _ref(store, args.run)
        cid = _ref(store, args.compare) if args.compare else None
        text = render(report_data(store, rid, cid), args.format)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"report {args.out} ({len(text) // 1024} KiB)")
    else:
        sys.stdout.write(text)
    return 0
