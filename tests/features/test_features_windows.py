"""Series window rules (gaps, duplicates, rollups) and the in-memory candle windows."""

from __future__ import annotations

from marketmem.events import Candle
from marketmem.features.series import HOUR_MS, MINUTE_MS, Series, full_window, hourly
from marketmem.features.values import GAP, TOO_FEW_CANDLES
from marketmem.features.windows import KEEP_MINUTES, CandleWindows, CoinWindow


def bar(i: int, px: float = 10.0, v: float = 1.0) -> tuple[int, float, float, float, float, float]:
    return (i * MINUTE_MS, px, px + 1, px - 1, px + 0.5, v)


def candle(
    i: int, close: float = 10.5, *, coin: str = "BTC", upd: int = 0, interval: str = "1m"
) -> Candle:
    return Candle(
        coin=coin,
        interval=interval,
        open_time_ms=i * MINUTE_MS,
        close_time_ms=i * MINUTE_MS + MINUTE_MS - 1,
        open=10.0,
        high=11.0,
        low=9.0,
        close=close,
        volume=1.0,
        trades=3,
        closed=True,
        updated_at_ms=upd,
    )


def test_duplicates_keep_the_last_update_and_order_is_restored() -> None:
    s = Series.from_bars(MINUTE_MS, [bar(2), bar(0), bar(1, px=5.0), bar(1, px=7.0)])
    assert s.times == [0, MINUTE_MS, 2 * MINUTE_MS]
    assert s.opens == [10.0, 7.0, 10.0]


def test_contiguity_tail_and_full_window() -> None:
    s = Series.from_bars(MINUTE_MS, [bar(i) for i in range(10) if i != 6])
    assert not s.is_contiguous()
    assert s.contiguous_tail().times == [7 * MINUTE_MS, 8 * MINUTE_MS, 9 * MINUTE_MS]
    assert len(full_window(s, 3)) == 3  # type: ignore[arg-type]
    assert full_window(s, 4) == GAP
    assert full_window(s, 20) == GAP
    short = Series.from_bars(MINUTE_MS, [bar(i) for i in range(5)])
    assert full_window(short, 6) == TOO_FEW_CANDLES
    assert full_window(Series.empty(MINUTE_MS), 1) == TOO_FEW_CANDLES
    single = Series.from_bars(MINUTE_MS, [bar(3)])
    assert single.is_contiguous() and len(full_window(single, 1)) == 1  # type: ignore[arg-type]


def test_hourly_rollup_by_hand() -> None:
    bars = [
        (0, 10.0, 12.0, 9.0, 11.0, 1.0),
        (MINUTE_MS, 11.0, 15.0, 10.0, 14.0, 2.0),
        (HOUR_MS, 14.0, 14.5, 13.0, 13.5, 4.0),
    ]
    h = hourly(Series.from_bars(MINUTE_MS, bars))
    assert h.times == [0, HOUR_MS]
    assert (h.opens[0], h.highs[0], h.lows[0], h.closes[0], h.volumes[0]) == (10, 15, 9, 14, 3)
    assert (h.opens[1], h.closes[1], h.volumes[1]) == (14.0, 13.5, 4.0)


def test_window_upserts_out_of_order_and_older_updates_lose() -> None:
    w = CandleWindows()
    w.apply([candle(3, upd=5), candle(1, upd=5), candle(2, upd=5)])
    w.apply([candle(2, close=99.0, upd=4)])  # an older state of bar 2: ignored
    w.apply([candle(2, close=12.0, upd=6)])
    w.apply([candle(2, interval="5m", close=0.0, upd=9)])  # another interval: ignored
    m = w.minutes("BTC")
    assert m.times == [MINUTE_MS, 2 * MINUTE_MS, 3 * MINUTE_MS]
    assert m.closes == [10.5, 12.0, 10.5]
    assert len(w.minutes("ETH")) == 0


def test_database_rows_and_bus_events_merge_by_update_time() -> None:
    w = CandleWindows()
    w.apply([candle(1, close=20.0, upd=10)])
    w.apply_rows(
        [("BTC", MINUTE_MS, 10.0, 11.0, 9.0, 15.0, 1.0, 8), ("BTC", 0, 1, 2, 0.5, 1.5, 1, 1)]
    )
    assert w.minutes("BTC").closes == [1.5, 20.0]


def test_trim_moves_whole_hours_out_of_the_minute_window() -> None:
    cw = CoinWindow()
    total = KEEP_MINUTES + 180
    for i in range(total):
        cw.upsert(i * MINUTE_MS, 10.0, 10.0 + (i % 60 == 30), 9.0, 10.0, 1.0, 0)
    cw.trim()
    assert len(cw.times) == KEEP_MINUTES
    assert cw.times[-1] == (total - 1) * MINUTE_MS
    hours = cw.hour_series()
    # Every hour from 0 on is there: the trimmed ones as stored hours, with their highs.
    assert hours.times == [h * HOUR_MS for h in range(total // 60 + (total % 60 > 0))]
    assert hours.highs[0] == 11.0 and hours.volumes[0] == 60.0
    assert hours.is_contiguous()


def test_hour_series_prefers_minutes_and_falls_back_to_stored_hours() -> None:
    w = CandleWindows()
    w.apply_hours([("BTC", 0, 1.0, 2.0, 0.5, 1.5, 100.0, 60), ("BTC", HOUR_MS, 5, 6, 4, 5, 1, 60)])
    # Minutes from 01:30: hour 1 is partial in the window (stored hour wins), hour 2 is whole.
    w.apply([candle(90 + i, upd=1) for i in range(60)])
    h = w.hours("BTC")
    assert h.times == [0, HOUR_MS, 2 * HOUR_MS]
    assert h.opens[1] == 5.0  # the stored hour
    assert h.volumes[2] == 30.0  # 02:00-02:29 from minutes (the forming hour)
    # A later minute update changes the rolled hour.
    w.apply([candle(125, close=50.0, upd=2)])
    assert w.hours("BTC").closes[2] == 10.5  # minute 149 is still the last one
    w.apply([candle(149, close=50.0, upd=2)])
    assert w.hours("BTC").closes[2] == 50.0
