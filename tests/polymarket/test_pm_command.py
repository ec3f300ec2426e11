"""``marketmem discover polymarket``: one discovery run against the local venue, counts printed
(SQLite only: what a discovery stores runs on both engines in test_pm_channels.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pm_helpers import open_venue, pm_config, rows

from marketmem.cli import build_parser
from marketmem.clock import SystemClock
from marketmem.config import Config
from marketmem.sources.polymarket.command import discover_polymarket, main
from marketmem.venues.polymarket import Simulator


def test_parser_accepts_discover_polymarket_only() -> None:
    args = build_parser().parse_args(["discover", "polymarket"])
    assert args.func is main and args.source == "polymarket"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["discover", "kalshi"])


async def test_discover_prints_counts(
    make_config: Callable[..., Config], capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_venue(Simulator(SystemClock())) as url:
        config = pm_config(make_config, url)
        assert await discover_polymarket(config) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "polymarket/discovery: ok"
    n_markets = rows(config.database(), "SELECT count(*) AS n FROM polymarket_markets")[0]["n"]
    assert f"  markets: {n_markets}" in lines
    btc = rows(
        config.database(),
        "SELECT count(*) AS n FROM polymarket_market_asset_links WHERE asset='BTC'",
    )[0]["n"]
    assert btc > 0 and any(line.split() == ["BTC", str(btc)] for line in lines)
    assert "page(s)" not in err  # progress only on a terminal


async def test_discover_failure_exits_1(
    make_config: Callable[..., Config], capsys: pytest.CaptureFixture[str]
) -> None:
    sim = Simulator(SystemClock())
    sim.faults.add("missing_field")
    async with open_venue(sim) as url:
        assert await discover_polymarket(pm_config(make_config, url)) == 1
    out = capsys.readouterr().out
    assert out.startswith("polymarket/discovery: failed (PayloadError:")
