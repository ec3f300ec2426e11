"""The sources this installation is built with: one static tuple of imported ``Source`` objects.

Order matters where it is visible: channels are listed (status, health, config) in this
order, and tables are created in it (the maintenance triggers need the candle table first).
Adding a source means adding its package, its local venue and one entry here. The config
functions here are those of this installation; ``marketmem.config`` itself knows no source.
"""

from __future__ import annotations

from marketmem import config
from marketmem.features.source import SOURCE as FEATURES
from marketmem.retention.source import SOURCE as MAINTENANCE
from marketmem.source import Source
from marketmem.sources.defillama.source import SOURCE as DEFILLAMA
from marketmem.sources.hyperliquid.source import SOURCE as HYPERLIQUID
from marketmem.sources.polymarket.source import SOURCE as POLYMARKET

SOURCES: tuple[Source, ...] = (HYPERLIQUID, FEATURES, MAINTENANCE, POLYMARKET, DEFILLAMA)


def parse_config(text: str, *, source_path: str = "<string>") -> config.Config:
    """``text`` as a config of this installation (its sections and channels)."""
    return config.parse_config(text, sources=SOURCES, source_path=source_path)


def load_config(explicit: str | None = None) -> config.Config:
    """The config file of this installation: ``--config``, else ``MARKETMEM_CONFIG``, else
    ``config/marketmem.toml``; ``MARKETMEM_DB`` overrides ``[storage] path``."""
    return config.load_config(explicit, sources=SOURCES)
