"""The feature area's state for one runtime: candle windows, keeper, context feed, settings.

``open_state`` creates it when the source opens (``build``); the five channel jobs and the two
feeding actors share it: the candle channels read the windows the keeper fills, the snapshot
channels read what the ``ContextFeed`` keeps of the Hyperliquid context poller's events.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketmem.executors import Executor
from marketmem.features.config import SECTION, FeaturesConfig
from marketmem.features.feed import ContextFeed
from marketmem.features.funding import FundingSettings
from marketmem.features.keeper import WindowKeeper
from marketmem.features.positioning import QuadrantThresholds
from marketmem.features.technical import TechnicalSettings
from marketmem.features.volatility import RegimeThresholds, VolatilitySettings
from marketmem.features.windows import CandleWindows
from marketmem.runtime import Runtime

# Channels computed from the candle windows (the keeper actor runs when one is enabled).
CANDLE_CHANNELS = ("technical_indicators", "volatility_profiles")
# Channels computed from the context poller's events (the feed actor runs when one is).
SNAPSHOT_CHANNELS = ("funding_pressure", "liquidity_profiles", "positioning_pressure")


@dataclass
class FeatureState:
    rt: Runtime
    cfg: FeaturesConfig
    windows: CandleWindows
    keeper: WindowKeeper
    feed: ContextFeed
    executor: Executor

    @property
    def technical(self) -> TechnicalSettings:
        return TechnicalSettings(
            bars_1m=self.cfg.technical_bars_1m,
            bars_1h=self.cfg.technical_bars_1h,
            stale_after_ms=int(self.cfg.candle_stale_s * 1000),
        )

    @property
    def volatility(self) -> VolatilitySettings:
        c = self.cfg
        return VolatilitySettings(
            stale_after_ms=int(c.candle_stale_s * 1000),
            regime_window_hours=c.regime_window_hours,
            regime_min_history=c.regime_min_history,
            thresholds=RegimeThresholds(
                low=c.regime_low_pct, high=c.regime_high_pct, extreme=c.regime_extreme_pct
            ),
            atr_lookback_1m=c.technical_bars_1m,
            atr_lookback_1h=c.technical_bars_1h,
        )

    @property
    def funding(self) -> FundingSettings:
        return FundingSettings(
            neutral_abs_rate=self.cfg.funding_neutral_rate,
            zscore_min_points=self.cfg.funding_zscore_min_points,
        )

    @property
    def quadrant(self) -> QuadrantThresholds:
        return QuadrantThresholds(
            price_pct=self.cfg.quadrant_price_pct, oi_pct=self.cfg.quadrant_oi_pct
        )


def _enabled(rt: Runtime, channels: tuple[str, ...]) -> bool:
    return any(rt.config.channel("hyperliquid", name).enabled for name in channels)


def open_state(rt: Runtime) -> FeatureState:
    """The state of one opening of the feature source; the keeper and the feed subscribe to
    the bus now only when a channel they feed is enabled."""
    windows = CandleWindows()
    return FeatureState(
        rt=rt,
        cfg=SECTION.of(rt.config),
        windows=windows,
        keeper=WindowKeeper(rt, windows, rt.executor, subscribe=_enabled(rt, CANDLE_CHANNELS)),
        feed=ContextFeed(rt.bus, subscribe=_enabled(rt, SNAPSHOT_CHANNELS)),
        executor=rt.executor,
    )
