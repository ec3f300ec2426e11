"""The candle gap book (pure): opening, closing, healing, widening, retries and the horizon."""

from __future__ import annotations

import random

from marketmem.sources.hyperliquid.gaps import Gap, GapBook, horizon_ms, retry_delay_s

M = 60_000
T0 = 1_795_564_800_000  # a minute boundary


def test_a_gap_opens_at_the_latest_bar_and_closes_when_the_link_is_back() -> None:
    book = GapBook(max_bars=1440)
    gap = book.open("BTC", T0 + 5 * M + 1234, "reconnect", T0 + 6 * M)
    assert (gap.first_ms, gap.last_ms, gap.closed) == (T0 + 5 * M, None, False)
    assert book.due(0.0) == []  # the link is down: nothing to ask yet
    assert book.request("BTC", T0 + 7 * M) is None
    book.link_up("BTC", T0 + 9 * M + 30_000)
    assert gap.last_ms == T0 + 9 * M and gap.bars() == 5
    assert [g.coin for g in book.due(0.0)] == ["BTC"]
    request = book.request("BTC", T0 + 9 * M + 31_000)
    assert request is not None
    assert (request.start_ms, request.asked_ms) == (T0 + 5 * M, T0 + 9 * M + 31_000)
    assert book.healed(request) is None
    assert book.pending() == []


def test_a_failed_snapshot_keeps_the_gap_and_counts_attempts() -> None:
    book = GapBook(max_bars=1440)
    book.open("ETH", T0, "start-up", T0)
    book.link_up("ETH", T0 + M)
    for attempt in range(1, 4):
        request = book.request("ETH", T0 + M)
        assert request is not None
        gap = book.failed(request, "HTTP 500", retry_at=10.0 * attempt)
        assert gap is not None and gap.attempts == attempt and gap.last_error == "HTTP 500"
    assert book.due(29.0) == [] and [g.coin for g in book.due(30.0)] == ["ETH"]
    assert book.next_retry_at() == 30.0
    # Still failing two minutes after the link came back: overdue.
    assert book.overdue(T0 + 3 * M - 1, 2 * M) == []
    assert [g.coin for g in book.overdue(T0 + 3 * M, 2 * M)] == ["ETH"]
    # A gap waiting for its first attempt is not overdue, however long it waits.
    book.open("SOL", T0, "start-up", T0)
    book.link_up("SOL", T0 + M)
    assert [g.coin for g in book.overdue(T0 + 60 * M, 2 * M)] == ["ETH"]


def test_a_loss_while_the_snapshot_is_under_way_keeps_what_came_after_it() -> None:
    book = GapBook(max_bars=1440)
    book.open("BTC", T0, "reconnect", T0)
    book.link_up("BTC", T0 + 3 * M)
    request = book.request("BTC", T0 + 3 * M + 10_000)
    assert request is not None
    # The socket drops again (latest bar known: 3) and comes back, before the answer.
    book.open("BTC", T0 + 3 * M, "reconnect", T0 + 4 * M)
    book.link_up("BTC", T0 + 6 * M)
    left = book.healed(request)
    assert left is not None
    # The snapshot made final everything before the bar forming when it was asked.
    assert (left.first_ms, left.last_ms) == (T0 + 3 * M, T0 + 6 * M)
    assert left.attempts == 0


def test_a_new_loss_widens_a_pending_gap_instead_of_adding_one() -> None:
    book = GapBook(max_bars=1440)
    book.open("BTC", T0 + 2 * M, "reconnect", T0 + 2 * M)
    book.link_up("BTC", T0 + 4 * M)
    book.open("BTC", T0 + 4 * M, "resubscribe", T0 + 5 * M)
    (gap,) = book.pending()
    assert (gap.first_ms, gap.last_ms, gap.reason) == (T0 + 2 * M, None, "resubscribe")
    # Already open: a later loss does not move it.
    book.open("BTC", T0 + 5 * M, "reconnect", T0 + 6 * M)
    assert book.pending()[0].first_ms == T0 + 2 * M
    assert book.pending()[0].reason == "reconnect"


def test_gaps_past_the_horizon_are_dropped_and_the_rest_clipped() -> None:
    book = GapBook(max_bars=10)
    book.open("OLD", T0, "reconnect", T0)
    book.link_up("OLD", T0 + 2 * M)
    book.open("LONG", T0, "reconnect", T0)
    book.link_up("LONG", T0 + 30 * M)
    now = T0 + 30 * M
    assert horizon_ms(now, 10) == T0 + 20 * M
    dropped = book.expire(now)
    assert [g.coin for g in dropped] == ["OLD"]
    (long_gap,) = book.pending()
    assert long_gap.first_ms == T0 + 20 * M
    # A gap opened far back starts at the horizon at once.
    assert book.open("NEW", 0, "start-up", now).first_ms == T0 + 20 * M


def test_a_restored_gap_is_kept_unless_an_earlier_one_is_held() -> None:
    book = GapBook(max_bars=1440)
    gap = book.open("BTC", T0 + 5 * M, "start-up", T0 + 6 * M)
    book.restore(Gap("BTC", T0 + M, None, "reconnect", T0, attempts=2))
    assert book.pending()[0].first_ms == T0 + M and book.pending()[0] is not gap
    book.restore(Gap("BTC", T0 + 3 * M, None, "reconnect", T0))
    assert book.pending()[0].first_ms == T0 + M


def test_retry_delay_is_capped_and_jittered() -> None:
    rng = random.Random(5)
    delays = [retry_delay_s(n, 1.0, 30.0, rng) for n in range(1, 12)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(d <= 30.0 for d in delays) and max(delays[6:]) >= 15.0
    assert len({round(d, 6) for d in delays[6:]}) > 1
