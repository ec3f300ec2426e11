"""Helpers of the HTTP tests: seeding the database through the real writer, the test world."""

from __future__ import annotations

from dataclasses import dataclass

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import (
    Event,
    RunFinished,
    RunStarted,
)
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline

# 2026-11-25T00:00:00Z, as in tests/conftest.py.
T0_MS = 1_795_564_800_000

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
