"""POST /api/v1/clones/{id}/assets/{symbol}/latest-data: who may read, what comes back.

The token and clone checks, and the execution price from real reads and the writer, run on
both engines (``engines``); the composition over fake readers (parts, caching, errors,
request bodies) reads no database of its own, on SQLite only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import msgspec
import pytest
import trio
from httpkit import T0_MS, World, row_of, run_events, seed

from marketmem.events import (
    ApiTokensRevoked,
    Candle,
    CandleBatch,
    CloneRemoved,
    Event,
    MidBatch,
    MidPrice,
)
from marketmem.http import metrics
from marketmem.http.app import create_app, latest_key
from marketmem.http.latest import all_null
from marketmem.http.readers import Readers, Unavailable, default_readers
from marketmem.http.schemas import (
    LATEST_DATA,
    ErrorBody,
    ExecutionPrice,
    LatestData,
    LatestDataRequest,
)
from marketmem.storage.models.defillama import Subject
from marketmem.storage.models.features import TechnicalIndicatorsRow, VolatilityProfileRow
from marketmem.storage.models.polymarket import AssetMarkets, ContextMarket, Outcome
from marketmem.storage.models.retention import FormingHour

URL = "/api/v1/clones/{clone}/assets/{symbol}/latest-data"


FEATURE = row_of(
    TechnicalIndicatorsRow,
    coin="BTC",
    computed_at_ms=T0_MS - 60_000,
    m1_rsi_14=55.0,
    null_reasons={"h1_rsi_14": "too_few_candles"},
)
MARKET = row_of(
    ContextMarket,
    market_id="m1",
    question="BTC above 100k?",
    slug="btc-above-100k",
    outcomes=[Outcome("Yes", 0.6), Outcome("No", None)],
    end_ms=T0_MS + 3_600_000,
    ends_in_s=3_600,
)
CANDLE = Candle(
    coin="BTC",
    interval="1m",
    open_time_ms=T0_MS - 90_000,
    close_time_ms=T0_MS - 30_001,
    open=100.0,
    high=102.0,
    low=99.0,
    close=101.0,
    volume=3.0,
    trades=4,
    closed=True,
    updated_at_ms=T0_MS - 30_000,
)
HOUR = FormingHour(
    coin="BTC",
    open_time_ms=T0_MS,
    close_time_ms=T0_MS + 3_599_999,
    open=100.0,
    high=102.0,
    low=99.0,
    close=101.0,
    volume=3.0,
    trades=4,
    minute_count=1,
    updated_at_ms=T0_MS - 30_000,
)


def subject(i: int) -> Subject:
    return row_of(
        Subject, kind="chain", subject_id=f"s{i}", name=f"S{i}", updated_at_ms=T0_MS - 100_000
    )


def url(clone: str = "c1", symbol: str = "BTC") -> str:
    return URL.format(clone=clone, symbol=symbol)


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ErrorBody)
    assert body.error.code == code
    return body.error.message


def fake_readers(**overrides: Any) -> Readers:
    """Readers answering fixed rows for BTC (overrides replace single readers)."""

    def execution_price(conn: Any, coin: str, now_ms: int, *, max_mid_age_ms: int) -> Any:
        return {
            "coin": coin,
            "price": 101.5,
            "source": "mid",
            "at_ms": now_ms - 2_000,
            "age_ms": 2_000,
        }

    def features(conn: Any, coin: str) -> Any:
        return {"technical_indicators": FEATURE, "funding_pressure": None}

    def markets(conn: Any, asset: str, now_ms: int, *, limit: int) -> Any:
        return AssetMarkets(immediate=[MARKET] * 10, later=[], recently_closed=[MARKET])

    def metrics(conn: Any, asset: str) -> Any:
        return [subject(i) for i in range(9)]

    base = replace(
        default_readers(),
        execution_price=execution_price,
        last_closed_candle=lambda conn, coin, *a: CANDLE,
        current_hour_candle=lambda conn, coin, *a: HOUR,
        latest_features=features,
        markets_for_asset=markets,
        metrics_for_asset=metrics,
    )
    return replace(base, **overrides)


def nulls_in(node: Any, path: str = "$") -> list[str]:
    """Where ``node`` (decoded JSON) holds a null."""
    if node is None:
        return [path]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in nulls_in(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in nulls_in(v, f"{path}[{i}]")]
    return []


# --- who may read ----------------------------------------------------------------------------


@pytest.mark.engines
async def test_missing_or_bad_token_is_401(client: httpx.AsyncClient, world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, world.auth(world.revoked)):
        r = await client.post(url(), headers=headers)
        error_of(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.engines
async def test_token_of_another_user_is_403(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(url("c1"), headers=world.auth(world.bob))
    assert "another user" in error_of(r, 403, "forbidden")


async def test_unknown_clone_is_404(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(url("c9"), headers=world.auth(world.alice))
    assert "no clone 'c9'" in error_of(r, 404, "not_found")


async def test_symbol_the_clone_does_not_trade_is_404_with_a_clear_message(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await client.post(url("c1", "SOL"), headers=world.auth(world.alice))
    message = error_of(r, 404, "not_found")
    assert message == "clone 'c1' does not trade 'SOL' (it trades BTC, ETH)"


@pytest.mark.engines
async def test_removed_clone_is_404(client: httpx.AsyncClient, world: World) -> None:
    await seed(world.config, CloneRemoved(clone_id="c1"))
    error_of(await client.post(url(), headers=world.auth(world.alice)), 404, "not_found")


async def test_owner_gets_200_and_symbol_case_does_not_matter(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    async with make_client(readers=fake_readers()) as c:
        r = await c.post(url("c1", "btc"), headers=world.auth(world.alice))
    assert r.status_code == 200, r.text
    body = msgspec.json.decode(r.content, type=LATEST_DATA)
    assert (body.clone_id, body.symbol, body.as_of_ms) == ("c1", "BTC", T0_MS)


async def test_unknown_body_field_is_422_naming_it(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(url(), headers=world.auth(world.alice), json={"parts": ["candle_1m"]})
    assert error_of(r, 422, "invalid_parameter") == "parts: unknown field"
    r = await client.post(url(), headers=world.auth(world.alice), content=b"{not json")
    assert error_of(r, 422, "invalid_parameter").startswith("body: not valid JSON")


async def test_oversized_body_is_413(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(url(), headers=world.auth(world.alice), content=b" " * 70_000)
    error_of(r, 413, "body_too_large")


# --- what comes back -------------------------------------------------------------------------


async def test_every_part_with_freshness(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    await seed(
        world.config,
        *run_events("hyperliquid", "mids", finished_ms=T0_MS - 20_000),
        *run_events("hyperliquid", "candles", finished_ms=T0_MS - 400_000),
        *run_events("polymarket", "immediate_markets", finished_ms=T0_MS - 60_000),
    )
    async with make_client(readers=fake_readers()) as c:
        r = await c.post(
            url(), params={"verbose": "1"}, headers=world.auth(world.alice), json={"max_markets": 3}
        )
    assert r.status_code == 200, r.text
    body = msgspec.json.decode(r.content, type=LatestData)
    assert body.execution_price is not None
    assert (body.execution_price.price, body.execution_price.source) == (101.5, "mid")
    assert body.candle_1m == CANDLE and body.candle_1h == HOUR
    assert body.features is not None and body.features.technical_indicators == FEATURE
    assert body.features.funding_pressure is None
    assert body.polymarket is not None and body.polymarket.immediate == [MARKET] * 3
    assert body.polymarket.later == []
    assert body.defillama == [subject(i) for i in range(5)]
    # Freshness: data time when the part has one, else the channel's last success.
    f = body.freshness
    assert (f["execution_price"].channel, f["execution_price"].stale) == ("hyperliquid/mids", False)
    assert f["candle_1m"].age_ms == 30_000 and not f["candle_1m"].stale
    assert f["features.technical_indicators"].age_ms == 60_000
    assert f["features.technical_indicators"].channel_status == "missing"
    assert f["polymarket.immediate"].age_ms == 60_000 and not f["polymarket.immediate"].stale
    assert f["features.funding_pressure"].stale  # disabled, never ran, no row
    # Missing parts say why.
    assert body.missing == {
        "features.funding_pressure": "no funding_pressure row for BTC",
        "features.liquidity_profiles": "no liquidity_profiles row for BTC",
        "features.volatility_profiles": "no volatility_profiles row for BTC",
        "features.positioning_pressure": "no positioning_pressure row for BTC",
        "polymarket.later": "no later market linked to BTC",
    }


async def test_the_default_answer_is_compact_and_verbose_keeps_every_field(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    async with make_client(readers=fake_readers()) as c:
        compact = await c.post(url(), headers=world.auth(world.alice))
        verbose = await c.post(url(), params={"verbose": "1"}, headers=world.auth(world.alice))
        also_compact = await c.post(
            url(), params={"verbose": "no"}, headers=world.auth(world.alice)
        )
    assert compact.status_code == verbose.status_code == 200
    small, full = compact.json(), verbose.json()
    assert nulls_in(small) == [] and also_compact.json() == small
    assert len(compact.content) < len(verbose.content)
    # The NULL columns are left out; their reasons stay.
    row = small["features"]["technical_indicators"]
    assert row == {
        "coin": "BTC",
        "computed_at_ms": T0_MS - 60_000,
        "m1_rsi_14": 55.0,
        "null_reasons": {"h1_rsi_14": "too_few_candles"},
    }
    assert "funding_pressure" not in small["features"]
    assert small["polymarket"]["immediate"][0]["outcomes"] == [
        {"name": "Yes", "price": 0.6},
        {"name": "No"},
    ]
    # The verbose answer is today's full form: every field, nulls included.
    full_row = full["features"]["technical_indicators"]
    assert list(full_row) == list(TechnicalIndicatorsRow.__struct_fields__)
    assert full_row["h1_rsi_14"] is None and full["features"]["funding_pressure"] is None
    assert small["missing"] == full["missing"]
    # Both forms are answers of the one documented type.
    for r in (compact, verbose):
        msgspec.json.decode(r.content, type=LATEST_DATA)


async def test_missing_names_every_absent_part(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    """A feature row with every value NULL, a price that is a candle close for want of a
    mid, no candles, no markets, no subjects: each named with its reason."""
    empty_row = row_of(
        VolatilityProfileRow,
        coin="BTC",
        computed_at_ms=T0_MS - 60_000,
        null_reasons={
            **dict.fromkeys(VolatilityProfileRow.__struct_fields__[4:-2], "too_few_candles"),
            "regime": "no_history",
        },
    )

    def closing_price(conn: Any, coin: str, now_ms: int, **kw: Any) -> Any:
        return {"price": 99.0, "source": "candle_close", "at_ms": now_ms, "age_ms": 0}

    readers = fake_readers(
        execution_price=closing_price,
        last_closed_candle=lambda conn, coin, *a: None,
        current_hour_candle=lambda conn, coin, *a: None,
        latest_features=lambda conn, coin: {"volatility_profiles": empty_row},
        markets_for_asset=lambda conn, a, n, **kw: AssetMarkets(
            immediate=[], later=[], recently_closed=[]
        ),
        metrics_for_asset=lambda conn, a: [],
    )
    async with make_client(readers=readers) as c:
        r = await c.post(url(), headers=world.auth(world.alice))
    body = r.json()
    assert nulls_in(body) == []
    assert body["missing"] == {
        "execution_price.mid": "no mid within 30s for BTC: the price is the latest 1-minute close",
        "candle_1m": "no closed 1-minute candle for BTC",
        "candle_1h": "no 1-hour candle this hour for BTC",
        "features.technical_indicators": "no technical_indicators row for BTC",
        "features.funding_pressure": "no funding_pressure row for BTC",
        "features.liquidity_profiles": "no liquidity_profiles row for BTC",
        "features.volatility_profiles": "every value is NULL (too_few_candles, no_history)",
        "features.positioning_pressure": "no positioning_pressure row for BTC",
        "polymarket.immediate": "no immediate market linked to BTC",
        "polymarket.later": "no later market linked to BTC",
        "defillama": "no DefiLlama subject linked to BTC",
    }
    # Absent parts are left out; the all-NULL row stays for its reasons.
    assert set(body) == {
        "clone_id",
        "symbol",
        "as_of_ms",
        "execution_price",
        "features",
        "polymarket",
        "defillama",
        "freshness",
        "missing",
    }
    assert list(body["features"]) == ["volatility_profiles"]
    assert body["features"]["volatility_profiles"]["null_reasons"] == empty_row.null_reasons


def test_a_row_is_all_null_only_without_any_value() -> None:
    row = row_of(VolatilityProfileRow, coin="BTC", computed_at_ms=1, null_reasons={})
    assert all_null(row) == "every value is NULL (no reason recorded)"
    assert all_null(msgspec.structs.replace(row, rv_1h=0.0)) is None
    assert all_null(msgspec.structs.replace(row, regime="calm")) is None


async def test_compact_and_verbose_answers_are_cached_apart(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    async with make_client(readers=fake_readers()) as c:
        first = (await c.post(url(), headers=world.auth(world.alice))).json()
        verbose = await c.post(url(), params={"verbose": "true"}, headers=world.auth(world.alice))
        again = (await c.post(url(), headers=world.auth(world.alice))).json()
    assert nulls_in(verbose.json()) != [] and again == first and nulls_in(again) == []


async def test_a_bad_verbose_is_422(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(url(), params={"verbose": "perhaps"}, headers=world.auth(world.alice))
    assert error_of(r, 422, "invalid_parameter").startswith("verbose: ")
    r = await client.post(url(), params={"verbos": "1"}, headers=world.auth(world.alice))
    assert error_of(r, 422, "invalid_parameter").startswith("verbos: unknown parameter")


async def test_body_narrows_the_parts(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    async with make_client(readers=fake_readers()) as c:
        r = await c.post(
            url(), headers=world.auth(world.alice), json={"include": ["execution_price"]}
        )
    assert r.status_code == 200
    raw = r.json()
    assert set(raw) == {"clone_id", "symbol", "as_of_ms", "execution_price", "freshness", "missing"}
    assert set(raw["freshness"]) == {"execution_price"}


async def test_a_failing_part_is_null_with_a_reason_and_the_rest_is_served(
    make_client: Callable[..., httpx.AsyncClient], world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(conn: Any, asset: str, now_ms: int, **kw: Any) -> Any:
        raise KeyError("end_ms")

    def absent(conn: Any, asset: str) -> Any:
        raise Unavailable("metrics_for_asset is not available in this build")

    def not_a_row(conn: Any, coin: str) -> Any:
        return {"technical_indicators": {"coin": coin}}

    readers = fake_readers(
        markets_for_asset=broken, metrics_for_asset=absent, latest_features=not_a_row
    )
    async with make_client(readers=readers) as c:
        r = await c.post(url(), params={"verbose": "1"}, headers=world.auth(world.alice))
    assert r.status_code == 200
    body = msgspec.json.decode(r.content, type=LatestData)
    assert body.polymarket is None and body.missing["polymarket"] == "could not be read (KeyError)"
    assert body.defillama is None and "not available" in body.missing["defillama"]
    assert body.features is not None and body.features.technical_indicators is None
    assert body.missing["features.technical_indicators"] == "could not be read (ValidationError)"
    assert body.execution_price is not None and body.candle_1m is not None
    assert body.freshness["polymarket.immediate"].stale and body.freshness["defillama"].stale
    assert any("polymarket" in rec.getMessage() for rec in caplog.records)


async def test_nothing_known_is_null_with_reasons_never_invented(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    readers = fake_readers(
        execution_price=lambda conn, coin, now_ms, **kw: None,
        last_closed_candle=lambda conn, coin, *a: None,
        current_hour_candle=lambda conn, coin, *a: None,
        latest_features=lambda conn, coin: {},
        markets_for_asset=lambda conn, a, n, **kw: {"immediate": [], "later": []},
        metrics_for_asset=lambda conn, a: [],
    )
    async with make_client(readers=readers) as c:
        r = await c.post(url("c1", "ETH"), params={"verbose": "1"}, headers=world.auth(world.alice))
    body = msgspec.json.decode(r.content, type=LatestData)
    assert body.execution_price is None and body.candle_1m is None and body.candle_1h is None
    assert body.missing["execution_price"] == "no mid within 30s and no closed candle for ETH"
    assert body.missing["candle_1m"] == "no closed 1-minute candle for ETH"
    assert body.missing["candle_1h"] == "no 1-hour candle this hour for ETH"
    assert body.features is not None
    assert msgspec.structs.astuple(body.features) == (None,) * 5
    assert all(f.stale for f in body.freshness.values())


# --- execution price fallbacks, through the real readers and the writer -------------------

NOW = T0_MS + 30 * 60_000  # half past the hour
MIN = 60_000


def bar(open_ms: int, close: float, *, closed: bool = True) -> Candle:
    return Candle(
        coin="BTC",
        interval="1m",
        open_time_ms=open_ms,
        close_time_ms=open_ms + MIN - 1,
        open=close - 1,
        high=close + 1,
        low=close - 2,
        close=close,
        volume=2.0,
        trades=3,
        closed=closed,
        updated_at_ms=min(open_ms + MIN - 1, NOW - 1_000),
    )


async def seed_market(world: World, *, mid_age_ms: int | None, candles: bool) -> None:
    events: list[Event] = []
    if candles:
        bars = [bar(NOW - k * MIN, 100.0 + k) for k in range(5, 0, -1)]
        bars.append(bar(NOW, 99.5, closed=False))  # the minute in progress
        events.append(CandleBatch(rows=bars))
    if mid_age_ms is not None:
        seen = NOW - mid_age_ms
        events.append(
            MidBatch(
                rows=[
                    MidPrice(
                        coin="BTC", bucket_ms=seen - seen % 5000, price=98.25, observed_at_ms=seen
                    )
                ]
            )
        )
    await seed(world.config, *events)
    world.clock.set(NOW)


async def latest(client: httpx.AsyncClient, world: World) -> LatestData:
    r = await client.post(url(), params={"verbose": "1"}, headers=world.auth(world.alice))
    assert r.status_code == 200, r.text
    return msgspec.json.decode(r.content, type=LatestData)


@pytest.mark.engines
async def test_fresh_mid_is_the_execution_price(client: httpx.AsyncClient, world: World) -> None:
    await seed_market(world, mid_age_ms=2_000, candles=True)
    body = await latest(client, world)
    assert body.execution_price == ExecutionPrice(
        price=98.25, source="mid", at_ms=NOW - 2_000, age_ms=2_000
    )
    assert body.freshness["execution_price"].channel == "hyperliquid/mids"
    # The last closed minute and the hour so far come with it.
    assert body.candle_1m is not None
    assert (body.candle_1m.open_time_ms, body.candle_1m.close) == (NOW - MIN, 101.0)
    assert body.candle_1h is not None
    assert body.candle_1h.open_time_ms == T0_MS
    assert body.candle_1h.close == 99.5
    assert "execution_price" not in body.missing


@pytest.mark.engines
async def test_stale_mid_falls_back_to_the_candle_close(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed_market(world, mid_age_ms=120_000, candles=True)  # older than max_mid_age_s=30
    body = await latest(client, world)
    price = body.execution_price
    assert price is not None
    assert (price.source, price.price) == ("candle_close", 99.5)
    assert price.age_ms == NOW - price.at_ms <= 1_000
    assert body.freshness["execution_price"].channel == "hyperliquid/candles"
    assert body.missing["execution_price.mid"].startswith("no mid within 30s for BTC")


@pytest.mark.engines
async def test_no_mid_and_no_candle_is_null_with_reasons(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed_market(world, mid_age_ms=None, candles=False)
    body = await latest(client, world)
    assert body.execution_price is None and body.candle_1m is None and body.candle_1h is None
    assert body.missing["execution_price"] == "no mid within 30s and no closed candle for BTC"
    assert body.missing["candle_1m"] == "no closed 1-minute candle for BTC"
    assert body.freshness["execution_price"].stale


async def test_answers_are_reused_within_cache_s_then_recomposed(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed_market(world, mid_age_ms=2_000, candles=True)
    first = await latest(client, world)
    await seed(
        world.config,
        MidBatch(rows=[MidPrice(coin="BTC", bucket_ms=NOW, price=97.0, observed_at_ms=NOW)]),
    )
    assert await latest(client, world) == first  # within cache_s (1 s): the same answer
    world.clock.advance(1_000)
    again = await latest(client, world)
    assert again.execution_price is not None and again.execution_price.price == 97.0
    assert again.as_of_ms == NOW + 1_000


@pytest.mark.engines
async def test_revoked_token_and_removed_clone_take_effect_within_cache_s(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await client.post(url(), headers=world.auth(world.alice))).status_code == 200
    alice_id = world.alice.split("_")[1]
    await seed(world.config, ApiTokensRevoked(token_id=alice_id, revoked_at_ms=T0_MS))
    assert (await client.post(url(), headers=world.auth(world.alice))).status_code == 200
    world.clock.advance(1_000)
    error_of(await client.post(url(), headers=world.auth(world.alice)), 401, "unauthorized")

    assert (await client.post(url("c2", "SOL"), headers=world.auth(world.bob))).status_code == 200
    await seed(world.config, CloneRemoved(clone_id="c2"))
    world.clock.advance(1_000)
    error_of(await client.post(url("c2", "SOL"), headers=world.auth(world.bob)), 404, "not_found")


async def test_cached_checks_still_refuse_other_users_and_symbols(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await client.post(url(), headers=world.auth(world.alice))).status_code == 200
    assert (await client.post(url("c2", "SOL"), headers=world.auth(world.bob))).status_code == 200
    # Both tokens and both clones are cached now; the answers must not mix them up.
    error_of(await client.post(url("c1"), headers=world.auth(world.bob)), 403, "forbidden")
    error_of(await client.post(url("c1", "SOL"), headers=world.auth(world.alice)), 404, "not_found")
    r = await client.post(url(), headers=world.auth(world.alice), json={"bogus": 1})
    assert error_of(r, 422, "invalid_parameter") == "bogus: unknown field"


async def test_identical_concurrent_requests_compose_once(
    make_client: Callable[..., httpx.AsyncClient], world: World
) -> None:
    calls = 0

    def counting(conn: Any, coin: str) -> Any:
        nonlocal calls
        calls += 1
        time.sleep(0.05)  # a slow read in the worker thread
        return {}

    async with make_client(readers=fake_readers(latest_features=counting)) as c:
        assert (await c.post(url(), headers=world.auth(world.alice))).status_code == 200
        world.clock.advance(1_000)  # expired: the next ones must compose again, once
        codes: list[int] = []

        async def one() -> None:
            codes.append((await c.post(url(), headers=world.auth(world.alice))).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(one)
    assert codes == [200] * 8
    assert calls == 2


# --- answers recomposed ahead of expiry --------------------------------------------------


@asynccontextmanager
async def serving(world: World, readers: Readers) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan running (the server's nursery, where refreshes run), its
    ``Api`` and a client."""
    app = create_app(world.config, world.clock, readers=readers)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield app.state.api, client


