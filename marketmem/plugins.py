"""The sources this installation is built with: one static tuple of imported ``Source`` objects.

Order matters where it is visible: channels are listed (status, health, config) in this
order, and tables are created in it (the maintenance triggers need the candle table first).
Adding a source means adding its package, its local venue and one entry here.
"""

from __future__ import annotations

from marketmem.features.source import SOURCE as FEATURES
from marketmem.retention.source import SOURCE as MAINTENANCE
from marketmem.source import Source
from marketmem.sources.defillama.source import SOURCE as DEFILLAMA
from marketmem.sources.hyperliquid.source import SOURCE as HYPERLIQUID
from marketmem.sources.polymarket.source import SOURCE as POLYMARKET

SOURCES: tuple[Source, ...] = (HYPERLIQUID, FEATURES, MAINTENANCE, POLYMARKET, DEFILLAMA)
