"""The supervisor behind ``bin/marketmem run``: every enabled actor in one nursery.

Order: the storage writer starts first (``open_pipeline``), then every source is opened
(``open_sources``: each opens its own resources and closes them at the end), the HTTP API
(``serve_api``: restarted with backoff when it crashes) with its live stream's hub and feed
(``http.feed.bus_feed``), the scheduler with every enabled poll channel and every enabled
long-running actor (each restarted with backoff when it crashes, its crash recorded as a
failed run of its channel), the bus observer and the telemetry its dashboard charts
(``marketmem.telemetry``). SIGINT/SIGTERM or ``--duration`` stop ingestion, end the open
streams and tell the API to stop (it drains its requests within
hypercorn's graceful timeout); the sources close, the bus closes, the writer drains and makes
its final commit, and ``run_service`` returns.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import trio

from marketmem import metrics
from marketmem.bus import Bus
from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.events import RunFinished, RunStarted
from marketmem.executors import Executor
from marketmem.heap import settle_heap
from marketmem.http.feed import bus_feed
from marketmem.http.server import serve_http
from marketmem.http.stream import StreamHub
from marketmem.leases import CHECK_S, Leases, hold, lease_key, takeover_poll_s
from marketmem.logs import context
from marketmem.offline import FirstRound
from marketmem.pipeline import open_pipeline
from marketmem.runs import describe_error, execute_run, expected, new_run_id
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.scheduler import Scheduler
from marketmem.shards import WHOLE, Shard
from marketmem.source import open_sources
from marketmem.storage.engine import open_leases
from marketmem.telemetry import Telemetry, run_telemetry, scheduler_skips

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
            RunStarted(
                run_id=run_id,
                source=spec.source,
                channel=channel,
                started_at_ms=now,
                instance=rt.instance,
            )
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
                instance=rt.instance,
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
    first_round: FirstRound | None = None,
) -> None:
    """Run ``spec`` and restart it with capped, jittered backoff whenever it raises.

    A crash is one line: a WARNING without traceback when the outside world caused it (an
    ``expected`` error: a venue that does not answer), else an ERROR with the traceback."""
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
            outside = expected(exc)
            log.log(
                logging.WARNING if outside else logging.ERROR,
                "actor %s crashed (%s); restart %d in %.1fs",
                spec.name,
                describe_error(exc),
                failures,
                delay,
                exc_info=None if outside else exc,
                extra=ctx,
            )
            await record_crash(rt, spec, exc)
            if first_round is not None and spec.source is not None and spec.serves():
                first_round.report(spec.source, spec.serves()[0], exc)
            await trio.sleep(delay)
        else:
            log.info("actor %s finished", spec.name, extra=ctx)
            return


@dataclass
class HeldGroup:
    """Channels and the actors that feed them: they run together, under one lease."""

    key: str
    channels: list[ChannelSpec] = field(default_factory=list)
    actors: list[ActorSpec] = field(default_factory=list)
    cadence_s: float = 60.0


def held_groups(
    channels: Sequence[ChannelSpec],
    actors: Sequence[ActorSpec],
    shards: Mapping[str, Shard] | None = None,
) -> list[HeldGroup]:
    """Group poll channels and actors by the channels they serve (an actor and the channels
    it serves, transitively, share a group); each group is named after its first channel,
    and its shard when its source is sharded (``shards``, by source name)."""
    shards = shards or {}
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(k: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    def served(actor: ActorSpec) -> list[tuple[str, str]]:
        return [(actor.source or "marketmem", c) for c in actor.serves() or (actor.name,)]

    for spec in channels:
        root((spec.source, spec.channel))
    for actor in actors:
        first, *rest = served(actor)
        for k in rest:
            parent[root(k)] = root(first)
    # Keys in order: the first of a group seen is its smallest channel, which names it.
    groups: dict[tuple[str, str], HeldGroup] = {}
    for k in sorted(parent):
        groups.setdefault(root(k), HeldGroup(key=lease_key(*k, shards.get(k[0], WHOLE))))
    for spec in channels:
        groups[root((spec.source, spec.channel))].channels.append(spec)
    for actor in actors:
        groups[root(served(actor)[0])].actors.append(actor)
    for g in groups.values():
        g.cadence_s = min((c.cadence_s for c in g.channels), default=60.0)
    return sorted(groups.values(), key=lambda g: g.key)


def start_held(
    nursery: trio.Nursery,
    rt: Runtime,
    leases: Leases,
    channels: Sequence[ChannelSpec],
    actors: Sequence[ActorSpec],
    first_round: FirstRound | None = None,
) -> None:
    """Each group of channels and actors under its own lease: run while held, else stand by."""
    for g in held_groups(channels, actors, source_shards(rt.config)):

        async def run_group(g: HeldGroup = g) -> None:
            async with trio.open_nursery() as inner:
                for actor in g.actors:
                    inner.start_soon(
                        partial(supervise, rt, actor, first_round=first_round), name=actor.name
                    )
                if g.channels:
                    await inner.start(Scheduler(rt, g.channels).run)

        poll_s = rt.config.service.standby_poll_s or takeover_poll_s(g.cadence_s)
        nursery.start_soon(
            partial(hold, leases, g.key, run_group, retry_s=poll_s, check_s=CHECK_S), name=g.key
        )


def source_shards(config: Config) -> dict[str, Shard]:
    """The coin shard of each sharded source of ``config``, by source name."""
    return {src.name: src.shard(config) for src in config.SOURCES if src.shard is not None}


async def run_channels_once(
    rt: Runtime,
    built: Sequence[ChannelSpec | ActorSpec],
    wanted: Sequence[ChannelSpec],
) -> list[RunFinished]:
    """Run each of ``wanted`` once, in order, as recorded runs (one-off commands, tests),
    with the actors that feed their inputs running meanwhile: those that serve one of their
    channels (the candle windows, the context poller and feed), never a stream of its own."""
    names = {(s.source, s.channel) for s in wanted}
    feeders = [
        a
        for a in built
        if isinstance(a, ActorSpec) and any((a.source, c) in names for c in a.serves())
    ]
    results: list[RunFinished] = []
    async with trio.open_nursery() as nursery:
        for actor in feeders:
            nursery.start_soon(actor.run, name=actor.name)
        for spec in wanted:
            results.append(await execute_run(rt, spec.source, spec.channel, spec.job))
        nursery.cancel_scope.cancel()
    return results


async def observe_bus(rt: Runtime) -> None:
    """Export bus queue depth and drops as metrics, summed over subscribers of one name (every
    stream client is ``http-stream``; a name none holds any more reads 0)."""
    names: set[str] = set()
    while True:
        totals: dict[str, tuple[int, int]] = dict.fromkeys(names, (0, 0))
        for sub in rt.bus.statistics().subscribers:
            queued, dropped = totals.get(sub.name, (0, 0))
            totals[sub.name] = (queued + sub.queued, dropped + sub.dropped)
        for name, (queued, dropped) in totals.items():
            metrics.BUS_QUEUED.set(queued, subscriber=name)
            metrics.BUS_DROPPED.set(dropped, subscriber=name)
        names = set(totals)
        await trio.sleep(BUS_OBSERVE_EVERY_S)


async def wait_for_signal(signals: AsyncIterator[int], cancel: Callable[[], None]) -> None:
    async for signum in signals:
        log.info("received %s; shutting down", signal.Signals(signum).name)
        cancel()
        return


async def serve_api(
    rt: Runtime,
    stopping: trio.Event,
    *,
    streams: StreamHub | None = None,
    initial_backoff_s: float = 1.0,
    max_backoff_s: float = 30.0,
    rng: random.Random | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The HTTP API under supervision: it stops taking requests when ``stopping`` is set and
    drains those under way within hypercorn's graceful timeout; a crash after it came up is
    logged, counted and restarted with backoff, never taking ingestion down. A failure to
    come up at all (the port is taken) is raised: the service cannot do what it was asked."""
    rng = rng or random.Random()
    failures = 0
    first = True
    while not stopping.is_set():
        try:
            port = await _serve_until_stopped(rt, stopping, task_status if first else None, streams)
            log.info("HTTP API stopped after draining its requests (port %s)", port)
            return
        except Exception as exc:
            if first:
                raise
            delay = min(max_backoff_s, initial_backoff_s * 2**failures) * rng.uniform(0.5, 1.0)
            failures += 1
            metrics.ACTOR_RESTARTS.inc(actor="http")
            log.error(
                "HTTP API crashed (%s); restart %d in %.1fs",
                describe_error(exc),
                failures,
                delay,
                exc_info=exc,
            )
            with trio.move_on_after(delay):
                await stopping.wait()
        first = False


