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
from marketmem.features.volatility import VolatilitySettings
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
        return TechnicalSettings.of(self.cfg)

    @property
    def volatility(self) -> VolatilitySettings:
        return VolatilitySettings.of(self.cfg)

    @property
    def funding(self) -> FundingSettings:
        return FundingSettings.of(self.cfg)

    @property
    def quadrant(self) -> QuadrantThresholds:
        return QuadrantThresholds.of(self.cfg)


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
