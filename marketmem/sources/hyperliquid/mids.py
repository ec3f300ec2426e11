"""Which ``allMids`` keys are stored, and their 5-second buckets (pure, no I/O).

The map mixes perps (``BTC``, ``kPEPE``), spot pairs (``@107``, ``PURR/USDC``) and outcome
tokens (``#12090``). Only listed perps of the registry are kept (delisted perps stay in the
map with a frozen value and are dropped), plus the extra keys the config names: exact keys, or
``@*`` (every spot index), ``#*`` (every outcome) and ``*/*`` (every named pair).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from marketmem.events import MidPrice


def bucket_of(now_ms: int, bucket_ms: int) -> int:
    return now_ms - now_ms % bucket_ms


class MidFilter:
    def __init__(self, perps: Iterable[str], extra: Iterable[str] = ()) -> None:
        self.perps = frozenset(perps)
        extra = list(extra)
        self._exact = frozenset(k for k in extra if k not in ("@*", "#*", "*/*"))
        self._spot = "@*" in extra
        self._outcomes = "#*" in extra
        self._pairs = "*/*" in extra

    def keep(self, key: str) -> bool:
        if key in self.perps or key in self._exact:
            return True
        if key.startswith("@"):
            return self._spot
        if key.startswith("#"):
            return self._outcomes
        if "/" in key:
            return self._pairs
        return False


def mid_rows(
    mids: dict[str, Decimal], keep: MidFilter, now_ms: int, bucket_ms: int
) -> list[MidPrice]:
    """One row per kept key: the value seen at ``now_ms`` in its bucket (latest wins on upsert)."""
    bucket = bucket_of(now_ms, bucket_ms)
    return [
        MidPrice(coin=key, bucket_ms=bucket, price=float(px), observed_at_ms=now_ms)
        for key, px in mids.items()
        if keep.keep(key)
    ]
