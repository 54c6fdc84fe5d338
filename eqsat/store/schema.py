"""The run store's schema, as an ordered list of migrations; `PRAGMA user_version` is the schema version.

    version 0   an empty file (a new store)
    version 1   runs, kernels (one row of run.json each), plans (plan.json), costs (ns per cost group,
                before/after), choices, alternatives (why each lost), rule_firings (matches per rule)
    version 2   bench_imports (one `eqsat bench` report imported into a run) and bench (its rows, one per
                kernel x target, measured against predicted)
    version 3   jobs of the service (eqsat.service): the request, status, attempts, progress, the run
                directory it writes and the run it became

`migrate(conn)` applies every migration above the file's version, each in its own transaction, and sets
the version after it; a file newer than this code (a version it does not know) is refused, never
downgraded. A migration is only ever appended: a released migration is never edited.
"""

from __future__ import annotations

import sqlite3

from eqsat.errors import EqsatError

MIGRATIONS: tuple[str, ...] = (
    # 1: runs and what `eqsat optimize` wrote into them
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        indexed_at TEXT NOT NULL,
        command TEXT,
        versions_json TEXT NOT NULL DEFAULT '{}',
        kernels INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        changed INTEGER NOT NULL
    );
    CREATE TABLE kernels (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        cost_before REAL,
        cost_after REAL,
        changed INTEGER NOT NULL,
        egraph_nodes INTEGER,
        seconds REAL,
        error TEXT,
        PRIMARY KEY (run_id, kernel, target)
    );
    CREATE TABLE plans (
        run_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        plan_sha TEXT NOT NULL,
        applied INTEGER NOT NULL,
        method TEXT,
        not_applied_reason TEXT,
        choices INTEGER NOT NULL,
        egraph_nodes INTEGER,
        egraph_classes INTEGER,
        iterations INTEGER,
        stop_reason TEXT,
        saturate_seconds REAL,
        total_seconds REAL,
        plan_json TEXT NOT NULL,
        PRIMARY KEY (run_id, kernel, target),
        FOREIGN KEY (run_id, kernel, target) REFERENCES kernels(run_id, kernel, target) ON DELETE CASCADE
    );
    CREATE TABLE costs (
        run_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('before', 'after')),
        grp TEXT NOT NULL,
        ns REAL NOT NULL,
        PRIMARY KEY (run_id, kernel, target, side, grp),
        FOREIGN KEY (run_id, kernel, target) REFERENCES kernels(run_id, kernel, target) ON DELETE CASCADE
    );
    CREATE TABLE choices (
        run_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        idx INTEGER NOT NULL,
        op INTEGER NOT NULL,
        kind TEXT NOT NULL,
        params_json TEXT NOT NULL,
        rule TEXT NOT NULL,
        before_ns REAL,
        after_ns REAL,
        PRIMARY KEY (run_id, kernel, target, idx),
        FOREIGN KEY (run_id, kernel, target) REFERENCES kernels(run_id, kernel, target) ON DELETE CASCADE
    );
    CREATE TABLE alternatives (
        run_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        choice_idx INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        params_json TEXT NOT NULL,
        rule TEXT NOT NULL,
        rejected TEXT NOT NULL,
        cost_ns REAL,
        PRIMARY KEY (run_id, kernel, target, choice_idx, idx),
        FOREIGN KEY (run_id, kernel, target, choice_idx)
            REFERENCES choices(run_id, kernel, target, idx) ON DELETE CASCADE
    );
    CREATE TABLE rule_firings (
        run_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        rule TEXT NOT NULL,
        matches INTEGER NOT NULL,
        PRIMARY KEY (run_id, kernel, target, rule),
        FOREIGN KEY (run_id, kernel, target) REFERENCES kernels(run_id, kernel, target) ON DELETE CASCADE
    );
    CREATE INDEX kernels_by_name ON kernels(kernel, target);
    CREATE INDEX firings_by_rule ON rule_firings(rule);
    """,
    # 2: GPU bench reports imported into the run they measured
    """
    CREATE TABLE bench_imports (
        id TEXT NOT NULL,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        device TEXT,
        command TEXT,
        summary_json TEXT NOT NULL,
        PRIMARY KEY (run_id, id)
    );
    CREATE TABLE bench (
        run_id TEXT NOT NULL,
        bench_id TEXT NOT NULL,
        kernel TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        bit_identical INTEGER,
        ttgir_matches_jit INTEGER,
        baseline_ms REAL,
        optimized_ms REAL,
        speedup REAL,
        noise REAL,
        predicted_speedup REAL,
        order_agrees INTEGER,
        result_json TEXT NOT NULL,
        PRIMARY KEY (run_id, bench_id, kernel, target),
        FOREIGN KEY (run_id, bench_id) REFERENCES bench_imports(run_id, id) ON DELETE CASCADE
    );
    CREATE INDEX bench_by_kernel ON bench(run_id, kernel, target);
    """,
    # 3: the service's jobs (a job's run is indexed into runs when it finishes)
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        request_json TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        run_dir TEXT NOT NULL,
        run_id TEXT,
        owner TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_by_status ON jobs(status, created_at);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: str, upto: int = SCHEMA_VERSION) -> int:
    """Bring the store at `path` up to schema version `upto`; return the version it had before.
    The version is read inside each migration's write transaction, so two processes opening a new store
    at once apply every migration exactly once."""
    before = schema_version(conn)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            raise EqsatError(f"store schema version {version} is newer than this eqsat knows "
                             f"({SCHEMA_VERSION}); upgrade eqsat or use another --store", path)
        if version >= upto:
            conn.execute("COMMIT")
            return before
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        except sqlite3.DatabaseError as e:
            conn.execute("ROLLBACK")
            raise EqsatError(f"cannot migrate the store to schema version {version + 1}: {e}",
                             path) from None
        conn.execute("COMMIT")  # one transaction per migration: a failed one leaves the one before


def _statements(script: str) -> list[str]:
    """The statements of a migration script (none of them contains a ';' inside a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]
