"""The supervisor behind ``bin/marketmem run``: every enabled actor in one nursery.

Order: the storage writer starts first (``open_pipeline``), then the scheduler with every
enabled poll channel, every enabled long-running actor (each restarted with backoff when it
crashes, its crash recorded as a failed run of its channel), the bus observer and the HTTP
server. SIGINT/SIGTERM or ``--duration`` cancel the sources; the bus then closes, the writer
drains and makes its final commit, and ``run_service`` returns.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from marketmem import metrics
from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.events import RunFinished, RunStarted
from marketmem.logs import context
from marketmem.pipeline import open_pipeline
from marketmem.runs import describe_error, new_run_id
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.scheduler import Scheduler
from marketmem.sources.registry import build_all
from marketmem.storage.writer import Executor

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 4.0
BUS_OBSERVE_EVERY_S = 5.0


def enabled_specs(
    rt: Runtime, specs: list[ChannelSpec | ActorSpec]
) -> tuple[list[ChannelSpec], list[ActorSpec]]:
    cfg = rt.config
    channels = [
        s for s in specs if isinstance(s, ChannelSpec) and cfg.channel(s.source, s.channel).enabled
    ]
    actors: list[ActorSpec] = []
    for s in specs:
        if not isinstance(s, ActorSpec):
            continue
        serves = s.serves()
        if not serves or s.source is None or any(cfg.channel(s.source, c).enabled for c in serves):
            actors.append(s)
    return channels, actors


async def record_crash(rt: Runtime, spec: ActorSpec, exc: BaseException) -> None:
    """A crashed actor becomes a failed run of each channel it serves."""
    if spec.source is None:
        return
    now = rt.clock.now_ms()
    for channel in spec.serves():
        run_id = new_run_id()
        await rt.bus.publish(
            RunStarted(run_id=run_id, source=spec.source, channel=channel, started_at_ms=now)
        )
        await rt.bus.publish(
            RunFinished(
                run_id=run_id,
                source=spec.source,
                channel=channel,
                started_at_ms=now,
                finished_at_ms=now,
                status="failed",
                error=f"actor {spec.name} crashed: {describe_error(exc)}",
            )
        )
        metrics.RUNS.inc(source=spec.source, channel=channel, status="failed")


async def supervise(
    rt: Runtime,
    spec: ActorSpec,
    *,
    initial_backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    healthy_after_s: float = 300.0,
    rng: random.Random | None = None,
) -> None:
    """Run ``spec`` and restart it with capped, jittered backoff whenever it raises."""
    rng = rng or random.Random()
    failures = 0
    ctx = context(spec.source, spec.channel)
    while True:
        started = trio.current_time()
        try:
            await spec.run()
        except Exception as exc:
            if trio.current_time() - started >= healthy_after_s:
                failures = 0
            delay = min(max_backoff_s, initial_backoff_s * 2**failures) * rng.uniform(0.5, 1.0)
            failures += 1
            metrics.ACTOR_RESTARTS.inc(actor=spec.name)
            log.error(
                "actor %s crashed (%s); restart %d in %.1fs",
                spec.name,
                describe_error(exc),
                failures,
                delay,
                exc_info=exc,
                extra=ctx,
            )
            await record_crash(rt, spec, exc)
            await trio.sleep(delay)
        else:
            log.info("actor %s finished", spec.name, extra=ctx)
            return


async def observe_bus(rt: Runtime) -> None:
    """Export bus queue depth and drops as metrics."""
    while True:
        for sub in rt.bus.statistics().subscribers:
            metrics.BUS_QUEUED.set(sub.queued, subscriber=sub.name)
            metrics.BUS_DROPPED.set(sub.dropped, subscriber=sub.name)
        await trio.sleep(BUS_OBSERVE_EVERY_S)


async def wait_for_signal(signals: AsyncIterator[int], cancel: Callable[[], None]) -> None:
    async for signum in signals:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        cancel()
        return


HttpServe = Callable[..., Awaitable[Any]]


def http_server() -> HttpServe | None:
    """The HTTP server entry point, when the HTTP package is present."""
    try:
        module = importlib.import_module("marketmem.http.server")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("marketmem.http"):
            return None
        raise
    serve: HttpServe = module.serve_http
    return serve


async def run_service(
    config: Config,
    *,
    clock: WallClock | None = None,
    executor: Executor | None = None,
    local: bool = False,
    duration_s: float | None = None,
    handle_signals: bool = True,
    http: bool = True,
    specs: list[ChannelSpec | ActorSpec] | None = None,
    task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the whole service until a signal, ``duration_s``, or cancellation.

    ``specs`` replaces what the registered builders would start (tests, special modes).
    """
    # NOTE: signals are caught from the very start, before the database is even opened: a
    # SIGTERM that arrives while the service starts still stops it cleanly.
    with contextlib.ExitStack() as stack:
        signals = (
            stack.enter_context(trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM))
            if handle_signals
            else None
        )
        await _run_service(
            config,
            signals,
            clock=clock,
            executor=executor,
            local=local,
            duration_s=duration_s,
            http=http,
            specs=specs,
            task_status=task_status,
        )


async def _run_service(
    config: Config,
    signals: AsyncIterator[int] | None,
    *,
    clock: WallClock | None,
    executor: Executor | None,
    local: bool,
    duration_s: float | None,
    http: bool,
    specs: list[ChannelSpec | ActorSpec] | None,
    task_status: trio.TaskStatus[Runtime],
) -> None:
    async with open_pipeline(
        config, clock=clock, executor=executor, local=local, service=True
    ) as rt:
        channels, actors = enabled_specs(rt, build_all(rt) if specs is None else specs)
        log.info(
            "starting %d poll channel(s) and %d actor(s)%s",
            len(channels),
            len(actors),
            " (local mode)" if local else "",
        )
        async with trio.open_nursery() as nursery:
            stop = nursery.cancel_scope.cancel
            if signals is not None:
                nursery.start_soon(wait_for_signal, signals, stop)
            if duration_s is not None:
                nursery.cancel_scope.deadline = trio.current_time() + duration_s
            nursery.start_soon(observe_bus, rt)
            serve = http_server() if http and config.http.enabled else None
            if serve is not None:
                port = await nursery.start(serve, config, rt.clock)
                log.info("HTTP API listening on %s (port %s)", config.http.bind, port)
            for spec in actors:
                nursery.start_soon(supervise, rt, spec, name=spec.name)
            await nursery.start(Scheduler(rt, channels).run)
            task_status.started(rt)
        log.info("sources stopped; draining the writer")