async def _serve_until_stopped(
    rt: Runtime,
    stopping: trio.Event,
    task_status: trio.TaskStatus[int] | None,
    streams: StreamHub | None,
) -> int:
    """Serve until ``stopping`` (then drain); reports the bound port once through
    ``task_status``."""
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(
            partial(
                serve_http,
                rt.config,
                rt.clock,
                telemetry=rt.telemetry,
                streams=streams,
                shutdown_trigger=stopping.wait,
            )
        )
        if task_status is not None:
            task_status.started(port)
        else:
            log.info("HTTP API restarted on port %s", port)
    return port


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
    leases: Leases | None = None,
    telemetry: Telemetry | None = None,
    bus: Bus | None = None,
    task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the whole service until a signal, ``duration_s``, or cancellation.

    ``specs`` replaces what the sources would start (tests, special modes). ``leases``
    shared with other instances (PostgreSQL) make each channel and actor run only while this
    instance holds its lease; without, this instance runs everything (embedded SQLite).
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
            leases=leases,
            telemetry=telemetry,
            bus=bus,
            task_status=task_status,
        )


def _log_start(
    config: Config, channels: Sequence[ChannelSpec], actors: Sequence[ActorSpec], local: bool
) -> None:
    log.info(
        "starting %d poll channel(s) and %d actor(s)%s",
        len(channels),
        len(actors),
        " (local mode)" if local else "",
    )
    off = [f"{s}/{c}" for s, c, ch in config.channels() if not ch.enabled]
    if off:
        log.info(
            "%d channel(s) off (enabled = false in %s): %s",
            len(off),
            config.source_path,
            ", ".join(off),
        )


