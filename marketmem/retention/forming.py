"""Hours the rollup has not reached yet, aggregated from their 1-minute candles: the hour in
progress that the latest-data API shows, and the 1h bars of a candle history after the
rolled-up ones. They are aggregated by the rollup's own rule (``rollup``), from the stored
minutes the storage reads; a minute is expired only once its hour is rolled up, so an hour
not rolled up yet still has all its minutes.
"""

from __future__ import annotations

from collections.abc import Iterable

from marketmem.clock import HOUR_MS
from marketmem.retention.rollup import HourBar, MinuteBar, aggregate_hour, hour_start
from marketmem.storage.models.hyperliquid import Bar
from marketmem.storage.models.retention import FormingHour, HourMinute
from marketmem.storage.reads import Connection
from marketmem.storage.reads import hyperliquid as hl_reads
from marketmem.storage.reads.retention import minutes_between


def _aggregate(coin: str, hour_ms: int, minutes: Iterable[HourMinute]) -> HourBar | None:
    return aggregate_hour(
        coin,
        hour_ms,
        (
            MinuteBar(m.open_time_ms, m.open, m.high, m.low, m.close, m.volume, m.trades)
            for m in minutes
        ),
    )


def current_hour_candle(conn: Connection, coin: str, now_ms: int) -> FormingHour | None:
    """The hour containing ``now_ms`` so far, from its 1-minute candles; None without any."""
    start = hour_start(now_ms)
    minutes = minutes_between(conn, coin, start, start + HOUR_MS)
    bar = _aggregate(coin, start, minutes)
    if bar is None:
        return None
    return FormingHour(
        coin=bar.coin,
        open_time_ms=bar.open_time_ms,
        close_time_ms=bar.close_time_ms,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        trades=bar.trades,
        minute_count=bar.minute_count,
        updated_at_ms=max(m.updated_at_ms for m in minutes),
    )


def pending_hours(
    conn: Connection, coin: str, start_ms: int, end_ms: int, now_ms: int
) -> list[Bar]:
    """The hours of ``coin`` opened in [start_ms, end_ms] (and not after ``now_ms``) that have
    minutes, aggregated from them, ascending; closed once the hour has ended."""
    first = -(-start_ms // HOUR_MS) * HOUR_MS
    last = hour_start(min(end_ms, now_ms))
    if first > last:
        return []
    by_hour: dict[int, list[HourMinute]] = {}
    for m in minutes_between(conn, coin, first, last + HOUR_MS):
        by_hour.setdefault(hour_start(m.open_time_ms), []).append(m)
    out: list[Bar] = []
    for hour_ms in sorted(by_hour):
        bar = _aggregate(coin, hour_ms, by_hour[hour_ms])
        assert bar is not None
        out.append(
            Bar(
                bar.open_time_ms,
                bar.close_time_ms,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                bar.trades,
                bar.close_time_ms < now_ms,
            )
        )
    return out


def hour_bars(
    conn: Connection, coin: str, start_ms: int, end_ms: int, now_ms: int, limit: int
) -> list[Bar]:
    """The first ``limit`` 1h bars of ``coin`` opened in [start_ms, end_ms], ascending: the
    rolled-up hours, then the hours after the latest of them (the hour in progress, and an
    ended hour the next maintenance pass will roll up) aggregated from their minutes."""
    rolled = hl_reads.bars(conn, coin, "1h", start_ms, end_ms, limit)
    if len(rolled) >= limit:
        return rolled
    newest = hl_reads.newest_hour(conn, coin)
    after = start_ms if newest is None else max(start_ms, newest + HOUR_MS)
    return (rolled + pending_hours(conn, coin, after, end_ms, now_ms))[:limit]
