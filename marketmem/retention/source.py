"""Retention and 1-hour rollups as a plug-in: the ``hyperliquid/maintenance`` channel, its
tables, and the ``maintain`` command. Its settings are in ``[hyperliquid]``."""

from __future__ import annotations

from marketmem.retention import command, tables
from marketmem.retention.build import build
from marketmem.source import Channel, Source, opener

CHANNELS = (Channel("hyperliquid", "maintenance", 60, "retention and 1-hour rollups"),)

SOURCE = Source(
    name="hyperliquid-maintenance",
    channels=CHANNELS,
    tables=tables.TABLES,
    open=opener(build),
    commands=command.register,
)
