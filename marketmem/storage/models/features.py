"""Read models of the feature area: candle window seeds and the latest row of each channel.

A channel's latest row is its event row (``marketmem.events``: the table's columns, in
order) with ``null_reasons`` decoded from its JSON text (column -> why it is NULL), and for
the liquidity profile the impacts computed with it.
"""

from __future__ import annotations

import msgspec

from marketmem import events


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


# Each row model redeclares only ``null_reasons`` (kw_only keeps it in its column's place);
# the type differs from the event's on purpose, hence the ignore.


class TechnicalIndicatorsRow(events.TechnicalIndicators, frozen=True, kw_only=True):
    """The latest row of technical_indicators: on 1-minute (``m1_``) and 1-hour (``h1_``) bars."""

    null_reasons: dict[str, str]  # type: ignore[assignment]


class FundingPressureRow(events.FundingPressure, frozen=True, kw_only=True):
    """The latest row of funding_pressure."""

    null_reasons: dict[str, str]  # type: ignore[assignment]


class LiquidityProfileRow(events.LiquidityProfile, frozen=True, kw_only=True):
    """The latest row of liquidity_profiles, with the impacts computed with it."""

    null_reasons: dict[str, str]  # type: ignore[assignment]
    impacts: list[Impact] = msgspec.field(default_factory=list)


class VolatilityProfileRow(events.VolatilityProfile, frozen=True, kw_only=True):
    """The latest row of volatility_profiles."""

    null_reasons: dict[str, str]  # type: ignore[assignment]


class PositioningPressureRow(events.PositioningPressure, frozen=True, kw_only=True):
    """The latest row of positioning_pressure."""

    null_reasons: dict[str, str]  # type: ignore[assignment]


FeatureRow = (
    TechnicalIndicatorsRow
    | FundingPressureRow
    | LiquidityProfileRow
    | VolatilityProfileRow
    | PositioningPressureRow
)
