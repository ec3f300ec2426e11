"""The core table: ``ingestion_runs``, one row per run of every source/channel."""

from __future__ import annotations

from typing import Any

import apsw

from marketmem.events import RunFinished, RunStarted
from marketmem.storage.tables import WriteFn

DDL = [
    """
    CREATE TABLE IF NOT EXISTS ingestion_runs (
        run_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        channel TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        rows_written INTEGER NOT NULL DEFAULT 0,
        error TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS ingestion_runs_by_channel "
    "ON ingestion_runs (source, channel, started_at_ms)",
    "CREATE INDEX IF NOT EXISTS ingestion_runs_success "
    "ON ingestion_runs (source, channel, status, finished_at_ms)",
]

INTERRUPTED = "interrupted: the process stopped before this run finished"


def _write_started(conn: apsw.Connection, ev: Any) -> dict[str, int]:
    # A run that already finished (replayed RunStarted) is never set back to running.
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status) "
        "VALUES (?, ?, ?, ?, 'running') ON CONFLICT(run_id) DO NOTHING",
        (ev.run_id, ev.source, ev.channel, ev.started_at_ms),
    )
    return {"ingestion_runs": 1}


def _write_finished(conn: apsw.Connection, ev: Any) -> dict[str, int]:
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, finished_at_ms, "
        "status, rows_written, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(run_id) DO UPDATE SET finished_at_ms=excluded.finished_at_ms, "
        "status=excluded.status, rows_written=excluded.rows_written, error=excluded.error",
        (
            ev.run_id,
            ev.source,
            ev.channel,
            ev.started_at_ms,
            ev.finished_at_ms,
            ev.status,
            ev.rows_written,
            ev.error,
        ),
    )
    return {"ingestion_runs": 1}


WRITERS: dict[type, WriteFn] = {RunStarted: _write_started, RunFinished: _write_finished}


def close_interrupted_runs(conn: apsw.Connection, now_ms: int) -> int:
    """Mark runs left ``running`` by a crash as failed; called by the writer at start-up."""
    with conn:
        conn.execute(
            "UPDATE ingestion_runs SET status='failed', finished_at_ms=?, error=? "
            "WHERE status='running'",
            (now_ms, INTERRUPTED),
        )
        changed: int = conn.changes()
    return changed
