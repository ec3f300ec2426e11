"""The core table: ``ingestion_runs``, one row per run of every source/channel."""

from __future__ import annotations

from typing import Any

from marketmem.events import RunFinished, RunStarted
from marketmem.source import Tables
from marketmem.storage.declare import INT, TEXT, Column, Index, Table
from marketmem.storage.engine import Connection
from marketmem.storage.tables import WriteFn

RUNS = Table(
    "ingestion_runs",
    (
        # Nullable as the release created it: SQLite lets the TEXT key of a table with row ids
        # hold NULL (no writer stores one); a primary key of PostgreSQL is NOT NULL.
        Column("run_id", TEXT, nullable=True),
        Column("source", TEXT),
        Column("channel", TEXT),
        Column("started_at_ms", INT),
        Column("finished_at_ms", INT, nullable=True),
        Column("status", TEXT, allowed=("running", "ok", "failed")),
        Column("rows_written", INT, default=0),
        Column("error", TEXT, nullable=True),
        # Added by schema 4: the instance that ran it (NULL for runs of earlier releases).
        Column("instance", TEXT, nullable=True),
    ),
    primary_key=("run_id",),
    indexes=(
        Index("ingestion_runs_by_channel", ("source", "channel", "started_at_ms")),
        Index("ingestion_runs_success", ("source", "channel", "status", "finished_at_ms")),
    ),
    clustered=False,
)

INTERRUPTED = "interrupted: the process stopped before this run finished"


def _write_started(conn: Connection, ev: Any) -> dict[str, int]:
    # A run that already finished (replayed RunStarted) is never set back to running.
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status, instance) "
        "VALUES (?, ?, ?, ?, 'running', ?) ON CONFLICT(run_id) DO NOTHING",
        (ev.run_id, ev.source, ev.channel, ev.started_at_ms, ev.instance),
    )
    return {"ingestion_runs": 1}


def _write_finished(conn: Connection, ev: Any) -> dict[str, int]:
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, finished_at_ms, "
        "status, rows_written, error, instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(run_id) DO UPDATE SET finished_at_ms=excluded.finished_at_ms, "
        "status=excluded.status, rows_written=excluded.rows_written, error=excluded.error, "
        "instance=coalesce(ingestion_runs.instance, excluded.instance)",
        (
            ev.run_id,
            ev.source,
            ev.channel,
            ev.started_at_ms,
            ev.finished_at_ms,
            ev.status,
            ev.rows_written,
            ev.error,
            ev.instance,
        ),
    )
    return {"ingestion_runs": 1}


WRITERS: dict[type, WriteFn] = {RunStarted: _write_started, RunFinished: _write_finished}
TABLES = Tables((RUNS,), WRITERS)


def close_interrupted_runs(conn: Connection, now_ms: int) -> int:
    """Mark runs left ``running`` by a crash as failed; called by the writer at start-up."""
    with conn:
        conn.execute(
            "UPDATE ingestion_runs SET status='failed', finished_at_ms=?, error=? "
            "WHERE status='running'",
            (now_ms, INTERRUPTED),
        )
        changed: int = conn.changes()
    return changed
