"""DefiLlama test fixtures: a local venue on 127.0.0.1 under MockClock.

NOTE: pytest-trio only runs a test on a clock the test itself takes as an argument, so every
test using ``llama`` also takes ``autojump_clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import trio
from dl_helpers import SEED, Llama

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.venues.defillama import DefillamaSimulator, DefillamaVenue, serve_defillama_venue
from tests.conftest import T0_MS


@pytest.fixture
async def llama(
    nursery: trio.Nursery, autojump_clock: object, make_config: Callable[..., Config]
) -> Llama:
    clock = TrioWallClock(T0_MS)
    clock.now_ms()  # pin the clock's origin to the start of the test
    venue = DefillamaVenue(simulator=DefillamaSimulator(SEED), clock=clock)
    urls = await nursery.start(partial(serve_defillama_venue, venue))
    return Llama(venue, urls, clock, make_config)
