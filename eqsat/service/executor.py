"""Runs the service's jobs: executor threads in the server, each job in a child process of its own.

    Executor(settings).start() -> N threads; each: claim a queued job -> spawn `run_job` -> watch it
    run_job(job_id, ...)        (in the child) write the job's IR into <data>/jobs/<id>/inputs, run
                                eqsat.optimize.optimize_paths into the job's run directory (every kernel
                                x target in a worker of eqsat.runner, or a Ray task with --executor ray,
                                killed at the kernel deadline),
                                index the run into the store, mark the job done; progress is written to
                                the job row as each kernel x target finishes

The job's process dies with the server (eqsat.runner.die_with_parent), its kernel workers with it, so a
kill -9 of the server leaves no process behind; on restart `JobQueue.recover` queues the job again and
the result cache gives back the kernels already done. A job process that dies on its own (killed, out
of memory) is queued once more, then failed with the signal that ended it. DELETE of a running job kills
its process at the next poll (every POLL_S seconds).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.service.jobs import JobQueue

POLL_S = 0.25


def _write_inputs(job_dir: Path, request: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The paths to optimize, and the launch (shape) of each IR file that came with one."""
    if request.get("corpus"):
        from eqsat.service.app import corpora

        return [str(corpora()[request["corpus"]])], {}
    inputs = job_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths, launches = [], {}
    for k in request["kernels"]:
        p = inputs / f"{k['name']}.{k['format']}"
        p.write_text(k["ir"])
        paths.append(str(p))
        if k.get("launch"):
            launches[str(p)] = {"grid": list(k["launch"]["grid"]), "args": dict(k["launch"]["args"])}
    return paths, launches


def run_job(job_id: str, store_path: str, data_dir: str, parent_pid: int, jobs: int,
            executor: str = "local", ray_address: str | None = None) -> None:
    """The body of a job's process."""
    from eqsat.runner import die_with_parent

    die_with_parent(parent_pid)
    from eqsat.egraph.schedule import Limits
    from eqsat.optimize import OptimizeOptions, RunIsolation, optimize_paths
    from eqsat.store import open_store

    queue = JobQueue(Path(store_path), Path(data_dir))
    job = queue.get(job_id)
    assert job is not None
    request = json.loads(job["request_json"])
    run_dir = Path(job["run_dir"])
    limits = request.get("limits") or {}
    options = OptimizeOptions(limits=Limits(node_limit=int(limits.get("node_limit", 20_000)),
                                            time_limit_s=float(limits.get("timeout_s", 10.0))),
                              min_gain_frac=float(limits.get("min_gain_pct", 2.0)) / 100.0)
    isolation = RunIsolation(timeout_s=float(limits.get("kernel_timeout_s", 120.0)), executor=executor,
                             ray_address=ray_address)

    def progress(_line: str) -> None:
        try:
            rows = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            return
        queue.progress(job_id, sum(1 for r in rows if r.get("status") != "running"), len(rows))

    try:
        paths, launches = _write_inputs(run_dir.parent, request)
        rows = optimize_paths(paths, request["targets"], run_dir, options, jobs=jobs, log=progress,
                              isolation=isolation, launches=launches)
        queue.progress(job_id, len(rows), len(rows))
        with open_store(store_path) as store:
            run_id = store.index_run(run_dir).id
        queue.finish(job_id, run_id)
    except EqsatError as e:
        queue.finish(job_id, None, error=str(e))


class Executor:
    """`workers` threads, each running one job at a time in a child process."""

    def __init__(self, store_path: Path, data_dir: Path, workers: int = 1, jobs_per_worker: int = 1,
                 executor: str = "local", ray_address: str | None = None) -> None:
        self.queue = JobQueue(store_path, data_dir)
        self.workers = workers
        self.jobs_per_worker = jobs_per_worker
        self.executor = executor
        self.ray_address = ray_address
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.processes: dict[str, multiprocessing.process.BaseProcess] = {}

    def start(self) -> list[str]:
        again = self.queue.recover()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"eqsat-executor-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        return again

    def stop(self) -> None:
        self.stop_event.set()
        for p in list(self.processes.values()):
            p.kill()
        for t in self.threads:
            t.join(timeout=5)

    def _loop(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        while not self.stop_event.is_set():
            job = self.queue.claim(self.owner)
            if job is None:
                self.stop_event.wait(POLL_S)
                continue
            proc = ctx.Process(target=run_job, name=f"eqsat-job-{job['id']}",
                               args=(job["id"], str(self.queue.store_path), str(self.queue.data_dir),
                                     os.getpid(), self.jobs_per_worker, self.executor, self.ray_address))
            proc.start()
            self.processes[job["id"]] = proc
            cancelled = False
            while proc.is_alive() and not self.stop_event.is_set():
                proc.join(POLL_S)
                current = self.queue.get(job["id"])
                if current is not None and current["cancel_requested"] and proc.is_alive():
                    proc.kill()
                    proc.join()
                    cancelled = True
            self.processes.pop(job["id"], None)
            if self.stop_event.is_set():
                return
            if cancelled:
                self.queue.mark_cancelled(job["id"])
            elif (self.queue.get(job["id"]) or {}).get("status") == "running":
                code = proc.exitcode
                reason = (f"the job's process was killed by signal {-code}" if code is not None and code < 0
                          else f"the job's process exited with status {code} without finishing")
                self.queue.abandon(job["id"], reason)