async def refreshed(api: Any) -> None:
    """Until no refresh runs (they run in worker threads)."""
    with trio.fail_after(10):
        while api.ahead.running:
            await trio.sleep(0.001)


async def until_kept(api: Any, at_ms: int) -> None:
    """Until the kept BTC answer was composed at ``at_ms`` (a refresh in a worker thread)."""
    key = latest_key("BTC", LatestDataRequest(), verbose=False)
    with trio.fail_after(10):
        while api.latest_cache.age(key, at_ms) != 0:
            await trio.sleep(0.001)


async def test_an_answer_asked_for_is_recomposed_ahead_of_its_expiry(world: World) -> None:
    composed: list[int] = []

    def counting(conn: Any, coin: str) -> Any:
        composed.append(world.clock.now_ms())
        return {}

    async with serving(world, fake_readers(latest_features=counting)) as (api, c):
        first = await c.post(url(), headers=world.auth(world.alice))
        assert first.json()["as_of_ms"] == T0_MS and composed == [T0_MS]
        world.clock.advance(700)  # younger than 3/4 of cache_s (1 s): only served
        assert (await c.post(url(), headers=world.auth(world.alice))).json() == first.json()
        world.clock.advance(100)
        # 800 ms old: still served as it is, and recomposed in the background.
        assert (await c.post(url(), headers=world.auth(world.alice))).json() == first.json()
        await until_kept(api, T0_MS + 800)
        assert composed == [T0_MS, T0_MS + 800]
        world.clock.advance(300)  # the first answer would have expired; the new one is kept
        again = await c.post(url(), headers=world.auth(world.alice))
        assert again.json()["as_of_ms"] == T0_MS + 800 and len(composed) == 2
    assert api.ahead.nursery is None  # the server stopped: nothing more is refreshed


