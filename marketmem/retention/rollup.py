"""Rolling 1-minute candles up into 1-hour candles: pure arithmetic, no I/O.

An hour candle is the aggregate of the minutes stored for it: open of the first minute, close
of the last, highest high, lowest low, summed volume and trade count, and how many minutes it
was built from. ``math.fsum`` makes the volume independent of the order minutes arrived in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from marketmem.clock import HOUR_MS


def hour_start(ms: int) -> int:
    """Start of the UTC hour that contains ``ms``."""
    return ms - ms % HOUR_MS


class MinuteBar(NamedTuple):
    """The columns of a stored 1-minute candle that a rollup needs."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


@dataclass(frozen=True)
class HourBar:
    """One row of ``hyperliquid_candles_1h`` (without ``rolled_up_at_ms``)."""

    coin: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    minute_count: int


def aggregate_hour(coin: str, hour_ms: int, minutes: Iterable[MinuteBar]) -> HourBar | None:
    """The hour candle of ``minutes`` (any order), or None when there are none.

    Raises ValueError for a minute outside the hour, two bars for one minute, or an hour that
    does not start on an hour boundary: the caller passed rows of the wrong hour.
    """
    if hour_ms % HOUR_MS:
        raise ValueError(f"hour {hour_ms} is not on an hour boundary")
    bars = sorted(minutes)
    if not bars:
        return None
    seen: set[int] = set()
    for bar in bars:
        if hour_start(bar.open_time_ms) != hour_ms:
            raise ValueError(f"{coin}: minute {bar.open_time_ms} is not in hour {hour_ms}")
        if bar.open_time_ms in seen:
            raise ValueError(f"{coin}: two bars for minute {bar.open_time_ms}")
        seen.add(bar.open_time_ms)
    return HourBar(
        coin=coin,
        open_time_ms=hour_ms,
        close_time_ms=hour_ms + HOUR_MS - 1,
        open=bars[0].open,
        high=max(b.high for b in bars),
        low=min(b.low for b in bars),
        close=bars[-1].close,
        volume=math.fsum(b.volume for b in bars),
        trades=sum(b.trades for b in bars),
        minute_count=len(bars),
    )


def keeps_stored_hour(
    hour_ms: int, stored_minute_count: int | None, new_minute_count: int, minutes_before_ms: int
) -> bool:
    """Whether a stored hour must be kept instead of being rebuilt from the minutes left.

    Once 1-minute retention has started deleting an hour's minutes (the hour starts before
    ``minutes_before_ms``), a late minute for that hour finds only part of its minutes: a
    rebuild from fewer minutes than the stored row was made of would lose the deleted ones.
    """
    return (
        stored_minute_count is not None
        and hour_ms < minutes_before_ms
        and new_minute_count < stored_minute_count
    )
