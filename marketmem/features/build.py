"""Plug-in of the feature area: five poll channels and the candle-window keeper actor."""

from __future__ import annotations

from marketmem.features.jobs import JOBS, SOURCE
from marketmem.features.state import feature_state
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime

# Channels computed from the candle windows (the keeper actor runs when one is enabled).
CANDLE_CHANNELS = ("technical_indicators", "volatility_profiles")


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    st = feature_state(rt)
    chans = rt.config.hyperliquid.channels
    specs: list[ChannelSpec | ActorSpec] = [
        ChannelSpec(
            source=SOURCE,
            channel=name,
            cadence_s=getattr(chans, name).cadence_s,
            job=job,
        )
        for name, job in JOBS.items()
    ]
    specs.append(
        ActorSpec(
            name="hyperliquid.features.windows",
            run=st.keeper.run,
            source=SOURCE,
            channels=CANDLE_CHANNELS,
        )
    )
    return specs
