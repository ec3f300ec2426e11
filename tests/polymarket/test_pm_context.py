"""The context reads on both engines (``engines``): an asset's immediate / later /
recently-closed markets in their order (unknown volume last), and the candidates a refresh
channel looks at (booleans compared as booleans: ``closed``, ``archived``)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from test_pm_reads import LINKS, MARKETS, NOW, H, link, market, write

from marketmem.events import (
    PolymarketContextMarket,
    PolymarketDiscovered,
    PolymarketMarketRow,
    PolymarketPlacement,
    PolymarketRefreshed,
)
from marketmem.storage import engine
from marketmem.storage.models.polymarket import Candidate
from marketmem.storage.reads.polymarket import (
    Bucket,
    discovery_has_data,
    markets_for_asset,
    placement_candidates,
)

pytestmark = pytest.mark.engines

DAY = 24 * H


def compact(m: PolymarketMarketRow, **kw: object) -> PolymarketContextMarket:
    fields = {
        f: getattr(m, f)
        for f in PolymarketContextMarket.__struct_fields__
        if f != "refreshed_at_ms"
    }
    fields.update(kw)
    return PolymarketContextMarket(**fields, refreshed_at_ms=NOW)  # type: ignore[arg-type]


def placed(m: PolymarketMarketRow, bucket: str, **kw: object) -> PolymarketPlacement:
    return PolymarketPlacement(
        market_id=m.market_id, bucket=bucket, at_ms=NOW, row=compact(m, **kw)
    )


BY_ID = {m.market_id: m for m in MARKETS}
# "8": open, ending soon, unknown volume (Gamma left it out); "9" archived.
SOON_UNKNOWN = market("8", "Will Bitcoin hold $80,000 tonight?", volume=None, end_ms=NOW + 2 * H)
ARCHIVED = market("9", "Will Bitcoin go sideways?", archived=True, end_ms=NOW + H)


@pytest.fixture
async def placed_db(database: Path | str) -> Path | str:
    await write(
        database,
        PolymarketDiscovered(
            events=[],
            markets=[*MARKETS, SOON_UNKNOWN, ARCHIVED],
            links=[*LINKS, link("8", "BTC"), link("9", "BTC")],
        ),
        PolymarketRefreshed(
            markets=[],
            placements=[
                placed(SOON_UNKNOWN, "immediate"),
                placed(BY_ID["2"], "immediate"),
                placed(BY_ID["1"], "later"),
                placed(BY_ID["3"], "later", volume=None),
                placed(BY_ID["5"], "recently_closed"),
                placed(BY_ID["4"], "later"),  # linked to ETH
            ],
        ),
    )
    return database


def context(location: Path | str, asset: str, limit: int = 20) -> dict[str, list[dict]]:
    conn = engine.open_ro(location)
    try:
        return msgspec.to_builtins(markets_for_asset(conn, asset, NOW, limit=limit))
    finally:
        conn.close()


def candidates(location: Path | str, bucket: Bucket) -> dict[str, Candidate]:
    conn = engine.open_ro(location)
    try:
        found = placement_candidates(conn, bucket, now_ms=NOW, horizon_ms=DAY, window_ms=7 * DAY)
    finally:
        conn.close()
    return {c.market_id: c for c in found}


async def test_an_assets_context_in_order(placed_db: Path | str) -> None:
    ctx = context(placed_db, "btc")
    ids = {bucket: [m["market_id"] for m in markets] for bucket, markets in ctx.items()}
    # Ending first; at the same end, larger volume first and unknown volume last.
    assert ids == {"immediate": ["2", "8"], "later": ["1", "3"], "recently_closed": ["5"]}
    soon = ctx["immediate"][0]
    assert soon["ends_in_s"] == 2 * 3600 and soon["end_date"].endswith("Z")
    assert soon["outcomes"] == [{"name": "Yes", "price": 0.6}, {"name": "No", "price": 0.4}]
    closed = ctx["recently_closed"][0]
    assert (closed["resolution"], closed["winner"]) == ("resolved", "No")
    assert ctx["later"][1]["volume"] is None
    assert [m["market_id"] for m in context(placed_db, "BTC", limit=1)["later"]] == ["1"]


async def test_unknown_times_order_last_on_both_engines(database: Path | str) -> None:
    """SQLite puts NULL first in ascending order, PostgreSQL last: the context orders say
    which, so an unknown end or close time comes after the known ones on either engine."""
    no_end = market("20", "Will Bitcoin ever flip gold?", volume=5000.0, end_ms=None)
    ends = market("21", "Will Bitcoin reach $1M by 2030?", volume=5000.0, end_ms=NOW + 900 * H)
    closed = {
        "closed": True, "resolution": "resolved", "resolved_outcome": 0,
        "outcome_prices": ["1", "0"],
    }  # fmt: skip
    unknown_close = market("22", "Was Bitcoin up in 2020?", end_ms=None, **closed)
    known_close = market("23", "Was Bitcoin up in 2021?", end_ms=NOW - 2 * H, **closed)
    await write(
        database,
        PolymarketDiscovered(
            events=[],
            markets=[no_end, ends, unknown_close, known_close],
            links=[link(m.market_id, "BTC") for m in (no_end, ends, unknown_close, known_close)],
        ),
        PolymarketRefreshed(
            markets=[],
            placements=[
                placed(no_end, "later"),
                placed(ends, "later"),
                placed(unknown_close, "recently_closed"),
                placed(known_close, "recently_closed"),
            ],
        ),
    )
    ctx = context(database, "BTC")
    assert [m["market_id"] for m in ctx["later"]] == ["21", "20"]  # same volume: known end first
    assert [m["market_id"] for m in ctx["recently_closed"]] == ["23", "22"]


async def test_refresh_candidates_follow_the_stored_state(placed_db: Path | str) -> None:
    def state(bucket: Bucket) -> dict[str, tuple[bool, bool | None]]:
        return {
            market_id: (c.linked, None if c.stored is None else c.stored.closed)
            for market_id, c in candidates(placed_db, bucket).items()
        }

    # Linked, open, not archived and ending within the horizon: 2 and 8 (9 is archived, 6 has
    # no link); later: the linked ones ending past the horizon, whatever the asset.
    assert state("immediate") == {"2": (True, False), "8": (True, False)}
    assert state("later") == {"1": (True, False), "3": (True, False), "4": (True, False)}
    # Closed within the window (5), or past its end and not closed yet (7).
    assert state("recently_closed") == {"5": (True, True), "7": (True, False)}
    stored = candidates(placed_db, "recently_closed")["5"].stored
    assert stored is not None and stored.closed is True and stored.archived is False
    assert stored.outcome_prices == ["0", "1"] and stored.tags == ["crypto"]


def test_discovery_has_data_only_after_a_run_that_wrote_rows(database: Path | str) -> None:
    from marketmem.plugins import SOURCES
    from marketmem.storage import schema

    conn = engine.open_writer(database)
    schema.migrate(conn, SOURCES)
    assert not discovery_has_data(conn)
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status, "
        "rows_written) VALUES ('a', 'polymarket', 'discovery', 1, 'ok', 0)"
    )
    assert not discovery_has_data(conn)
    conn.execute(
        "INSERT INTO ingestion_runs (run_id, source, channel, started_at_ms, status, "
        "rows_written) VALUES ('b', 'polymarket', 'discovery', 2, 'ok', 3)"
    )
    assert discovery_has_data(conn)
    conn.close()
