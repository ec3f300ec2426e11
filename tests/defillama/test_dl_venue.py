"""The local DefiLlama venue: recorded shapes, errors, bridges auth, faults, recorded bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import httpx
import pytest
import trio
from dl_helpers import Llama, rows, run_channel

from marketmem.commands.core import ingest_once
from marketmem.config import Config
from marketmem.venues.defillama import (
    DefillamaSimulator,
    DefillamaVenue,
    Faults,
    serve_defillama_venue,
)
from tests.conftest import T0_MS, fixture_path, needs_fixtures


async def get(url: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, params=params)


async def test_unknown_routes_answer_text_404(llama: Llama, autojump_clock: object) -> None:
    base = llama.urls.api_url.rsplit("/", 1)[0]
    for url in (f"{base}/nope", f"{llama.urls.api_url}/summary/dexs/x", f"{base}/api/v2/nope"):
        resp = await get(url)
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("text/plain")
        assert resp.content == b"404 page not found"
    unknown_chain = await get(f"{llama.urls.api_url}/v2/historicalChainTvl/Nowhere")
    assert unknown_chain.status_code == 404


async def test_bridges_need_the_configured_key(llama: Llama, autojump_clock: object) -> None:
    url = llama.urls.bridges_url
    assert (await get(url.replace("{api_key}", "any") + "/bridges")).status_code == 403
    llama.venue.bridges_key = "k"
    assert (await get(url.replace("{api_key}", "bad") + "/bridges")).status_code == 401
    ok = await get(url.replace("{api_key}", "k") + "/bridgevolume/Solana")
    assert ok.status_code == 200
    assert all(isinstance(p["date"], str) for p in ok.json())


async def test_recorded_shapes(llama: Llama, autojump_clock: object) -> None:
    api, stable = llama.urls.api_url, llama.urls.stablecoins_url
    protocols = (await get(f"{api}/protocols")).json()
    keys = {k for p in protocols for k in p["chainTvls"]}
    assert {"staking", "borrowed", "pool2", "Ethereum-borrowed"} <= keys
    assert any(p["symbol"] == "-" for p in protocols)
    assert any(p["change_1d"] is None for p in protocols)
    history = (await get(f"{api}/v2/historicalChainTvl/Hyperliquid L1")).json()
    assert all(isinstance(p["date"], int) for p in history)
    chart = (await get(f"{stable}/stablecoincharts/Ethereum")).json()
    assert all(isinstance(p["date"], str) for p in chart)
    assets = (await get(f"{stable}/stablecoins", includePrices="true")).json()["peggedAssets"]
    eurc = next(a for a in assets if a["symbol"] == "EURC")
    assert set(eurc["circulating"]) == {"peggedEUR"} and eurc["price"] > 1
    assert next(a for a in assets if a["symbol"] == "FRSH")["price"] is None
    full = (await get(f"{api}/overview/fees")).json()
    assert full["totalDataChart"] and full["totalDataChartBreakdown"]
    lean = (
        await get(
            f"{api}/overview/fees",
            excludeTotalDataChart="true",
            excludeTotalDataChartBreakdown="true",
            dataType="dailyRevenue",
        )
    ).json()
    assert lean["totalDataChart"] == [] and lean["totalDataChartBreakdown"] == []
    assert {r["protocolType"] for r in lean["protocols"]} == {"protocol", "chain"}


async def test_simulator_is_deterministic_and_moves_with_time() -> None:
    a, b, c = DefillamaSimulator(1), DefillamaSimulator(1), DefillamaSimulator(2)
    assert a.protocols(T0_MS) == b.protocols(T0_MS)
    assert a.protocols(T0_MS) != c.protocols(T0_MS)
    later = a.chains(T0_MS + 3_600_000)
    assert [x["tvl"] for x in later] != [x["tvl"] for x in a.chains(T0_MS)]
    assert a.overview("fees", "dailyFees", None, T0_MS, False) == b.overview(
        "fees", "dailyFees", None, T0_MS, False
    )
    a.hidden.add("Ethereum")
    assert "Ethereum" not in {x["name"] for x in a.chains(T0_MS)}


async def test_faults(llama: Llama, autojump_clock: object) -> None:
    api = llama.urls.api_url
    faults = llama.venue.faults
    faults.add("/protocols", "429", retry_after=3)
    faults.add("/protocols", "500")
    faults.add("/protocols", "malformed")
    faults.add("/protocols", "truncated")
    faults.add("/protocols", "missing_field", field="slug")
    faults.add("/protocols", "unknown_field")
    first = await get(f"{api}/protocols")
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert (await get(f"{api}/protocols")).status_code == 500
    with pytest.raises(json.JSONDecodeError):
        (await get(f"{api}/protocols")).json()
    with pytest.raises(json.JSONDecodeError):
        (await get(f"{api}/protocols")).json()
    assert all("slug" not in p for p in (await get(f"{api}/protocols")).json())
    spoiled = (await get(f"{api}/protocols")).json()
    assert all("unexpectedField" in p for p in spoiled)
    assert all("unexpectedField" not in p["chainTvls"] for p in spoiled)  # maps untouched
    assert (await get(f"{api}/protocols")).status_code == 200  # the queue is used up
    faults.add("/v2/historicalChainTvl/*", "500", count=2)
    assert (await get(f"{api}/v2/historicalChainTvl/Ethereum")).status_code == 500
    assert (await get(f"{api}/v2/historicalChainTvl/Solana")).status_code == 500
    assert (await get(f"{api}/v2/historicalChainTvl/Solana")).status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        Faults().add("/x", "explode")


async def test_hang_fault_times_the_client_out(llama: Llama, autojump_clock: object) -> None:
    llama.venue.faults.add("/v2/chains", "hang")
    t0 = trio.current_time()
    with pytest.raises(httpx.ReadTimeout):
        await get(f"{llama.urls.api_url}/v2/chains")
    assert trio.current_time() - t0 == pytest.approx(5, abs=0.5)


@needs_fixtures("defillama")
async def test_recorded_bodies_are_served_verbatim(llama: Llama, autojump_clock: object) -> None:
    protocols = fixture_path("defillama", "protocols.json")
    llama.venue.recorded_dir = protocols.parent
    llama.venue.bridges_key = "k"
    resp = await get(f"{llama.urls.api_url}/protocols")
    assert resp.content == protocols.read_bytes()
    volume = await get(llama.urls.bridges_url.replace("{api_key}", "k") + "/bridgevolume/Any")
    assert volume.content == fixture_path("defillama", "docexample_bridgevolume.json").read_bytes()
    # Routes with no recording are still simulated.
    assert (await get(f"{llama.urls.stablecoins_url}/stablecoinchains")).status_code == 200


@needs_fixtures("defillama")
async def test_capital_base_on_recorded_payloads(llama: Llama, autojump_clock: object) -> None:
    llama.venue.recorded_dir = fixture_path("defillama", "protocols.json").parent
    config = llama.config(top_chains=2, top_protocols=3, tracked_assets=["BTC"])
    async with llama.pipeline(config) as rt:
        result = await run_channel(rt, "capital_base")
    assert result.status == "ok", result.error
    tvl = {
        (r["kind"], r["subject_id"]): r["value_usd"]
        for r in rows(config, "SELECT * FROM defillama_capital_base WHERE metric='tvl_usd'")
    }
    assert tvl[("protocol", "curve")] == 20160688519.658134
    assert ("protocol", "wbtc") in tvl  # linked to BTC through the WBTC alias
    assert ("chain", "Ethereum") in tvl and ("chain", "Bitcoin") in tvl
    staking = rows(
        config,
        "SELECT value_usd FROM defillama_capital_base WHERE subject_id='curve' "
        "AND metric='staking_usd'",
    )
    assert staking == [{"value_usd": 991758757.0910882}]


async def test_ingest_command_runs_defillama_once(
    nursery: trio.Nursery,
    make_config: Callable[..., Config],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Real clock and threads: what `bin/marketmem ingest defillama` does.
    venue = DefillamaVenue(simulator=DefillamaSimulator(3))
    urls = await nursery.start(partial(serve_defillama_venue, venue))
    config = make_config(
        f'[defillama]\napi_url = "{urls.api_url}"\nstablecoins_url = "{urls.stablecoins_url}"\n'
        "top_chains = 2\ntop_protocols = 2\ntop_stablecoins = 2\n"
    )
    with trio.fail_after(20):
        code = await ingest_once(config, "defillama", "capital_flows")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "defillama/capital_flows: ok" in out
    assert "defillama_capital_flows:" in out and "defillama_subjects:" in out
    assert "capital_base" not in out.replace("defillama_capital_base", "")
