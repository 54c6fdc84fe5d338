"""Run `eqsat calibrate` on a GPU machine where eqsat is not installed (no xdsl/egglog there).

Same arguments and code as `eqsat calibrate` (eqsat.commands.calibrate); only the import path is set up
here, as in benchmarks/gpu_bench.py: `eqsat.lowering` lives in ROOT/lowering.

    python benchmarks/gpu_calibrate.py [--device NAME] [--params FILE.toml] [--out FILE.json] [--probe PREFIX]
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

from eqsat.commands import calibrate  # noqa: E402
from eqsat.errors import EqsatError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="gpu_calibrate.py")
    sub = ap.add_subparsers(dest="command", required=True)
    calibrate.register(sub)
    args = ap.parse_args(["calibrate", *argv])
    args.command_line = "python benchmarks/gpu_calibrate.py " + " ".join(shlex.quote(a) for a in argv)
    try:
        return int(args.func(args))
    except EqsatError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
