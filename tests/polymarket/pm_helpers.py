"""Helpers shared by the Polymarket tests: a venue on 127.0.0.1, configs, database reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime
from marketmem.storage import engine
from marketmem.venues.polymarket import Simulator, serve_polymarket_venue
from tests.conftest import T0_MS


@asynccontextmanager
async def open_venue(sim: Simulator) -> AsyncIterator[str]:
    """Serve ``sim`` on 127.0.0.1 for the block; yields its base URL."""
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve_polymarket_venue, sim))
        try:
            yield url
        finally:
            nursery.cancel_scope.cancel()


def pm_config(make_config: Callable[..., Config], url: str, extra: str = "") -> Config:
    return make_config(f'[polymarket]\ngamma_url = "{url}"\n{extra}')


async def settle() -> None:
    """Let the storage writer commit what was published (virtual time under autojump)."""
    await trio.sleep(1)


def rows(path: Path | str, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict]:
    """The rows of ``sql`` on the database at ``path`` (a SQLite file or a PostgreSQL URL)."""
    conn = engine.open_ro(path)
    try:
        return engine.query(conn, sql, params)
    finally:
        conn.close()


def bucket_of(path: Path | str, market_id: str) -> list[str]:
    """Every context table that holds ``market_id`` (at most one when all is well)."""
    found = []
    for table in (
        "polymarket_immediate_markets",
        "polymarket_later_markets",
        "polymarket_recently_closed_markets",
    ):
        if rows(path, f"SELECT 1 FROM {table} WHERE market_id=?", (market_id,)):
            found.append(table.removeprefix("polymarket_").removesuffix("_markets"))
    return found


@asynccontextmanager
async def open_pm(
    make_config: Callable[..., Config], sim_kwargs: dict[str, Any] | None = None, extra: str = ""
) -> AsyncIterator[tuple[Runtime, Simulator]]:
    """A venue and a pipeline (inline executor) sharing one MockClock-driven wall clock."""
    clock = TrioWallClock(T0_MS)
    sim = Simulator(clock, **(sim_kwargs or {}))
    async with open_venue(sim) as url:
        config = pm_config(make_config, url, extra)
        async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
            yield rt, sim
