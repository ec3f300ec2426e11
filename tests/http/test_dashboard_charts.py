"""The dashboard's charts and the channel page: the pure shaping of their data, the fragment and
the page over a seeded database, who may see what (no error text in public), and what a
process without the writer says about the writer's charts."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from httpkit import T0_MS, World, run_events, seed

from marketmem.bus import BusStatistics, SubscriberStatistics
from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import Candle, CandleBatch
from marketmem.http import panels
from marketmem.http.app import create_app
from marketmem.http.charts import Bar, Cell
from marketmem.http.panels import Panels, hour_bars, outcome_cells, rows_per_minute
from marketmem.http.schemas import ErrorBody
from marketmem.plugins import parse_config
from marketmem.storage.models.hyperliquid import HourCandle
from marketmem.storage.models.runs import RunMinute
from marketmem.telemetry import Telemetry

M = 60_000
H = 60 * M
SECRET = "ConnectError: <b>tok=s3cr3t</b> at /srv/private\nsecond line"


def candle(coin: str, open_ms: int, close: float = 1.5, *, high: float = 2.0) -> Candle:
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=open_ms,
        close_time_ms=open_ms + M - 1,
        open=1.0,
        high=high,
        low=0.5,
        close=close,
        volume=3.0,
        trades=4,
        closed=True,
        updated_at_ms=open_ms + M - 1,
    )


def charts_of(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-chart="([^"]+)" data-marks="(\d+)"', text)}


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ErrorBody)
    assert body.error.code == code
    return body.error.message


# --- pure shaping ----------------------------------------------------------------------------


def test_hour_bars_keep_stored_hours_and_add_provisional_ones_from_minutes() -> None:
    stored = [HourCandle("BTC", T0_MS, T0_MS + H - 1, 1.0, 9.0, 0.1, 5.0, 1.0, 1, 60, 0)]
    minutes = [
        candle("BTC", T0_MS + 5 * M, high=99.0),  # its hour is stored: the stored bar wins
        candle("BTC", T0_MS + H + 2 * M, close=3.0, high=4.0),
        candle("BTC", T0_MS + H, close=2.0),
        candle("BTC", T0_MS + H, close=2.5),  # a duplicate minute: the last wins
    ]
    assert hour_bars(stored, minutes) == [
        Bar(T0_MS, 1.0, 9.0, 0.1, 5.0),
        Bar(T0_MS + H, 1.0, 4.0, 0.5, 3.0, provisional=True),
    ]
    assert hour_bars([], []) == []


def test_rows_per_minute_sums_outcomes_and_keeps_zeros() -> None:
    minutes = [
        RunMinute(T0_MS - M, "ok", 1, 50),  # before the window
        RunMinute(T0_MS, "failed", 1, 0),
        RunMinute(T0_MS, "ok", 2, 7),
        RunMinute(T0_MS + M, "ok", 1, 0),
    ]
    assert rows_per_minute(minutes, T0_MS) == [(T0_MS, 7), (T0_MS + M, 0)]
    assert rows_per_minute([], T0_MS) == []


def test_outcome_cells_count_runs_and_skips_per_slot() -> None:
    slot = panels.SLOT_MS
    minutes = [
        RunMinute(T0_MS - M, "failed", 1, 0),  # before the strip
        RunMinute(T0_MS, "ok", 2, 1),
        RunMinute(T0_MS + slot - M, "failed", 1, 0),
        RunMinute(T0_MS + 3 * slot, "ok", 1, 1),
    ]
    skips = [(T0_MS + 10, 2), (T0_MS + 5 * slot, 1), (T0_MS - 1, 9), (T0_MS + slot, 0)]
    assert outcome_cells(minutes, skips, start_ms=T0_MS) == [
        Cell(T0_MS, ok=2, failed=1, skipped=2),
        Cell(T0_MS + 3 * slot, ok=1),
        Cell(T0_MS + 5 * slot, skipped=1),
    ]
    assert outcome_cells([], [], start_ms=T0_MS) == []


def test_the_strip_ends_with_the_slot_of_now() -> None:
    now = T0_MS + 7 * M
    start = panels.strip_start(now)
    assert start + panels.STRIP_MS == T0_MS + panels.SLOT_MS
    assert start % panels.SLOT_MS == 0


def test_without_telemetry_the_writer_charts_say_they_are_not_available() -> None:
    empty = Panels(now_ms=T0_MS, coins=[], coins_total=0, channels=[], max_mid_age_s=30.0)
    text = panels.render_panels(empty, None)
    assert 'data-live="false"' in text and html.escape(panels.NOT_HERE) in text
    assert {k: v for k, v in charts_of(text).items() if k.startswith(("writer", "bus"))} == {
        "writer-latency": 0,
        "writer-queue": 0,
        "bus-drops": 0,
    }
    assert "no 1-minute candles in the last 24 h" in text
    assert "not here" in text  # nor does it claim zero skipped ticks


def test_with_telemetry_the_writer_charts_draw_its_samples() -> None:
    t = Telemetry(T0_MS - 60_000)
    writer = SubscriberStatistics("storage-writer", "lossless", 100, 3, 10, 0)
    lossy = SubscriberStatistics("<view>", "drop_oldest", 10, 0, 10, 4)
    for i in range(3):
        t.commit(0.01 * (i + 1))
        t.sample(T0_MS - (2 - i) * 5_000, BusStatistics((writer, lossy), 0, False), {})
    empty = Panels(now_ms=T0_MS, coins=[], coins_total=0, channels=[], max_mid_age_s=30.0)
    text = panels.render_panels(empty, t.view())
    drawn = charts_of(text)
    assert drawn["writer-latency"] == 6 and drawn["writer-queue"] == 3 and drawn["bus-drops"] == 3
    assert 'data-live="true"' in text and "(4 in the last hour)" in text
    assert 'data-subscriber="&lt;view&gt;"' in text and "<view>" not in text


# --- over HTTP -----------------------------------------------------------------------------


async def seed_world(world: World) -> None:
    now = T0_MS
    await seed(
        world.config,
        CandleBatch(rows=[candle("BTC", now - i * M, close=100.0 + i) for i in range(1, 120)]),
        CandleBatch(rows=[candle("ETH", now - 2 * M, close=3.0)]),
        *run_events("hyperliquid", "candles", finished_ms=now - 10_000),
        *run_events("hyperliquid", "mids", finished_ms=now - 5_000, status="failed", error=SECRET),
    )


async def test_the_public_pages_keep_no_error_text_and_the_channel_page_shows_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed_world(world)
    fragment = await client.get("/dashboard/charts")
    assert fragment.status_code == 200, fragment.text
    assert fragment.headers["content-type"].startswith("text/html")
    public = [
        fragment,
        await client.get("/dashboard"),
        await client.get("/api/v1/ingestion/dashboard"),
    ]
    for r in public:
        assert r.status_code == 200
        for part in ("s3cr3t", "/srv/private", "second line", "ConnectError"):
            assert part not in r.text, (r.url, part)
    drawn = charts_of(fragment.text)
    assert drawn["price-1m-BTC"] == 119 and drawn["price-1h-BTC"] == 2  # provisional hours
    assert drawn["price-1m-ETH"] == 1 and drawn["price-age"] == 2
    assert drawn["runs-hyperliquid-mids"] == 1 and drawn["rows-hyperliquid-mids"] == 1
    assert 'class="mark failed"' in fragment.text
    # Enabled channels that never ran are there, empty; disabled ones without runs are not.
    assert drawn["runs-polymarket-immediate_markets"] == 0
    assert "runs-defillama-capital_base" not in drawn

    page = await client.get("/dashboard/channels/hyperliquid/mids", headers=world.auth(world.alice))
    assert page.status_code == 200, page.text
    assert html.escape(SECRET) in page.text and "<b>" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert 'data-run-id="hyperliquid-mids-' in page.text and 'data-status="failed"' in page.text


async def test_the_channel_page_needs_a_valid_token(
    client: httpx.AsyncClient, world: World
) -> None:
    path = "/dashboard/channels/hyperliquid/candles"
    for headers, message in (
        ({}, "missing bearer token"),
        ({"Authorization": "Basic x"}, "malformed"),
        (world.auth(world.revoked), "invalid or revoked"),
    ):
        r = await client.get(path, headers=headers)
        assert error_of(r, 401, "unauthorized").startswith(message)
        assert r.headers["www-authenticate"].startswith("Bearer")
    # Unauthenticated callers learn nothing about which channels exist.
    error_of(await client.get("/dashboard/channels/no/such"), 401, "unauthorized")


async def test_an_unknown_channel_is_a_one_line_404(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.auth(world.alice)
    for path in (
        "/dashboard/channels/hyperliquid/nope",
        "/dashboard/channels/nope/candles",
        "/dashboard/channels/hyper%0Aliquid/candles",
    ):
        message = error_of(await client.get(path, headers=auth), 404, "not_found")
        assert message.startswith("no channel ") and "\n" not in message
    # A channel of the configuration that is disabled still has its page.
    r = await client.get("/dashboard/channels/defillama/capital_base", headers=auth)
    assert r.status_code == 200 and "disabled" in r.text


async def test_the_channel_page_shows_the_latest_runs_up_to_the_limit(
    client: httpx.AsyncClient, world: World
) -> None:
    events: list[Any] = []
    for i in range(5):
        events += run_events("hyperliquid", "candles", finished_ms=T0_MS - (5 - i) * 60_000)
    await seed(world.config, *events)
    auth = world.auth(world.alice)
    path = "/dashboard/channels/hyperliquid/candles"
    r = await client.get(path, params={"limit": "2"}, headers=auth)
    assert r.status_code == 200
    assert re.findall(r'data-run-id="([^"]+)"', r.text) == [
        f"hyperliquid-candles-{T0_MS - 60_000}",
        f"hyperliquid-candles-{T0_MS - 120_000}",
    ]
    assert len(re.findall("data-run-id=", (await client.get(path, headers=auth)).text)) == 5
    for bad in ("x", "0"):
        error_of(
            await client.get(path, params={"limit": bad}, headers=auth), 422, "invalid_parameter"
        )
    error_of(await client.get(path, params={"other": "1"}, headers=auth), 422, "invalid_parameter")
    capped = await client.get(path, params={"limit": "5000"}, headers=auth)
    assert "at most 1000" in capped.text


async def test_the_charts_with_the_service_telemetry(world: World) -> None:
    telemetry = Telemetry(T0_MS - 10_000)
    telemetry.commit(0.002)
    stats = BusStatistics(
        (SubscriberStatistics("storage-writer", "lossless", 9, 1, 1, 0),), 1, False
    )
    telemetry.sample(T0_MS - 5_000, stats, {("hyperliquid", "candles"): 0})
    telemetry.sample(T0_MS, stats, {("hyperliquid", "candles"): 2})
    await seed(world.config, *run_events("hyperliquid", "candles", finished_ms=T0_MS - 1_000))
    app = create_app(world.config, world.clock, telemetry=telemetry)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        text = (await c.get("/dashboard/charts")).text
        page = await c.get(
            "/dashboard/channels/hyperliquid/candles", headers=world.auth(world.alice)
        )
    drawn = charts_of(text)
    assert drawn["writer-latency"] >= 1 and drawn["writer-queue"] == 2 and drawn["bus-drops"] == 2
    # The ok run finished in the slot before the one the skips were counted in.
    assert 'class="mark ok"' in text and 'class="mark skipped"' in text
    assert "2 skipped" in text and "2 skipped" in page.text
    assert panels.NOT_HERE not in text


async def test_the_charts_refuse_parameters(client: httpx.AsyncClient) -> None:
    error_of(await client.get("/dashboard/charts", params={"x": "1"}), 422, "invalid_parameter")


async def test_the_charts_need_a_database(tmp_path: Path) -> None:
    config = parse_config(f'[storage]\npath = "{tmp_path / "none.db"}"\n')
    app = create_app(config, FixedClock(T0_MS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        error_of(await c.get("/dashboard/charts"), 503, "database_unavailable")
        r = await c.get(
            "/dashboard/channels/hyperliquid/candles", headers={"Authorization": "Bearer x"}
        )
        error_of(r, 503, "database_unavailable")


async def test_at_most_eight_coins_are_charted_in_registry_order(
    client: httpx.AsyncClient, world: World
) -> None:
    coins = [f"C{i:02d}" for i in range(10)]
    await seed(world.config, CandleBatch(rows=[candle(c, T0_MS - M) for c in coins]))
    text = (await client.get("/dashboard/charts")).text
    assert re.findall(r'data-coin="([^"]+)"', text) == coins[:8]
    assert "8 of 10 coins" in text


async def test_the_page_runs_only_its_own_script_and_refreshes_as_configured(
    make_config: Callable[..., Config],
) -> None:
    config = make_config("[http]\ndashboard_refresh_s = 3\n")
    app = create_app(config, FixedClock(T0_MS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/dashboard")
    (script,) = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in r.headers["content-security-policy"]
    assert "const REFRESH_MS = 3000;" in script
    assert "dashboard/charts" in script and "innerHTML" not in r.text
