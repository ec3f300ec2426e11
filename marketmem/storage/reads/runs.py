"""Reads of ``ingestion_runs``: a channel's run history, the health of every channel, and a
channel's finished runs counted per minute.

Health follows ``marketmem.health``; a database without the runs table (or none at all:
``conn`` None) reports every channel as never run.
"""

from __future__ import annotations

from marketmem.clock import MINUTE_MS
from marketmem.config import Config
from marketmem.health import RunHistory, channel_status, stale_after_s
from marketmem.storage.catalog import has_table
from marketmem.storage.models.runs import ChannelHealth, Run, RunMinute
from marketmem.storage.reads import Connection, columns, fetch

RUNS = "ingestion_runs"
_RUN = columns(Run)
# The minute a run finished in: integer division, on SQLite and PostgreSQL alike.
_FINISH_MINUTE = f"(finished_at_ms / {MINUTE_MS}) * {MINUTE_MS}"


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


# The three runs a channel's health reads, by their place in ``_HEALTH_RUNS``' answer: the run
# that started last, the one that finished last (ok or failed), the last ok one.
_LATEST, _FINISHED, _SUCCESS = 0, 1, 2
_HEALTH_RUNS = (
    (_LATEST, "", "started_at_ms DESC"),
    (_FINISHED, "AND status <> 'running' ", "finished_at_ms DESC NULLS LAST"),
    (_SUCCESS, "AND status = 'ok' ", "finished_at_ms DESC NULLS LAST"),
)


def health_runs(
    conn: Connection, channels: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Run | None, Run | None, Run | None]]:
    """Per (source, channel): its latest, last finished and last ok run, in one statement
    (an index seek per run; one round trip, which is what costs on PostgreSQL)."""
    if not channels:
        return {}
    parts: list[str] = []
    params: list[str] = []
    for i, (source, channel) in enumerate(channels):
        for which, condition, order in _HEALTH_RUNS:
            parts.append(
                f"SELECT * FROM (SELECT {i} AS i, {which} AS w, {_RUN} FROM {RUNS} "
                f"WHERE source = ? AND channel = ? {condition}ORDER BY {order} LIMIT 1) AS q{len(parts)}"
            )
            params += (source, channel)
    found: dict[tuple[int, int], Run] = {
        (row[0], row[1]): Run(*row[2:])
        for row in conn.execute(" UNION ALL ".join(parts), tuple(params))
    }
    return {
        key: (found.get((i, _LATEST)), found.get((i, _FINISHED)), found.get((i, _SUCCESS)))
        for i, key in enumerate(channels)
    }


def channel_health(conn: Connection | None, config: Config, now_ms: int) -> list[ChannelHealth]:
    """Every source/channel of the config with its health; ``conn`` None means no database."""
    out: list[ChannelHealth] = []
    configured = list(config.channels())
    runs = {}
    if conn is not None and has_table(conn, RUNS):
        runs = health_runs(conn, [(source, channel) for source, channel, _ in configured])
    for source, channel, ch in configured:
        latest, finished, success = runs.get((source, channel), (None, None, None))
        history = RunHistory()
        if latest is not None:
            history = RunHistory(
                latest_status=latest.status,
                latest_started_ms=latest.started_at_ms,
                last_finished_status=finished.status if finished else None,
                last_success_ms=success.finished_at_ms if success else None,
            )
        last = finished or latest
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
