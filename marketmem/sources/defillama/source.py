"""The DefiLlama source: capital base, capital flows and throughput, tables and search."""

from __future__ import annotations

from marketmem.source import Channel, Source, opener
from marketmem.sources.defillama import api, tables
from marketmem.sources.defillama.build import build
from marketmem.sources.defillama.config import SECTION

CHANNELS = (
    Channel("defillama", "capital_base", 3600, "TVL, staking, supply per subject"),
    Channel("defillama", "capital_flows", 3600, "changes over 1, 7 and 30 days, bridges"),
    Channel("defillama", "economic_throughput", 3600, "fees, revenue and DEX volume"),
)

SOURCE = Source(
    name="defillama",
    channels=CHANNELS,
    settings=SECTION,
    tables=tables.TABLES,
    open=opener(build),
    routes=api.routes,
    venue=True,
)
