"""What the Hyperliquid source opens for one opening, and closes again.

One ``InfoClient`` (its HTTP connections and the ``/info`` weight budget every caller draws
from: registry, gap healing, context poller) and the per-IP WebSocket budgets (messages sent
and connects per minute), which outlive any one stream actor so a restarted stream keeps
paying into the same windows. ``open_resources`` creates them from the ``[hyperliquid]``
section and closes the HTTP client on exit, also when the exit is a cancellation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from marketmem.budget import WeightBudget
from marketmem.config import Config
from marketmem.httpclient import RetryPolicy
from marketmem.sources.hyperliquid.config import SECTION, HyperliquidConfig
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.wslink import LinkLimits


@dataclass(frozen=True, eq=False)
class HyperliquidResources:
    info: InfoClient
    ws_limits: LinkLimits


def info_client(cfg: HyperliquidConfig) -> InfoClient:
    """An info client as ``[hyperliquid]`` configures it (the caller closes it)."""
    return InfoClient(
        cfg.info_url,
        budget=WeightBudget(cfg.info_weight_per_minute),
        timeout_s=cfg.info_timeout_s,
        policy=RetryPolicy(attempts=cfg.info_attempts),
    )


@asynccontextmanager
async def open_resources(config: Config) -> AsyncIterator[HyperliquidResources]:
    cfg = SECTION.of(config)
    resources = HyperliquidResources(
        info=info_client(cfg),
        ws_limits=LinkLimits(
            max_connections=cfg.ws_max_connections,
            messages_per_minute=cfg.ws_messages_per_minute,
            connects_per_minute=cfg.ws_connects_per_minute,
        ),
    )
    try:
        yield resources
    finally:
        with trio.CancelScope(shield=True):
            await resources.info.aclose()
