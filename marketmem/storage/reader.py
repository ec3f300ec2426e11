"""Core reads for the CLI and the HTTP API: channel health from ``ingestion_runs``, row counts.

Readers use their own read-only connections (``storage.db.open_ro``); WAL lets them run beside
the writer. Each function takes an open connection and returns plain dicts.
"""

from __future__ import annotations

from typing import Any

import apsw

from marketmem.config import Config
from marketmem.health import RunHistory, channel_status, stale_after_s
from marketmem.storage.db import query


def run_history(conn: apsw.Connection, source: str, channel: str) -> tuple[RunHistory, dict | None]:
    """The health inputs of one channel, and its latest run row (None if it never ran)."""
    latest = query(
        conn,
        "SELECT * FROM ingestion_runs WHERE source=? AND channel=? "
        "ORDER BY started_at_ms DESC LIMIT 1",
        (source, channel),
    )
    if not latest:
        return RunHistory(), None
    finished = query(
        conn,
        "SELECT * FROM ingestion_runs WHERE source=? AND channel=? AND status!='running' "
        "ORDER BY finished_at_ms DESC LIMIT 1",
        (source, channel),
    )
    success = query(
        conn,
        "SELECT finished_at_ms FROM ingestion_runs WHERE source=? AND channel=? "
        "AND status='ok' ORDER BY finished_at_ms DESC LIMIT 1",
        (source, channel),
    )
    last_finished = finished[0] if finished else None
    history = RunHistory(
        latest_status=latest[0]["status"],
        latest_started_ms=latest[0]["started_at_ms"],
        last_finished_status=last_finished["status"] if last_finished else None,
        last_success_ms=success[0]["finished_at_ms"] if success else None,
    )
    return history, (last_finished or latest[0])


def has_table(conn: apsw.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name=?", (name,)
    ).fetchone()
    return row is not None


def channel_health(
    conn: apsw.Connection | None, config: Config, now_ms: int
) -> list[dict[str, Any]]:
    """Every source/channel of the config with its health; ``conn`` None means no database."""
    out: list[dict[str, Any]] = []
    have_runs = conn is not None and has_table(conn, "ingestion_runs")
    for source, channel, ch in config.channels():
        if have_runs:
            assert conn is not None
            history, last = run_history(conn, source, channel)
        else:
            history, last = RunHistory(), None
        status = channel_status(history, ch.cadence_s, now_ms)
        out.append(
            {
                "source": source,
                "channel": channel,
                "enabled": ch.enabled,
                "status": status.value,
                "cadence_s": ch.cadence_s,
                "stale_after_s": stale_after_s(ch.cadence_s),
                "last_started_at_ms": history.latest_started_ms,
                "last_finished_at_ms": last["finished_at_ms"] if last else None,
                "last_success_at_ms": history.last_success_ms,
                "rows_written": last["rows_written"] if last else None,
                "error": last["error"] if last else None,
            }
        )
    return out


def table_row_counts(conn: apsw.Connection) -> dict[str, int]:
    """Rows per user table (FTS shadow tables and SQLite internals left out)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    virtual = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        )
    }
    counts: dict[str, int] = {}
    for name in names:
        if any(name.startswith(f"{v}_") for v in virtual):
            continue
        row = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts
