"""The three DefiLlama channels against the local venue on 127.0.0.1, under MockClock.

What the channels store (subjects, links, base values, flows from stored observations,
throughput) runs on both engines (``engines``); failures, retries, timeouts and the running
guard, which store nothing new, on SQLite only.
"""

from __future__ import annotations

import itertools
import math

import pytest
import trio
from dl_helpers import Llama, rows, run_channel, settle, spec

from marketmem.scheduler import Scheduler
from marketmem.venues.defillama import CHAINS, PROTOCOLS, STABLECOINS

DAY_MS = 86_400_000
APPROX = {"rel": 1e-6}


def base_values(config, metric: str, kind: str) -> dict[str, float | None]:
    return {
        r["subject_id"]: r["value_usd"]
        for r in rows(
            config,
            "SELECT subject_id, value_usd FROM defillama_capital_base WHERE kind=? AND metric=?",
            (kind, metric),
        )
    }


def flow(config, kind: str, subject_id: str, metric: str, period: str) -> dict:
    found = rows(
        config,
        "SELECT * FROM defillama_capital_flows WHERE kind=? AND subject_id=? AND metric=? "
        "AND period=?",
        (kind, subject_id, metric, period),
    )
    assert len(found) == 1, (kind, subject_id, metric, period)
    return found[0]


# --- capital_base ----------------------------------------------------------------------------


@pytest.mark.engines
async def test_capital_base_rows_subjects_and_links(llama: Llama, autojump_clock: object) -> None:
    config = llama.config(
        tracked_assets=["ETH", "HYPE", "FRSH"], top_protocols=20, top_stablecoins=10
    )
    sim = llama.venue.simulator
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_base")
        now_ms = llama.clock.now_ms()
    assert result.status == "ok", result.error
    t = now_ms / DAY_MS

    # Chains: the top 3 by TVL plus every chain linked to ETH or HYPE.
    by_tvl = sorted(CHAINS, key=lambda c: -sim.chain_tvl(c, t))
    expected = {c.name for c in by_tvl[:3]} | {"Ethereum", "Hyperliquid L1"}
    tvl = base_values(config, "tvl_usd", "chain")
    assert set(tvl) == expected
    for chain in CHAINS:
        if chain.name in expected:
            assert tvl[chain.name] == pytest.approx(sim.chain_tvl(chain, t), **APPROX)

    # Stablecoin supply per chain: USD, euros converted at their price, never at par.
    supply = base_values(config, "stablecoin_supply_usd", "chain")
    eth_usd = sum(
        sim.supply_on_chain(s, "Ethereum", t) * (s.price or 1.0)
        for s in STABLECOINS
        if "Ethereum" in s.chains
    )
    assert supply["Ethereum"] == pytest.approx(eth_usd, **APPROX)
    assert "Bitcoin" not in supply  # no stablecoins there: no row rather than a zero

    # Protocols: TVL without pseudo categories, which are their own metrics.
    aave = next(p for p in PROTOCOLS if p.slug == "aave-v3")
    protocol_rows = rows(
        config,
        "SELECT metric, value_usd FROM defillama_capital_base WHERE subject_id='aave-v3'",
    )
    metrics = {r["metric"]: r["value_usd"] for r in protocol_rows}
    assert set(metrics) == {"tvl_usd", "borrowed_usd", "staking_usd"}
    assert metrics["tvl_usd"] == pytest.approx(sim.protocol_tvl(aave, t), **APPROX)
    assert metrics["borrowed_usd"] == pytest.approx(0.35 * metrics["tvl_usd"], **APPROX)

    # Stablecoins: EURC in USD; the new coin without a price stays NULL, not zero.
    circ = base_values(config, "circulating_usd", "stablecoin")
    eurc = next(s for s in STABLECOINS if s.symbol == "EURC")
    assert circ["50"] == pytest.approx(sim.supply(eurc, t) * 1.08, **APPROX)
    assert "999" in circ and circ["999"] is None

    links = {
        (r["kind"], r["subject_id"]): (r["asset"], r["origin"])
        for r in rows(config, "SELECT * FROM defillama_subject_assets")
    }
    assert links[("chain", "Ethereum")] == ("ETH", "config")
    assert links[("chain", "Hyperliquid L1")] == ("HYPE", "config")
    assert links[("protocol", "hyperliquid-spot-orderbook")] == ("HYPE", "symbol")
    assert links[("stablecoin", "999")] == ("FRSH", "symbol")
    subjects = rows(config, "SELECT kind, count(*) n FROM defillama_subjects GROUP BY kind")
    assert {r["kind"] for r in subjects} == {"chain", "protocol", "stablecoin"}
    stamps = rows(config, "SELECT DISTINCT observed_at_ms, bucket_ms FROM defillama_capital_base")
    assert len(stamps) == 1 and stamps[0]["bucket_ms"] % 3_600_000 == 0


