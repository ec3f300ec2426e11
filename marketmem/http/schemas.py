"""Request and response bodies as msgspec Structs: they encode the responses and, through
``msgspec.json.schema_components``, describe them in ``/openapi.json``.

Rows owned by other parts of marketmem travel as their read models
(``marketmem.storage.models``, ``marketmem.events``), so every field of every answer is typed.
The latest-data answer is sent as ``LATEST_DATA`` (``http.compact``: the same Structs with
every nullable field optional), in its compact form (no nulls) or, with ``?verbose=1``, whole.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from marketmem.events import Candle
from marketmem.http.compact import answer_type
from marketmem.storage.models.defillama import Subject
from marketmem.storage.models.features import (
    FundingPressureRow,
    LiquidityProfileRow,
    PositioningPressureRow,
    TechnicalIndicatorsRow,
    VolatilityProfileRow,
)
from marketmem.storage.models.hyperliquid import Bar
from marketmem.storage.models.polymarket import ContextMarket
from marketmem.storage.models.retention import FormingHour
from marketmem.storage.models.runs import ChannelHealth

PART_NAMES: tuple[str, ...] = (
    "execution_price",
    "candle_1m",
    "candle_1h",
    "features",
    "polymarket",
    "defillama",
)
PartName = Literal[
    "execution_price", "candle_1m", "candle_1h", "features", "polymarket", "defillama"
]


class ErrorDetail(Struct):
    code: str
    message: str


class ErrorBody(Struct):
    error: ErrorDetail


# --- latest data -------------------------------------------------------------------------


class LatestDataRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Narrows the latest-data answer; an empty body (or ``{}``) asks for every part."""

    include: list[PartName] | None = None
    max_markets: Annotated[int, Meta(ge=1, le=20)] = 5
    max_subjects: Annotated[int, Meta(ge=1, le=50)] = 5


class ExecutionPrice(Struct, kw_only=True):
    price: float
    source: Literal["mid", "candle_close"]
    at_ms: int
    age_ms: int


class Markets(Struct, kw_only=True):
    immediate: list[ContextMarket]
    later: list[ContextMarket]


class Features(Struct, kw_only=True):
    """The latest row of each feature channel; null (absent when compact) without one, its
    reason in ``missing``."""

    technical_indicators: TechnicalIndicatorsRow | None = None
    funding_pressure: FundingPressureRow | None = None
    liquidity_profiles: LiquidityProfileRow | None = None
    volatility_profiles: VolatilityProfileRow | None = None
    positioning_pressure: PositioningPressureRow | None = None


class PartFreshness(Struct, kw_only=True):
    """``stale`` per the health rules: the data (or, without a data time, the channel's last
    success) is older than ``stale_after_s`` of the channel that feeds it."""

    stale: bool
    age_ms: int | None
    stale_after_s: float
    channel: str
    channel_status: str


class LatestData(Struct, kw_only=True):
    """Parts not asked for are absent; a part asked for that has no data is null (absent
    when compact), and ``missing`` says why, keyed by part: ``features.<channel>`` for one
    feature row (also when it has a row whose every value is NULL), ``execution_price.mid``
    when the price is a candle close for want of a fresh mid, ``polymarket.immediate`` /
    ``polymarket.later`` for an empty list of markets."""

    clone_id: str
    symbol: str
    as_of_ms: int
    execution_price: ExecutionPrice | UnsetType | None = UNSET
    candle_1m: Candle | UnsetType | None = UNSET
    candle_1h: FormingHour | UnsetType | None = UNSET
    features: Features | UnsetType | None = UNSET
    polymarket: Markets | UnsetType | None = UNSET
    defillama: list[Subject] | UnsetType | None = UNSET
    freshness: dict[str, PartFreshness] = msgspec.field(default_factory=dict)
    missing: dict[str, str] = msgspec.field(default_factory=dict)


# What latest-data answers: ``LatestData`` with every nullable field optional; its Structs
# are named ``Latest<Name>`` in /openapi.json.
LATEST_DATA = answer_type(LatestData, "Latest")


# --- candle history ----------------------------------------------------------------------


class CandlePage(Struct, kw_only=True):
    """Bars of one symbol by open time, ascending, within ``start_ms``..``end_ms`` (both
    inclusive, the range this page was cut from); ``next_cursor`` (pass it as ``cursor``
    with the same symbol, interval, start and end) when more bars follow, else null."""

    symbol: str
    interval: Literal["1m", "1h"]
    start_ms: int
    end_ms: int
    limit: int
    count: int
    bars: list[Bar]
    next_cursor: str | None


# --- health and dashboard ------------------------------------------------------------------


class HealthResponse(Struct, kw_only=True):
    generated_at_ms: int
    channels: list[ChannelHealth]


class DashboardChannel(Struct, kw_only=True):
    source: str
    channel: str
    enabled: bool
    status: str
    cadence_s: float
    stale_after_s: float
    last_success_at_ms: int | None
    last_success_age_s: float | None
    rows_written: int | None
    last_run_failed: bool


class SourceFreshness(Struct, kw_only=True):
    source: str
    enabled_channels: int
    worst_status: str
    newest_success_age_s: float | None
    oldest_success_age_s: float | None


class PriceAge(Struct, kw_only=True):
    coins: int
    newest_age_s: float | None
    oldest_age_s: float | None


class Dashboard(Struct, kw_only=True):
    generated_at_ms: int
    status_counts: dict[str, int]
    channels: list[DashboardChannel]
    sources: list[SourceFreshness]
    tables: dict[str, int]
    prices: dict[str, PriceAge]
