"""Read models of the feature area: candle window seeds and the latest row of each channel.

A channel's row has its table's columns (the fields of its event row type in
``marketmem.events``, in order) with ``null_reasons`` decoded (column -> why it is NULL);
``tests/storage/test_read_models.py`` keeps the two in step.
"""

from __future__ import annotations

import msgspec


class WindowMinute(msgspec.Struct, frozen=True, gc=False):
    """A stored 1-minute bar as the candle windows take it."""

    coin: str
    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    updated_at_ms: int


class WindowHour(msgspec.Struct, frozen=True, gc=False):
    """A rolled-up hour as the candle windows take it."""

    coin: str
    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    minute_count: int


class Impact(msgspec.Struct, frozen=True, gc=False):
    """The cost of one notional on one side of the book (``hyperliquid_liquidity_impacts``)."""

    notional_usd: float
    side: str
    avg_px: float | None
    worst_px: float | None
    slippage_bps: float | None
    null_reason: str | None


class TechnicalIndicatorsRow(msgspec.Struct, frozen=True):
    """The latest row of technical_indicators: on 1-minute (``m1_``) and 1-hour (``h1_``) bars."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    m1_close: float | None
    m1_sma_20: float | None
    m1_sma_50: float | None
    m1_ema_20: float | None
    m1_ema_50: float | None
    m1_rsi_14: float | None
    m1_macd: float | None
    m1_macd_signal: float | None
    m1_macd_hist: float | None
    m1_bb_upper: float | None
    m1_bb_middle: float | None
    m1_bb_lower: float | None
    m1_bb_pct_b: float | None
    m1_bb_bandwidth: float | None
    m1_atr_14: float | None
    m1_vwap: float | None
    m1_roc_12: float | None
    m1_high: float | None
    m1_low: float | None
    m1_range_pct: float | None
    m1_range_position: float | None
    h1_close: float | None
    h1_sma_20: float | None
    h1_sma_50: float | None
    h1_ema_20: float | None
    h1_ema_50: float | None
    h1_rsi_14: float | None
    h1_macd: float | None
    h1_macd_signal: float | None
    h1_macd_hist: float | None
    h1_bb_upper: float | None
    h1_bb_middle: float | None
    h1_bb_lower: float | None
    h1_bb_pct_b: float | None
    h1_bb_bandwidth: float | None
    h1_atr_14: float | None
    h1_vwap: float | None
    h1_roc_12: float | None
    h1_high: float | None
    h1_low: float | None
    h1_range_pct: float | None
    h1_range_position: float | None
    null_reasons: dict[str, str]


class FundingPressureRow(msgspec.Struct, frozen=True):
    """The latest row of funding_pressure."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    funding_rate: float | None
    funding_annualized: float | None
    premium: float | None
    mark_px: float | None
    oracle_px: float | None
    basis_bps: float | None
    predicted_funding_rate: float | None
    next_funding_time_ms: int | None
    binance_funding_hourly: float | None
    bybit_funding_hourly: float | None
    funding_mean_7d: float | None
    funding_std_7d: float | None
    funding_zscore_7d: float | None
    funding_history_points: int | None
    open_interest: float | None
    oi_notional_usd: float | None
    funding_x_oi_usd_hourly: float | None
    direction: str | None
    null_reasons: dict[str, str]


class LiquidityProfileRow(msgspec.Struct, frozen=True):
    """The latest row of liquidity_profiles, with the impacts computed with it."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    best_bid: float | None
    best_ask: float | None
    mid_px: float | None
    spread_bps: float | None
    bid_depth_10bps: float | None
    ask_depth_10bps: float | None
    bid_depth_25bps: float | None
    ask_depth_25bps: float | None
    bid_depth_50bps: float | None
    ask_depth_50bps: float | None
    bid_depth_100bps: float | None
    ask_depth_100bps: float | None
    bid_depth_visible: float | None
    ask_depth_visible: float | None
    bid_reach_bps: float | None
    ask_reach_bps: float | None
    imbalance_10bps: float | None
    imbalance_visible: float | None
    venue_impact_bid_px: float | None
    venue_impact_ask_px: float | None
    venue_impact_spread_bps: float | None
    day_ntl_vlm: float | None
    null_reasons: dict[str, str]
    impacts: list[Impact] = []


class VolatilityProfileRow(msgspec.Struct, frozen=True):
    """The latest row of volatility_profiles."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    close: float | None
    rv_1h: float | None
    rv_4h: float | None
    rv_24h: float | None
    rv_7d: float | None
    parkinson_24h: float | None
    garman_klass_24h: float | None
    parkinson_7d: float | None
    garman_klass_7d: float | None
    atr_pct_1m: float | None
    atr_pct_1h: float | None
    regime_percentile: float | None
    regime: str | None
    null_reasons: dict[str, str]


class PositioningPressureRow(msgspec.Struct, frozen=True):
    """The latest row of positioning_pressure."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    mark_px: float | None
    open_interest: float | None
    oi_notional_usd: float | None
    day_ntl_vlm: float | None
    oi_to_volume_24h: float | None
    oi_change_pct_5m: float | None
    oi_change_pct_1h: float | None
    oi_change_pct_24h: float | None
    price_change_pct_5m: float | None
    price_change_pct_1h: float | None
    price_change_pct_24h: float | None
    quadrant_5m: str | None
    quadrant_1h: str | None
    quadrant_24h: str | None
    null_reasons: dict[str, str]


FeatureRow = (
    TechnicalIndicatorsRow
    | FundingPressureRow
    | LiquidityProfileRow
    | VolatilityProfileRow
    | PositioningPressureRow
)
