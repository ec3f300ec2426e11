"""GET /api/v1/candles/{symbol}: bars, closed flags, the forming hour, pages, and every 422."""

from __future__ import annotations

import base64

import httpx
import msgspec
import pytest
from httpkit import T0_MS, World

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.events import Candle, CandleBatch, RollupHours
from marketmem.executors import inline_executor
from marketmem.http.candles import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    decode_cursor,
    encode_cursor,
    resolve_range,
)
from marketmem.http.errors import ApiError
from marketmem.http.schemas import CandlePage, ErrorBody
from marketmem.pipeline import open_pipeline
from marketmem.storage import db
from marketmem.storage.models.hyperliquid import Bar
from marketmem.storage.reads import hyperliquid as hl_reads

DAY_MS = 24 * HOUR_MS
# 20 s into minute 30 of the third hour: minutes 0..150 are stored, the last one open.
NOW = T0_MS + 2 * HOUR_MS + 30 * MINUTE_MS + 20_000
LAST_MINUTE = NOW - NOW % MINUTE_MS
URL = "/api/v1/candles/{symbol}"


def minute(coin: str, open_ms: int, *, closed: bool = True) -> Candle:
    k = (open_ms - T0_MS) // MINUTE_MS
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=open_ms,
        close_time_ms=open_ms + MINUTE_MS - 1,
        open=100.0 + k,
        high=102.0 + k,
        low=99.0 + k,
        close=101.0 + k,
        volume=1.5,
        trades=2,
        closed=closed,
        updated_at_ms=min(open_ms + MINUTE_MS - 1, NOW),
    )


