"""Hyperliquid test fixtures: the local venue on 127.0.0.1 and a pipeline pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.runtime import Runtime
from marketmem.venues.hyperliquid import HyperliquidVenue
from tests.conftest import T0_MS


@pytest.fixture
async def venue(nursery: trio.Nursery, autojump_clock: object) -> HyperliquidVenue:
    clock = TrioWallClock(T0_MS)
    clock.now_ms()  # pin the clock's origin to the start of the test
    v = HyperliquidVenue(clock, seed=7, history_minutes=30)
    await nursery.start(lambda task_status: v.run(task_status=task_status))
    return v


@pytest.fixture
def hl_config(make_config: Callable[..., Config], venue: HyperliquidVenue) -> Callable[..., Config]:
    """A config pointed at the venue; extra TOML lines go into ``[hyperliquid]``."""
    assert venue.address is not None
    address = venue.address

    def make(extra: str = "", *, coins: str = '["BTC", "ETH", "ATOM"]') -> Config:
        return make_config(
            "[hyperliquid]\n"
            f'info_url = "{address.info_url}"\n'
            f'ws_url = "{address.ws_url}"\n'
            f"coins = {coins}\n" + extra
        )

    return make


@pytest.fixture
async def hl_rt(
    hl_config: Callable[..., Config], venue: HyperliquidVenue
) -> AsyncIterator[Runtime]:
    async with open_pipeline(hl_config(), clock=venue.clock, executor=inline_executor) as rt:
        yield rt
