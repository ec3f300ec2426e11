"""The Polymarket source: discovery and three context channels, tables, search, ``discover``."""

from __future__ import annotations

from marketmem.source import Channel, Source, opener
from marketmem.sources.polymarket import api, command, tables
from marketmem.sources.polymarket.channels import build
from marketmem.sources.polymarket.config import SECTION

CHANNELS = (
    Channel("polymarket", "discovery", 3600, "events and markets, linked to the assets"),
    Channel("polymarket", "immediate_markets", 300, "linked open markets ending soon"),
    Channel("polymarket", "later_markets", 1800, "linked open markets ending later"),
    Channel("polymarket", "recently_closed", 3600, "linked markets closed recently"),
)

SOURCE = Source(
    name="polymarket",
    channels=CHANNELS,
    settings=SECTION,
    tables=tables.TABLES,
    open=opener(build),
    routes=api.routes,
    venue=True,
    commands=command.register,
)
