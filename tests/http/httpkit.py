"""Helpers of the HTTP tests: seeding the database through the real writer, the test world."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import (
    AssetRegistryBatch,
    Event,
    HyperliquidAsset,
    RunFinished,
    RunStarted,
)
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline

# 2026-11-25T00:00:00Z, as in tests/conftest.py.
T0_MS = 1_795_564_800_000

T = TypeVar("T")
_EMPTY: dict[Any, Any] = {str: "", int: 0, float: 0.0, bool: False, list: [], dict: {}}


def row_of(model: type[T], **values: Any) -> T:
    """A ``model`` row with ``values``; each other field it requires is NULL when it may be,
    else empty (``""``, 0, ``[]``)."""

    def empty(tp: Any) -> Any:
        if get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            return None
        return _EMPTY[get_origin(tp) or tp]

    fields = msgspec.structs.fields(model)
    required = {f.name: empty(f.type) for f in fields if f.required and f.name not in values}
    return model(**required, **values)


CHANNELS_TOML = """
[hyperliquid.channels]
candles = { enabled = true, cadence_s = 60 }
mids = { enabled = true, cadence_s = 60 }
technical_indicators = { enabled = true, cadence_s = 300 }
[polymarket.channels]
immediate_markets = { enabled = true, cadence_s = 300 }
"""


async def seed(config: Config, *events: Event) -> None:
    """Write events through the bus and the storage writer, as the service does."""
    async with open_pipeline(config, executor=inline_executor) as rt:
        for event in events:
            await rt.bus.publish(event)


def registry(*coins: str, delisted: tuple[str, ...] = ()) -> AssetRegistryBatch:
    """A registry run that lists ``coins`` (and ``delisted`` as delisted)."""
    assets = [
        HyperliquidAsset(
            coin=coin,
            asset_index=i,
            sz_decimals=3,
            max_leverage=20,
            margin_table_id=None,
            margin_tiers=None,
            is_delisted=coin in delisted,
            only_isolated=False,
            margin_mode=None,
            first_seen_ms=T0_MS,
            last_seen_ms=T0_MS,
        )
        for i, coin in enumerate((*coins, *delisted))
    ]
    return AssetRegistryBatch(assets=assets, taxonomy=[], categories=[])


def run_events(
    source: str, channel: str, *, finished_ms: int, status: str = "ok", error: str | None = None
) -> list[Event]:
    run_id = f"{source}-{channel}-{finished_ms}"
    return [
        RunStarted(run_id=run_id, source=source, channel=channel, started_at_ms=finished_ms - 500),
        RunFinished(
            run_id=run_id,
            source=source,
            channel=channel,
            started_at_ms=finished_ms - 500,
            finished_at_ms=finished_ms,
            status=status,
            rows_written=3,
            error=error,
        ),
    ]


@dataclass
class World:
    config: Config
    clock: FixedClock
    alice: str
    bob: str
    revoked: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}
