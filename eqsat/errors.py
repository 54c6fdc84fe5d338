"""User-facing errors: one line naming the file, the place and the problem.

Every stage raises `EqsatError` for bad input (malformed IR, unknown target, missing file, a kernel that
does not compile). The CLI prints `str(err)` on one line and exits with `err.exit_code` (2), never a
traceback; a corpus run records the message for that kernel and goes on.
"""

from __future__ import annotations


class EqsatError(Exception):
    """A problem with the user's input, located as precisely as we can."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        place = self.file or "eqsat"  # no file: a command-line option or the run itself
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return f"{place}: error: {self.message}"
