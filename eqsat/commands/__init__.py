"""Subcommands of `eqsat` beyond `ingest`, one module each.

Each module defines `register(subparsers) -> None`, which adds its parser(s) and sets `func=run` (a
function `run(args) -> int` returning the exit code) with `parser.set_defaults(func=...)`. `eqsat.cli`
imports every module named in `COMMAND_MODULES` that exists, so a command lands by adding its module.
Commands raise `eqsat.errors.EqsatError` for bad input; the CLI prints it as one line and exits 2.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "eqsat.commands.cost",
    "eqsat.commands.optimize",
    "eqsat.commands.rules",
    "eqsat.commands.bench",
    "eqsat.commands.calibrate",
    "eqsat.commands.report",
    "eqsat.commands.runs",
    "eqsat.commands.serve",
)
