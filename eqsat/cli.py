"""The `eqsat` command line (the contract is in ../shared/design.md; options may grow, never change).

    eqsat ingest PATH... --target T [--target T2] --format ttgir|json|summary
    eqsat cost|optimize|rules|bench|report ...   (modules in eqsat/commands/)

Bad input prints one line `file:line:col: error: ...` on stderr and exits 2, never a traceback; with many
kernels each bad one is reported and the others still run (exit 2 at the end if any failed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence

from eqsat.errors import EqsatError
from eqsat.targets import TARGETS


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="eqsat", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="compile/read kernels, parse TTGIR, lift the data movement")
    ing.add_argument("paths", nargs="+", metavar="PATH",
                     help="a .ttgir/.ttir file or a corpus manifest (.toml)")
    ing.add_argument("--target", action="append", dest="targets", metavar="T",
                     help=f"target ({', '.join(TARGETS)}); repeat for several; default h100")
    ing.add_argument("--format", choices=("ttgir", "json", "summary"), default="summary",
                     help="ttgir: the parsed module printed back; json: the dm graph (one object per "
                          "kernel and target, one per line when there are several); summary: a table")
    ing.add_argument("--no-cache", action="store_true", help="recompile even if the compile is cached")
    ing.set_defaults(func=cmd_ingest)
    for module in _command_modules():
        module.register(sub)
    return ap


def _command_modules() -> list:
    """The subcommand modules of `eqsat.commands` that exist (each lands with its issue)."""
    import importlib

    from eqsat.commands import COMMAND_MODULES

    found = []
    for name in COMMAND_MODULES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return found


def _error(msg: str) -> None:
    print(msg.replace("\n", " "), file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from eqsat.pipeline import front_end

    targets = args.targets or ["h100"]
    for t in targets:
        if t not in TARGETS:
            raise EqsatError(f"unknown target '{t}' (known: {', '.join(TARGETS)})")
    lift = args.format in ("json", "summary")
    kernels = list(front_end(args.paths, targets, lift=lift, use_cache=not args.no_cache))
    failed = [k for k in kernels if not k.ok]
    good = [k for k in kernels if k.ok]
    if args.format == "ttgir":
        from eqsat.ir.printer import print_ttgir

        for k in good:
            if len(kernels) > 1:
                print(f"// ----- kernel: {k.name} target: {k.target}")
            sys.stdout.write(print_ttgir(k.module))
    elif args.format == "json":
        from eqsat.dm.json import dm_to_json

        for k in good:
            print(json.dumps(dm_to_json(k.dm), indent=None if len(kernels) > 1 else 2))
    else:
        _print_summary(kernels)
    for k in failed:
        _error(str(k.error))
    return 2 if failed else 0


def _print_summary(kernels) -> None:
    from eqsat.dm.json import dm_to_json

    header = f"{'kernel':34} {'target':7} {'status':6} {'ops':>4} {'indirect':>8} {'shared':>6} " \
             f"{'async/tma':>9} {'ms':>7}  movement"
    print(header)
    print("-" * len(header))
    totals: Counter[str] = Counter()
    for k in kernels:
        if not k.ok:
            print(f"{k.name[:34]:34} {k.target:7} {'FAIL':6}")
            continue
        ops = dm_to_json(k.dm)["ops"]
        kinds = Counter(o["kind"] for o in ops)
        totals.update(kinds)
        indirect = kinds["indirect_load"] + kinds["indirect_store"]
        shared = kinds["local_alloc"] + kinds["local_store"] + kinds["local_load"]
        asyncs = kinds["async_copy"] + kinds["tma_load"] + kinds["tma_store"]
        ms = 1000 * (k.seconds.get("parse", 0) + k.seconds.get("lift", 0))
        moves = ", ".join(f"{n} {c}" for c, n in sorted(kinds.items()) if c != "other")
        print(f"{k.name[:34]:34} {k.target:7} {'ok':6} {len(ops):4} {indirect:8} {shared:6} {asyncs:9} "
              f"{ms:7.1f}  {moves}")
    n_ok = sum(1 for k in kernels if k.ok)
    print(f"\n{n_ok} of {len(kernels)} kernel x target ingested; movement ops: "
          + ", ".join(f"{c}={n}" for c, n in sorted(totals.items())))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EqsatError as e:
        _error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
