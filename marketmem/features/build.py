"""Plug-in of the feature area: five poll channels and two actors that feed their inputs.

- ``hyperliquid.features.windows``: the candle-window keeper (``keeper``), for the candle
  channels (technical_indicators, volatility_profiles);
- ``hyperliquid.features.context``: the context feed (``feed``), which keeps what the
  Hyperliquid context poller publishes, for the snapshot channels (funding_pressure,
  liquidity_profiles, positioning_pressure). Created here and handed to their jobs.
"""

from __future__ import annotations

from marketmem.features.jobs import SOURCE, channel_jobs
from marketmem.features.state import CANDLE_CHANNELS, SNAPSHOT_CHANNELS, FeatureState, open_state
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime


def build(rt: Runtime, st: FeatureState | None = None) -> list[ChannelSpec | ActorSpec]:
    """The specs of one opening; ``st`` (else a fresh ``open_state``) is what they share."""
    st = st or open_state(rt)
    specs: list[ChannelSpec | ActorSpec] = [
        ChannelSpec(
            source=SOURCE,
            channel=name,
            cadence_s=rt.config.channel(SOURCE, name).cadence_s,
            job=job,
        )
        for name, job in channel_jobs(st).items()
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
            run=st.feed.run,
            source=SOURCE,
            channels=SNAPSHOT_CHANNELS,
        )
    )
    return specs