async def test_a_failed_refresh_is_logged_and_the_next_request_composes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    composed: list[int] = []
    fail = False

    def counting(conn: Any, coin: str) -> Any:
        composed.append(world.clock.now_ms())
        return {}

    async with serving(world, fake_readers(latest_features=counting)) as (api, c):
        # A part that fails is the answer's own business (null, with its reason); what fails
        # a composition is the storage failing under it, here at its channel-health read.
        real_health = api.health_cache.get

        def health(now_ms: int, compute: Callable[[], Any]) -> Any:
            if fail:
                raise OSError("disk I/O error")
            return real_health(now_ms, compute)

        api.health_cache.get = health
        failures = metrics.REFRESH_FAILURES.value(what="latest-data")
        assert (await c.post(url(), headers=world.auth(world.alice))).status_code == 200
        fail = True
        world.clock.advance(800)
        assert (await c.post(url(), headers=world.auth(world.alice))).status_code == 200
        await refreshed(api)
        assert metrics.REFRESH_FAILURES.value(what="latest-data") == failures + 1
        [line] = [r.getMessage() for r in caplog.records if "ahead of expiry" in r.getMessage()]
        assert line == (
            "latest-data: refreshing ahead of expiry failed (OSError: disk I/O error); "
            "the next request redoes it"
        )
        fail = False
        world.clock.advance(200)  # expired: this request composes, as without refreshes
        again = await c.post(url(), headers=world.auth(world.alice))
        assert again.json()["as_of_ms"] == T0_MS + 1_000
        assert composed == [T0_MS, T0_MS + 1_000]


async def test_a_revoked_token_is_forgotten_by_its_check_ahead_of_expiry(world: World) -> None:
    async with serving(world, fake_readers()) as (api, c):
        assert (await c.post(url(), headers=world.auth(world.alice))).status_code == 200
        alice_id = world.alice.split("_")[1]
        await seed(world.config, ApiTokensRevoked(token_id=alice_id, revoked_at_ms=T0_MS))
        world.clock.advance(800)
        # Served from memory (the check is 800 ms old), and checked again meanwhile.
        assert (await c.post(url(), headers=world.auth(world.alice))).status_code == 200
        await refreshed(api)
        error_of(await c.post(url(), headers=world.auth(world.alice)), 401, "unauthorized")
        # Bob's check of his own clone is unaffected.
        assert (await c.post(url("c2", "SOL"), headers=world.auth(world.bob))).status_code == 200