@contextlib.asynccontextmanager
async def _engine_leases(
    config: Config, given: Leases | None, executor: Executor | None
) -> AsyncIterator[Leases]:
    """``given`` (tests), else the leases of the database's engine for this instance."""
    if given is not None:
        yield given
        return
    async with open_leases(config.database(), config.service.instance(), executor=executor) as held:
        yield held


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
    leases: Leases | None,
    telemetry: Telemetry | None,
    bus: Bus | None,
    task_status: trio.TaskStatus[Runtime],
) -> None:
    async with (
        # First: a second instance on a SQLite file stops here, before it opens the database.
        _engine_leases(config, leases, executor) as leases,
        open_pipeline(
            config, clock=clock, executor=executor, local=local, service=True, bus=bus
        ) as rt,
        open_sources(rt) as built,
    ):
        channels, actors = enabled_specs(rt, list(built) if specs is None else specs)
        rt.telemetry = telemetry or Telemetry(rt.clock.now_ms())
        first_round = FirstRound(config, [(s, c) for s, c, _ in config.enabled_channels()])
        rt.on_run = first_round.run_ended
        stopping = trio.Event()
        serving = http and config.http.enabled
        # The live stream (/api/v1/stream) is fed from this process's bus, after commits.
        hub, feed = bus_feed(rt.bus, config, rt.clock) if serving else (None, None)
        async with trio.open_nursery() as nursery:
            if hub is not None:
                await nursery.start(hub.run)
            # The API binds first: a port already taken stops the service in one line,
            # before anything has started (or logged).
            if serving:
                port = await nursery.start(partial(serve_api, rt, stopping, streams=hub))
            _log_start(config, channels, actors, local)
            if serving:
                log.info("HTTP API listening on %s (port %s)", config.http.bind, port)
            async with trio.open_nursery() as ingestion:
                if signals is not None:
                    ingestion.start_soon(wait_for_signal, signals, stopping.set)
                if duration_s is not None:
                    ingestion.cancel_scope.deadline = trio.current_time() + duration_s
                ingestion.start_soon(observe_bus, rt)
                skips = scheduler_skips((c.source, c.channel) for c in channels)
                ingestion.start_soon(run_telemetry, rt.telemetry, rt.bus, rt.clock, skips)
                if feed is not None:
                    stream_feed = ActorSpec(name="stream-feed", run=feed.run)
                    ingestion.start_soon(supervise, rt, stream_feed, name=stream_feed.name)
                if leases is not None and leases.shared:
                    start_held(ingestion, rt, leases, channels, actors, first_round)
                else:
                    for spec in actors:
                        ingestion.start_soon(
                            partial(supervise, rt, spec, first_round=first_round), name=spec.name
                        )
                    await ingestion.start(Scheduler(rt, channels).run)
                settle_heap()
                task_status.started(rt)
                await stopping.wait()
                ingestion.cancel_scope.cancel()
            # Ingestion has stopped (a signal, or --duration): the streams end, the API drains
            # and ends.
            if hub is not None:
                hub.close()
            stopping.set()
        log.info("sources stopped; draining the writer")
