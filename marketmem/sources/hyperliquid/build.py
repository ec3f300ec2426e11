"""The Hyperliquid plug-in: the registry poll channel, the stream actor, the context poller.

``build(rt)`` returns every spec this source implements (the supervisor starts the enabled
ones): ``hyperliquid/registry`` as a ``ChannelSpec``, one ``ActorSpec`` that serves both
``hyperliquid/candles`` and ``hyperliquid/mids`` (it subscribes only what is enabled), and
one for the context poller, which fetches the ``/info`` inputs of the ``funding_pressure``,
``liquidity_profiles`` and ``positioning_pressure`` feature channels and publishes them on the
bus (``context``); it is started when any of the three is enabled.
"""

from __future__ import annotations

from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.hyperliquid.context import CONTEXT_CHANNELS, ContextPoller
from marketmem.sources.hyperliquid.registry import registry_job
from marketmem.sources.hyperliquid.resources import HyperliquidResources
from marketmem.sources.hyperliquid.stream import SOURCE, HyperliquidStream

CONTEXT_ACTOR = "hyperliquid.context"


def build(rt: Runtime, res: HyperliquidResources) -> list[ChannelSpec | ActorSpec]:
    enabled = {name: rt.config.channel(SOURCE, name).enabled for name in ("candles", "mids")}

    async def run_stream(**kwargs: object) -> None:
        # A fresh actor per (re)start; the info client and budgets are the opening's.
        stream = HyperliquidStream(rt, res, candles=enabled["candles"], mids=enabled["mids"])
        await stream.run(**kwargs)  # type: ignore[arg-type]

    # One poller per process: a restart keeps its schedule (in step with the scheduler's
    # ticks) and the funding histories it holds.
    poller = ContextPoller(rt, res.info)
    return [
        ChannelSpec(
            SOURCE,
            "registry",
            rt.config.channel(SOURCE, "registry").cadence_s,
            registry_job(res.info),
        ),
        ActorSpec(
            name="hyperliquid.stream",
            run=run_stream,
            source=SOURCE,
            channel="candles",
            channels=("candles", "mids"),
        ),
        ActorSpec(
            name=CONTEXT_ACTOR,
            run=poller.run,
            source=SOURCE,
            channels=CONTEXT_CHANNELS,
        ),
    ]
