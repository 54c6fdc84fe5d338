"""Kernel workers: every task of a corpus run in a child process that is killed at its deadline.

    rows = run_isolated(fn, tasks, jobs=2, timeout_s=60, memory_bytes=8 << 30,
                        on_failure=lambda task, message, seconds: {...})

`fn(task) -> dict` (a module-level function, so that it pickles by reference) runs in one of `jobs`
worker processes (multiprocessing "spawn": forking a process that holds egglog/z3/triton threads can
deadlock the child). A worker is reused for the next task while it is healthy; it is replaced when:

- its task runs past `timeout_s` (wall clock from the moment the task was sent): the worker is killed
  (SIGKILL) and the task's row is `on_failure(task, "timed out after S s (worker killed)", S)`;
- it dies (a segfault, an abort of a native library, the kernel's OOM killer, someone's kill -9): the
  task is retried once in a fresh worker (`retries`), then its row says which signal ended it each time;
- its address space would pass `memory_bytes` (RLIMIT_AS, set in the worker): Python raises MemoryError,
  native code aborts; either way that task alone fails.

An exception in `fn` (any BaseException: egglog's PanicException does not derive from Exception and does
not pickle) is turned into a plain string in the worker, with its traceback, before it crosses the
process boundary. Workers die with their parent: PR_SET_PDEATHSIG(SIGKILL) through prctl on Linux, and
a watchdog thread that exits when the parent's pid changes (a kill -9 of the parent leaves no orphan).
Results come back in the order of `tasks`; `on_start(index)` is called as a task is handed to a worker
and `on_done(index, row)` as each one finishes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

STARTUP_TIMEOUT_S = 180.0  # importing eqsat, egglog, z3 and triton in a fresh worker
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this process die when `parent_pid` does (Linux prctl, plus a polling watchdog thread)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="eqsat-parent-watchdog", daemon=True).start()


def _limit_memory(memory_bytes: int | None) -> None:
    if not memory_bytes:
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def describe_exception(e: BaseException) -> tuple[str, str]:
    """(one line `Type: message`, traceback text) of any exception, as plain strings."""
    if isinstance(e, MemoryError):
        line = "out of memory (MemoryError: the kernel's memory limit was reached)"
    else:
        try:
            text = " ".join(str(e).split())
        except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
            text = "(message cannot be printed)"
        line = f"{type(e).__name__}: {text}" if text else type(e).__name__
    try:
        tb = "".join(traceback.format_exception(e))
    except Exception:  # noqa: BLE001
        tb = line
    return line[:500], tb


def _worker_main(conn: Connection, parent_pid: int, memory_bytes: int | None,
                 warmup: Sequence[str]) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(memory_bytes)
    for module in warmup:
        try:
            __import__(module)
        except BaseException:  # noqa: BLE001 - the task itself will report the import failure
            pass
    conn.send(("ready", None, None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, task = msg
        try:
            reply: tuple[str, Any, str | None] = ("ok", fn(task), None)
        except BaseException as e:  # noqa: BLE001 - PanicException, MemoryError, SystemExit: all one line
            line, tb = describe_exception(e)
            reply = ("error", line, tb)
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - a result that does not pickle
            line, tb = describe_exception(e)
            conn.send(("error", f"the result cannot be sent back: {line}", tb))


@dataclass
class _Slot:
    proc: Any = None
    conn: Connection | None = None
    ready: bool = False
    index: int | None = None  # the task it runs
    started: float = 0.0
    deadline: float = 0.0


def _signal_name(code: int | None) -> str:
    if code is None:
        return "unknown status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"{name}{hint}"
    return f"exit status {code}"


def run_isolated(fn: Callable[[Any], dict[str, Any]], tasks: Sequence[Any], *, jobs: int = 1,
                 timeout_s: float = 60.0, memory_bytes: int | None = None,
                 on_failure: Callable[[Any, str, float, str | None], dict[str, Any]],
                 on_done: Callable[[int, dict[str, Any]], None] | None = None,
                 on_start: Callable[[int], None] | None = None,
                 warmup: Sequence[str] = (), retries: int = 1, **_: Any) -> list[dict[str, Any]]:
    """Run `fn` on every task in worker processes; one row per task, in order (see the module doc)."""
    ctx = multiprocessing.get_context("spawn")
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    pending = deque(range(len(tasks)))
    deaths: dict[int, list[str]] = {}  # task -> how each worker that ran it died
    slots = [_Slot() for _ in range(max(1, min(jobs, len(tasks))))]
    parent = os.getpid()

    def finish(i: int, row: dict[str, Any]) -> None:
        results[i] = row
        if on_done is not None:
            on_done(i, row)

    def start(slot: _Slot) -> None:
        here, there = ctx.Pipe(duplex=True)
        slot.proc = ctx.Process(target=_worker_main, args=(there, parent, memory_bytes, tuple(warmup)),
                                name="eqsat-worker", daemon=True)
        slot.proc.start()
        there.close()
        slot.conn, slot.ready, slot.index = here, False, None
        slot.started = time.monotonic()
        slot.deadline = slot.started + STARTUP_TIMEOUT_S

    def stop(slot: _Slot) -> None:
        if slot.proc is not None:
            if slot.proc.is_alive():
                slot.proc.kill()
            slot.proc.join(5)
        if slot.conn is not None:
            slot.conn.close()
        slot.proc, slot.conn, slot.ready, slot.index = None, None, False, None

    def fail(slot: _Slot, message: str, tb: str | None = None) -> None:
        i = slot.index
        seconds = time.monotonic() - slot.started
        stop(slot)
        if i is not None:
            finish(i, on_failure(tasks[i], message, seconds, tb))

    def send(slot: _Slot) -> None:
        i = pending.popleft()
        slot.index, slot.started = i, time.monotonic()
        slot.deadline = slot.started + timeout_s
        if on_start is not None:
            on_start(i)
        assert slot.conn is not None
        try:
            slot.conn.send((fn, tasks[i]))
        except (OSError, ValueError) as e:
            fail(slot, f"cannot hand the kernel to its worker: {e}")

    try:
        while pending or any(s.index is not None for s in slots):
            for slot in slots:
                if slot.proc is None and pending:
                    start(slot)
                if slot.ready and slot.index is None and pending:
                    send(slot)
            live = [s for s in slots if s.conn is not None and (s.index is not None or not s.ready)]
            if not live:
                continue
            now = time.monotonic()
            ready = wait([s.conn for s in live], timeout=max(0.0, min(s.deadline for s in live) - now))
            for slot in live:
                if slot.conn not in ready:
                    continue
                try:
                    kind, value, tb = slot.conn.recv()
                except (EOFError, OSError):
                    code = slot.proc.exitcode if slot.proc is not None else None
                    if slot.proc is not None:
                        slot.proc.join(2)
                        code = slot.proc.exitcode
                    if slot.index is None:  # died while starting: give up on its task too
                        if pending:
                            slot.index = pending.popleft()
                    i = slot.index
                    if i is not None:
                        deaths.setdefault(i, []).append(_signal_name(code))
                        if len(deaths[i]) <= retries:  # once more, in a fresh worker
                            stop(slot)
                            pending.appendleft(i)
                            continue
                    seen = deaths.get(i, []) if i is not None else []
                    if len(set(seen)) > 1:
                        how = f"({', then '.join(seen)})"
                    else:
                        tries = f" in each of {len(seen)} attempts" if len(seen) > 1 else ""
                        how = f"({_signal_name(code)}){tries}"
                    fail(slot, f"the kernel's worker process died {how}")
                    continue
                if kind == "ready":
                    slot.ready = True
                    continue
                i = slot.index
                slot.index = None
                assert i is not None
                if kind == "ok":
                    finish(i, value)
                else:
                    finish(i, on_failure(tasks[i], value, time.monotonic() - slot.started, tb))
            now = time.monotonic()
            for slot in live:
                if slot.conn is not None and now >= slot.deadline and slot.proc is not None:
                    if slot.index is None and not slot.ready:
                        if pending:
                            slot.index = pending.popleft()
                        fail(slot, f"the kernel's worker did not start within {STARTUP_TIMEOUT_S:.0f} s")
                    elif slot.index is not None:
                        fail(slot, f"timed out after {timeout_s:g} s (worker killed)")
    finally:
        for slot in slots:
            idle = slot.index is None and slot.proc is not None and slot.proc.is_alive()
            if slot.conn is not None and idle:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
                slot.proc.join(2)
            stop(slot)
    return [r for r in results if r is not None]


__all__ = ["describe_exception", "die_with_parent", "run_isolated"]
