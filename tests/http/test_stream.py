"""GET /api/v1/stream on MockClock: the events as bytes, filters, refusals (401, 422, 429,
503), heartbeats, a stuck client's drops and ``lagged``, no subscriber left after a
disconnect, ``Last-Event-ID`` resumes that miss no closed bar, health changes, and a client
that never reads while the feed runs at 2,000 frames/s leaving the writer's work unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from httpkit import CHANNELS_TOML
from ssekit import (
    COINS,
    MINUTE,
    T0_MS,
    AsgiStream,
    Live,
    Market,
    bar,
    live_world,
    parse_sse,
)

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import (
    ApiTokensRevoked,
    CandleBatch,
    MidBatch,
    MidPrice,
    RunFinished,
    RunStarted,
)
from marketmem.http import metrics
from marketmem.http.app import create_app
from marketmem.http.sse import HEARTBEAT_S, MAX_SYMBOLS, RETRY_MS
from marketmem.storage import db
from marketmem.storage.reads.hyperliquid import candles


@pytest.fixture
def stream_config(make_config: Callable[..., Config]) -> Config:
    return make_config(CHANNELS_TOML + "[http]\nstream_max_per_token = 2\nstream_buffer = 8\n")


def stored_closed(config: Config, coin: str) -> list[Any]:
    conn = db.open_ro(config.db_path(), busy_timeout_ms=1000)
    try:
        return [b for b in candles(conn, coin, "1m") if getattr(b, "closed", True)]
    finally:
        conn.close()


def candle_ids(stream: AsgiStream) -> list[str]:
    return [e.id for e in stream.of("candle") if e.id is not None]


async def settle(live: Live, seconds: float = 1.0) -> None:
    """Let the writer commit and the feed and writers pass it on (virtual time)."""
    await trio.sleep(seconds)


# --- the events on the wire --------------------------------------------------------------------------


async def test_events_are_sse_blocks_of_committed_rows_for_the_asked_coins(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        market = Market(live.rt, live.clock, COINS)
        client = live.open("symbols=BTC,eth&kinds=mid,candle,health")
        await client.until(lambda c: c.status is not None and c.events != [])
        assert client.status == 200
        assert client.response_headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.response_headers["cache-control"] == "no-cache"
        assert "content-length" not in client.response_headers
        assert client.events[0].retry == RETRY_MS
        # First the health of every enabled channel as it is now.
        snapshot = client.of("health")
        assert {(h.data["source"], h.data["channel"]) for h in snapshot} == {
            ("hyperliquid", "candles"),
            ("hyperliquid", "mids"),
            ("hyperliquid", "technical_indicators"),
            ("polymarket", "immediate_markets"),
        }
        assert {h.data["status"] for h in snapshot} == {"missing"}
        assert all(h.data["previous"] is None for h in snapshot)

        await market.run(4 * 60)
        mids = await market.mids()
        await settle(live)

        got = client.of("candle")
        assert {e.data["coin"] for e in got} == {"BTC", "ETH"}  # eth: the registry's spelling
        stored = {c: stored_closed(live.config, c) for c in ("BTC", "ETH")}
        assert sorted(candle_ids(client)) == sorted(
            f"{b.coin}:1m:{b.open_time_ms}" for c in ("BTC", "ETH") for b in stored[c]
        )
        # Each event is the stored row, closed, and its id names it.
        by_id = {f"{b.coin}:1m:{b.open_time_ms}": b for c in stored.values() for b in c}
        for e in got:
            assert e.data == msgspec.to_builtins(by_id[e.id])
            assert e.data["closed"] is True
        per_coin = [[e.data["open_time_ms"] for e in got if e.data["coin"] == c] for c in stored]
        assert all(times == sorted(times) for times in per_coin)
        assert len(stored["BTC"]) == 3  # minutes 0..2 closed; minute 3 is forming
        assert [(e.data["coin"], e.data["price"]) for e in client.of("mid")] == [
            (m.coin, m.price) for m in mids if m.coin in ("BTC", "ETH")
        ]
        # Only these four kinds of blocks, each ending in a blank line, data one JSON line.
        assert {e.kind for e in client.events} <= {None, "health", "candle", "mid"}
        assert client.raw.startswith(f"retry: {RETRY_MS}\n\n".encode())
        assert parse_sse(client.raw)[1] == b""
        client.disconnect()


async def test_kinds_choose_what_is_sent(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        market = Market(live.rt, live.clock, COINS)
        mids_only = live.open("symbols=SOL&kinds=mid")
        health_only = live.open("kinds=health")  # no coin needed
        await market.run(2 * 60)
        await market.mids()
        await settle(live)
        assert {e.kind for e in mids_only.events if e.kind} == {"mid"}
        assert {e.data["coin"] for e in mids_only.of("mid")} == {"SOL"}
        assert {e.kind for e in health_only.events if e.kind} == {"health"}
        # The feed reads only what open streams want.
        assert set(live.hub.coins) == {"SOL"}
        assert live.hub.health_streams == 1


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers", "message"),
    [
        ("symbols=BTC,NOPE", {}, "symbols: unknown coin 'NOPE' (not a listed Hyperliquid perp)"),
        ("symbols=BTC&kinds=mid,trades", {}, "kinds: unknown kind 'trades'"),
        ("symbols=BTC&kinds=", {}, "kinds: give at least one of mid, candle, health"),
        ("kinds=mid", {}, "symbols: required with kinds mid or candle"),
        ("symbols=" + ",".join(f"C{i}" for i in range(MAX_SYMBOLS + 1)), {}, "symbols: at most"),
        ("symbols=BTC&limit=5", {}, "limit: unknown parameter"),
        ("symbols=BTC&symbols=ETH", {}, "symbols: given more than once"),
        ("symbols=BTC", {"Last-Event-ID": "BTC:1h:5"}, "Last-Event-ID: expected COIN:1m:"),
        ("symbols=BTC", {"Last-Event-ID": "nonsense"}, "Last-Event-ID: expected COIN:1m:"),
    ],
)
async def test_bad_requests_get_a_one_line_422(
    stream_config: Config,
    autojump_clock: trio.testing.MockClock,
    query: str,
    headers: dict[str, str],
    message: str,
) -> None:
    async with live_world(stream_config) as live:
        client = live.open(query, **{k.replace("-", "_"): v for k, v in headers.items()})
        await client.until(lambda c: c.ended)
        assert client.status == 422
        error = client.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["message"].startswith(message), error
        assert "\n" not in error["message"]
        assert live.subscribers() == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic abc"}, "malformed Authorization header"),
        ({"Authorization": "Bearer mm_0123456789abcdef_" + "x" * 43}, "invalid or revoked"),
    ],
)
async def test_without_a_valid_token_401(
    stream_config: Config,
    autojump_clock: trio.testing.MockClock,
    headers: dict[str, str],
    message: str,
) -> None:
    async with live_world(stream_config) as live:
        client = AsgiStream(live.app, "/api/v1/stream?symbols=BTC", headers)
        await client.run()
        assert client.status == 401
        assert client.response_headers["www-authenticate"].startswith("Bearer")
        assert client.json()["error"]["message"].startswith(message)
        assert live.subscribers() == []


async def test_a_token_holds_at_most_its_limit_of_open_streams(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        first = live.open("symbols=BTC")
        second = live.open("kinds=health")
        await first.until(lambda c: c.status is not None)
        await second.until(lambda c: c.status is not None)
        third = live.open("symbols=ETH")
        await third.until(lambda c: c.ended)
        assert (first.status, second.status, third.status) == (200, 200, 429)
        error = third.json()["error"]
        assert error["code"] == "too_many_streams"
        assert "[http] stream_max_per_token" in error["message"]
        # Another token is not limited by this one's streams.
        other = live.open("symbols=ETH", token=await live.token_for("other"))
        await other.until(lambda c: c.status is not None)
        assert other.status == 200
        # A stream closed gives its slot back.
        first.disconnect()
        await first.done.wait()
        again = live.open("symbols=SOL")
        await again.until(lambda c: c.status is not None)
        assert again.status == 200
        assert len(live.subscribers()) == 3


async def test_an_app_without_a_live_stream_answers_503(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        app = create_app(live.config, FixedClock(T0_MS), pool=live.app.state.api.pool)
        client = AsgiStream(app, "/api/v1/stream?symbols=BTC", live.auth())
        await client.run()
        assert client.status == 503
        assert client.json()["error"]["code"] == "stream_unavailable"
        assert "bin/marketmem run" in client.json()["error"]["message"]


# --- heartbeat, a stuck client, disconnects -----------------------------------------------------------


async def test_a_keepalive_comment_every_15_s(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        start = trio.current_time()
        client = live.open("symbols=BTC&kinds=candle")
        beats: list[float] = []
        for n in range(1, 4):
            await client.until(lambda c, n=n: sum(e.comment == "keepalive" for e in c.events) >= n)
            beats.append(trio.current_time() - start)
        assert beats == pytest.approx([HEARTBEAT_S, 2 * HEARTBEAT_S, 3 * HEARTBEAT_S], abs=0.1)
        assert b": keepalive\n\n" in client.raw
        # Events in between do not move the beat.
        market = Market(live.rt, live.clock, ("BTC",))
        await market.run(2 * 60, every_s=5)
        await client.until(lambda c: sum(e.comment == "keepalive" for e in c.events) >= 11)
        assert trio.current_time() - start == pytest.approx(11 * HEARTBEAT_S, abs=0.1)


async def test_a_stuck_client_loses_only_its_own_events_then_hears_how_many(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        market = Market(live.rt, live.clock, ("BTC", "ETH"))
        stuck = live.open("symbols=BTC,ETH&kinds=mid,candle", reading=False)
        steady = live.open("symbols=BTC,ETH&kinds=mid,candle", token=await live.token_for("b"))
        await steady.until(lambda c: c.status == 200)
        for _ in range(3 * 60):  # mids every second for 3 minutes, bars closing meanwhile
            for coin in market.coins:
                await market.push(coin)
            await market.mids()
            await trio.sleep(1)
        await settle(live)
        buffer = live.config.http.stream_buffer
        subs = live.subscribers()
        assert len(subs) == 2
        jammed = max(subs, key=lambda s: s.dropped)
        assert jammed.queued == buffer and jammed.dropped > 100
        assert min(s.dropped for s in subs) == 0  # the steady one lost nothing
        assert len(steady.of("mid")) == 2 * 3 * 60
        # Unstuck, its bytes go through; then a lagged event with the count, and the candles
        # it lost read back from the database.
        stuck.unstick()
        await stuck.until(lambda c: c.of("lagged") != [])
        await settle(live)
        (lagged,) = stuck.of("lagged")
        assert lagged.data == {"dropped": jammed.dropped, "total_dropped": jammed.dropped}
        assert metrics.STREAM_DROPPED.value() >= jammed.dropped
        closed = {
            f"{b.coin}:1m:{b.open_time_ms}"
            for c in ("BTC", "ETH")
            for b in stored_closed(live.config, c)
        }
        assert len(closed) == 2 * 2
        assert set(candle_ids(stuck)) == closed == set(candle_ids(steady))
        assert len(stuck.of("mid")) < len(steady.of("mid"))  # mids are a lossy view
        stuck.disconnect()
        steady.disconnect()


async def test_no_subscriber_is_left_after_clients_disconnect(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        market = Market(live.rt, live.clock, COINS)
        tokens = [live.token, await live.token_for("b")]
        clients = [
            live.open("symbols=BTC,ETH", token=tokens[0]),
            live.open("symbols=SOL&kinds=candle,health", token=tokens[0]),
            live.open("symbols=HYPE&kinds=mid", token=tokens[1], reading=False),
        ]
        await market.run(90)
        assert len(live.subscribers()) == 3
        assert metrics.STREAM_CLIENTS.value() == 3
        for client in clients:
            client.disconnect()
        for client in clients:
            with trio.fail_after(5):
                await client.done.wait()
        assert live.subscribers() == []
        assert live.hub.sessions == set()
        assert live.hub.open_by_token == {}
        assert dict(live.hub.coins) == {}
        assert live.hub.health_streams == 0
        assert metrics.STREAM_CLIENTS.value() == 0
        # The bus and the feed carry on.
        await market.run(90)
        assert [s.name for s in live.rt.bus.statistics().subscribers].count("stream-feed") == 1


async def test_closing_the_hub_ends_every_stream(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        client = live.open("symbols=BTC")
        await client.until(lambda c: c.status == 200 and c.events != [])
        live.hub.close()
        with trio.fail_after(5):
            await client.done.wait()
        assert client.ended
        assert live.subscribers() == []
        late = live.open("symbols=BTC")
        await late.until(lambda c: c.ended)
        assert late.status == 503


# --- resume -------------------------------------------------------------------------------------------


async def test_a_reconnect_with_last_event_id_misses_no_closed_bar(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        market = Market(live.rt, live.clock, COINS)
        await market.run(5 * 60)  # history before the client
        first = live.open("symbols=BTC,ETH&kinds=candle")
        await first.until(lambda c: c.status == 200)
        await market.run(3 * 60 + 30)
        await settle(live)
        first.disconnect()
        await first.done.wait()
        last_id = candle_ids(first)[-1]
        assert last_id.startswith(("BTC:1m:", "ETH:1m:"))

        # Away: bars close, and a bar of long ago is healed (rewritten with the venue's values).
        await market.run(4 * 60 + 15)
        healed = bar("BTC", 1, closed=True, stamp_ms=live.clock.now_ms(), close=77.0)
        await live.rt.bus.publish(CandleBatch(rows=[healed]))
        await market.run(20)

        second = live.open("symbols=BTC,ETH&kinds=candle", Last_Event_ID=last_id)
        await second.until(lambda c: c.status == 200)
        await market.run(2 * 60 + 10)
        await settle(live)
        second.disconnect()

        seen = set(candle_ids(first)) | set(candle_ids(second))
        first_open = min(e.data["open_time_ms"] for e in first.of("candle"))
        closed = [
            b
            for c in ("BTC", "ETH")
            for b in stored_closed(live.config, c)
            if b.open_time_ms >= first_open
        ]
        assert len(closed) >= 2 * 9
        missed = [
            f"{b.coin}:1m:{b.open_time_ms}"
            for b in closed
            if f"{b.coin}:1m:{b.open_time_ms}" not in seen
        ]
        assert missed == []
        # The healed bar came again, with its new values; the resume repeats little.
        again = [e.data for e in second.of("candle") if e.id == f"BTC:1m:{T0_MS + MINUTE}"]
        assert again and again[-1]["close"] == 77.0
        repeated = set(candle_ids(first)) & set(candle_ids(second))
        assert len(repeated) <= 2
        # Every event of the second stream is a stored closed bar.
        ids_stored = {
            f"{b.coin}:1m:{b.open_time_ms}"
            for c in ("BTC", "ETH")
            for b in stored_closed(live.config, c)
        }
        assert set(candle_ids(second)) <= ids_stored


async def test_last_event_id_without_candles_is_ignored(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        client = live.open("symbols=BTC&kinds=mid", Last_Event_ID="garbage")
        await client.until(lambda c: c.status is not None)
        assert client.status == 200


# --- health ----------------------------------------------------------------------------------------


async def test_a_finished_run_is_a_health_change(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        client = live.open("kinds=health")
        await client.until(lambda c: len(c.of("health")) == 4)
        await trio.sleep(10)  # the feed's baseline
        now = live.clock.now_ms()
        await live.rt.bus.publish(
            RunStarted(run_id="r1", source="hyperliquid", channel="candles", started_at_ms=now)
        )
        await live.rt.bus.publish(
            RunFinished(
                run_id="r1",
                source="hyperliquid",
                channel="candles",
                started_at_ms=now,
                finished_at_ms=now + 5,
                status="ok",
            )
        )

        def latest(c: AsgiStream, status: str) -> bool:
            return any(e.data["status"] == status for e in c.of("health")[4:])

        await client.until(lambda c: latest(c, "ok"))
        changes = [e.data for e in client.of("health")[4:]]
        # missing -> ok, or missing -> running -> ok if the two commits were looked at apart.
        assert [(h["source"], h["channel"]) for h in changes] == [("hyperliquid", "candles")] * len(
            changes
        )
        assert changes[0]["previous"] == "missing"
        assert (changes[-1]["previous"], changes[-1]["status"]) in {
            ("missing", "ok"),
            ("running", "ok"),
        }
        assert changes[-1]["last_success_at_ms"] == now + 5
        # Time alone changes a status too: the channel goes stale.
        await trio.sleep(10 * 60)
        await client.until(lambda c: latest(c, "stale"))
        assert client.of("health")[-1].data["previous"] == "ok"
        client.disconnect()


# --- a client that never reads, at 2,000 frames/s ----------------------------------------------------

FRAMES = 20_000
RATE = 2_000.0
FRAME_COINS = ("BTC", "ETH", "SOL", "HYPE", "DOGE", "AVAX", "LINK", "ARB", "OP", "SUI")
PUSHES_PER_BAR = 20  # every coin's bar closes after 20 pushes: 100 bars per coin in the run


class FrameFeed:
    """The stream's output for ``FRAMES`` frames at ``RATE`` (virtual time): each frame a
    candle push of the next coin (a bar closing every ``PUSHES_PER_BAR`` pushes), and an
    allMids batch every 100 frames. Published without waiting: a full lossless subscriber
    (the writer) would raise ``WouldBlock``; each such frame is counted, then published."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.forming: dict[str, int] = {}
        self.blocked = 0
        self.seconds = 0.0

    def rows(self, i: int) -> list[Any]:
        coin = FRAME_COINS[i % len(FRAME_COINS)]
        minute = i // (len(FRAME_COINS) * PUSHES_PER_BAR)
        now = self.live.clock.now_ms()
        out = []
        before = self.forming.get(coin)
        if before is not None and before < minute:
            out.append(bar(coin, before, closed=True, stamp_ms=now, close=50.0 + before))
        self.forming[coin] = minute
        out.append(bar(coin, minute, closed=False, stamp_ms=now, close=50.0 + minute + i % 5))
        return out

    async def publish(self, event: Any) -> None:
        try:
            self.live.rt.bus.publish_nowait(event)
        except trio.WouldBlock:
            self.blocked += 1
            await self.live.rt.bus.publish(event)

    async def run(self) -> None:
        t0 = trio.current_time()
        for i in range(FRAMES):
            due = t0 + i / RATE
            if trio.current_time() < due:
                await trio.sleep_until(due)
            await self.publish(CandleBatch(rows=self.rows(i)))
            if i % 100 == 99:
                now = self.live.clock.now_ms()
                mids = [
                    MidPrice(coin=c, bucket_ms=now - now % 5000, price=float(i), observed_at_ms=now)
                    for c in FRAME_COINS
                ]
                await self.publish(MidBatch(rows=mids))
        self.seconds = trio.current_time() - t0


