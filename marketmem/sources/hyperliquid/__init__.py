"""Hyperliquid: asset registry, candle and mid streams, info snapshots."""
