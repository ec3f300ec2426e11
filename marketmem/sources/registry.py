"""Which source packages plug into the service; each exposes ``build(rt)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from marketmem.runtime import ActorSpec, ChannelSpec, Runtime

Builder = Callable[[Runtime], list[ChannelSpec | ActorSpec]]

# Module paths whose ``build`` returns the specs of that part of the service.
BUILDERS: tuple[str, ...] = (
    "marketmem.sources.hyperliquid.build",
    "marketmem.features.build",
    "marketmem.sources.defillama",
    "marketmem.sources.polymarket.channels",
    "marketmem.retention",
)


def build_all(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    """Specs for every implemented channel, enabled or not (the supervisor filters)."""
    specs: list[ChannelSpec | ActorSpec] = []
    for path in BUILDERS:
        builder: Builder = importlib.import_module(path).build
        specs.extend(builder(rt))
    return specs