async def store(world: World, *, rollup_through_ms: int | None) -> None:
    """BTC and ETH minutes from T0 to now (the last one open), hours rolled up through
    ``rollup_through_ms`` (their open time), as the writer and the retention pass leave them."""
    rows = [
        minute(coin, T0_MS + k * MINUTE_MS, closed=T0_MS + k * MINUTE_MS < LAST_MINUTE)
        for coin in ("BTC", "ETH")
        for k in range((LAST_MINUTE - T0_MS) // MINUTE_MS + 1)
    ]
    async with open_pipeline(world.config, executor=inline_executor) as rt:
        await rt.bus.publish(CandleBatch(rows=rows))
        if rollup_through_ms is not None:
            assert rt.writer is not None
            await rt.writer.execute(
                RollupHours(
                    through_ms=rollup_through_ms,
                    minutes_before_ms=0,
                    hours_before_ms=0,
                    rolled_up_at_ms=NOW,
                    limit=100,
                )
            )
    world.clock.set(NOW)


@pytest.fixture
async def stored(world: World) -> World:
    await store(world, rollup_through_ms=T0_MS)  # the first hour rolled up, the second not yet
    return world


async def page(
    client: httpx.AsyncClient, world: World, symbol: str = "BTC", **params: object
) -> CandlePage:
    r = await client.get(
        URL.format(symbol=symbol),
        params={k: str(v) for k, v in params.items()},
        headers=world.auth(world.alice),
    )
    assert r.status_code == 200, r.text
    return msgspec.json.decode(r.content, type=CandlePage)


async def refused(
    client: httpx.AsyncClient, world: World, symbol: str = "BTC", **params: object
) -> str:
    r = await client.get(
        URL.format(symbol=symbol),
        params={k: str(v) for k, v in params.items()},
        headers=world.auth(world.alice),
    )
    assert r.status_code == 422, r.text
    error = msgspec.json.decode(r.content, type=ErrorBody).error
    assert error.code == "invalid_parameter" and "\n" not in error.message
    return error.message


def expected_hour(hour_ms: int, *, closed: bool) -> Bar:
    """The hour ``hour_ms`` as the rollup makes it from ``minute``s."""
    first = (hour_ms - T0_MS) // MINUTE_MS
    last = min(first + 59, (LAST_MINUTE - T0_MS) // MINUTE_MS)
    return Bar(
        hour_ms,
        hour_ms + HOUR_MS - 1,
        100.0 + first,
        102.0 + last,
        99.0 + first,
        101.0 + last,
        1.5 * (last - first + 1),
        2 * (last - first + 1),
        closed,
    )


# --- 1m ------------------------------------------------------------------------------------


async def test_1m_bars_are_ascending_and_say_whether_they_are_closed(
    client: httpx.AsyncClient, stored: World
) -> None:
    got = await page(client, stored)
    assert (got.symbol, got.interval, got.limit) == ("BTC", "1m", DEFAULT_LIMIT)
    assert got.end_ms == NOW and got.start_ms == LAST_MINUTE - (DEFAULT_LIMIT - 1) * MINUTE_MS
    times = [b.open_time_ms for b in got.bars]
    assert times == [T0_MS + k * MINUTE_MS for k in range(151)] and got.count == 151
    assert [b.closed for b in got.bars] == [True] * 150 + [False]  # the minute in progress
    assert got.bars[0] == Bar(T0_MS, T0_MS + MINUTE_MS - 1, 100.0, 102.0, 99.0, 101.0, 1.5, 2, True)
    assert got.next_cursor is None


async def test_without_start_the_page_is_the_latest_limit_bars(
    client: httpx.AsyncClient, stored: World
) -> None:
    got = await page(client, stored, limit=10)
    assert [b.open_time_ms for b in got.bars] == [
        LAST_MINUTE - k * MINUTE_MS for k in range(9, -1, -1)
    ]
    assert got.next_cursor is None
    got = await page(client, stored, limit=10, end=T0_MS + 4 * MINUTE_MS)
    assert [b.open_time_ms for b in got.bars] == [T0_MS + k * MINUTE_MS for k in range(5)]


async def test_pages_follow_each_other_without_duplicates_or_holes(
    client: httpx.AsyncClient, stored: World
) -> None:
    whole = await page(client, stored, start=T0_MS, end=NOW, limit=MAX_LIMIT)
    bars: list[Bar] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"start": T0_MS, "end": NOW, "limit": 40}
        if cursor is not None:
            params["cursor"] = cursor
        got = await page(client, stored, **params)
        assert (got.start_ms, got.end_ms) == (T0_MS, NOW)
        bars += got.bars
        pages += 1
        cursor = got.next_cursor
        if cursor is None:
            break
        assert got.count == 40
    assert pages == 4 and bars == whole.bars and len(whole.bars) == 151
    times = [b.open_time_ms for b in bars]
    assert times == sorted(set(times)) and times[-1] - times[0] == (len(times) - 1) * MINUTE_MS


async def test_a_page_that_ends_exactly_at_the_range_end_has_no_next_cursor(
    client: httpx.AsyncClient, stored: World
) -> None:
    got = await page(client, stored, start=T0_MS, end=T0_MS + 9 * MINUTE_MS, limit=10)
    assert got.count == 10 and got.next_cursor is None


async def test_range_edges(client: httpx.AsyncClient, stored: World) -> None:
    one = await page(client, stored, start=T0_MS + MINUTE_MS, end=T0_MS + MINUTE_MS)
    assert [b.open_time_ms for b in one.bars] == [T0_MS + MINUTE_MS]
    # start == end off a minute boundary: no bar opens then.
    off = await page(client, stored, start=T0_MS + 1, end=T0_MS + 1)
    assert (off.count, off.bars, off.next_cursor) == (0, [], None)
    # Inclusive at both ends.
    both = await page(client, stored, start=T0_MS, end=T0_MS + 2 * MINUTE_MS)
    assert both.count == 3
    # A range with no bars (before the data, within the window kept) is empty, not an error.
    empty = await page(client, stored, start=T0_MS - 3 * HOUR_MS, end=T0_MS - 1)
    assert (empty.count, empty.bars, empty.next_cursor) == (0, [], None)
    # The widest range allowed: exactly the 24 h kept.
    assert (await page(client, stored, start=NOW - DAY_MS)).count == 151


async def test_other_coins_stay_apart_and_symbols_are_matched_ignoring_case(
    client: httpx.AsyncClient, stored: World
) -> None:
    got = await page(client, stored, "btc", limit=3)
    assert got.symbol == "BTC" and got.bars[-1].close == 101.0 + 150
    assert (await page(client, stored, "KPEPE")).symbol == "kPEPE"
    assert (await page(client, stored, "kPEPE")).bars == []  # listed, no candles yet


async def test_a_large_limit_is_capped(client: httpx.AsyncClient, stored: World) -> None:
    assert (await page(client, stored, limit=50_000)).limit == MAX_LIMIT


# --- 1h ------------------------------------------------------------------------------------


async def test_1h_bars_are_the_rollups_then_the_hours_not_rolled_up_the_forming_one_open(
    client: httpx.AsyncClient, stored: World
) -> None:
    got = await page(client, stored, interval="1h")
    assert got.interval == "1h" and got.end_ms == NOW
    assert got.bars == [
        expected_hour(T0_MS, closed=True),  # rolled up
        expected_hour(T0_MS + HOUR_MS, closed=True),  # ended, waiting for its rollup
        expected_hour(T0_MS + 2 * HOUR_MS, closed=False),  # in progress
    ]
    # Once the maintenance pass has rolled the second hour up, it reads the same.
    await store(stored, rollup_through_ms=T0_MS + HOUR_MS)
    assert (await page(client, stored, interval="1h")).bars == got.bars
    conn = db.open_ro(stored.config.db_path())
    try:
        rolled = hl_reads.bars(conn, "BTC", "1h", 0, NOW, 10)
    finally:
        conn.close()
    assert rolled == got.bars[:2]


async def test_1h_pages_and_edges(client: httpx.AsyncClient, stored: World) -> None:
    seen: list[Bar] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, object] = {"interval": "1h", "start": T0_MS, "limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        got = await page(client, stored, **params)
        seen += got.bars
        cursor = got.next_cursor
    assert cursor is None and [b.open_time_ms for b in seen] == [
        T0_MS + h * HOUR_MS for h in range(3)
    ]
    assert [b.closed for b in seen] == [True, True, False]
    # The forming hour alone; a range ending before it leaves it out.
    forming = await page(client, stored, interval="1h", start=T0_MS + 2 * HOUR_MS)
    assert [b.closed for b in forming.bars] == [False]
    ended = await page(client, stored, interval="1h", start=T0_MS, end=T0_MS + HOUR_MS)
    assert [b.closed for b in ended.bars] == [True, True]
    # The default range of 1h with the largest limit is clamped to the 7 days kept.
    wide = await page(client, stored, interval="1h", limit=MAX_LIMIT)
    assert wide.end_ms - wide.start_ms == 7 * DAY_MS and wide.count == 3


# --- what is refused -----------------------------------------------------------------------


async def test_every_refusal_is_a_one_line_422_naming_the_parameter(
    client: httpx.AsyncClient, stored: World
) -> None:
    btc_1m = encode_cursor("BTC", "1m", T0_MS)
    cases: list[tuple[str, dict[str, object], str]] = [
        ("BTC", {"interval": "5m"}, "interval: expected one of 1m, 1h, got '5m'"),
        ("BTC", {"start": T0_MS + 1, "end": T0_MS}, "start: "),  # reversed
        ("BTC", {"start": NOW + 1}, "start: "),  # after the default end (now): reversed
        ("BTC", {"start": 0}, "start: start..end spans "),  # unbounded: back to 1970
        ("BTC", {"start": NOW - DAY_MS - 1}, "start: start..end spans "),  # a ms too wide
        ("BTC", {"start": 0, "end": DAY_MS + 1}, "start: "),
        ("BTC", {"interval": "1h", "start": NOW - 7 * DAY_MS - 1}, "start: "),
        ("DOGE", {}, "symbol: 'DOGE' is not a listed Hyperliquid perp"),
        ("LUNA", {}, "symbol: 'LUNA' is not a listed Hyperliquid perp"),  # delisted
        ("BTC", {"cursor": "not a cursor!"}, "cursor: not a cursor of this route"),
        ("BTC", {"cursor": base64.urlsafe_b64encode(b"[1,2]").decode()}, "cursor: not a"),
        ("BTC", {"cursor": base64.urlsafe_b64encode(b"{oops").decode()}, "cursor: not a"),
        ("BTC", {"cursor": encode_cursor("ETH", "1m", T0_MS)}, "cursor: made for another"),
        ("BTC", {"cursor": encode_cursor("BTC", "1h", T0_MS)}, "cursor: made for another"),
        ("BTC", {"cursor": btc_1m, "start": T0_MS + MINUTE_MS}, "cursor: not within start..end"),
        ("BTC", {"limit": 0}, "limit: "),
        ("BTC", {"start": -1}, "start: "),
        ("BTC", {"end": "soon"}, "end: "),
        ("BTC", {"from": T0_MS}, "from: unknown parameter"),
    ]
    for symbol, params, prefix in cases:
        message = await refused(client, stored, symbol, **params)
        assert message.startswith(prefix), (symbol, params, message)


async def test_the_token_is_checked_before_anything_else(
    client: httpx.AsyncClient, stored: World
) -> None:
    r = await client.get(URL.format(symbol="DOGE"), params={"interval": "5m"})
    assert r.status_code == 401
    r = await client.get(URL.format(symbol="BTC"), headers=stored.auth(stored.revoked))
    assert r.status_code == 401


# --- the pure parts ------------------------------------------------------------------------


def test_resolve_range_defaults_and_limits() -> None:
    span = DAY_MS
    # Defaults: end now, start the limit bars up to it (their open times), clamped to the span.
    assert resolve_range("1m", None, None, limit=3, now_ms=NOW, max_span_ms=span) == (
        LAST_MINUTE - 2 * MINUTE_MS,
        NOW,
    )
    assert resolve_range("1m", None, None, limit=5000, now_ms=NOW, max_span_ms=span) == (
        NOW - span,
        NOW,
    )
    assert resolve_range("1h", None, 7, limit=10, now_ms=NOW, max_span_ms=span) == (0, 7)
    assert resolve_range("1m", 5, 5, limit=1, now_ms=NOW, max_span_ms=span) == (5, 5)
    assert resolve_range("1m", 0, span, limit=1, now_ms=NOW, max_span_ms=span) == (0, span)
    for start, end in ((6, 5), (0, span + 1), (NOW - span - 1, None)):
        with pytest.raises(ApiError) as err:
            resolve_range("1m", start, end, limit=1, now_ms=NOW, max_span_ms=span)
        assert err.value.status == 422 and err.value.message.startswith("start: ")


def test_a_cursor_goes_round_and_is_bound_to_its_request() -> None:
    text = encode_cursor("BTC", "1m", T0_MS)
    assert "=" not in text and text.isascii()
    assert decode_cursor(text, "BTC", "1m", T0_MS, NOW) == T0_MS
    for args in (("ETH", "1m", 0, NOW), ("BTC", "1h", 0, NOW), ("BTC", "1m", T0_MS + 1, NOW)):
        with pytest.raises(ApiError):
            decode_cursor(text, *args)
    for junk in ("", "=", "a", "****", text[:-2], text + "x", "WzFd"):
        with pytest.raises(ApiError) as err:
            decode_cursor(junk, "BTC", "1m", 0, NOW)
        assert err.value.message.startswith("cursor: ")


async def test_the_listed_coin_read(stored: World) -> None:
    conn = db.open_ro(stored.config.db_path())
    try:
        assert hl_reads.listed_coin(conn, "BTC") == "BTC"
        assert hl_reads.listed_coin(conn, "kpepe") == "kPEPE"
        assert hl_reads.listed_coin(conn, "LUNA") is None  # delisted
        assert hl_reads.listed_coin(conn, "DOGE") is None
        assert hl_reads.listed_coin(conn, "%") is None
    finally:
        conn.close()
