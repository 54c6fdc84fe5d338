"""Run `eqsat calibrate` on a GPU machine where eqsat is not installed (no xdsl/egglog there).

Same arguments and code as `eqsat calibrate` (eqsat.commands.calibrate); only the import path is set up
here, as in benchmarks/gpu_bench.py: `eqsat.lowering` lives in ROOT/lowering.

    python benchmarks/gpu_calibrate.py [--device NAME] [--params FILE.toml] [--out FILE.json] [--probe PREFIX]
"""

from __future__ import annotations

import sys

from gpu_bench import run_subcommand  # the same import setup and entry (benchmarks/ is on sys.path)

from eqsat.commands import calibrate


def main(argv: list[str] | None = None) -> int:
    return run_subcommand("calibrate", calibrate, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
