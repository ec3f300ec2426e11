"""The Polymarket channels as the scheduler sees them (``build``).

``recently_closed`` is a ChannelSpec of its own on its configured cadence (by default that of
discovery, which fetches the recently closed events it works from). Being separate gives it
its own runs and health, and a failing discovery does not stop it from moving ended markets
out of the immediate table.
"""

from __future__ import annotations

from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.polymarket.classify import CHANNEL_OF
from marketmem.sources.polymarket.jobs import (
    SOURCE,
    PolymarketShared,
    discovery_job,
    refresh_job,
)


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    shared = PolymarketShared.of(rt.config)
    specs: list[ChannelSpec | ActorSpec] = [
        ChannelSpec(
            SOURCE,
            "discovery",
            rt.config.channel(SOURCE, "discovery").cadence_s,
            discovery_job(shared),
        )
    ]
    for bucket, channel in CHANNEL_OF.items():
        cadence = rt.config.channel(SOURCE, channel).cadence_s
        specs.append(ChannelSpec(SOURCE, channel, cadence, refresh_job(shared, bucket)))
    return specs
