"""Retention and 1-hour rollups of the Hyperliquid tables (the ``hyperliquid/maintenance``
channel); ``build`` plugs it into the service (see ``marketmem.sources.registry``)."""

from __future__ import annotations

from marketmem.retention.actor import Maintainer
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    maintainer = Maintainer(rt)
    cadence_s = rt.config.hyperliquid.channels.maintenance.cadence_s
    return [ChannelSpec("hyperliquid", "maintenance", cadence_s, maintainer.job)]
