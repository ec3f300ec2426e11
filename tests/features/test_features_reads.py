"""The feature area's tables and reads on both engines (``engines``), written through the
storage's write functions as the writer runs them: the latest row of every feature channel
(its JSON ``null_reasons``, the liquidity profile's impacts), the window seeds, earlier
snapshots and the listed perps (booleans read as booleans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marketmem.events import (
    AssetCtxSnapshot,
    AssetCtxSnapshotBatch,
    AssetRegistryBatch,
    CandleBatch,
    Event,
    FundingPressure,
    FundingPressureBatch,
    HyperliquidAsset,
    LiquidityImpact,
    LiquidityProfile,
    LiquidityProfileBatch,
    PositioningPressure,
    PositioningPressureBatch,
    TechnicalIndicators,
    TechnicalIndicatorsBatch,
)
from marketmem.plugins import SOURCES
from marketmem.storage import engine, schema
from marketmem.storage.models.features import (
    LiquidityProfileRow,
    PositioningPressureRow,
    TechnicalIndicatorsRow,
    WindowHour,
    WindowMinute,
)
from marketmem.storage.reads import features as reads
from tests.conftest import T0_MS, minute_candle

pytestmark = pytest.mark.engines

M = 60_000


def row(model: Any, **values: Any) -> Any:
    """A feature row with every nullable column NULL but ``values``."""
    fields: dict[str, Any] = dict.fromkeys(model.__struct_fields__)
    fields.update(values)
    return model(**fields)


def asset(coin: str, index: int, *, delisted: bool = False) -> HyperliquidAsset:
    return HyperliquidAsset(
        coin=coin, asset_index=index, sz_decimals=2, max_leverage=10, margin_table_id=None,
        margin_tiers=None, is_delisted=delisted, only_isolated=False, margin_mode=None,
        first_seen_ms=T0_MS, last_seen_ms=T0_MS,
    )  # fmt: skip


@pytest.fixture
def conn(database: Path | str) -> Any:
    c = engine.open_writer(database)
    schema.migrate(c, SOURCES)
    yield c
    c.close()


def write(conn: Any, *events: Event) -> None:
    writers, afters = schema.writers(SOURCES), schema.after_writes(SOURCES)
    with conn:
        for event in events:
            writers[type(event)](conn, event)
            for after in afters.get(type(event), ()):
                after(conn, [event])


def test_the_latest_row_of_every_channel(conn: Any) -> None:
    assert reads.latest_features(conn, "BTC") == dict.fromkeys(reads.FEATURE_TABLES)
    write(
        conn,
        TechnicalIndicatorsBatch(
            rows=[
                row(TechnicalIndicators, coin="BTC", computed_at_ms=T0_MS, m1_close=1.0),
                row(
                    TechnicalIndicators,
                    coin="BTC",
                    computed_at_ms=T0_MS + 5 * M,
                    m1_close=2.0,
                    null_reasons='{"m1_rsi_14": "too_few_candles"}',
                ),
                row(TechnicalIndicators, coin="ETH", computed_at_ms=T0_MS + 10 * M, m1_close=9.0),
            ]
        ),
        LiquidityProfileBatch(
            rows=[row(LiquidityProfile, coin="BTC", computed_at_ms=T0_MS, spread_bps=1.5)],
            impacts=[
                row(LiquidityImpact, coin="BTC", computed_at_ms=T0_MS, notional_usd=n, side=s)
                for n in (100_000.0, 10_000.0)
                for s in ("sell", "buy")
            ],
        ),
        PositioningPressureBatch(
            rows=[row(PositioningPressure, coin="BTC", computed_at_ms=T0_MS, null_reasons=None)]
        ),
        FundingPressureBatch(rows=[row(FundingPressure, coin="ETH", computed_at_ms=T0_MS)]),
    )
    latest = reads.latest_features(conn, "BTC")
    tech = latest["technical_indicators"]
    assert isinstance(tech, TechnicalIndicatorsRow)
    assert (tech.computed_at_ms, tech.m1_close) == (T0_MS + 5 * M, 2.0)
    assert tech.null_reasons == {"m1_rsi_14": "too_few_candles"}
    liq = latest["liquidity_profiles"]
    assert isinstance(liq, LiquidityProfileRow) and liq.spread_bps == 1.5
    assert [(i.notional_usd, i.side) for i in liq.impacts] == [
        (10_000.0, "buy"),
        (10_000.0, "sell"),
        (100_000.0, "buy"),
        (100_000.0, "sell"),
    ]
    pos = latest["positioning_pressure"]
    assert isinstance(pos, PositioningPressureRow) and pos.null_reasons == {}
    assert latest["funding_pressure"] is None and latest["volatility_profiles"] is None


def test_window_seeds_snapshots_and_listed_perps(conn: Any) -> None:
    assert reads.listed_perps(conn) is None  # the registry has not run
    write(
        conn,
        CandleBatch(rows=[minute_candle(m, coin=c) for c in ("ETH", "BTC") for m in (3, 1, 2)]),
        AssetRegistryBatch(
            assets=[asset("BTC", 0), asset("MATIC", 1, delisted=True), asset("ETH", 2)],
            taxonomy=[],
            categories=[],
        ),
        AssetCtxSnapshotBatch(
            rows=[
                row(AssetCtxSnapshot, coin=c, snapshot_ms=t, mark_px=float(t))
                for c in ("BTC", "ETH")
                for t in (3 * M, M, 2 * M)
            ]
        ),
    )
    minutes = reads.minute_rows(conn, 2 * M)
    assert all(isinstance(r, WindowMinute) for r in minutes)
    assert [(r.coin, r.open_time_ms) for r in minutes] == [
        ("BTC", 2 * M),
        ("BTC", 3 * M),
        ("ETH", 2 * M),
        ("ETH", 3 * M),
    ]
    with conn:
        conn.execute(
            "INSERT INTO hyperliquid_candles_1h (coin, open_time_ms, close_time_ms, open, high, "
            "low, close, volume, trades, minute_count, rolled_up_at_ms) "
            "VALUES ('BTC', 0, 3599999, 1, 2, 0.5, 1.5, 3, 4, 3, 1)"
        )
    assert reads.hour_rows(conn, 0) == [WindowHour("BTC", 0, 1.0, 2.0, 0.5, 1.5, 3.0, 3)]
    assert reads.hour_rows(conn, 1) == []
    assert sorted(reads.listed_perps(conn) or []) == ["BTC", "ETH"]
    snaps = reads.snapshots_between(conn, [(M, 2 * M), (2 * M, 3 * M)])
    assert {c: [s.snapshot_ms for s in v] for c, v in snaps.items()} == {
        "BTC": [M, 2 * M, 3 * M],
        "ETH": [M, 2 * M, 3 * M],
    }
