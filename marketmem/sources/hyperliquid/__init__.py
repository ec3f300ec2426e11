"""Hyperliquid: asset registry, candle and mid streams, and the context poller (the info
snapshots the feature channels compute from, published on the bus)."""