@pytest.mark.engines
async def test_subject_missing_from_a_response_keeps_its_last_row(
    llama: Llama, autojump_clock: object
) -> None:
    config = llama.config(top_protocols=20)
    async with llama.pipeline(config) as rt:
        assert (await run_channel(rt, "capital_base")).status == "ok"
        await settle()
        first = base_values(config, "tvl_usd", "protocol")
        assert "uniswap-v3" in first
        llama.venue.simulator.hidden.add("uniswap-v3")
        await trio.sleep(2 * 3600)
        assert (await run_channel(rt, "capital_base")).status == "ok"
    uni = rows(
        config,
        "SELECT bucket_ms, value_usd FROM defillama_capital_base "
        "WHERE subject_id='uniswap-v3' AND metric='tvl_usd'",
    )
    assert len(uni) == 1 and uni[0]["value_usd"] == first["uniswap-v3"]
    lido = rows(
        config,
        "SELECT value_usd FROM defillama_capital_base WHERE subject_id='lido' AND "
        "metric='tvl_usd' ORDER BY bucket_ms",
    )
    assert len(lido) == 2 and lido[0]["value_usd"] != lido[1]["value_usd"]
    assert rows(config, "SELECT 1 FROM defillama_subjects WHERE subject_id='uniswap-v3'")


# --- capital_flows ---------------------------------------------------------------------------


@pytest.mark.engines
async def test_capital_flows_from_history_and_api(llama: Llama, autojump_clock: object) -> None:
    config = llama.config(top_protocols=20, top_stablecoins=10)
    sim = llama.venue.simulator
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_flows")
        now_ms = llama.clock.now_ms()
    assert result.status == "ok", result.error
    assert result.error is None  # no key: bridges are off, not "unavailable"
    assert llama.venue.hits("/bridges") == 0

    history = sim.historical_chain_tvl("Ethereum", now_ms)
    last = history[-1]
    for period, days in (("1d", 1), ("7d", 7), ("30d", 30)):
        prev = history[-1 - days]
        row = flow(config, "chain", "Ethereum", "tvl_usd", period)
        assert row["to_ms"] == last["date"] * 1000 and row["from_ms"] == prev["date"] * 1000
        assert row["current_usd"] == pytest.approx(last["tvl"], **APPROX)
        assert row["previous_usd"] == pytest.approx(prev["tvl"], **APPROX)
        assert row["change_usd"] == pytest.approx(last["tvl"] - prev["tvl"], rel=1e-4)
        expected_pct = (last["tvl"] - prev["tvl"]) / prev["tvl"] * 100
        assert row["change_pct"] == pytest.approx(expected_pct, rel=1e-4)
        assert row["basis"] == "history"

    chart = sim.stablecoin_chart("Ethereum", now_ms)
    sup = flow(config, "chain", "Ethereum", "stablecoin_supply_usd", "7d")
    expected = sum(chart[-1]["totalCirculatingUSD"].values()) - sum(
        chart[-8]["totalCirculatingUSD"].values()
    )
    assert sup["change_usd"] == pytest.approx(expected, rel=1e-4)

    # Protocols: 1 d / 7 d from the API's percents; 30 d unknown without stored history.
    lido = flow(config, "protocol", "lido", "tvl_usd", "1d")
    assert lido["basis"] == "api"
    p = next(p for p in PROTOCOLS if p.slug == "lido")
    t = now_ms / DAY_MS
    assert lido["change_usd"] == pytest.approx(
        sim.protocol_tvl(p, t) - sim.protocol_tvl(p, t - 1), rel=1e-4
    )
    month = flow(config, "protocol", "lido", "tvl_usd", "30d")
    assert month["change_usd"] is None and month["basis"] is None
    young = flow(config, "protocol", "fresh-perps", "tvl_usd", "1d")
    assert young["change_usd"] is None and young["current_usd"] is not None

    usdt = flow(config, "stablecoin", "1", "circulating_usd", "1d")
    tether = STABLECOINS[0]
    assert usdt["change_usd"] == pytest.approx(
        sim.supply(tether, t) - sim.supply(tether, t - 1), rel=1e-4
    )
    assert not rows(config, "SELECT 1 FROM defillama_capital_flows WHERE metric LIKE 'bridge%'")


