"""``[defillama]``: endpoints, the Pro key, the subject policy and request limits."""

from __future__ import annotations

from typing import Annotated

import msgspec

from marketmem.config import Base, PositiveInt, PositiveSeconds
from marketmem.source import Section

DefillamaCount = Annotated[int, msgspec.Meta(ge=0)]


class DefillamaConfig(Base):
    api_url: str = "https://api.llama.fi"
    stablecoins_url: str = "https://stablecoins.llama.fi"
    # Bridges are DefiLlama Pro: "{api_key}" is replaced by the key; no key, no bridge flows.
    bridges_url: str = "https://pro-api.llama.fi/{api_key}/bridges"
    # DefiLlama Pro key (or the DEFILLAMA_API_KEY environment variable); "" = bridges off.
    api_key: str = ""
    # Asset link overrides (relative to the repo); "" = none.
    subjects_file: str = "config/defillama_subjects.toml"
    # Subject policy: the top N by TVL / circulating supply, plus every subject linked to a
    # tracked asset. tracked_assets empty = the Hyperliquid coins of [hyperliquid] coins.
    top_chains: DefillamaCount = 20
    top_protocols: DefillamaCount = 25
    top_stablecoins: DefillamaCount = 10
    tracked_assets: list[str] = msgspec.field(default_factory=list)
    timeout_s: PositiveSeconds = 30.0
    # Tries per request (first included) on timeouts, connection errors, 429 and 5xx.
    http_attempts: PositiveInt = 4
    # Policy inputs (/protocols, /v2/chains, /stablecoins) are shared by the channels of one
    # process for this long; 0 = fetch every time.
    cache_ttl_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0


SECTION = Section(("defillama",), DefillamaConfig)
