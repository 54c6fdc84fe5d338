"""The `eqsat` command line (the contract is in ../shared/design.md; options may grow, never change).

    eqsat ingest PATH... --target T [--target T2] --format ttgir|json|summary
    eqsat cost|optimize|rules|bench|calibrate|report ...   (modules in eqsat/commands/)

Bad input prints one line `file:line:col: error: ...` on stderr and exits 2, never a traceback; with many
kernels each bad one is reported and the others still run (exit 2 at the end if any failed). An internal
error (a bug) is one line too, exit 1; `--debug` (anywhere on the command line, or EQSAT_DEBUG=1) adds
the traceback. A closed stdout (`eqsat ... | head -1`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence

from eqsat.errors import EqsatError
from eqsat.targets import TARGETS


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line `eqsat <command>: error: ...` (exit 2), like every other error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    ap = _OneLineParser(prog="eqsat", description=__doc__.splitlines()[0])
    ap.add_argument("--debug", action="store_true",
                    help="print the traceback of internal errors (also accepted after the subcommand)")
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
    print(" ".join(msg.split()), file=sys.stderr)


def _debug_traceback(err: BaseException) -> None:
    if _DEBUG[0] and getattr(err, "traceback", None):
        print(err.traceback, file=sys.stderr)  # type: ignore[attr-defined]


_DEBUG = [False]


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
        _debug_traceback(k.error)
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
    import os

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("EQSAT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    _DEBUG[0] = debug
    args = _parser().parse_args(argv)
    args.debug = debug
    try:
        return int(args.func(args))
    except EqsatError as e:
        _error(str(e))
        _debug_traceback(e)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback only with --debug
        if debug:
            import traceback

            traceback.print_exc()
        from eqsat.runner import describe_exception

        _error(f"eqsat: internal error: {describe_exception(e)[0]} (run with --debug for the traceback)")
        return 1
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's final flush is silent."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
