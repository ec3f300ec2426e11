"""The storage writer: the only read-write database connection in the process.

It subscribes (lossless) to every event type that has a write function, gathers what is
queued into one transaction (bounded by rows and by gathering time), runs the database work
off the trio thread (SQLite or PostgreSQL, ``storage.engine``), and publishes ``Committed`` after each commit. On shutdown the bus is closed,
the writer drains its queue to the end and commits it all before ``run`` returns.

A transaction that fails for a condition that can clear (disk full, read-only file, lock,
I/O error, a PostgreSQL server that went away: the connection is opened again) is retried with backoff, holding its events: nothing accepted is lost, and the
bounded queue pushes back on the sources meanwhile. While it retries, ``failure`` names the
condition (None once a commit succeeds again) so runs finishing meanwhile are recorded failed.
Any other failure is a bad event: the batch is replayed one event per transaction and only
the events that fail are rejected, each logged with its error and counted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import trio

from marketmem import metrics
from marketmem.bus import Bus, Policy
from marketmem.clock import SystemClock, WallClock
from marketmem.config import StorageConfig
from marketmem.events import (
    CommitFailed,
    Committed,
    Event,
    RowBatch,
    RunFinished,
    RunStarted,
)
from marketmem.executors import Executor, thread_executor
from marketmem.source import Source
from marketmem.storage import engine, schema
from marketmem.storage.core_tables import close_interrupted_runs
from marketmem.storage.errors import RETRYABLE_WRITE
from marketmem.storage.tables import AfterWrite, RowsWriter, WriteFn

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000


def retryable_cause(exc: BaseException) -> BaseException | None:
    """The retryable database error behind ``exc``, if any.

    On SQLITE_FULL SQLite may roll the whole transaction back itself (seen with many
    statements in one transaction); leaving ``with conn`` then raises ``SQLError('cannot
    rollback - no transaction is active')`` with the FullError as its ``__context__``. The
    condition is still the full disk, not a bad event.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RETRYABLE_WRITE):
            return seen
        seen = seen.__context__
    return None


def _transactions(batch: list[Event]) -> list[list[Event]]:
    """Split a batch into transactions: runs of ordinary events, and each ``solo`` event alone.

    Commands that may hold the write lock for a while (a retention delete chunk, a rollup)
    are ``solo`` so they never share a transaction.
    """
    groups: list[list[Event]] = []
    current: list[Event] = []
    for event in batch:
        if event.solo:
            if current:
                groups.append(current)
                current = []
            groups.append([event])
        else:
            current.append(event)
    if current:
        groups.append(current)
    return groups


class CommitRejected(Exception):
    """The writer refused an event for good (a bad event, or it stopped before committing)."""

    expected = True


@dataclass(frozen=True)
class CommitResult:
    """What the writer committed for one event: rows changed per table, and the event as
    written (a ``RunFinished`` carries the run's committed rows and the writer's verdict)."""

    counts: dict[str, int]
    written: Event


@dataclass
class RunTally:
    """What the writer committed and rejected of one run's events so far."""

    rows: int = 0
    rejected: list[str] = field(default_factory=list)


# Runs whose RunFinished never came (a crashed job) are forgotten beyond this many.
MAX_OPEN_TALLIES = 10_000
_RUN_EVENTS = (RunStarted, RunFinished)


class _Waiter:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: CommitResult | None = None
        self.error: str | None = None


@dataclass
class _GroupOutcome:
    totals: dict[str, int]
    # (the event as published, as written, rows changed per table)
    per_event: list[tuple[Event, Event, dict[str, int]]]
    tally: dict[str, int]
    finished: list[str]


@dataclass
class WriterStatistics:
    transactions: int = 0
    events: int = 0
    rows: int = 0
    rejected: int = 0
    retries: int = 0
    last_commit_latency_s: float = 0.0
    rows_by_table: dict[str, int] = field(default_factory=dict)


