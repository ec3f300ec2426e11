"""Recording runs: every run of every source/channel becomes an ``ingestion_runs`` row.

``execute_run`` wraps one poll job: it publishes ``RunStarted``, lets the job publish its rows
through a ``RunContext`` (which tags them with the run's id), then publishes ``RunFinished`` as
ok or, when the job raised, failed with the exception type and message. Run events go through
the same lossless bus queue as the rows, so the writer commits a run's rows before its
``RunFinished``, and records as the run's ``rows_written`` what it committed of the run's
events; an event of the run it rejected makes the run failed with the writer's reason.
``execute_run`` waits for that verdict and returns it.

Stream channels have no natural runs; ``StreamRunWindow`` records one every 60 s while rows
arrive (rows committed in that window, plus reconnect/backfill notes).

A run (or window) that ends while the storage writer is retrying a failed commit (disk full,
read-only database) is recorded failed, ``storage unavailable: ...``: its rows are held, not
lost, but they are not in the database yet. The row itself is committed once the writer
recovers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import msgspec
import trio

from marketmem import metrics
from marketmem.events import Event, RunFinished, RunStarted
from marketmem.logs import ContextLogger, context
from marketmem.runtime import PollJob, Runtime
from marketmem.storage.writer import MAX_ERROR_CHARS, CommitRejected

log = logging.getLogger(__name__)

# How long a finished run waits for the writer's verdict before it is logged as published.
VERDICT_TIMEOUT_S = 10.0


def new_run_id() -> str:
    return uuid.uuid4().hex


def describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BaseExceptionGroup):
        text = "; ".join(describe_error(e) for e in exc.exceptions)
    return text[:MAX_ERROR_CHARS]


def storage_failure(rt: Runtime) -> str | None:
    """``storage unavailable: ...`` while the pipeline's writer retries a failed commit."""
    writer = rt.writer
    if writer is not None and writer.failure is not None:
        return f"storage unavailable: {writer.failure}"
    return None


class RunContext:
    """Handed to a poll job: publish rows, add notes, read the run's identity."""

    def __init__(self, rt: Runtime, source: str, channel: str, run_id: str, started_at_ms: int):
        self.rt = rt
        self.source = source
        self.channel = channel
        self.run_id = run_id
        self.started_at_ms = started_at_ms
        self.rows = 0
        self.notes: list[str] = []
        self.log = ContextLogger(log, context(source, channel, run_id))

    async def publish(self, event: Event, *, counted: bool = True) -> None:
        """Publish an event of this run. Its committed rows count as the run's rows unless
        ``counted`` is False (rows written for want of input: NULLs with their reasons)."""
        if counted:
            self.rows += event.weight()
            event = msgspec.structs.replace(event, run_id=self.run_id)
        await self.rt.bus.publish(event)

    def note(self, message: str) -> None:
        """A problem that did not fail the run (e.g. one coin of many); goes in the error text."""
        self.notes.append(message)
        self.log.warning("%s", message)


async def execute_run(rt: Runtime, source: str, channel: str, job: PollJob) -> RunFinished:
    """Run ``job`` once as a recorded run; never raises except for cancellation."""
    run_id = new_run_id()
    started = rt.clock.now_ms()
    ctx = RunContext(rt, source, channel, run_id, started)
    await rt.bus.publish(
        RunStarted(
            run_id=run_id,
            source=source,
            channel=channel,
            started_at_ms=started,
            instance=rt.instance,
        )
    )
    status, error = "ok", None
    failure: Exception | None = None
    try:
        await job(ctx)
    except trio.Cancelled:
        with trio.CancelScope(shield=True):
            await _finish(
                rt, ctx, "failed", "cancelled: the service stopped during this run", wait=False
            )
        raise
    except Exception as exc:
        status, error, failure = "failed", describe_error(exc), exc
    storage = storage_failure(rt)
    if storage is not None:
        status, error = "failed", f"{storage}; {error}" if error else storage
    if ctx.notes:
        notes = "; ".join(ctx.notes)
        error = f"{error}; {notes}" if error else notes
    finished = await _finish(rt, ctx, status, error, failure=failure)
    if rt.on_run is not None:
        rt.on_run(finished, failure)
    return finished


def expected(exc: BaseException) -> bool:
    """Errors from the outside world (a venue that does not answer, HTTP statuses, payloads)
    say ``expected = True``: logged as one WARNING line, without a traceback, which is for
    bugs. A group is expected when every error in it is."""
    if isinstance(exc, BaseExceptionGroup):
        return all(expected(e) for e in exc.exceptions)
    return getattr(exc, "expected", False) is True


