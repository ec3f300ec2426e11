"""``[polymarket]``: the Gamma endpoint, the terms file, horizons, paging and rate limits."""

from __future__ import annotations

from pathlib import Path

from marketmem.config import ROOT, Base, PositiveInt, PositiveSeconds
from marketmem.source import Section


class PolymarketConfig(Base):
    gamma_url: str = "https://gamma-api.polymarket.com"
    # Asset search terms and false friends; relative paths are relative to the repo.
    terms_file: str = "config/polymarket_assets.toml"
    # Open markets ending within this horizon are "immediate", later ones "later".
    immediate_horizon_s: PositiveSeconds = 86_400.0
    # Markets closed (or ended) within this window are "recently closed".
    recently_closed_window_s: PositiveSeconds = 604_800.0
    # Keyset page size (the server clamps it to 100) and the cap on pages per listing.
    page_size: PositiveInt = 100
    max_pages: PositiveInt = 300
    # Client-side limits per 10 s, below Gamma's (/events 500, /markets 300).
    events_per_10s: PositiveInt = 400
    markets_per_10s: PositiveInt = 240
    timeout_s: PositiveSeconds = 20.0
    # Tries per request (first included) on timeouts, connection errors, 429 and 5xx.
    http_attempts: PositiveInt = 4

    def terms_path(self) -> Path:
        p = Path(self.terms_file)
        return p if p.is_absolute() else ROOT / p


SECTION = Section(("polymarket",), PolymarketConfig)
