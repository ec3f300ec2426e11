"""The live stream served for real: Hypercorn's trio worker on 127.0.0.1, read by httpx as a
stream (each event arrives on its own, not at the end) and by a raw socket that never reads
(it jams only itself, and the server still stops at once); and the ``serve`` poller."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import trio
import trio.testing
from httpkit import CHANNELS_TOML
from ssekit import COINS, MINUTE, T0_MS, InlinePool, Market, bar, listing, parse_sse

from marketmem.bus import Bus, Policy
from marketmem.clock import SystemClock, TrioWallClock
from marketmem.config import Config
from marketmem.events import (
    ApiTokenCreated,
    CandleBatch,
    LiveCandles,
    LiveMids,
    MidBatch,
    MidPrice,
    RunFinished,
    RunStarted,
)
from marketmem.executors import inline_executor
from marketmem.http.auth import issue_token
from marketmem.http.feed import DbFeed, bus_feed
from marketmem.http.server import serve_http
from marketmem.http.stream import StreamHub
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime
from marketmem.supervisor import run_service


async def store_access(rt: Runtime, coins: tuple[str, ...]) -> str:
    issued = issue_token()
    now = rt.clock.now_ms()
    assert rt.writer is not None
    await rt.writer.execute(listing(coins, now))
    await rt.writer.execute(
        ApiTokenCreated(
            token_id=issued.token_id, user="agent", token_hash=issued.token_hash, created_at_ms=now
        )
    )
    return issued.token


class Reader:
    """SSE events from an httpx response, as its chunks come."""

    def __init__(self, response: httpx.Response) -> None:
        self.chunks = response.aiter_raw()
        self.rest = b""
        self.events: list[Any] = []

    async def next(self, kind: str, timeout_s: float = 5.0) -> Any:
        with trio.fail_after(timeout_s):
            while True:
                for i, event in enumerate(self.events):
                    if event.kind == kind:
                        del self.events[: i + 1]
                        return event
                self.events.clear()
                chunk = await self.chunks.__anext__()
                events, self.rest = parse_sse(self.rest + chunk)
                self.events += events


async def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    with trio.fail_after(timeout_s):
        while not check():
            await trio.sleep(0.01)


def served(make_config: Callable[..., Config], extra: str = "") -> Config:
    return make_config(CHANNELS_TOML + '[http]\nbind = "127.0.0.1:0"\n' + extra)


async def test_each_event_reaches_a_real_client_as_it_is_committed(
    make_config: Callable[..., Config],
) -> None:
    config = served(make_config)
    clock = SystemClock()
    async with open_pipeline(config, clock=clock) as rt:
        token = await store_access(rt, COINS)
        hub, feed = bus_feed(rt.bus, config, clock)
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            nursery.start_soon(feed.run)
            port = await nursery.start(partial(serve_http, config, clock, streams=hub))
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
                client.stream(
                    "GET", "/api/v1/stream?symbols=BTC&kinds=mid,candle", headers=headers
                ) as response,
            ):
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                reader = Reader(response)
                # One at a time: the next is published only once the last one arrived.
                for k in range(3):
                    now = clock.now_ms()
                    mid = MidPrice(
                        coin="BTC", bucket_ms=now - now % 5000, price=k + 0.5, observed_at_ms=now
                    )
                    await rt.bus.publish(MidBatch(rows=[mid]))
                    event = await reader.next("mid")
                    assert event.data["price"] == k + 0.5
                done = bar("BTC", (now - T0_MS) // MINUTE - 1, closed=True, stamp_ms=now)
                await rt.bus.publish(CandleBatch(rows=[done]))
                event = await reader.next("candle")
                assert event.id == f"BTC:1m:{done.open_time_ms}"
            # The client has gone: its subscriber with it.
            await wait_for(lambda: not hub.sessions)
            names = [s.name for s in rt.bus.statistics().subscribers]
            assert "http-stream" not in names and names.count("stream-feed") == 1
            hub.close()
            nursery.cancel_scope.cancel()


def big_mids(coins: tuple[str, ...], n: int) -> LiveMids:
    return LiveMids(
        rows=[MidPrice(coin=c, bucket_ms=n, price=n + 0.25, observed_at_ms=n) for c in coins]
    )


async def test_a_client_that_never_reads_jams_only_itself_and_the_server_still_stops(
    make_config: Callable[..., Config],
) -> None:
    coins = tuple(f"C{i}" for i in range(50))
    config = served(make_config, "stream_buffer = 50\n")
    clock = SystemClock()
    async with open_pipeline(config, clock=clock) as rt:
        token = await store_access(rt, coins)
        hub = StreamHub(rt.bus, config.http)
        stopping = trio.Event()
        stopped = trio.Event()

        async def server(task_status: trio.TaskStatus[int]) -> None:
            async with trio.open_nursery() as inner:
                await inner.start(hub.run)
                port = await inner.start(
                    partial(serve_http, config, clock, streams=hub, shutdown_trigger=stopping.wait)
                )
                task_status.started(port)
            stopped.set()

        async with trio.open_nursery() as nursery:
            port = await nursery.start(server)
            # A client with a tiny receive buffer that sends its request and never reads.
            stuck = trio.socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await stuck.connect(("127.0.0.1", port))
            request = (
                f"GET /api/v1/stream?symbols={','.join(coins)}&kinds=mid HTTP/1.1\r\n"
                f"Host: t\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            await stuck.send(request.encode())
            await wait_for(lambda: len(hub.sessions) == 1)
            (jammed,) = hub.sessions
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
                client.stream(
                    "GET", "/api/v1/stream?symbols=C0&kinds=mid", headers=headers
                ) as response,
            ):
                reader = Reader(response)
                await wait_for(lambda: len(hub.sessions) == 2)
                # About 5 kB of events each for the stuck client, until its socket is full and
                # its queue drops.
                n = 0
                while rt.bus.dropped(jammed.rx) == 0:
                    for _ in range(20):  # fewer than a queue holds: the reader keeps up
                        n += 1
                        rt.bus.publish_nowait(big_mids(coins, n))
                    await trio.sleep(0.001)
                    assert n < 200_000, "the stuck client's queue never filled"
                jam = [s for s in rt.bus.statistics().subscribers if s.dropped]
                assert [(s.name, s.queued) for s in jam] == [("http-stream", 50)]
                # The other client still gets what is published, at once.
                marker = LiveMids(
                    rows=[MidPrice(coin="C0", bucket_ms=0, price=-1.0, observed_at_ms=0)]
                )
                rt.bus.publish_nowait(marker)
                while True:
                    event = await reader.next("mid")
                    if event.data["price"] == -1.0:
                        break
                assert rt.bus.dropped(jammed.rx) > 0
                other = next(s for s in hub.sessions if s is not jammed)
                assert hub.bus.dropped(other.rx) == 0
            # Stopping: the open streams end and the server returns within its graceful
            # timeout (2 s), though the stuck client is still connected and has read nothing.
            assert not jammed.done.is_set()  # its writer is blocked in a socket write
            t0 = time.monotonic()
            hub.close()
            stopping.set()
            with trio.fail_after(8):
                await stopped.wait()
            assert time.monotonic() - t0 < 2 + 1.5
            assert hub.sessions == set()
            assert [s.name for s in rt.bus.statistics().subscribers] == ["storage-writer"]
            stuck.close()


async def test_the_serve_poller_feeds_streams_from_the_database(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    """``serve`` has no bus: its stream reads what another process's writer committed."""
    config = make_config(CHANNELS_TOML)
    clock = TrioWallClock(T0_MS)
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        await store_access(rt, COINS)
        pool = InlinePool(config.db_path(), busy_timeout_ms=1000)
        hub = StreamHub(Bus(), config.http)
        feed = DbFeed(hub, config, clock, pool.run)
        market = Market(rt, clock, COINS)
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            await nursery.start(feed.run)
            rx = hub.bus.subscribe("probe", None, buffer=10_000, policy=Policy.DROP_OLDEST)
            hub.coins.update(["BTC"])  # as an open stream of BTC would
            await market.run(12 * 60 + 5)
            await market.mids()
            # A bar older than the poller's window is healed: its sweep finds it.
            healed = bar("BTC", 0, closed=True, stamp_ms=clock.now_ms(), close=9.0)
            await rt.bus.publish(CandleBatch(rows=[healed]))
            await trio.sleep(40)
            got: list[Any] = []
            while True:
                try:
                    got.append(rx.receive_nowait())
                except trio.WouldBlock:
                    break
            nursery.cancel_scope.cancel()
    bars = [b for e in got if isinstance(e, LiveCandles) for b in e.rows]
    assert {b.coin for b in bars} == {"BTC"}
    # Each minute once, as it closed, then the healed one again with its new values.
    assert [b.open_time_ms for b in bars] == [T0_MS + k * MINUTE for k in range(12)] + [T0_MS]
    assert bars[-1].close == 9.0 and bars[0].close == 100.0
    assert all(b.closed for b in bars)
    mids = [m for e in got if isinstance(e, LiveMids) for m in e.rows]
    assert [m.coin for m in mids] == ["BTC"]
    assert feed.stats.failed_reads == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_run_serves_the_stream_from_its_bus_and_ends_it_when_stopping(
    make_config: Callable[..., Config],
) -> None:
    """``bin/marketmem run``: the stream beside ingestion; a stop ends the open streams and
    the service returns at once."""
    port = free_port()
    config = make_config(
        f'[http]\nbind = "127.0.0.1:{port}"\n'
        "[hyperliquid.channels]\ncandles = { enabled = true, cadence_s = 60 }\n"
    )
    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        rt: Runtime = await nursery.start(
            partial(run_service, config, specs=[], handle_signals=False, duration_s=6.0)
        )
        token = await store_access(rt, COINS)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
            client.stream("GET", "/api/v1/stream?kinds=health", headers=headers) as response,
        ):
            assert response.status_code == 200
            reader = Reader(response)
            first = await reader.next("health")
            assert (first.data["channel"], first.data["status"]) == ("candles", "missing")
            await trio.sleep(0.3)  # the feed's first health read: its baseline
            now = rt.clock.now_ms()
            await rt.bus.publish(
                RunStarted(run_id="r", source="hyperliquid", channel="candles", started_at_ms=now)
            )
            await rt.bus.publish(
                RunFinished(
                    run_id="r",
                    source="hyperliquid",
                    channel="candles",
                    started_at_ms=now,
                    finished_at_ms=now,
                    status="ok",
                )
            )
            while (change := await reader.next("health")).data["status"] != "ok":
                pass
            assert change.data["previous"] in ("missing", "running")
            # The service stops (its duration): the stream ends, no graceful wait for it.
            with trio.fail_after(10):
                async for _ in reader.chunks:
                    pass
    assert time.monotonic() - started < 6.0 + 2.0
