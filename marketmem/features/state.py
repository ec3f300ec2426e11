"""The feature area's shared state for one runtime: candle windows, keeper, settings.

Created on first use and kept in ``rt.shared["features"]``, so the five channel jobs and the
window keeper actor share one set of windows. The snapshot channels' inputs come from the
bus through the ``ContextFeed`` that ``build`` creates and hands to their jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketmem.features.config import FeaturesConfig
from marketmem.features.funding import FundingSettings
from marketmem.features.keeper import Executor, WindowKeeper
from marketmem.features.positioning import QuadrantThresholds
from marketmem.features.technical import TechnicalSettings
from marketmem.features.volatility import RegimeThresholds, VolatilitySettings
from marketmem.features.windows import CandleWindows
from marketmem.runtime import Runtime
from marketmem.storage.writer import inline_executor, thread_executor

SHARED_KEY = "features"


@dataclass
class FeatureState:
    rt: Runtime
    cfg: FeaturesConfig
    windows: CandleWindows
    keeper: WindowKeeper
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


def reader_executor(rt: Runtime) -> Executor:
    """Where blocking database reads run: inline when the writer runs inline (MockClock tests,
    where a worker thread would let the clock jump), else a worker thread."""
    writer = rt.writer
    if writer is not None and getattr(writer, "executor", None) is inline_executor:
        return inline_executor
    return thread_executor()


def _feeds_windows(rt: Runtime) -> bool:
    """Whether the window keeper actor will run (a candle-based channel is enabled)."""
    chans = rt.config.hyperliquid.channels
    return chans.technical_indicators.enabled or chans.volatility_profiles.enabled


def feature_state(rt: Runtime) -> FeatureState:
    st = rt.shared.get(SHARED_KEY)
    if st is None:
        executor = reader_executor(rt)
        windows = CandleWindows()
        st = FeatureState(
            rt=rt,
            cfg=rt.config.hyperliquid.features,
            windows=windows,
            keeper=WindowKeeper(rt, windows, executor, subscribe=_feeds_windows(rt)),
            executor=executor,
        )
        rt.shared[SHARED_KEY] = st
    assert isinstance(st, FeatureState)
    return st
