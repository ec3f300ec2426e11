"""The offline demo end to end (venues, every channel, HTTP API) under MockClock, and its CLI."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio.testing import MockClock

from marketmem import cli
from marketmem.clock import TrioWallClock
from marketmem.commands import core
from marketmem.commands.demo import demo_storage
from marketmem.config import ROOT, Config
from marketmem.demo import DEMO_CADENCES, DEMO_COINS, DemoAccess, DemoSummary, run_demo
from marketmem.executors import inline_executor
from marketmem.storage import engine as engine_of
from tests.conftest import T0_MS

DESIGN_TABLES = (
    "hyperliquid_assets",
    "hyperliquid_asset_categories",
    "hyperliquid_asset_category_taxonomy",
    "hyperliquid_candles",
    "hyperliquid_mid_prices",
    "hyperliquid_technical_indicators",
    "hyperliquid_funding_pressure",
    "hyperliquid_liquidity_profiles",
    "hyperliquid_volatility_profiles",
    "hyperliquid_positioning_pressure",
    "hyperliquid_candles_1h",
    "polymarket_events",
    "polymarket_markets",
    "polymarket_market_asset_links",
    "polymarket_immediate_markets",
    "polymarket_later_markets",
    "polymarket_recently_closed_markets",
    "defillama_capital_base",
    "defillama_capital_flows",
    "defillama_economic_throughput",
)

# Simulated seconds the demo runs (the issue asks for every table within two minutes).
DEMO_S = 120.0


def read(path: Path | str, sql: str) -> list[dict[str, Any]]:
    conn = engine_of.open_ro(path)
    try:
        return engine_of.query(conn, sql)
    finally:
        conn.close()


@pytest.mark.engines
async def test_demo_fills_every_table_and_every_channel_runs_ok(
    make_config: Callable[..., Config], autojump_clock: MockClock
) -> None:
    config = make_config()
    out = io.StringIO()
    done: list[DemoSummary] = []
    clock = TrioWallClock(T0_MS)

    async def demo(task_status: trio.TaskStatus[DemoAccess]) -> None:
        summary = await run_demo(
            config,
            clock=clock,
            executor=inline_executor,
            duration_s=DEMO_S,
            handle_signals=False,
            out=out,
            task_status=task_status,
        )
        done.append(summary)

    async with trio.open_nursery() as nursery:
        access: DemoAccess = await nursery.start(demo)
        banner_ms = clock.now_ms()
        assert access.port is not None
        base = f"http://127.0.0.1:{access.port}"
        banner = out.getvalue().splitlines()
        assert f"  dashboard: {base}/dashboard" in banner
        assert access.token.token in banner
        curl = next(line for line in banner if "curl" in line)
        assert f"{base}/api/v1/clones/demo/assets/BTC/latest-data" in curl
        assert any(f"{base}/api/v1/candles/BTC?interval=1h" in line for line in banner)
        # Let the channels run their first rounds, then read as the printed curl would.
        await trio.sleep(DEMO_S - 30)
        # While the API's reader threads work, trio looks idle and autojump would race the
        # clock (and the demo's deadline) ahead; hold it for the requests.
        autojump_clock.autojump_threshold = 0.5
        async with httpx.AsyncClient(base_url=base) as client:
            auth = {"Authorization": f"Bearer {access.token.token}"}
            latest = await client.post("/api/v1/clones/demo/assets/BTC/latest-data", headers=auth)
            page = await client.get("/dashboard")
            hours = await client.get("/api/v1/candles/BTC?interval=1h", headers=auth)
            charts = await client.get("/dashboard/charts")
            denied = await client.post("/api/v1/clones/demo/assets/BTC/latest-data")
        autojump_clock.autojump_threshold = 0.0
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["symbol"] == "BTC"
    assert body["execution_price"]["price"] > 0
    assert body["candle_1m"]["closed"] is True
    assert body["candle_1h"] is not None
    assert page.status_code == 200
    assert denied.status_code == 401
    assert hours.status_code == 200, hours.text
    assert hours.json()["bars"][-1]["closed"] is False  # the hour in progress
    # The demo's API serves the service's own telemetry: the writer's charts have samples.
    assert charts.status_code == 200 and 'data-live="true"' in charts.text
    assert re.search(r'data-chart="writer-latency" data-marks="[1-9]', charts.text)

    path = config.database()
    counts = {t: read(path, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in DESIGN_TABLES}
    assert [t for t, n in counts.items() if n == 0] == []
    # Every enabled channel's latest finished run is ok, and none failed on the way.
    runs = read(path, "SELECT * FROM ingestion_runs ORDER BY started_at_ms")
    assert [(r["channel"], r["error"]) for r in runs if r["status"] == "failed"] == []
    latest_status = {(r["source"], r["channel"]): r["status"] for r in runs}
    assert latest_status == {key: "ok" for key in DEMO_CADENCES}
    # Every channel had an ok run within 60 s of the start, and the banner came after every
    # channel's first run, set apart by a rule.
    first_ok = {
        key: min(
            r["finished_at_ms"]
            for r in runs
            if (r["source"], r["channel"]) == key and r["status"] == "ok"
        )
        for key in DEMO_CADENCES
    }
    late = {k: (t - T0_MS) / 1000 for k, t in first_ok.items() if t - T0_MS > 60_000}
    assert late == {}
    assert max(first_ok.values()) <= banner_ms
    text = out.getvalue()
    assert "still waiting" not in text
    before_banner = text[: text.index(access.token.token)]
    assert "==========" in before_banner
    # The summary read back the same database.
    (summary,) = done
    assert {(c.source, c.channel) for c in summary.channels if c.enabled} == set(DEMO_CADENCES)
    assert {c.status for c in summary.channels if c.enabled} == {"ok"}, [
        (c.channel, c.status, c.last_success_at_ms, c.last_started_at_ms)
        for c in summary.channels
        if c.enabled and c.status != "ok"
    ]
    assert all(summary.rows[t] == counts[t] for t in DESIGN_TABLES)
    assert "demo stopped" in out.getvalue()

    # Time moved: candles closed and mids changed for every demo coin.
    closed = read(
        path, "SELECT coin, count(*) AS n FROM hyperliquid_candles WHERE closed GROUP BY coin"
    )
    assert {r["coin"] for r in closed} == set(DEMO_COINS)
    mids = read(
        path,
        "SELECT coin, count(DISTINCT price) AS n FROM hyperliquid_mid_prices GROUP BY coin",
    )
    assert set(DEMO_COINS) <= {r["coin"] for r in mids if r["n"] > 1}
    # The local bridges API answered the Pro key the demo config sends.
    bridges = read(
        path, "SELECT count(*) AS n FROM defillama_capital_flows WHERE metric LIKE 'bridge%'"
    )
    assert bridges[0]["n"] > 0
    # The token and the clone went through the writer.
    assert read(path, 'SELECT "user" FROM api_tokens WHERE revoked_at_ms IS NULL') == [
        {"user": "demo"}
    ]
    clones = read(path, "SELECT clone_id, owner FROM clones")
    assert clones == [{"clone_id": "demo", "owner": "demo"}]


def test_demo_database_defaults_to_demo_db(
    config: Config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MARKETMEM_DB", raising=False)
    assert demo_storage(config).db_path() == ROOT / "data" / "demo.db"
    monkeypatch.setenv("MARKETMEM_DB", str(tmp_path / "mine.db"))
    assert demo_storage(config) is config


def test_run_demo_flag_delegates_to_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake(config: Config, **kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(core, "start_demo", fake)
    assert cli.main(["run", "--demo", "--duration", "5", "--no-http"]) == 0
    assert calls == [{"duration_s": 5.0, "http": False}]


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--duration", "0"],
        ["demo", "--port", "70000"],
        ["run", "--demo", "--local"],
    ],
)
def test_demo_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith("marketmem: ")


async def test_demo_without_http_reports_no_port(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    config = make_config()
    out = io.StringIO()
    async with trio.open_nursery() as nursery:
        access: DemoAccess = await nursery.start(
            partial(
                run_demo,
                config,
                clock=TrioWallClock(T0_MS),
                executor=inline_executor,
                duration_s=5,
                http=False,
                handle_signals=False,
                out=out,
            )
        )
    assert access.port is None and access.base_url is None
    assert "dashboard" not in out.getvalue().split("demo stopped")[0]
    assert access.token.token in out.getvalue().splitlines()