@pytest.mark.engines
async def test_protocol_30d_flow_from_stored_observations(
    llama: Llama, autojump_clock: object
) -> None:
    config = llama.config(top_protocols=20)
    async with llama.pipeline(config) as rt:
        assert (await run_channel(rt, "capital_base")).status == "ok"
        await settle()
        then = base_values(config, "tvl_usd", "protocol")
        observed = rows(config, "SELECT max(observed_at_ms) t FROM defillama_capital_base")[0]["t"]
        await trio.sleep(30 * 86_400)
        result = await run_channel(rt, "capital_flows")
    assert result.status == "ok", result.error
    row = flow(config, "protocol", "lido", "tvl_usd", "30d")
    assert row["basis"] == "stored"
    assert row["previous_usd"] == then["lido"]
    assert row["from_ms"] == observed // 1000 * 1000
    assert row["change_usd"] == pytest.approx(row["current_usd"] - then["lido"])


async def test_bridge_net_flows_with_a_key(llama: Llama, autojump_clock: object) -> None:
    llama.venue.bridges_key = "s3cret"
    config = llama.config(api_key="s3cret")
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_flows")
        now_ms = llama.clock.now_ms()
    assert result.status == "ok" and result.error is None
    today = math.floor(now_ms / DAY_MS)
    deposit, withdraw = llama.venue.simulator.bridge_day("Hyperliquid L1", today)
    row = flow(config, "chain", "Hyperliquid L1", "bridge_net_flow_usd", "1d")
    assert row["inflow_usd"] == pytest.approx(withdraw)
    assert row["outflow_usd"] == pytest.approx(deposit)
    assert row["change_usd"] == pytest.approx(withdraw - deposit)
    assert row["basis"] == "bridges"
    week = flow(config, "chain", "Hyperliquid L1", "bridge_net_flow_usd", "7d")
    days = [llama.venue.simulator.bridge_day("Hyperliquid L1", today - k) for k in range(7)]
    assert week["outflow_usd"] == pytest.approx(sum(d for d, _ in days))
    assert week["from_ms"] == (today - 6) * DAY_MS


@pytest.mark.parametrize(("venue_key", "status"), [(None, 403), ("other", 401)])
async def test_bridges_unavailable_is_noted_and_the_rest_lands(
    llama: Llama, autojump_clock: object, venue_key: str | None, status: int
) -> None:
    llama.venue.bridges_key = venue_key
    config = llama.config(api_key="mykey")
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_flows")
    assert result.status == "ok"
    assert result.error is not None and f"bridges unavailable: HTTP {status}" in result.error
    assert "mykey" not in result.error
    assert flow(config, "chain", "Ethereum", "tvl_usd", "1d")["basis"] == "history"
    runs = rows(config, "SELECT status, error FROM ingestion_runs WHERE channel='capital_flows'")
    assert runs[0]["status"] == "ok" and f"HTTP {status}" in runs[0]["error"]


# --- economic_throughput ---------------------------------------------------------------------


