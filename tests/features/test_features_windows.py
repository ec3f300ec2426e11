"""Series window rules (gaps, duplicates, rollups) and the in-memory candle windows."""

from __future__ import annotations

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.events import Candle
from marketmem.features.series import (
    Series,
    closed_hours,
    full_window,
    has_fresh_data,
    hourly,
    is_stale,
)
from marketmem.features.values import GAP, TOO_FEW_CANDLES
from marketmem.features.windows import KEEP_MINUTES, CandleWindows, CoinWindow
from marketmem.storage.models.features import WindowHour, WindowMinute


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
        [
            WindowMinute("BTC", MINUTE_MS, 10.0, 11.0, 9.0, 15.0, 1.0, 8),
            WindowMinute("BTC", 0, 1, 2, 0.5, 1.5, 1, 1),
        ]
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
    w.apply_hours(
        [
            WindowHour("BTC", 0, 1.0, 2.0, 0.5, 1.5, 100.0, 60),
            WindowHour("BTC", HOUR_MS, 5, 6, 4, 5, 1, 60),
        ]
    )
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


# --- the age of hour bars: their newest minute ---------------------------------------------


def minutes(idx: list[int]) -> Series:
    return Series.from_bars(MINUTE_MS, [bar(i) for i in idx])


def test_hourly_keeps_the_newest_minute_of_each_hour() -> None:
    h = hourly(minutes([0, 1, 59, 60, 75]))
    assert h.times == [0, HOUR_MS]
    assert h.newest_minutes == [59 * MINUTE_MS, 75 * MINUTE_MS]
    assert h.data_end_ms == 76 * MINUTE_MS - 1  # the close of minute 75
    assert h.end_ms == 2 * HOUR_MS - 1  # the hour's nominal end, 44 minutes later
    assert h.slice(0, 1).data_end_ms == HOUR_MS - 1
    assert hourly(Series.empty(MINUTE_MS)).data_end_ms is None
    # A series that is not a rollup: its data reaches each bar's end.
    assert Series.from_bars(HOUR_MS, [(0, 1, 1, 1, 1, 1)]).data_end_ms == HOUR_MS - 1


def test_hour_staleness_is_the_age_of_the_newest_minute() -> None:
    stale_after = 15 * MINUTE_MS
    h = hourly(minutes(list(range(61))))  # the feed stopped after minute 60 (01:00)
    end = 61 * MINUTE_MS - 1
    assert not is_stale(h, end + stale_after, stale_after)  # exactly at the threshold
    assert is_stale(h, end + stale_after + 1, stale_after)
    # 20 and 70 minutes after the stop the forming hour 01:00 has not even ended nominally.
    assert is_stale(h, end + 20 * MINUTE_MS, stale_after)
    assert is_stale(h, end + 70 * MINUTE_MS, stale_after)
    assert not is_stale(Series.empty(HOUR_MS), 10**12, stale_after)
    assert not has_fresh_data(Series.empty(HOUR_MS), 0, stale_after)
    one = hourly(minutes([30]))
    assert has_fresh_data(one, 31 * MINUTE_MS, stale_after)
    assert not has_fresh_data(one, 31 * MINUTE_MS + stale_after, stale_after)
    # A gap of hours before the latest one does not matter: only its newest minute does.
    gapped = hourly(minutes([0, 1, 180, 181]))
    assert gapped.times == [0, 3 * HOUR_MS]
    assert not is_stale(gapped, 182 * MINUTE_MS + stale_after - 1, stale_after)


def test_closed_hours_are_complete_or_followed_by_data() -> None:
    assert len(closed_hours(Series.empty(HOUR_MS), 10**12)) == 0
    whole = hourly(minutes(list(range(60))))
    assert closed_hours(whole, HOUR_MS - 1).times == []  # its last minute is still forming
    assert closed_hours(whole, HOUR_MS).times == [0]  # exactly at its end
    cut = hourly(minutes(list(range(50))))  # the feed stopped at 00:50
    assert closed_hours(cut, HOUR_MS + 2 * MINUTE_MS).times == []
    assert closed_hours(cut, 10 * HOUR_MS).times == []  # however late: it never closed
    # Once the next hour has data the cut hour counts as closed; the forming one does not.
    resumed = hourly(minutes([*range(50), 61]))
    assert closed_hours(resumed, 62 * MINUTE_MS).times == [0]
    # Missing minutes inside an hour (no trades) do not keep it open; its last minute does.
    sparse = hourly(minutes([0, 30, 59]))
    assert closed_hours(sparse, HOUR_MS).times == [0]
    # A gap: the hours before it are closed, the last one follows the rule above.
    gapped = hourly(minutes([*range(60), *range(180, 240)]))
    assert closed_hours(gapped, 4 * HOUR_MS).times == [0, 3 * HOUR_MS]
    assert closed_hours(gapped, 4 * HOUR_MS - 1).times == [0]


def test_window_hours_carry_their_newest_minute() -> None:
    w = CandleWindows()
    w.apply_hours(
        [
            WindowHour("BTC", 0, 1, 2, 0.5, 1.5, 9, 60),
            WindowHour("BTC", HOUR_MS, 1, 2, 0.5, 1.5, 9, 45),
        ]
    )
    stored = w.hours("BTC")
    # A stored rollup records only its minute count: whole hours end at their last minute;
    # a partial one is taken as no newer than its count allows.
    assert stored.newest_minutes == [59 * MINUTE_MS, HOUR_MS + 44 * MINUTE_MS]
    w.apply([candle(120 + i, upd=1) for i in range(10)])  # 02:00-02:09 from minutes
    h = w.hours("BTC")
    assert h.times == [0, HOUR_MS, 2 * HOUR_MS]
    assert h.newest_minutes is not None and h.newest_minutes[-1] == 129 * MINUTE_MS
    assert h.data_end_ms == w.minutes("BTC").end_ms
    assert len(w.hours("ETH")) == 0 and w.hours("ETH").data_end_ms is None


def test_trimmed_hours_keep_their_newest_minute() -> None:
    cw = CoinWindow()
    total = KEEP_MINUTES + 180
    for i in range(total):
        if i % 60 != 59 or i < 120:  # from hour 2 on, every hour lacks its last minute
            cw.upsert(i * MINUTE_MS, 10.0, 11.0, 9.0, 10.0, 1.0, 0)
    cw.trim()
    h = cw.hour_series()
    assert h.newest_minutes is not None
    assert h.newest_minutes[:3] == [59 * MINUTE_MS, 119 * MINUTE_MS, 178 * MINUTE_MS]
    assert cw.hours[2 * HOUR_MS][6] == 178 * MINUTE_MS  # moved out of the minute window
