"""The service's job queue, persisted in the run store's `jobs` table (schema version 3).

    queued ──claim──▶ running ──finish──▶ done
       │                 ├──fail──────▶ failed        (the reason in `error`)
       │                 ├──cancel────▶ cancelled     (DELETE /v1/jobs/{id})
       │                 └──recover───▶ queued        (the server died mid-job: attempt 2) or failed
       └──cancel──▶ cancelled                          (after MAX_ATTEMPTS attempts)

Every transition is one SQLite write transaction, so two executors never claim the same job and a
kill -9 at any instant leaves each job in exactly one state. A job's run directory is fixed at submission
(`<data>/jobs/<id>/run`), so a retried job runs into the same place and the result cache (eqsat.
result_cache) gives back every kernel the killed attempt finished.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eqsat.store import Store, open_store

MAX_ATTEMPTS = 2
ACTIVE = ("queued", "running")


class QueueFull(Exception):
    """The queue holds as many unfinished jobs as it may."""


class _Borrowed:
    """A thread's own open store, lent for one `with` block (kept open for the thread's next call)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class JobQueue:
    store_path: Path
    data_dir: Path
    max_queued: int = 64
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def _store(self) -> _Borrowed:
        """This thread's connection (SQLite connections are not shared between threads); opened, and the
        schema migrated, once per thread."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_store(self.store_path)
        return _Borrowed(store)

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex[:16]
        now = time.time()
        run_dir = self.data_dir / "jobs" / job_id / "run"
        with self._store() as store, store.transaction() as conn:
            active = conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
            if active.fetchone()[0] >= self.max_queued:
                raise QueueFull(f"the queue is full ({self.max_queued} unfinished jobs); retry later")
            conn.execute("INSERT INTO jobs (id, status, created_at, updated_at, request_json, run_dir) "
                         "VALUES (?, 'queued', ?, ?, ?, ?)",
                         (job_id, now, now, json.dumps(request, sort_keys=True), str(run_dir)))
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._store() as store:
            rows = store.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def counts(self) -> dict[str, int]:
        with self._store() as store:
            rows = store.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def claim(self, owner: str) -> dict[str, Any] | None:
        """The oldest queued job, now running under `owner` (its attempt counted), or None."""
        with self._store() as store, store.transaction() as conn:
            row = conn.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id "
                               "LIMIT 1").fetchone()
            if row is None:
                return None
            conn.execute("UPDATE jobs SET status = 'running', owner = ?, attempts = attempts + 1, "
                         "updated_at = ? WHERE id = ?", (owner, time.time(), row[0]))
        return self.get(row[0])

    def progress(self, job_id: str, done: int, total: int) -> None:
        with self._store() as store, store.transaction() as conn:
            conn.execute("UPDATE jobs SET done = ?, total = ?, updated_at = ? WHERE id = ?",
                         (done, total, time.time(), job_id))

    def finish(self, job_id: str, run_id: str | None, error: str | None = None) -> None:
        status = "failed" if error else "done"
        with self._store() as store, store.transaction() as conn:
            conn.execute("UPDATE jobs SET status = ?, run_id = ?, error = ?, updated_at = ? "
                         "WHERE id = ? AND status = 'running'", (status, run_id, error, time.time(), job_id))

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """A queued job is cancelled at once; a running one is marked, and its executor stops it."""
        with self._store() as store, store.transaction() as conn:
            conn.execute("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND "
                         "status = 'queued'", (time.time(), job_id))
            conn.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND "
                         "status = 'running'", (time.time(), job_id))
        return self.get(job_id)

    def mark_cancelled(self, job_id: str) -> None:
        with self._store() as store, store.transaction() as conn:
            conn.execute("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND "
                         "status = 'running'", (time.time(), job_id))

    def abandon(self, job_id: str, reason: str) -> str:
        """The process running the job died without finishing it: queue it again for one more attempt, or
        fail it with `reason` after MAX_ATTEMPTS. Returns the new status."""
        with self._store() as store, store.transaction() as conn:
            row = conn.execute("SELECT attempts, cancel_requested FROM jobs WHERE id = ? AND "
                               "status = 'running'", (job_id,)).fetchone()
            if row is None:
                return "gone"
            attempts, cancel = row
            status = "cancelled" if cancel else "failed" if attempts >= MAX_ATTEMPTS else "queued"
            conn.execute("UPDATE jobs SET status = ?, owner = NULL, updated_at = ?, error = ? WHERE id = ?",
                         (status, time.time(), reason if status == "failed" else None, job_id))
        return status

    def recover(self) -> list[str]:
        """At start-up: jobs left running by a server that died are queued again, or failed after
        MAX_ATTEMPTS attempts. Returns the ids queued again."""
        with self._store() as store, store.transaction() as conn:
            rows = conn.execute("SELECT id, attempts, cancel_requested FROM jobs WHERE status = 'running'")
            again = []
            for job_id, attempts, cancel in rows.fetchall():
                if cancel:
                    conn.execute("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ?",
                                 (time.time(), job_id))
                elif attempts >= MAX_ATTEMPTS:
                    conn.execute("UPDATE jobs SET status = 'failed', updated_at = ?, error = ? WHERE id = ?",
                                 (time.time(), f"the server stopped during each of {attempts} attempts",
                                  job_id))
                else:
                    conn.execute("UPDATE jobs SET status = 'queued', owner = NULL, updated_at = ? "
                                 "WHERE id = ?", (time.time(), job_id))
                    again.append(job_id)
        return again