def stored_rows(config: Config) -> tuple[list[Any], int]:
    conn = db.open_ro(config.db_path(), busy_timeout_ms=1000)
    try:
        bars = [b for c in FRAME_COINS for b in candles(conn, c, "1m")]
        mids = conn.execute("SELECT count(*) FROM hyperliquid_mid_prices").fetchone()[0]
        return bars, mids
    finally:
        conn.close()


async def test_a_client_that_never_reads_leaves_the_writer_unchanged_at_2000_frames_per_s(
    make_config: Callable[..., Config], tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    runs: dict[str, dict[str, Any]] = {}
    for name in ("alone", "with a stuck client"):
        config = make_config(CHANNELS_TOML + "[http]\nstream_buffer = 16\n")
        path = str(tmp_path / f"{name.replace(' ', '-')}.db")
        config = msgspec.structs.replace(
            config, storage=msgspec.structs.replace(config.storage, path=path)
        )
        async with live_world(config, coins=FRAME_COINS) as live:
            feed = FrameFeed(live)
            clients: list[AsgiStream] = []
            if name != "alone":
                query = f"symbols={','.join(FRAME_COINS)}&kinds=mid,candle"
                clients = [
                    live.open(query, reading=False),
                    live.open(query, token=await live.token_for("reader")),
                ]
                await clients[1].until(lambda c: c.status == 200)
            assert live.rt.writer is not None
            before = live.rt.writer.stats.rows
            await feed.run()
            await settle(live)
            runs[name] = {
                "blocked": feed.blocked,
                "seconds": feed.seconds,
                "committed": live.rt.writer.stats.rows - before,
                "rejected": live.rt.writer.stats.rejected,
                "stored": stored_rows(live.config),
                "subscribers": {s.name: s for s in live.rt.bus.statistics().subscribers},
                "streams": live.subscribers(),
                "read": candle_ids(clients[1]) if clients else [],
            }
            for client in clients:
                client.disconnect()
    alone, stuck = runs["alone"], runs["with a stuck client"]
    # Publishing never waited for the writer, in either run, and took the same virtual time.
    assert alone["blocked"] == stuck["blocked"] == 0
    assert (
        alone["seconds"]
        == pytest.approx(stuck["seconds"])
        == pytest.approx(FRAMES / RATE, rel=0.01)
    )
    # The writer committed every row of every frame, the same rows in both runs.
    closes = len(FRAME_COINS) * (FRAMES // (len(FRAME_COINS) * PUSHES_PER_BAR) - 1)
    assert (
        alone["committed"]
        == stuck["committed"]
        == FRAMES + closes + (FRAMES // 100) * len(FRAME_COINS)
    )
    assert alone["rejected"] == stuck["rejected"] == 0
    # (Stamps aside: the second run starts later on the virtual clock, its clients connecting.)
    unstamped = [
        ([msgspec.structs.replace(b, updated_at_ms=0) for b in r["stored"][0]], r["stored"][1])
        for r in (alone, stuck)
    ]
    assert unstamped[0] == unstamped[1]
    bars, _ = stuck["stored"]
    assert sum(b.closed for b in bars) == closes
    # The stuck client's queue is full and counts its drops; nothing else dropped anything.
    jammed = max(stuck["streams"], key=lambda s: s.dropped)
    assert jammed.queued == 16 and jammed.dropped > 0
    assert [s.dropped for s in stuck["streams"]].count(0) == 1
    assert stuck["subscribers"]["storage-writer"].dropped == 0
    assert stuck["subscribers"]["stream-feed"].dropped == 0
    # The reading client got every closed bar, in the order they closed per coin.
    assert sorted(stuck["read"]) == sorted(
        f"{b.coin}:1m:{b.open_time_ms}" for b in bars if b.closed
    )


async def test_a_revoked_token_s_stream_ends_within_a_heartbeat(
    stream_config: Config, autojump_clock: trio.testing.MockClock
) -> None:
    async with live_world(stream_config) as live:
        token = await live.token_for("leaver")
        client = live.open("kinds=health", token=token)
        await client.until(lambda c: c.status == 200)
        await trio.sleep(HEARTBEAT_S + 1)
        assert not client.ended  # still valid at the first beat
        assert live.rt.writer is not None
        await live.rt.writer.execute(
            ApiTokensRevoked(user="leaver", revoked_at_ms=live.clock.now_ms())
        )
        revoked_at = trio.current_time()
        await client.until(lambda c: c.ended)
        assert trio.current_time() - revoked_at <= HEARTBEAT_S
        (error,) = client.of("error")
        assert error.data == {"code": "unauthorized", "message": "invalid or revoked bearer token"}
        assert live.subscribers() == []
