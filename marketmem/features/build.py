"""Plug-in of the feature area: five poll channels and two actors that feed their inputs.

- ``hyperliquid.features.windows``: the candle-window keeper (``keeper``), for the candle
  channels (technical_indicators, volatility_profiles);
- ``hyperliquid.features.context``: the context feed (``feed``), which keeps what the
  Hyperliquid context poller publishes, for the snapshot channels (funding_pressure,
  liquidity_profiles, positioning_pressure). Created here and handed to their jobs.
"""

from __future__ import annotations

from marketmem.features.feed import ContextFeed
from marketmem.features.jobs import SOURCE, channel_jobs
from marketmem.features.state import feature_state
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime

# Channels computed from the candle windows (the keeper actor runs when one is enabled).
CANDLE_CHANNELS = ("technical_indicators", "volatility_profiles")
# Channels computed from the context poller's events (the feed actor runs when one is).
SNAPSHOT_CHANNELS = ("funding_pressure", "liquidity_profiles", "positioning_pressure")


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    st = feature_state(rt)
    chans = rt.config.hyperliquid.channels
    feed = ContextFeed(
        rt.bus, subscribe=any(getattr(chans, name).enabled for name in SNAPSHOT_CHANNELS)
    )
    specs: list[ChannelSpec | ActorSpec] = [
        ChannelSpec(
            source=SOURCE,
            channel=name,
            cadence_s=getattr(chans, name).cadence_s,
            job=job,
        )
        for name, job in channel_jobs(feed).items()
    ]
    specs.append(
        ActorSpec(
            name="hyperliquid.features.windows",
            run=st.keeper.run,
            source=SOURCE,
            channels=CANDLE_CHANNELS,
        )
    )
    specs.append(
        ActorSpec(
            name="hyperliquid.features.context",
            run=feed.run,
            source=SOURCE,
            channels=SNAPSHOT_CHANNELS,
        )
    )
    return specs
