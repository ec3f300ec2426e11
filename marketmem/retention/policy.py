"""What is kept, and the exact boundaries of one maintenance pass: pure, no I/O.

DESIGN.md's retention: mid prices 30 minutes, 1-minute candles 24 hours, 1-hour candles
7 days, derived feature rows 7 days (each configurable in ``[hyperliquid]``). A row is expired
when its time is strictly before ``now - keep``; a row exactly on the boundary is kept.

``RETAINED_TABLES`` declares every table expired by time alone (1-minute candles are special:
their hour must be rolled up first). A table that holds derived rows is added here with its
time column; that column needs an index (or to lead one), so a pass seeks instead of scanning.
A declared table that does not exist in the database is skipped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from marketmem.clock import HOUR_MS
from marketmem.retention.rollup import hour_start
from marketmem.sources.hyperliquid.config import HyperliquidConfig

# The table names are the storage's; the retention area names them from here.
from marketmem.storage.reads.retention import HOURS_TABLE as HOURS_TABLE
from marketmem.storage.reads.retention import MIDS_TABLE as MIDS_TABLE
from marketmem.storage.reads.retention import MINUTES_TABLE as MINUTES_TABLE
from marketmem.storage.reads.retention import PENDING_TABLE as PENDING_TABLE


class Keep(Enum):
    """Which retention period a table follows."""

    MIDS = "mids"
    CANDLES_1H = "candles_1h"
    FEATURES = "features"


@dataclass(frozen=True)
class RetainedTable:
    table: str
    time_column: str
    keep: Keep


RETAINED_TABLES: tuple[RetainedTable, ...] = (
    RetainedTable(HOURS_TABLE, "open_time_ms", Keep.CANDLES_1H),
    RetainedTable(MIDS_TABLE, "bucket_ms", Keep.MIDS),
    # Derived feature rows (marketmem/features/tables.py; each has a *_by_time index).
    RetainedTable("hyperliquid_technical_indicators", "computed_at_ms", Keep.FEATURES),
    RetainedTable("hyperliquid_funding_pressure", "computed_at_ms", Keep.FEATURES),
    RetainedTable("hyperliquid_liquidity_profiles", "computed_at_ms", Keep.FEATURES),
    RetainedTable("hyperliquid_liquidity_impacts", "computed_at_ms", Keep.FEATURES),
    RetainedTable("hyperliquid_volatility_profiles", "computed_at_ms", Keep.FEATURES),
    RetainedTable("hyperliquid_positioning_pressure", "computed_at_ms", Keep.FEATURES),
    # The asset-context snapshots the features are computed from: kept as long as features.
    RetainedTable("hyperliquid_asset_ctx_snapshots", "snapshot_ms", Keep.FEATURES),
)

RETAINED_BY_NAME: dict[str, RetainedTable] = {t.table: t for t in RETAINED_TABLES}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


_DEFAULTS = HyperliquidConfig()  # the defaults are the config's, never written twice


@dataclass(frozen=True)
class RetentionPolicy:
    mids_ms: int = _ms(_DEFAULTS.retention_mids_s)
    candles_1m_ms: int = _ms(_DEFAULTS.retention_candles_1m_s)
    candles_1h_ms: int = _ms(_DEFAULTS.retention_candles_1h_s)
    features_ms: int = _ms(_DEFAULTS.retention_features_s)

    @classmethod
    def from_config(cls, cfg: HyperliquidConfig) -> RetentionPolicy:
        return cls(
            mids_ms=_ms(cfg.retention_mids_s),
            candles_1m_ms=_ms(cfg.retention_candles_1m_s),
            candles_1h_ms=_ms(cfg.retention_candles_1h_s),
            features_ms=_ms(cfg.retention_features_s),
        )

    def keep_ms(self, keep: Keep) -> int:
        if keep is Keep.MIDS:
            return self.mids_ms
        if keep is Keep.CANDLES_1H:
            return self.candles_1h_ms
        return self.features_ms


@dataclass(frozen=True)
class Boundaries:
    """The cut-offs of one pass, all derived from one ``now_ms``."""

    now_ms: int
    # Hours starting at or before this have ended and may be rolled up.
    rollup_through_ms: int
    # 1-minute candles with open_time_ms before this are expired (once their hour is rolled up).
    minutes_before_ms: int
    # 1-hour candles before this are expired; their hours are no longer rolled up either.
    hours_before_ms: int
    # Per table of RETAINED_TABLES: rows with a time before this are expired.
    tables_before_ms: dict[str, int]


def boundaries(policy: RetentionPolicy, now_ms: int) -> Boundaries:
    return Boundaries(
        now_ms=now_ms,
        rollup_through_ms=hour_start(now_ms) - HOUR_MS,
        minutes_before_ms=now_ms - policy.candles_1m_ms,
        hours_before_ms=now_ms - policy.candles_1h_ms,
        tables_before_ms={t.table: now_ms - policy.keep_ms(t.keep) for t in RETAINED_TABLES},
    )
