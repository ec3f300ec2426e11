"""Retention and 1-hour rollups of the Hyperliquid tables (the ``hyperliquid/maintenance``
channel); ``source.SOURCE`` plugs it into the service."""
