"""The read functions of other parts of marketmem that latest-data composes, behind one
injectable object so tests can replace any of them.

``Unavailable`` is what a reader raises when the part behind it cannot answer: its
latest-data part is then null with that reason, while every other part keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from marketmem.retention.forming import current_hour_candle
from marketmem.storage.models.defillama import Subject
from marketmem.storage.models.features import FeatureRow
from marketmem.storage.models.hyperliquid import Candle, ExecutionPrice, HourCandle
from marketmem.storage.models.polymarket import AssetMarkets
from marketmem.storage.models.retention import FormingHour
from marketmem.storage.reads import defillama as defillama_reads
from marketmem.storage.reads import features as feature_reads
from marketmem.storage.reads import hyperliquid as hyperliquid_reads
from marketmem.storage.reads import polymarket as polymarket_reads


class Unavailable(Exception):
    """The part of marketmem behind a reader cannot answer."""


@dataclass(frozen=True)
class Readers:
    execution_price: Callable[..., ExecutionPrice | None] = field(
        default=hyperliquid_reads.execution_price
    )
    last_closed_candle: Callable[..., Candle | HourCandle | None] = field(
        default=hyperliquid_reads.last_closed_candle
    )
    current_hour_candle: Callable[..., FormingHour | None] = field(default=current_hour_candle)
    latest_features: Callable[..., dict[str, FeatureRow | None]] = field(
        default=feature_reads.latest_features
    )
    markets_for_asset: Callable[..., AssetMarkets] = field(
        default=polymarket_reads.markets_for_asset
    )
    metrics_for_asset: Callable[..., list[Subject]] = field(
        default=defillama_reads.metrics_for_asset
    )


def default_readers() -> Readers:
    return Readers()