@pytest.mark.engines
async def test_economic_throughput(llama: Llama, autojump_clock: object) -> None:
    config = llama.config(top_protocols=20)
    sim = llama.venue.simulator
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "economic_throughput")
        now_ms = llama.clock.now_ms()
    assert result.status == "ok", result.error

    fee_requests = [q for _, p, q in llama.venue.requests if p == "/overview/fees"]
    assert sorted(q["dataType"] for q in fee_requests) == ["dailyFees", "dailyRevenue"]
    overviews = [q for _, p, q in llama.venue.requests if p.startswith("/overview/")]
    assert all(
        q["excludeTotalDataChart"] == "true" and q["excludeTotalDataChartBreakdown"] == "true"
        for q in overviews
    )

    def value(kind: str, sid: str, metric: str, period: str) -> float | None:
        found = rows(
            config,
            "SELECT value_usd FROM defillama_economic_throughput "
            "WHERE kind=? AND subject_id=? AND metric=? AND period=?",
            (kind, sid, metric, period),
        )
        assert len(found) == 1, (kind, sid, metric, period)
        return found[0]["value_usd"]

    fees = sim.overview("fees", "dailyFees", None, now_ms, charts=False)
    aave = next(r for r in fees["protocols"] if r["slug"] == "aave-v3")
    assert value("protocol", "aave-v3", "fees_usd", "24h") == pytest.approx(aave["total24h"])
    assert value("protocol", "aave-v3", "fees_usd", "30d") == pytest.approx(aave["total30d"])
    assert value("protocol", "aave-v3", "revenue_usd", "7d") == pytest.approx(
        0.35 * aave["total7d"]
    )
    # Rows with protocolType "chain" are the chain's own fees.
    eth = next(
        r for r in fees["protocols"] if r["protocolType"] == "chain" and r["name"] == "Ethereum"
    )
    assert value("chain", "Ethereum", "fees_usd", "24h") == pytest.approx(eth["total24h"])
    # DEX volume per chain from /overview/dexs/{chain}.
    dexs_eth = sim.overview("dexs", "dailyVolume", "Ethereum", now_ms, charts=False)
    assert value("chain", "Ethereum", "dex_volume_usd", "7d") == pytest.approx(dexs_eth["total7d"])
    assert llama.venue.hits("/overview/dexs/Hyperliquid L1") == 1
    uni = sim.overview("dexs", "dailyVolume", None, now_ms, charts=False)
    uni_row = next(r for r in uni["protocols"] if r["slug"] == "uniswap-v3")
    assert value("protocol", "uniswap-v3", "dex_volume_usd", "24h") == pytest.approx(
        uni_row["total24h"]
    )
    # A young protocol's null 30 d total stays NULL.
    assert value("protocol", "fresh-perps", "fees_usd", "30d") is None
    assert value("protocol", "fresh-perps", "fees_usd", "24h") is not None


# --- failures ------------------------------------------------------------------------------


async def test_a_failing_endpoint_fails_only_its_channel(
    llama: Llama, autojump_clock: object
) -> None:
    llama.venue.faults.add("/overview/fees", "500", count=100)
    config = llama.config()
    async with llama.pipeline(config) as rt:
        results = {ch: await run_channel(rt, ch) for ch in (
            "economic_throughput", "capital_base", "capital_flows"
        )}  # fmt: skip
    assert results["capital_base"].status == "ok"
    assert results["capital_flows"].status == "ok"
    failed = results["economic_throughput"]
    assert failed.status == "failed"
    assert failed.error is not None
    assert "/overview/fees?dataType=dailyFees" in failed.error and "HTTP 500" in failed.error
    assert "dailyRevenue" in failed.error
    # Retried (4 attempts per request), then the rest of the channel still landed.
    assert llama.venue.hits("/overview/fees") == 8
    dex = rows(config, "SELECT count(*) n FROM defillama_economic_throughput")
    assert dex[0]["n"] > 0
    assert rows(config, "SELECT count(*) n FROM defillama_capital_base")[0]["n"] > 0


@pytest.mark.parametrize(
    ("route", "kind", "expected"),
    [
        ("/v2/chains", "missing_field", "/v2/chains: PayloadError"),
        ("/protocols", "malformed", "/protocols: PayloadError"),
        ("/stablecoins", "truncated", "/stablecoins: PayloadError"),
        ("/stablecoinchains", "500", "/stablecoinchains: TransportFailed"),
    ],
)
async def test_bad_payloads_fail_the_run_with_a_clear_error(
    llama: Llama, autojump_clock: object, route: str, kind: str, expected: str
) -> None:
    llama.venue.faults.add(route, kind, count=10)
    config = llama.config()
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_base")
    assert result.status == "failed"
    assert result.error is not None and expected in result.error
    if kind == "missing_field":
        assert "missing required field `name` - at `$[0]`" in result.error
    # The endpoints that answered still landed.
    assert rows(config, "SELECT count(*) n FROM defillama_capital_base")[0]["n"] > 0


async def test_unknown_fields_are_ignored(llama: Llama, autojump_clock: object) -> None:
    for route in ("/protocols", "/v2/chains", "/stablecoins", "/stablecoinchains"):
        llama.venue.faults.add(route, "unknown_field")
    async with llama.pipeline() as rt:
        result = await run_channel(rt, "capital_base")
    assert result.status == "ok", result.error


