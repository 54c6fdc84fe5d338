"""The run store: one SQLite file (WAL) that indexes run directories and the GPU benches of them.

    open_store(path=None) -> Store              the file at `path`, else $EQSAT_STORE, else
                                                $XDG_DATA_HOME/eqsat/store.sqlite (~/.local/share/...)
    Store.index_run(run_dir) -> RunRecord       read run.json, every plan.json, meta.json and the bench
                                                reports kept in the run directory; replace that run's rows
    Store.import_bench(run, report_file)        copy an `eqsat bench` report into the run directory
                                                (bench/<id>.json) and index it
    Store.runs() / Store.run(ref) / Store.remove(ref) / Store.rebuild(run_dirs)

Run directories stay the source of truth: the store holds nothing that is not in them (an imported bench
report is first copied into the run's `bench/`), so deleting the store and indexing the directories again
gives the same rows. A run's id is `<directory name>-<8 hex digits of its absolute path>`; a reference
`ref` is an id, a unique id prefix, a unique directory name, or the directory's path.

Schema and migrations: `eqsat.store.schema`. Reading and writing rows: `eqsat.store.index`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eqsat.errors import EqsatError
from eqsat.store.schema import SCHEMA_VERSION, migrate


def default_store_path() -> Path:
    if os.environ.get("EQSAT_STORE"):
        return Path(os.environ["EQSAT_STORE"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "eqsat" / "store.sqlite"


class Store:
    """An open store. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers wait for each other, readers never block)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------------------------------ runs
    def index_run(self, run_dir: str | Path) -> Any:
        from eqsat.store.index import index_run

        return index_run(self, Path(run_dir))

    def import_bench(self, ref: str, report_file: str | Path) -> Any:
        from eqsat.store.index import import_bench

        return import_bench(self, self.run(ref), Path(report_file))

    def rebuild(self, run_dirs: list[str | Path]) -> list[Any]:
        """Drop every row and index `run_dirs` again (the store is derived from them)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM runs")
        return [self.index_run(d) for d in run_dirs]

    def runs(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM runs ORDER BY created_at, id")
        return [dict(r) for r in cur.fetchall()]

    def run(self, ref: str) -> dict[str, Any]:
        """The run that `ref` names (id, id prefix, directory name or path); one-line error otherwise."""
        rows = self.runs()
        candidates = [r for r in rows if r["id"] == ref]
        if not candidates and os.path.isdir(ref):
            real = str(Path(ref).resolve())
            candidates = [r for r in rows if r["path"] == real]
        if not candidates:
            candidates = [r for r in rows if r["id"].startswith(ref)] or [r for r in rows if r["name"] == ref]
        if not candidates:
            raise EqsatError(f"no run '{ref}' in the store (eqsat runs list shows them; "
                             "eqsat runs index DIR adds one)", str(self.path))
        if len(candidates) > 1:
            ids = ", ".join(r["id"] for r in candidates)
            raise EqsatError(f"run '{ref}' is ambiguous: {ids}", str(self.path))
        return candidates[0]

    def remove(self, ref: str) -> dict[str, Any]:
        """Forget a run (its directory is left as it is)."""
        run = self.run(ref)
        with self.transaction() as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run["id"],))
        return run

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating as needed) the store at `path`; a bad file is a one-line error."""
    p = Path(path) if path is not None else default_store_path()
    if p.exists() and p.is_dir():
        raise EqsatError("the store must be a file, not a directory", str(p))
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(p), timeout=30.0, isolation_level=None)
    except (OSError, sqlite3.Error) as e:
        raise EqsatError(f"cannot open the store: {e}", str(p)) from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        migrate(conn, str(p))
    except sqlite3.DatabaseError as e:
        conn.close()
        raise EqsatError(f"not a usable eqsat store: {e}", str(p)) from None
    except EqsatError:
        conn.close()
        raise
    return Store(p, conn)


__all__ = ["SCHEMA_VERSION", "Store", "default_store_path", "open_store"]
