"""Retention and 1-hour rollups as a plug-in: the ``hyperliquid/maintenance`` channel, its
tables and triggers, and the ``maintain`` command. Its settings are in ``[hyperliquid]``."""

from __future__ import annotations

from marketmem.retention import command, tables
from marketmem.retention.build import build
from marketmem.source import Channel, Source, Tables, opener

CHANNELS = (Channel("hyperliquid", "maintenance", 60, "retention and 1-hour rollups"),)

SOURCE = Source(
    name="hyperliquid-maintenance",
    channels=CHANNELS,
    tables=Tables(tables.DDL, tables.WRITERS, after_writes=tables.AFTER_WRITES),
    open=opener(build),
    commands=command.register,
)