async def test_429_honours_retry_after(llama: Llama, autojump_clock: object) -> None:
    llama.venue.faults.add("/protocols", "429", retry_after=42)
    async with llama.pipeline() as rt:
        t0 = trio.current_time()
        result = await run_channel(rt, "capital_base")
        elapsed = trio.current_time() - t0
    assert result.status == "ok", result.error
    assert llama.venue.hits("/protocols") == 2
    assert 42 <= elapsed < 60


async def test_a_hanging_endpoint_times_out(llama: Llama, autojump_clock: object) -> None:
    llama.venue.faults.add("/v2/chains", "hang", count=10)
    config = llama.config(timeout_s=5)
    async with llama.pipeline(config) as rt:
        t0 = trio.current_time()
        result = await run_channel(rt, "capital_base")
        elapsed = trio.current_time() - t0
    assert result.status == "failed"
    assert result.error is not None and "/v2/chains: TransportFailed" in result.error
    assert "timeout" in result.error
    assert 20 <= elapsed < 120  # 4 attempts of 5 s plus backoff
    assert rows(config, "SELECT count(*) n FROM defillama_capital_base")[0]["n"] > 0


async def test_the_running_guard_skips_overlapping_ticks(
    llama: Llama, autojump_clock: object
) -> None:
    llama.venue.faults.add("/protocols", "hang", hang_s=250)
    config = llama.config(
        "[defillama.channels]\ncapital_base = { enabled = true, cadence_s = 100 }\n",
        timeout_s=1000,
    )
    async with llama.pipeline(config) as rt:
        scheduler = Scheduler(rt, [spec(rt, "capital_base")])
        assert scheduler.channels[0].cadence_s == 100
        with trio.move_on_after(450):
            await scheduler.run()
        stats = scheduler.stats[("defillama", "capital_base")]
    # Ticks at 0 (a 250 s run), 100 and 200 (skipped), 300 and 400 (quick runs).
    assert (stats.started, stats.skipped) == (3, 2)
    runs = rows(
        config,
        "SELECT started_at_ms, finished_at_ms, status FROM ingestion_runs "
        "WHERE channel='capital_base' ORDER BY started_at_ms",
    )
    assert [r["status"] for r in runs] == ["ok", "ok", "ok"]
    assert runs[0]["finished_at_ms"] - runs[0]["started_at_ms"] >= 250_000
    for earlier, later in itertools.pairwise(runs):
        assert later["started_at_ms"] >= earlier["finished_at_ms"]


async def test_channels_run_alone_in_any_order(llama: Llama, autojump_clock: object) -> None:
    config = llama.config()
    async with llama.pipeline(config) as rt:
        for channel in ("economic_throughput", "capital_flows", "capital_base"):
            result = await run_channel(rt, channel)
            assert result.status == "ok", (channel, result.error)
            assert result.rows_written > 0
    tables = ("defillama_economic_throughput", "defillama_capital_flows", "defillama_capital_base")
    for table in tables:
        assert rows(config, f"SELECT count(*) n FROM {table}")[0]["n"] > 0


async def test_bridge_errors_are_notes_and_never_show_the_key(
    llama: Llama, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    llama.venue.bridges_key = "s3cret"
    llama.venue.faults.add("/bridges", "500")
    config = llama.config(api_key="s3cret")
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_flows")
    assert result.status == "ok"
    assert result.error is not None and "bridges failed: TransportFailed" in result.error
    assert "s3cret" not in result.error and "***" in result.error
    assert all("s3cret" not in r.getMessage() for r in caplog.records)
    assert llama.venue.hits("/bridges") == 1  # not retried: a retry would log the URL
    assert flow(config, "chain", "Ethereum", "tvl_usd", "7d")["basis"] == "history"


async def test_policy_inputs_are_shared_for_the_cache_ttl(
    llama: Llama, autojump_clock: object
) -> None:
    config = llama.config(cache_ttl_s=600)
    async with llama.pipeline(config) as rt:
        for channel in ("capital_base", "economic_throughput", "capital_flows"):
            assert (await run_channel(rt, channel)).status == "ok"
        assert llama.venue.hits("/protocols") == 1
        assert llama.venue.hits("/v2/chains") == 1
        assert llama.venue.hits("/stablecoins") == 1
        await trio.sleep(601)
        assert (await run_channel(rt, "economic_throughput")).status == "ok"
    assert llama.venue.hits("/protocols") == 2
    # Overviews and histories are never cached.
    assert llama.venue.hits("/overview/dexs") == 2
