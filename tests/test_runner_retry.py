"""eqsat.runner: a kernel whose worker is killed from outside is retried once in a fresh worker; killed
again, it fails with the reason (the signal, each attempt), and the other tasks finish."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from eqsat.runner import run_isolated
from tests.runner_tasks import slow_pid


def _failure(task, message, seconds, tb):
    return {"status": "error", "error": message}


def _run_killing(kills: int) -> tuple[list[dict], list[int]]:
    """Run three tasks on one worker; kill the worker running task 1 `kills` times while it runs."""
    started: list[int] = []
    killed: list[int] = []

    def on_start(i: int) -> None:
        started.append(i)

    def killer() -> None:
        while len(killed) < kills:
            if started and started[-1] == 1:
                time.sleep(0.5)  # inside the task
                workers = [p for p in multiprocessing.active_children() if p.name == "eqsat-worker"]
                for p in workers:
                    os.kill(p.pid, signal.SIGKILL)
                    killed.append(p.pid)
                started.append(-1)  # wait for the next start of task 1
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    rows = run_isolated(slow_pid, [0.1, 2.0, 0.1], jobs=1, timeout_s=60, on_failure=_failure,
                        on_start=on_start)
    t.join(5)
    return rows, killed


def test_killed_worker_is_retried_once() -> None:
    rows, killed = _run_killing(1)
    assert len(killed) == 1
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]
    assert rows[1]["pid"] != killed[0]  # the retry ran in a fresh worker


def test_killed_twice_fails_with_the_reason() -> None:
    rows, killed = _run_killing(2)
    assert len(killed) == 2
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["error"] == "the kernel's worker process died (SIGKILL (killed: out of memory?)) in each " \
                               "of 2 attempts"
