"""Hyperliquid derived features: five channels computed every five minutes.

``technical_indicators`` and ``volatility_profiles`` read per-coin candle windows that the
window keeper actor maintains from ``CandleBatch`` events (``windows``, ``keeper``);
``funding_pressure``, ``liquidity_profiles`` and ``positioning_pressure`` read info snapshots
(``fetch``). The arithmetic is pure (``indicators``, ``volatility``, ``funding``, ``liquidity``,
``positioning``, ``technical``), the runs are in ``jobs``, the plug-in in ``build``.
"""
