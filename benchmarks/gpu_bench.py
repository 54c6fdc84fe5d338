"""Run `eqsat bench` on a GPU machine where eqsat is not installed (no xdsl/egglog there).

Same arguments and code as `eqsat bench` (eqsat.commands.bench); only the import path is set up here:
`eqsat.lowering` lives in ROOT/lowering, which an installed eqsat maps with package-dir.

    python benchmarks/gpu_bench.py RUN_DIR [--kernel NAME] [--out FILE.json] [--repeat N]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eqsat  # noqa: E402

if str(ROOT) not in eqsat.__path__:
    eqsat.__path__.append(str(ROOT))

from eqsat.commands import bench  # noqa: E402
from eqsat.errors import EqsatError  # noqa: E402


def run_subcommand(command: str, module, argv: list[str]) -> int:
    """Run `eqsat <command> ARGV` through `module.register` (an eqsat.commands module), as
    `python benchmarks/gpu_<command>.py ARGV` on a machine where eqsat is not installed."""
    prog = f"gpu_{command}.py"
    ap = argparse.ArgumentParser(prog=prog)
    sub = ap.add_subparsers(dest="command", required=True)
    module.register(sub)
    args = ap.parse_args([command, *argv])
    args.command_line = f"python benchmarks/{prog} " + " ".join(shlex.quote(a) for a in argv)
    try:
        return int(args.func(args))
    except EqsatError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code


def main(argv: list[str] | None = None) -> int:
    return run_subcommand("bench", bench, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
