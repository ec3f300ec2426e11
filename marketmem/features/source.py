"""The derived feature channels of Hyperliquid as a plug-in: five channels and their tables."""

from __future__ import annotations

from marketmem.features import tables
from marketmem.features.build import build
from marketmem.features.config import SECTION
from marketmem.source import Channel, Source, opener

CHANNELS = tuple(
    Channel("hyperliquid", name, 300, summary)
    for name, summary in (
        ("technical_indicators", "indicators on 1-minute and 1-hour candles"),
        ("funding_pressure", "funding rate against its 7-day history, basis, OI"),
        ("liquidity_profiles", "book depth, spread and impact per notional size"),
        ("volatility_profiles", "realised and range volatility, ATR, regime"),
        ("positioning_pressure", "open interest and price changes, quadrants"),
    )
)

SOURCE = Source(
    name="hyperliquid-features",
    channels=CHANNELS,
    settings=SECTION,
    tables=tables.TABLES,
    open=opener(build),
)
