"""The Hyperliquid source: registry, candles and mids, its tables and its read route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from marketmem.runtime import Runtime
from marketmem.source import Channel, Source, Specs
from marketmem.sources.hyperliquid import api, tables
from marketmem.sources.hyperliquid.build import build
from marketmem.sources.hyperliquid.config import SECTION
from marketmem.sources.hyperliquid.resources import open_resources

CHANNELS = (
    Channel("hyperliquid", "registry", 3600, "asset registry and categories (meta)"),
    Channel("hyperliquid", "candles", 60, "1-minute candles over the WebSocket"),
    Channel("hyperliquid", "mids", 60, "mid prices over the WebSocket, 5-second buckets"),
)


@asynccontextmanager
async def open_hyperliquid(rt: Runtime) -> AsyncIterator[Specs]:
    """The source's specs over its resources; on exit the info client (its HTTP
    connections) is closed."""
    async with open_resources(rt.config) as res:
        yield build(rt, res)


SOURCE = Source(
    name="hyperliquid",
    channels=CHANNELS,
    settings=SECTION,
    tables=tables.TABLES,
    open=open_hyperliquid,
    routes=api.routes,
    venue=True,
    shard=lambda config: SECTION.of(config).coin_shard(),
)
