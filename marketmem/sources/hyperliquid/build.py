"""The Hyperliquid plug-in: the registry poll channel and the stream actor.

``build(rt)`` returns every spec this source implements (the supervisor starts the enabled
ones): ``hyperliquid/registry`` as a ``ChannelSpec`` and one ``ActorSpec`` that serves both
``hyperliquid/candles`` and ``hyperliquid/mids`` (it subscribes only what is enabled).
"""

from __future__ import annotations

from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.hyperliquid.registry import registry_job
from marketmem.sources.hyperliquid.stream import SOURCE, HyperliquidStream


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    chans = rt.config.hyperliquid.channels

    async def run_stream(**kwargs: object) -> None:
        # A fresh actor per (re)start; the info client and budgets live in rt.shared.
        stream = HyperliquidStream(rt, candles=chans.candles.enabled, mids=chans.mids.enabled)
        rt.shared["hyperliquid.stream"] = stream
        await stream.run(**kwargs)  # type: ignore[arg-type]

    return [
        ChannelSpec(SOURCE, "registry", chans.registry.cadence_s, registry_job),
        ActorSpec(
            name="hyperliquid.stream",
            run=run_stream,
            source=SOURCE,
            channel="candles",
            channels=("candles", "mids"),
        ),
    ]
