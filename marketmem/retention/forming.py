"""The hour in progress, aggregated from its 1-minute candles: what the latest-data API shows
next to the rolled-up hours. It is aggregated by the rollup's own rule (``rollup``), from
the stored minutes the storage reads."""

from __future__ import annotations

from marketmem.retention.rollup import HOUR_MS, MinuteBar, aggregate_hour, hour_start
from marketmem.storage.models.retention import FormingHour
from marketmem.storage.reads import Connection
from marketmem.storage.reads.retention import minutes_between


def current_hour_candle(conn: Connection, coin: str, now_ms: int) -> FormingHour | None:
    """The hour containing ``now_ms`` so far, from its 1-minute candles; None without any."""
    start = hour_start(now_ms)
    minutes = minutes_between(conn, coin, start, start + HOUR_MS)
    bar = aggregate_hour(
        coin,
        start,
        (
            MinuteBar(m.open_time_ms, m.open, m.high, m.low, m.close, m.volume, m.trades)
            for m in minutes
        ),
    )
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
