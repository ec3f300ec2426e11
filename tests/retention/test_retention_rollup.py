"""Pure rollup arithmetic and retention boundaries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.plugins import parse_config
from marketmem.retention.policy import (
    HOURS_TABLE,
    MIDS_TABLE,
    RETAINED_TABLES,
    RetentionPolicy,
    boundaries,
)
from marketmem.retention.rollup import (
    HourBar,
    MinuteBar,
    aggregate_hour,
    hour_start,
    keeps_stored_hour,
)

H0 = 1_795_564_800_000  # an hour boundary (2026-11-25T00:00:00Z)


def bar(
    minute: int, o: float, h: float, lo: float, c: float, v: float = 1.0, n: int = 1
) -> MinuteBar:
    return MinuteBar(H0 + minute * MINUTE_MS, o, h, lo, c, v, n)


def test_hour_start() -> None:
    assert hour_start(H0) == H0
    assert hour_start(H0 + HOUR_MS - 1) == H0
    assert hour_start(H0 + HOUR_MS) == H0 + HOUR_MS
    assert hour_start(H0 - 1) == H0 - HOUR_MS


def test_aggregate_takes_first_open_last_close_extremes_and_sums() -> None:
    minutes = [
        bar(30, 12.0, 15.0, 11.0, 14.0, v=2.5, n=7),
        bar(2, 10.0, 11.0, 9.0, 10.5, v=1.0, n=3),  # the first minute present (gap before it)
        bar(59, 14.0, 14.5, 8.0, 13.0, v=0.25, n=1),
    ]
    assert aggregate_hour("BTC", H0, minutes) == HourBar(
        coin="BTC",
        open_time_ms=H0,
        close_time_ms=H0 + HOUR_MS - 1,
        open=10.0,
        high=15.0,
        low=8.0,
        close=13.0,
        volume=3.75,
        trades=11,
        minute_count=3,
    )


def test_aggregate_of_nothing_is_none_and_of_one_minute_is_that_minute() -> None:
    assert aggregate_hour("BTC", H0, []) is None
    one = aggregate_hour("BTC", H0, [bar(0, 1.0, 2.0, 0.5, 1.5, v=3.0, n=4)])
    assert one is not None
    assert (one.open, one.high, one.low, one.close, one.volume, one.trades) == (
        1.0,
        2.0,
        0.5,
        1.5,
        3.0,
        4,
    )
    assert one.minute_count == 1


@pytest.mark.parametrize(
    ("hour", "minutes", "message"),
    [
        (H0, [bar(60, 1, 1, 1, 1)], "not in hour"),
        (H0, [MinuteBar(H0 - MINUTE_MS, 1, 1, 1, 1, 1, 1)], "not in hour"),
        (H0, [bar(5, 1, 1, 1, 1), bar(5, 2, 2, 2, 2)], "two bars"),
        (H0 + 1, [], "hour boundary"),
    ],
)
def test_aggregate_refuses_rows_of_the_wrong_hour(
    hour: int, minutes: list[MinuteBar], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate_hour("BTC", hour, minutes)


prices = st.integers(1, 10**7).map(lambda i: i / 100)
minute_bars = st.dictionaries(
    st.integers(0, 59),
    st.tuples(
        prices,
        prices,
        prices,
        prices,
        st.integers(0, 10**6).map(lambda i: i / 8),
        st.integers(0, 500),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(minute_bars, st.randoms(use_true_random=False))
def test_aggregate_does_not_depend_on_arrival_order(
    bars: dict[int, tuple[float, float, float, float, float, int]], rnd: random.Random
) -> None:
    minutes = [bar(m, *values) for m, values in bars.items()]
    shuffled = minutes[:]
    rnd.shuffle(shuffled)
    got = aggregate_hour("ETH", H0, shuffled)
    first, last = min(bars), max(bars)
    assert got is not None
    assert got.open == bars[first][0]
    assert got.close == bars[last][3]
    assert got.high == max(v[1] for v in bars.values())
    assert got.low == min(v[2] for v in bars.values())
    assert got.volume == sum(v[4] for v in bars.values())  # eighths: exact in binary
    assert got.trades == sum(v[5] for v in bars.values())
    assert got.minute_count == len(bars)
    assert got == aggregate_hour("ETH", H0, minutes)


@pytest.mark.parametrize(
    ("hour", "stored", "new", "kept"),
    [
        (H0, None, 3, False),  # nothing stored yet
        (H0, 60, 3, True),  # minutes expired, fewer left: keep the full hour
        (H0, 60, 60, False),  # as many minutes as before (a full backfill): rebuild
        (H0 + HOUR_MS, 60, 3, True),  # the hour holding the boundary has lost minutes too
        (H0 + 2 * HOUR_MS, 60, 3, False),  # no minute of it expired: the minutes are the truth
    ],
)
def test_a_stored_hour_is_kept_only_when_its_minutes_may_have_expired(
    hour: int, stored: int | None, new: int, kept: bool
) -> None:
    minutes_before = H0 + HOUR_MS + 30 * MINUTE_MS
    assert keeps_stored_hour(hour, stored, new, minutes_before) is kept


def test_boundaries_follow_the_design_defaults() -> None:
    now = H0 + 2 * HOUR_MS + 17
    b = boundaries(RetentionPolicy(), now)
    assert b.rollup_through_ms == H0 + HOUR_MS  # the hour before the current one has ended
    assert b.minutes_before_ms == now - 24 * HOUR_MS
    assert b.hours_before_ms == now - 7 * 24 * HOUR_MS
    assert b.tables_before_ms[MIDS_TABLE] == now - 30 * MINUTE_MS
    assert b.tables_before_ms[HOURS_TABLE] == b.hours_before_ms
    assert b.tables_before_ms["hyperliquid_technical_indicators"] == now - 7 * 24 * HOUR_MS


def test_an_hour_is_rolled_up_from_the_millisecond_it_ends() -> None:
    assert boundaries(RetentionPolicy(), H0 + HOUR_MS).rollup_through_ms == H0
    assert boundaries(RetentionPolicy(), H0 + HOUR_MS - 1).rollup_through_ms == H0 - HOUR_MS


def test_policy_comes_from_the_hyperliquid_config() -> None:
    cfg = parse_config(
        "[hyperliquid]\nretention_mids_s = 60\nretention_candles_1m_s = 7200.5\n"
        "retention_candles_1h_s = 86400\nretention_features_s = 3600\n"
    )
    assert RetentionPolicy.from_config(cfg.hyperliquid) == RetentionPolicy(
        mids_ms=60_000, candles_1m_ms=7_200_500, candles_1h_ms=86_400_000, features_ms=3_600_000
    )
    assert RetentionPolicy.from_config(parse_config("").hyperliquid) == RetentionPolicy()


def test_every_declared_table_has_a_distinct_name() -> None:
    names = [t.table for t in RETAINED_TABLES]
    assert len(names) == len(set(names))
