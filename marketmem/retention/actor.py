"""The retention actor: one maintenance pass per run of ``hyperliquid/maintenance``.

A pass decides and the storage writer executes: the pass computes the boundaries from one
``now``, probes (read-only, index seeks) whether there is anything to do, and sends bounded
commands, each in a transaction of its own, waiting for the writer's confirmation of each one
before the next. In order: make the days ahead ready where the storage keeps days apart
(PostgreSQL's day partitions, from the oldest retained day to two days after today: a
command only when one is missing), roll up ended hours whose minutes changed, expire 1-minute
candles (only once their hour is rolled up), expire the declared tables, then hand free pages
beyond a slack back to the file system. Work is proportional to what changed or expired.

``maintenance_pass`` takes the command sender and the read connection as arguments, so the
``maintain`` command and the tests run the same code as the service.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from marketmem import metrics
from marketmem.events import (
    Event,
    ExpireMinutes,
    ExpireRows,
    PrepareDays,
    ReclaimSpace,
    RollupHours,
)
from marketmem.retention.policy import (
    HOURS_TABLE,
    MINUTES_TABLE,
    PENDING_TABLE,
    RETAINED_TABLES,
    Boundaries,
    RetentionPolicy,
    boundaries,
)
from marketmem.runs import RunContext
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.config import SECTION as HYPERLIQUID
from marketmem.sources.hyperliquid.config import HyperliquidConfig
from marketmem.storage import engine
from marketmem.storage.reads import Connection
from marketmem.storage.reads import retention as reads
from marketmem.storage.writer import CommitRejected, StorageWriter

log = logging.getLogger(__name__)

DELETED = metrics.REGISTRY.counter(
    "marketmem_retention_deleted_rows_total", "Rows deleted by retention", ("table",)
)
ROLLED_UP = metrics.REGISTRY.counter(
    "marketmem_rollup_hours_total", "1-hour candles created or changed by rollups"
)
PASS_SECONDS = metrics.REGISTRY.histogram(
    "marketmem_maintenance_pass_seconds",
    "Duration of a maintenance pass",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

# Sends one command to the writer and returns its rows changed per table.
Send = Callable[[Event], Awaitable[dict[str, int]]]
# Told after each step: what it worked on (e.g. "delete hyperliquid_candles") and how many
# units (hours, rows, pages) that step did.
Progress = Callable[[str, int], None]


_DEFAULTS = HyperliquidConfig()  # the defaults are the config's, never written twice


@dataclass(frozen=True)
class PassSettings:
    chunk_rows: int = _DEFAULTS.retention_chunk_rows
    rollup_chunk_hours: int = _DEFAULTS.retention_rollup_chunk_hours
    vacuum_slack_pages: int = _DEFAULTS.retention_vacuum_slack_pages
    vacuum_chunk_pages: int = _DEFAULTS.retention_vacuum_chunk_pages

    @classmethod
    def from_config(cls, cfg: HyperliquidConfig) -> PassSettings:
        return cls(
            chunk_rows=cfg.retention_chunk_rows,
            rollup_chunk_hours=cfg.retention_rollup_chunk_hours,
            vacuum_slack_pages=cfg.retention_vacuum_slack_pages,
            vacuum_chunk_pages=cfg.retention_vacuum_chunk_pages,
        )


@dataclass
class PassReport:
    now_ms: int
    # 1-hour rows created or changed, and hours examined (their pending marks cleared).
    hours_rolled_up: int = 0
    hours_examined: int = 0
    # Rows deleted per table, in pass order; tables declared but absent from the database.
    deleted: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    pages_released: int = 0
    free_pages: int = 0
    file_pages: int = 0
    page_size: int = 0
    commands: int = 0
    # Days made ready ahead of their rows (PostgreSQL's day partitions; 0 on SQLite).
    days_prepared: int = 0

    @property
    def rows_changed(self) -> int:
        return self.hours_rolled_up + sum(self.deleted.values())


async def maintenance_pass(
    send: Send,
    conn: Connection,
    policy: RetentionPolicy,
    settings: PassSettings,
    now_ms: int,
    *,
    progress: Progress | None = None,
) -> PassReport:
    """One pass at ``now_ms``; ``conn`` reads (a read-only connection in the service)."""
    b = boundaries(policy, now_ms)
    report = PassReport(now_ms=now_ms)

    async def command(event: Event) -> dict[str, int]:
        report.commands += 1
        return await send(event)

    def tell(stage: str, n: int) -> None:
        if progress is not None:
            progress(stage, n)

    oldest_kept = {MINUTES_TABLE: b.minutes_before_ms, **b.tables_before_ms}
    for table, days in reads.missing_days(conn, oldest_kept, now_ms).items():
        await command(PrepareDays(table=table, first_day_ms=days[0], last_day_ms=days[-1]))
        report.days_prepared += len(days)
        tell(f"prepare days of {table}", len(days))

    if reads.has_pending_hours(conn, b.rollup_through_ms):
        while True:
            result = await command(
                RollupHours(
                    through_ms=b.rollup_through_ms,
                    minutes_before_ms=b.minutes_before_ms,
                    hours_before_ms=b.hours_before_ms,
                    rolled_up_at_ms=now_ms,
                    limit=settings.rollup_chunk_hours,
                )
            )
            report.hours_rolled_up += result.get(HOURS_TABLE, 0)
            examined = result.get(PENDING_TABLE, 0)
            report.hours_examined += examined
            tell(f"roll up {HOURS_TABLE}", examined)
            if examined < settings.rollup_chunk_hours:
                break

    await _expire_minutes(command, conn, b, settings, report, tell)

    tables = reads.existing_tables(conn)
    for spec in RETAINED_TABLES:
        if spec.table not in tables:
            report.absent.append(spec.table)
            continue
        before = b.tables_before_ms[spec.table]
        total = 0
        first = reads.oldest(conn, spec.table, spec.time_column)
        while first is not None and first < before:
            result = await command(
                ExpireRows(
                    table=spec.table,
                    before_ms=before,
                    limit=settings.chunk_rows,
                )
            )
            n = result.get(spec.table, 0)
            total += n
            tell(f"delete {spec.table}", n)
            if n < settings.chunk_rows:
                break
        report.deleted[spec.table] = total

    free_before = reads.free_pages(conn)
    excess = free_before - settings.vacuum_slack_pages
    while excess > 0:
        pages = min(excess, settings.vacuum_chunk_pages)
        await command(ReclaimSpace(pages=pages))
        excess -= pages
        tell("release free pages", pages)
    report.free_pages = reads.free_pages(conn)
    report.pages_released = max(0, free_before - report.free_pages)
    report.file_pages, report.page_size = reads.file_pages(conn)
    return report


async def _expire_minutes(
    command: Send,
    conn: Connection,
    b: Boundaries,
    settings: PassSettings,
    report: PassReport,
    tell: Progress,
) -> None:
    total = 0
    first = reads.oldest_minute(conn)
    while first is not None and first < b.minutes_before_ms:
        result = await command(
            ExpireMinutes(
                before_ms=b.minutes_before_ms,
                hours_before_ms=b.hours_before_ms,
                limit=settings.chunk_rows,
            )
        )
        n = result.get(MINUTES_TABLE, 0)
        total += n
        tell(f"delete {MINUTES_TABLE}", n)
        if n < settings.chunk_rows:
            break
    report.deleted[MINUTES_TABLE] = total


class CommandNotConfirmed(Exception):
    """The storage writer did not commit a command (rejected it, stopped, or timed out)."""

    expected = True


async def execute_command(writer: StorageWriter, event: Event, timeout_s: float) -> dict[str, int]:
    """One command through the writer: rows changed per table, or ``CommandNotConfirmed``."""
    with trio.move_on_after(timeout_s):
        try:
            return (await writer.execute(event)).counts
        except CommitRejected as exc:
            raise CommandNotConfirmed(
                f"the storage writer rejected {type(event).__name__}: {exc}"
            ) from None
    failing = f" (it is failing: {writer.failure})" if writer.failure else ""
    raise CommandNotConfirmed(
        f"the storage writer did not commit {type(event).__name__} within {timeout_s:g}s" + failing
    )


class Maintainer:
    """The maintenance channel's job; keeps the last pass's report for the CLI."""

    def __init__(self, rt: Runtime, *, progress: Progress | None = None) -> None:
        self.rt = rt
        cfg = HYPERLIQUID.of(rt.config)
        self.policy = RetentionPolicy.from_config(cfg)
        self.settings = PassSettings.from_config(cfg)
        self.progress = progress
        self.last_report: PassReport | None = None
        self._absent_logged: set[str] = set()

    async def job(self, ctx: RunContext) -> None:
        writer = self.rt.writer
        if writer is None:
            raise RuntimeError("maintenance needs the pipeline's storage writer")
        timeout_s = HYPERLIQUID.of(self.rt.config).retention_command_timeout_s

        async def send(event: Event) -> dict[str, int]:
            return await execute_command(writer, event, timeout_s)

        started = trio.current_time()
        conn = engine.open_ro(
            self.rt.database, busy_timeout_ms=self.rt.config.storage.busy_timeout_ms
        )
        try:
            report = await maintenance_pass(
                send,
                conn,
                self.policy,
                self.settings,
                self.rt.clock.now_ms(),
                progress=self.progress,
            )
        finally:
            conn.close()
        PASS_SECONDS.observe(trio.current_time() - started)
        self.last_report = report
        ctx.rows += report.rows_changed
        ROLLED_UP.inc(report.hours_rolled_up)
        for table, n in report.deleted.items():
            if n:
                DELETED.inc(n, table=table)
        absent = [t for t in report.absent if t not in self._absent_logged]
        if absent:
            self._absent_logged.update(absent)
            ctx.log.warning("retained table(s) not in the database, skipped: %s", ", ".join(absent))
        ctx.log.info(
            "maintenance: %d hour(s) rolled up, %d row(s) deleted, %d page(s) released",
            report.hours_rolled_up,
            sum(report.deleted.values()),
            report.pages_released,
        )
