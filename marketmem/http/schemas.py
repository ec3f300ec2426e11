"""Request and response bodies as msgspec Structs: they encode the responses and, through
``msgspec.json.schema_components``, describe them in ``/openapi.json``.

Rows owned by other parts of marketmem (assets, markets, subjects, feature rows) travel as
plain objects: the JSON form of their read models (``marketmem.storage.models``), which
document their shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

Obj = dict[str, Any]

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
    immediate: list[Obj]
    later: list[Obj]


class PartFreshness(Struct, kw_only=True):
    """``stale`` per the health rules: the data (or, without a data time, the channel's last
    success) is older than ``stale_after_s`` of the channel that feeds it."""

    stale: bool
    age_ms: int | None
    stale_after_s: float
    channel: str
    channel_status: str


class LatestData(Struct, kw_only=True):
    """Parts not asked for are absent; parts asked for but missing are null, with a reason in
    ``missing`` (keyed by part, ``features.<channel>`` for one feature table)."""

    clone_id: str
    symbol: str
    as_of_ms: int
    execution_price: ExecutionPrice | UnsetType | None = UNSET
    candle_1m: Obj | UnsetType | None = UNSET
    candle_1h: Obj | UnsetType | None = UNSET
    features: dict[str, Obj | None] | UnsetType | None = UNSET
    polymarket: Markets | UnsetType | None = UNSET
    defillama: list[Obj] | UnsetType | None = UNSET
    freshness: dict[str, PartFreshness] = msgspec.field(default_factory=dict)
    missing: dict[str, str] = msgspec.field(default_factory=dict)


# --- health and dashboard ------------------------------------------------------------------


class ChannelHealth(Struct, kw_only=True):
    source: str
    channel: str
    enabled: bool
    status: str
    cadence_s: float
    stale_after_s: float
    last_started_at_ms: int | None
    last_finished_at_ms: int | None
    last_success_at_ms: int | None
    rows_written: int | None
    error: str | None


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
