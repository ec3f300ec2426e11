"""Hyperliquid derived features: five channels computed every five minutes.

Every input comes from the bus; nothing here talks to the venue. ``technical_indicators`` and
``volatility_profiles`` read per-coin candle windows that the window keeper actor maintains
from ``CandleBatch`` events (``windows``, ``keeper``); ``funding_pressure``,
``liquidity_profiles`` and ``positioning_pressure`` read the typed snapshots the Hyperliquid
context poller (``marketmem.sources.hyperliquid.context``) publishes, kept by the context feed
actor (``feed``). The arithmetic is pure (``indicators``, ``volatility``, ``funding``,
``liquidity``, ``positioning``, ``technical``), the runs are in ``jobs``, the plug-in in
``build``.
"""
