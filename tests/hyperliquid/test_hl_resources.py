"""The Hyperliquid source owns its resources: what its opening creates, its exit closes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.sources.hyperliquid import resources
from marketmem.sources.hyperliquid.config import HyperliquidConfig
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.sources.hyperliquid.resources import HyperliquidResources, open_resources
from marketmem.sources.hyperliquid.source import SOURCE


def closed(res: HyperliquidResources) -> bool:
    return res.info._http.is_closed


async def test_the_info_client_is_closed_when_the_opening_ends(config: Config) -> None:
    async with open_resources(config) as res:
        assert not closed(res)
        cfg = config.hyperliquid  # type: ignore[attr-defined]
        assert res.info.budget.capacity == cfg.info_weight_per_minute
        assert res.ws_limits.messages.capacity == cfg.ws_messages_per_minute
        assert res.ws_limits.connects.capacity == cfg.ws_connects_per_minute
    assert closed(res)


async def test_the_info_client_is_closed_when_the_opening_is_cancelled(config: Config) -> None:
    seen: list[HyperliquidResources] = []
    with trio.move_on_after(1):
        async with open_resources(config) as res:
            seen.append(res)
            await trio.sleep_forever()
    assert seen and closed(seen[0])


async def test_the_info_client_is_closed_when_the_source_body_raises(config: Config) -> None:
    seen: list[HyperliquidResources] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with open_resources(config) as res:
            seen.append(res)
            raise RuntimeError("boom")
    assert seen and closed(seen[0])


async def test_the_source_closes_what_it_opened_when_the_service_stops(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch, autojump_clock: object
) -> None:
    made: list[InfoClient] = []

    def recording(cfg: HyperliquidConfig) -> InfoClient:
        made.append(real(cfg))
        return made[-1]

    real = resources.info_client
    monkeypatch.setattr(resources, "info_client", recording)
    cfg = make_config()
    async with open_pipeline(cfg, executor=inline_executor) as rt:
        assert SOURCE.open is not None
        async with SOURCE.open(rt) as specs:
            assert specs and len(made) == 1 and not made[0]._http.is_closed
        assert made[0]._http.is_closed
        # A second opening (a restart) gets a client of its own, closed with it.
        async with SOURCE.open(rt):
            assert len(made) == 2 and made[1] is not made[0]
        assert made[1]._http.is_closed
