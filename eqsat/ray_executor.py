"""Kernel tasks of a corpus run as Ray tasks (`eqsat optimize --executor ray`), with the contract of
`eqsat.runner.run_isolated`: one row per task in order, `on_done` as each finishes, `on_failure` rows for a
task past its deadline, a task whose worker died, or one that raised.

    run_on_ray(fn, tasks, jobs=N, timeout_s=S, memory_bytes=M, on_failure=..., on_done=..., address=A)

The cluster: an already initialised Ray (`ray.init(...)` in this process, as the tests do with
`ray.init(num_cpus=2)`), else `address` (`--ray-address`), else `$RAY_ADDRESS`, else a local Ray started
here with `jobs` CPUs. At most `jobs` tasks are in flight. A task past its deadline is cancelled with
`ray.cancel(force=True)`, which kills its worker process; the memory cap is the soft RLIMIT_AS of the
worker for the length of the task, set to what the worker already maps (after importing `warmup`) plus
`memory_bytes`, and restored after, since Ray reuses workers. The cluster's workers must
have the same eqsat installed (same code version: the results then equal the local executor's).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from eqsat.errors import EqsatError


def _virtual_bytes() -> int:
    """This process's current address-space size (VmSize)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _remote_body(fn: Callable[[Any], dict[str, Any]], task: Any, memory_bytes: int | None,
                 warmup: Sequence[str] = ()) -> tuple:
    import resource

    from eqsat.runner import describe_exception

    for module in warmup:  # loaded before the cap: shared libraries (libz3, libtriton) need address space
        try:
            __import__(module)
        except BaseException:  # noqa: BLE001 - the task itself reports an import failure
            pass
    before = resource.getrlimit(resource.RLIMIT_AS)
    try:
        if memory_bytes:
            # a Ray worker already maps gigabytes (object store, thread stacks): cap the growth, not the size
            hard = before[1]
            want = _virtual_bytes() + memory_bytes
            cap = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return ("ok", fn(task), None)
    except BaseException as e:  # noqa: BLE001 - egglog panics and MemoryError become one line
        line, tb = describe_exception(e)
        return ("error", line, tb)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, before)


def _connect(jobs: int, address: str | None) -> Any:
    try:
        import ray
    except ImportError:
        raise EqsatError("--executor ray needs Ray (pip install 'eqsat[ray]')") from None
    if not ray.is_initialized():
        addr = address or os.environ.get("RAY_ADDRESS")
        try:
            if addr:
                ray.init(address=addr, log_to_driver=False)
            else:
                ray.init(num_cpus=jobs, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise EqsatError(f"cannot reach the Ray cluster{' at ' + addr if addr else ''}: "
                             f"{' '.join(str(e).split())[:300]}") from None
    return ray


def run_on_ray(fn: Callable[[Any], dict[str, Any]], tasks: Sequence[Any], *, jobs: int = 1,
               timeout_s: float = 60.0, memory_bytes: int | None = None,
               on_failure: Callable[[Any, str, float, str | None], dict[str, Any]],
               on_done: Callable[[int, dict[str, Any]], None] | None = None,
               on_start: Callable[[int], None] | None = None,
               address: str | None = None, warmup: Sequence[str] = (), **_: Any) -> list[dict[str, Any]]:
    ray = _connect(jobs, address)
    remote = ray.remote(max_retries=0)(_remote_body)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    pending = list(range(len(tasks)))
    running: dict[Any, tuple[int, float]] = {}  # ref -> (task index, start)

    def finish(i: int, row: dict[str, Any]) -> None:
        results[i] = row
        if on_done is not None:
            on_done(i, row)

    try:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                i = pending.pop(0)
                running[remote.remote(fn, tasks[i], memory_bytes, tuple(warmup))] = (i, time.monotonic())
                if on_start is not None:
                    on_start(i)
            first_deadline = min(t0 for _, t0 in running.values()) + timeout_s
            ready, _ = ray.wait(list(running), num_returns=1,
                                timeout=max(0.0, first_deadline - time.monotonic()))
            for ref in ready:
                i, t0 = running.pop(ref)
                try:
                    kind, value, tb = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - the worker died (ray.exceptions.WorkerCrashedError, ...)
                    finish(i, on_failure(tasks[i], f"the kernel's Ray worker died ({type(e).__name__})",
                                         time.monotonic() - t0, None))
                    continue
                finish(i, value if kind == "ok" else on_failure(tasks[i], value, time.monotonic() - t0, tb))
            now = time.monotonic()
            for ref, (i, t0) in list(running.items()):
                if now - t0 >= timeout_s:
                    ray.cancel(ref, force=True)
                    running.pop(ref)
                    finish(i, on_failure(tasks[i], f"timed out after {timeout_s:g} s (Ray worker killed)",
                                         now - t0, None))
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
    return [r for r in results if r is not None]
