"""Hyperliquid's request weights: what each ``/info`` request costs of the per-IP limit.

Hyperliquid counts a weight per ``/info`` request (2, 20 or 60 by request type) plus a
surcharge per items returned (``candleSnapshot`` per 60 candles, ``fundingHistory`` per 20
rows), against 1200 per minute per IP. The info client reserves each request's weight for
an upper bound of its items (``candle_items_upper_bound``) from one
``marketmem.budget.WeightBudget`` of ``INFO_WEIGHT_PER_MINUTE`` and settles it to the weight
of what came back. Pure arithmetic; the local venue keeps its own table, which a test holds
against this one.
"""

from __future__ import annotations

import math

INFO_WEIGHT_PER_MINUTE = 1200

# Documented base weights; every other info request costs 20.
_BASE_WEIGHT = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
DEFAULT_WEIGHT = 20
# Extra weight: one per this many items returned.
_ITEMS_PER_EXTRA = {
    "candleSnapshot": 60,
    "fundingHistory": 20,
    "recentTrades": 20,
    "userFills": 20,
    "userFillsByTime": 20,
    "userFunding": 20,
    "userNonFundingLedgerUpdates": 20,
    "historicalOrders": 20,
}

INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    # Calendar month; the longest one bounds the estimates.
    "1M": 31 * 86_400_000,
}

# The venue keeps and returns at most this many candles per coin and interval.
MAX_CANDLES = 5000
# Time-range endpoints return at most this many rows per response.
MAX_FUNDING_ROWS = 500


def base_weight(request_type: str) -> int:
    return _BASE_WEIGHT.get(request_type, DEFAULT_WEIGHT)


def request_weight(request_type: str, items: int = 0) -> int:
    """Weight of one info request that returned ``items`` items (surcharge rounded up)."""
    per = _ITEMS_PER_EXTRA.get(request_type)
    extra = math.ceil(items / per) if per and items > 0 else 0
    return base_weight(request_type) + extra


def candle_items_upper_bound(interval: str, start_ms: int, end_ms: int) -> int:
    """Bars overlapping [start_ms, end_ms], capped at what one answer can hold."""
    step = INTERVAL_MS[interval]
    if end_ms < start_ms:
        return 0
    return min(MAX_CANDLES, end_ms // step - start_ms // step + 1)
