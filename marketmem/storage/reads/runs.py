"""Reads of ``ingestion_runs``: a channel's run history, the health of every channel, and a
channel's finished runs counted per minute.

Health follows ``marketmem.health``; a database without the runs table (or none at all:
``conn`` None) reports every channel as never run.
"""

from __future__ import annotations

from marketmem.config import Config
from marketmem.health import RunHistory, channel_status, stale_after_s
from marketmem.storage.catalog import has_table
from marketmem.storage.models.runs import ChannelHealth, Run, RunMinute
from marketmem.storage.reads import Connection, columns, fetch, fetch_one, scalar

RUNS = "ingestion_runs"
_RUN = columns(Run)
MINUTE_MS = 60_000
# The minute a run finished in: integer division, on SQLite and PostgreSQL alike.
_FINISH_MINUTE = f"(finished_at_ms / {MINUTE_MS}) * {MINUTE_MS}"


def latest_run(conn: Connection, source: str, channel: str) -> Run | None:
    """The run of the channel that started last."""
    return fetch_one(
        conn,
        Run,
        f"SELECT {_RUN} FROM {RUNS} WHERE source = ? AND channel = ? "
        "ORDER BY started_at_ms DESC LIMIT 1",
        (source, channel),
    )


def last_finished_run(conn: Connection, source: str, channel: str) -> Run | None:
    """The run of the channel that finished last (ok or failed)."""
    return fetch_one(
        conn,
        Run,
        f"SELECT {_RUN} FROM {RUNS} WHERE source = ? AND channel = ? AND status <> 'running' "
        "ORDER BY finished_at_ms DESC NULLS LAST LIMIT 1",
        (source, channel),
    )


def last_success_ms(conn: Connection, source: str, channel: str) -> int | None:
    """When the channel's last ok run finished."""
    value: int | None = scalar(
        conn,
        f"SELECT finished_at_ms FROM {RUNS} WHERE source = ? AND channel = ? "
        "AND status = 'ok' ORDER BY finished_at_ms DESC NULLS LAST LIMIT 1",
        (source, channel),
    )
    return value


def recent_runs(conn: Connection, source: str, channel: str, *, limit: int) -> list[Run]:
    """The channel's ``limit`` latest runs, the latest started first (empty without the
    table)."""
    if not has_table(conn, RUNS):
        return []
    return fetch(
        conn,
        Run,
        f"SELECT {_RUN} FROM {RUNS} WHERE source = ? AND channel = ? "
        "ORDER BY started_at_ms DESC, run_id DESC LIMIT ?",
        (source, channel, max(0, limit)),
    )


def run_minutes(conn: Connection, source: str, channel: str, since_ms: int) -> list[RunMinute]:
    """The channel's runs that finished (ok or failed) at or after ``since_ms``, counted per
    minute of their finish and status, with the rows they wrote; by minute, then status."""
    if not has_table(conn, RUNS):
        return []
    return fetch(
        conn,
        RunMinute,
        f"SELECT {_FINISH_MINUTE} AS minute_ms, status, count(*) AS runs, "
        "CAST(sum(rows_written) AS BIGINT) AS rows_written "
        f"FROM {RUNS} WHERE source = ? AND channel = ? AND status IN ('ok', 'failed') "
        f"AND finished_at_ms >= ? GROUP BY {_FINISH_MINUTE}, status ORDER BY minute_ms, status",
        (source, channel, since_ms),
    )


def run_history(conn: Connection, source: str, channel: str) -> tuple[RunHistory, Run | None]:
    """The health inputs of one channel, and the run its health row reports: the last
    finished one, else the latest (None if it never ran)."""
    latest = latest_run(conn, source, channel)
    if latest is None:
        return RunHistory(), None
    finished = last_finished_run(conn, source, channel)
    history = RunHistory(
        latest_status=latest.status,
        latest_started_ms=latest.started_at_ms,
        last_finished_status=finished.status if finished else None,
        last_success_ms=last_success_ms(conn, source, channel),
    )
    return history, finished or latest


def channel_health(conn: Connection | None, config: Config, now_ms: int) -> list[ChannelHealth]:
    """Every source/channel of the config with its health; ``conn`` None means no database."""
    out: list[ChannelHealth] = []
    have_runs = conn is not None and has_table(conn, RUNS)
    for source, channel, ch in config.channels():
        history, last, latest = RunHistory(), None, None
        if have_runs:
            assert conn is not None
            history, last = run_history(conn, source, channel)
            latest = latest_run(conn, source, channel) if last is not None else None
        out.append(
            ChannelHealth(
                source=source,
                channel=channel,
                enabled=ch.enabled,
                status=channel_status(history, ch.cadence_s, now_ms).value,
                cadence_s=ch.cadence_s,
                stale_after_s=stale_after_s(ch.cadence_s),
                last_started_at_ms=history.latest_started_ms,
                last_finished_at_ms=last.finished_at_ms if last else None,
                last_success_at_ms=history.last_success_ms,
                rows_written=last.rows_written if last else None,
                error=last.error if last else None,
                instance=latest.instance if latest else None,
            )
        )
    return out
