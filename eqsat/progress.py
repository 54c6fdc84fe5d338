"""The progress bar of corpus runs (rich, on stderr): done of total, elapsed, ETA, and the kernels in
flight. `eqsat optimize` shows it when stderr is a terminal (or with --progress); the summary table is
printed after it either way.

    bar = RunProgress(); with bar: optimize_paths(..., progress=bar)
    begin(total, cached)   total kernel x target; `cached` restored from the result cache, counted done
    started(task)          a kernel x target handed to a worker
    finished(row)          its run.json row
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(TextColumn("[bold]optimize"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[flight]}"),
                                 console=console or Console(stderr=True), transient=False)
        self.task: Any = None
        self.flight: dict[str, None] = {}
        self.failed = 0

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _label(self) -> str:
        names = list(self.flight)
        text = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        return (f"[red]{self.failed} failed[/red] " if self.failed else "") + (text or "")

    def begin(self, total: int, cached: int) -> None:
        self.task = self.progress.add_task("optimize", total=total, completed=cached, flight="")

    def started(self, task: Any) -> None:
        self.flight[f"{task.name} [{task.target}]"] = None
        self.progress.update(self.task, flight=self._label())

    def finished(self, row: dict[str, Any]) -> None:
        self.flight.pop(f"{row['kernel']} [{row['target']}]", None)
        self.failed += row.get("status") != "ok"
        self.progress.update(self.task, advance=1, flight=self._label())