class StorageWriter:
    """Owns the read-write connection; construct before sources start publishing."""

    def __init__(
        self,
        location: engine.Location,
        bus: Bus,
        *,
        sources: Sequence[Source],
        settings: StorageConfig | None = None,
        executor: Executor | None = None,
        clock: WallClock | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        close_interrupted: bool = False,
    ) -> None:
        settings = settings or StorageConfig()
        self.location = location
        self.bus = bus
        self.max_rows = settings.writer_max_rows
        self.max_gather_s = settings.writer_max_gather_s
        self.busy_timeout_ms = settings.busy_timeout_ms
        self.wal_autocheckpoint = settings.wal_autocheckpoint
        self.cache_mib = settings.writer_cache_mib
        self.executor = executor or thread_executor()
        self.clock = clock or SystemClock()
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        # Only the long-running service closes runs a crash left open; a one-off command
        # beside a running service must not touch that service's runs.
        self.close_interrupted = close_interrupted
        # The sources whose tables this writer serves.
        self.sources = sources
        self._writers: dict[type, WriteFn] = schema.writers(sources)
        self._after: dict[type, list[AfterWrite]] = schema.after_writes(sources)
        self._rx = bus.subscribe(
            "storage-writer",
            self._writers.keys(),
            buffer=settings.writer_buffer,
            policy=Policy.LOSSLESS,
        )
        self._conn: engine.Connection | None = None
        self.stats = WriterStatistics()
        self.ready = trio.Event()
        self._pending: list[Event] = []
        self._tallies: dict[str, RunTally] = {}
        self._waiters: dict[int, _Waiter] = {}
        # The retryable condition being retried ("FullError: database or disk is full");
        # None while commits succeed. Runs that finish meanwhile are recorded failed.
        self.failure: str | None = None

    # --- blocking side (runs in the executor) -------------------------------------------

    def _connect(self) -> engine.Connection:
        return engine.open_writer(
            self.location,
            busy_timeout_ms=self.busy_timeout_ms,
            wal_autocheckpoint=self.wal_autocheckpoint,
            cache_mib=self.cache_mib,
        )

    def _open(self) -> int:
        conn = self._connect()
        try:
            schema.migrate(conn, self.sources)
            schema.check_columns(conn, self.sources)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        if not self.close_interrupted:
            return 0
        return close_interrupted_runs(conn, self.clock.now_ms())

    def _connection(self) -> engine.Connection:
        """The open connection; a PostgreSQL session that was cut is opened again (the
        failed transaction is retried on the new one)."""
        conn = self._conn
        assert conn is not None
        if isinstance(conn, engine.PostgresConnection) and conn.closed:
            conn.close()
            self._conn = conn = self._connect()
        return conn

    def _end_postgres_session(self) -> None:
        """After a failure that can clear, the retry runs on a new PostgreSQL session: a
        session keeps the settings it began with (a database made read-only and then
        writable again stays read-only for the sessions opened meanwhile)."""
        if isinstance(self._conn, engine.PostgresConnection):
            self._conn.close()

    def _write_group(self, group: list[Event]) -> _GroupOutcome:
        """One transaction: every event of ``group``, in order."""
        conn = self._connection()
        out = _GroupOutcome(totals={}, per_event=[], tally={}, finished=[])
        with conn:
            for fn, events in self._runs(group):
                written: list[tuple[Event, Event, dict[str, int]]]
                if len(events) > 1:
                    assert isinstance(fn, RowsWriter)
                    fn.write_many(conn, events)
                    table = fn.upsert.table
                    written = [
                        (ev, ev, {table: len(ev.rows)}) for ev in events if isinstance(ev, RowBatch)
                    ]
                else:
                    event = published = events[0]
                    if isinstance(event, RunFinished):
                        event = self._verdict(event, out.tally)
                        out.finished.append(event.run_id)
                    counts = fn(conn, event)
                    written = [(published, event, counts)]
                for after in self._after.get(type(events[0]), ()):
                    after(conn, events)
                for published, event, counts in written:
                    out.per_event.append((published, event, counts))
                    for table, n in counts.items():
                        out.totals[table] = out.totals.get(table, 0) + n
                    if event.run_id and not isinstance(event, _RUN_EVENTS):
                        out.tally[event.run_id] = out.tally.get(event.run_id, 0) + sum(
                            counts.values()
                        )
        return out

    def _verdict(self, event: RunFinished, pending: dict[str, int]) -> RunFinished:
        """The run as the writer records it: the rows it committed for the run, and failed
        when it rejected any of the run's events."""
        held = self._tallies.get(event.run_id)
        if held is None and event.run_id not in pending:
            return event  # the run published nothing of its own (or nothing tagged)
        rows = (held.rows if held else 0) + pending.get(event.run_id, 0)
        rejected = held.rejected if held else []
        if not rejected:
            return msgspec.structs.replace(event, rows_written=rows)
        why = f"storage rejected {len(rejected)} event(s) of this run: {rejected[0]}"
        error = f"{why}; {event.error}" if event.error else why
        return msgspec.structs.replace(
            event, rows_written=rows, status="failed", error=error[:MAX_ERROR_CHARS]
        )

    def _runs(self, group: list[Event]) -> list[tuple[WriteFn, list[Event]]]:
        """Consecutive events of one RowsWriter merged (one executemany), others alone."""
        runs: list[tuple[WriteFn, list[Event]]] = []
        for event in group:
            fn = self._writers[type(event)]
            if runs and runs[-1][0] is fn and isinstance(fn, RowsWriter):
                runs[-1][1].append(event)
            else:
                runs.append((fn, [event]))
        return runs

    async def run_pragma(self, pragma: str) -> list[tuple[Any, ...]]:
        """Run ``PRAGMA <pragma>`` on the writer's own (SQLite) connection, in its executor.

        A test hook for faults no file permission can make for root: ``max_page_count=N``
        (SQLITE_FULL once the file would grow) and ``query_only=1`` (ReadOnlyError).
        """

        def run() -> list[tuple[Any, ...]]:
            if self._conn is None:
                raise RuntimeError("the writer's connection is not open")
            return list(self._conn.execute(f"PRAGMA {pragma}").fetchall())

        result: list[tuple[Any, ...]] = await self.executor(run)
        return result

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- trio side -------------------------------------------------------------------------

    async def execute(self, event: Event) -> CommitResult:
        """Publish ``event`` and wait until the writer has committed it.

        Returns what it changed; raises ``CommitRejected`` with the writer's reason when the
        event was refused for good. Events queued before it are committed first (one queue).
        """
        waiter = _Waiter()
        self._waiters[id(event)] = waiter
        try:
            await self.bus.publish(event)
            await waiter.done.wait()
        finally:
            self._waiters.pop(id(event), None)
        if waiter.result is None:
            raise CommitRejected(waiter.error or "not committed")
        return waiter.result

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        interrupted = await self.executor(self._open)
        if interrupted:
            log.warning("closed %d run(s) left running by an earlier process", interrupted)
        self.ready.set()
        task_status.started()
        try:
            while True:
                await self._gather()
                if not self._pending:
                    break
                # NOTE: a committed transaction leaves ``_pending`` at once, so a cancellation
                # between two of them never commits (or counts) one twice.
                for group in _transactions(self._pending):
                    await self._commit(group)
                    self._pending = self._pending[len(group) :]
        finally:
            with trio.CancelScope(shield=True):
                # Cancelled mid-way: commit what was accepted, then whatever is still queued.
                rest = self._pending + self._drain_nowait()
                self._pending = []
                for group in _transactions(rest):
                    await self._commit(group, retry=False)
                await self.executor(self._close)
                for waiter in self._waiters.values():
                    if not waiter.done.is_set():
                        waiter.error = "the storage writer stopped before committing it"
                        waiter.done.set()

    def _drain_nowait(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                out.append(self._rx.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return out

    async def _gather(self) -> None:
        """Fill ``self._pending`` (kept on self so a cancellation cannot lose it)."""
        try:
            first = await self._rx.receive()
        except trio.EndOfChannel:
            return
        batch = self._pending = [first]
        rows = first.weight()
        deadline = trio.current_time() + self.max_gather_s
        while rows < self.max_rows:
            try:
                event = self._rx.receive_nowait()
            except trio.WouldBlock:
                if trio.current_time() >= deadline:
                    break
                with trio.move_on_at(deadline):
                    try:
                        event = await self._rx.receive()
                    except trio.EndOfChannel:
                        break
                    batch.append(event)
                    rows += event.weight()
                    continue
                break
            except trio.EndOfChannel:
                break
            batch.append(event)
            rows += event.weight()

    async def _commit(self, group: list[Event], *, retry: bool = True) -> None:
        """Commit one transaction's events, retrying conditions that can clear; a group that
        fails otherwise is replayed one event per transaction and the bad events rejected."""
        delay = self.retry_initial_s
        while True:
            t0 = trio.current_time()
            try:
                outcome: _GroupOutcome = await self.executor(self._write_group, group)
            except Exception as exc:
                cause = retryable_cause(exc)
                if cause is not None:
                    await self.executor(self._end_postgres_session)
                    self.stats.retries += 1
                    self.failure = f"{type(cause).__name__}: {cause}"
                    metrics.WRITER_FAILING.set(1)
                    metrics.WRITER_ERRORS.inc(kind=type(cause).__name__)
                    log.error(
                        "commit of %d event(s) failed (%s); %s",
                        len(group),
                        self.failure,
                        f"retrying in {delay:.1f}s" if retry else "giving up at shutdown",
                    )
                    await self._publish_nowait(
                        CommitFailed(events=len(group), error=self.failure, will_retry=retry)
                    )
                    if not retry:
                        self._resolve_failed(group, f"not committed at shutdown: {self.failure}")
                        return
                    await trio.sleep(delay)
                    delay = min(self.retry_max_s, delay * 2)
                    continue
                metrics.WRITER_ERRORS.inc(kind=type(exc).__name__)
                if len(group) == 1:
                    await self._reject(group[0], exc)
                    return
                log.warning(
                    "batch of %d event(s) failed (%s: %s); replaying one by one",
                    len(group),
                    type(exc).__name__,
                    exc,
                )
                for event in group:
                    await self._commit([event], retry=retry)
                return
            latency = trio.current_time() - t0
            if self.failure is not None:
                log.info("commits succeed again after %s", self.failure)
                self.failure = None
                metrics.WRITER_FAILING.set(0)
            self._settle(outcome)
            self._record(group, outcome.totals, latency)
            await self._publish_nowait(
                Committed(events=len(group), rows_by_table=outcome.totals, latency_s=latency)
            )
            return

    def _settle(self, outcome: _GroupOutcome) -> None:
        """After a commit: run tallies move on, finished runs are forgotten, waiters answered."""
        for run_id, rows in outcome.tally.items():
            tally = self._tallies.get(run_id)
            if tally is None:
                tally = self._tallies[run_id] = RunTally()
            tally.rows += rows
        for run_id in outcome.finished:
            self._tallies.pop(run_id, None)
        while len(self._tallies) > MAX_OPEN_TALLIES:
            self._tallies.pop(next(iter(self._tallies)))
        for published, written, counts in outcome.per_event:
            waiter = self._waiters.get(id(published))
            if waiter is not None and not waiter.done.is_set():
                waiter.result = CommitResult(counts=counts, written=written)
                waiter.done.set()

    def _resolve_failed(self, group: list[Event], error: str) -> None:
        for event in group:
            waiter = self._waiters.get(id(event))
            if waiter is not None and not waiter.done.is_set():
                waiter.error = error
                waiter.done.set()

    async def _reject(self, event: Event, exc: Exception) -> None:
        self.stats.rejected += 1
        reason = f"{type(event).__name__}: {type(exc).__name__}: {exc}"
        log.error("rejected %s", reason, exc_info=exc)
        if event.run_id and not isinstance(event, _RUN_EVENTS):
            tally = self._tallies.get(event.run_id)
            if tally is None:
                tally = self._tallies[event.run_id] = RunTally()
            tally.rejected.append(reason)
        self._resolve_failed([event], f"{type(exc).__name__}: {exc}")
        # Whoever waits for this event's result learns at once that it will not come.
        await self._publish_nowait(
            CommitFailed(events=1, error=f"{type(exc).__name__}: {exc}", will_retry=False)
        )

    def _record(self, batch: list[Event], totals: dict[str, int], latency: float) -> None:
        self.stats.transactions += 1
        self.stats.events += len(batch)
        self.stats.rows += sum(totals.values())
        self.stats.last_commit_latency_s = latency
        metrics.WRITER_BATCH_EVENTS.observe(len(batch))
        if not math.isnan(latency):
            metrics.WRITER_COMMIT_SECONDS.observe(latency)
        for table, n in totals.items():
            metrics.ROWS_WRITTEN.inc(n, table=table)
            self.stats.rows_by_table[table] = self.stats.rows_by_table.get(table, 0) + n

    async def _publish_nowait(self, event: Event) -> None:
        # Committed/CommitFailed go to lossy observers; never block the writer on them.
        if self.bus.closed:
            return
        try:
            self.bus.publish_nowait(event)
        except trio.WouldBlock:
            log.warning("a lossless subscriber of %s is full; not notified", type(event).__name__)
        await trio.lowlevel.checkpoint()
