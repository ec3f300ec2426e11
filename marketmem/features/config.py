"""``[hyperliquid.features]``: windows, thresholds and request limits of the five features."""

from __future__ import annotations

from typing import Annotated

import msgspec

from marketmem.config import Base, PositiveInt, PositiveSeconds
from marketmem.source import Section


class FeaturesConfig(Base):
    """``[hyperliquid.features]``: the five derived feature channels."""

    # 1-minute / 1-hour bars per technical-indicator window (VWAP and range span all of it).
    technical_bars_1m: PositiveInt = 240
    technical_bars_1h: PositiveInt = 72
    # Candle-based values are NULL (stale) when the latest bar ended longer ago than this.
    candle_stale_s: PositiveSeconds = 900.0
    # Volatility regime: Parkinson volatility of the last N closed hours ranked against the
    # coin's own hourly history; percentile cut-offs low < high < extreme.
    regime_window_hours: PositiveInt = 4
    regime_min_history: PositiveInt = 48
    regime_low_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.2
    regime_high_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.8
    regime_extreme_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.95
    # Funding: |hourly rate| at or below this is "neutral" (default: the interest-only floor).
    funding_neutral_rate: Annotated[float, msgspec.Meta(ge=0)] = 0.0000125
    funding_zscore_min_points: PositiveInt = 24
    # fundingHistory requests per run at most (weight 20+ each; histories refresh hourly).
    funding_history_requests_per_run: PositiveInt = 30
    # Liquidity: impact sizes walked through the book (USD), and the pause between two l2Book
    # requests (shortened so one run's requests fit in 80% of the cadence).
    impact_notionals_usd: list[Annotated[float, msgspec.Meta(gt=0)]] = msgspec.field(
        default_factory=lambda: [10_000.0, 100_000.0, 1_000_000.0]
    )
    l2_request_spacing_s: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    # A liquidity run gives up after this many l2Book failures in a row with no success.
    l2_max_consecutive_failures: PositiveInt = 5
    # Positioning: moves smaller than these (percent) label the quadrant "neutral".
    quadrant_price_pct: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    quadrant_oi_pct: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    # One metaAndAssetCtxs answer is shared by the channels that run within this many seconds.
    ctx_max_age_s: PositiveSeconds = 60.0
    # The first candle-based pass after start waits at most this long for the stream's first
    # backfill to give every coin a recent bar.
    first_run_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0


SECTION = Section(("hyperliquid", "features"), FeaturesConfig)
