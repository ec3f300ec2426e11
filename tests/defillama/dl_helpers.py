"""DefiLlama test helpers: the running local venue, pipelines pointed at it, quick reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import RunFinished
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runs import execute_run
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.defillama.build import build
from marketmem.storage import engine
from marketmem.venues.defillama import (
    DefillamaVenue,
    VenueUrls,
)

SEED = 7


@dataclass
class Llama:
    """A running local DefiLlama plus what a test needs to point marketmem at it."""

    venue: DefillamaVenue
    urls: VenueUrls
    clock: TrioWallClock
    make_config: Callable[..., Config]

    def config(self, toml: str = "", **defillama: Any) -> Config:
        settings = {
            "api_url": self.urls.api_url,
            "stablecoins_url": self.urls.stablecoins_url,
            "bridges_url": self.urls.bridges_url,
            "tracked_assets": ["ETH", "HYPE"],
            "top_chains": 3,
            "top_protocols": 4,
            "top_stablecoins": 3,
            "cache_ttl_s": 0,
            "timeout_s": 10,
        }
        settings.update(defillama)
        lines = ["[defillama]"]
        for key, value in settings.items():
            lines.append(f"{key} = {_toml(value)}")
        return self.make_config("\n".join(lines) + "\n" + toml)

    @asynccontextmanager
    async def pipeline(self, config: Config | None = None) -> AsyncIterator[Runtime]:
        async with open_pipeline(
            config or self.config(), clock=self.clock, executor=inline_executor
        ) as rt:
            yield rt


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


# The source as opened once per runtime (its channels share one response cache), as the
# supervisor opens it; keyed by id with the runtime kept, so an id reused is not mistaken.
_OPENED: dict[int, tuple[Runtime, list[ChannelSpec | ActorSpec]]] = {}


def spec(rt: Runtime, channel: str) -> ChannelSpec:
    opened = _OPENED.get(id(rt))
    if opened is None or opened[0] is not rt:
        opened = _OPENED[id(rt)] = (rt, build(rt))
    found = [s for s in opened[1] if isinstance(s, ChannelSpec) and s.channel == channel]
    assert len(found) == 1
    return found[0]


async def run_channel(rt: Runtime, channel: str) -> RunFinished:
    s = spec(rt, channel)
    return await execute_run(rt, s.source, s.channel, s.job)


async def settle() -> None:
    """Let the storage writer commit what was published (MockClock: instant)."""
    await trio.sleep(1)


def rows(config: Config, sql: str, params: tuple = ()) -> list[dict]:
    conn = engine.open_ro(config.database())
    try:
        return engine.query(conn, sql, params)
    finally:
        conn.close()


def ro(config: Config) -> engine.Connection:
    return engine.open_ro(config.database())
