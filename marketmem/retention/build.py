"""The maintenance channel's spec: one ``Maintainer`` job on the channel's cadence."""

from __future__ import annotations

from marketmem.retention.actor import Maintainer
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    maintainer = Maintainer(rt)
    cadence_s = rt.config.channel("hyperliquid", "maintenance").cadence_s
    return [ChannelSpec("hyperliquid", "maintenance", cadence_s, maintainer.job)]