async def _finish(
    rt: Runtime,
    ctx: RunContext,
    status: str,
    error: str | None,
    *,
    wait: bool = True,
    failure: Exception | None = None,
) -> RunFinished:
    """Record the run and log it, once: INFO when ok (or cut short by a stop), WARNING when
    it failed for a reason of the outside world or the storage, ERROR with the traceback when
    the job raised something unexpected (a bug)."""
    finished = RunFinished(
        run_id=ctx.run_id,
        source=ctx.source,
        channel=ctx.channel,
        started_at_ms=ctx.started_at_ms,
        finished_at_ms=rt.clock.now_ms(),
        status=status,
        rows_written=ctx.rows,
        error=error[:MAX_ERROR_CHARS] if error else None,
        instance=rt.instance,
    )
    pending = ""
    if rt.bus.closed:
        pending = " (not recorded: the bus is closed)"
    elif rt.writer is None or rt.writer.failure is not None or not wait:
        # While the writer retries a failed commit, the run is recorded once it recovers;
        # the scheduler must not wait for that.
        await rt.bus.publish(finished)
    else:
        finished, pending = await _recorded(rt, finished)
    metrics.RUNS.inc(source=ctx.source, channel=ctx.channel, status=finished.status)
    error = finished.error
    level = logging.INFO
    if finished.status != "ok" and wait:
        level = logging.WARNING if failure is None or expected(failure) else logging.ERROR
    ctx.log.log(
        level,
        "run %s: %d row(s)%s%s",
        finished.status,
        finished.rows_written,
        f" ({error})" if error else "",
        pending,
        exc_info=failure if level == logging.ERROR else None,
    )
    return finished


async def _recorded(rt: Runtime, finished: RunFinished) -> tuple[RunFinished, str]:
    """Publish ``finished`` and wait for the writer to record it: the run as stored."""
    assert rt.writer is not None
    with trio.move_on_after(VERDICT_TIMEOUT_S):
        try:
            result = await rt.writer.execute(finished)
        except CommitRejected as exc:
            return finished, f" (not recorded: {exc})"
        assert isinstance(result.written, RunFinished)
        return result.written, ""
    return finished, f" (the writer has not recorded it within {VERDICT_TIMEOUT_S:g}s)"


class StreamRunWindow:
    """Run bookkeeping for a stream channel: one recorded run per window while rows arrive.

    The stream actor calls ``add(rows)`` for what it published and ``note(...)`` for
    reconnects, backfills and errors; ``run_windows`` (started by the actor) closes a window
    every ``window_s``. A window with no rows and no failure records nothing; a window with
    a failure (``fail``, or the storage writer failing as it closes) records a failed run even
    without rows.
    """

    def __init__(
        self,
        rt: Runtime,
        source: str,
        channel: str,
        window_s: float = 60.0,
        *,
        check: Callable[[], str | None] | None = None,
    ):
        self.rt = rt
        self.source = source
        self.channel = channel
        self.window_s = window_s
        # Asked as each window closes: a condition that fails the window while it lasts.
        self.check = check
        self._reset()

    def _reset(self) -> None:
        # The events the actor publishes in this window carry this id (see ``run_id``).
        self.run_id = new_run_id()
        self.started_at_ms = self.rt.clock.now_ms()
        self.rows = 0
        self.notes: list[str] = []
        self.failure: str | None = None

    def add(self, rows: int) -> None:
        self.rows += rows

    def note(self, message: str) -> None:
        self.notes.append(message)

    def fail(self, message: str) -> None:
        self.failure = message

    async def close_window(self) -> RunFinished | None:
        storage = storage_failure(self.rt)
        condition = self.check() if self.check is not None else None
        if self.rows == 0 and self.failure is None and storage is None and condition is None:
            self._reset()
            return None
        run_id = self.run_id
        failures = [f for f in (storage, self.failure, condition) if f]
        status = "failed" if failures else "ok"
        parts = failures + self.notes
        finished = RunFinished(
            run_id=run_id,
            source=self.source,
            channel=self.channel,
            started_at_ms=self.started_at_ms,
            finished_at_ms=self.rt.clock.now_ms(),
            status=status,
            rows_written=self.rows,
            error="; ".join(parts)[:MAX_ERROR_CHARS] if parts else None,
            instance=self.rt.instance,
        )
        self._reset()
        metrics.RUNS.inc(source=self.source, channel=self.channel, status=status)
        if not self.rt.bus.closed:
            await self.rt.bus.publish(finished)
        return finished

    async def run_windows(self) -> None:
        """Close a window every ``window_s`` on trio's clock (drift-free); runs until cancelled."""
        next_t = trio.current_time() + self.window_s
        try:
            while True:
                await trio.sleep_until(next_t)
                next_t += self.window_s
                await self.close_window()
        finally:
            with trio.CancelScope(shield=True):
                await self.close_window()
