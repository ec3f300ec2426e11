"""WebSocket faults on the Hyperliquid stream against the local venue (MockClock).

- A silent stall (socket open, nothing comes, pongs included) escalates: resubscribe on the
  same socket after ``ws_resubscribe_after_s``, reconnect after ``ws_silence_timeout_s``.
- A stall that ends between the two thresholds is recovered in place (no reconnect), and the
  bar that closed during it is backfilled.
- A socket closed mid-stream, with reconnects refused for minutes and dropped again on return.
- A socket drop that overlaps an ``/info`` outage (5xx, 429, hanging requests) lasting minutes:
  the gap is kept, retried with backoff, reported, and healed once ``/info`` is back; a gap
  pending when the process stops is healed by the next one.

Each ends with the stored closed 1-minute candles compared with the venue simulator's own bars:
no gap, no duplicate, the venue's values.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from marketmem.config import Config
from marketmem.runtime import Runtime
from marketmem.sources.hyperliquid.stream import HyperliquidStream
from marketmem.venues.hyperliquid import HyperliquidVenue
from tests.faults.faults_helpers import hl_config, open_hl_venue, wait_until
from tests.hyperliquid.test_hl_stream import (
    assert_closed_bars_match_venue,
    pipeline,
    rows,
    streaming,
)

M = 60_000
COINS = ("BTC", "ETH", "ATOM")
RESUBSCRIBE_S = 10
DEAD_S = 25
ESCALATION = f"ws_resubscribe_after_s = {RESUBSCRIBE_S}\nws_silence_timeout_s = {DEAD_S}\n"


def notes(rt: Runtime) -> str:
    return " ".join(r["error"] or "" for r in rows(rt, "SELECT error FROM ingestion_runs"))


def assert_no_gap_no_duplicate(rt: Runtime, venue: HyperliquidVenue, through_ms: int) -> None:
    """Closed bars equal the venue's, contiguous, one row per bar, reaching ``through_ms``."""
    for coin in COINS:
        assert_closed_bars_match_venue(rt, venue, coin)
    last = rows(
        rt,
        "SELECT max(open_time_ms) AS t FROM hyperliquid_candles WHERE coin='BTC' AND closed",
    )[0]["t"]
    assert last >= through_ms, "the stored closed bars stop before the fault"
    dupes = rows(
        rt,
        "SELECT coin, open_time_ms, count(*) AS n FROM hyperliquid_candles "
        "GROUP BY coin, interval, open_time_ms HAVING n > 1",
    )
    assert dupes == []


async def to_second_of_minute(venue: HyperliquidVenue, second: int) -> None:
    """Sleep to ``second`` past the next minute boundary at least 60 s ahead (a bar is open)."""
    await trio.sleep(60 + second - (venue.clock.now_ms() % M) / 1000)
    assert venue.clock.now_ms() % M == second * 1000


async def test_stall_resubscribes_then_reconnects_then_backfills(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_hl_venue() as venue:
        config = hl_config(make_config, venue, ESCALATION)
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            await to_second_of_minute(venue, 40)
            subscriptions = sum(len(c) for c in stream.connections)
            messages = venue.stats.ws_messages
            stalled_at = trio.current_time()
            stalled_ms = venue.clock.now_ms()
            venue.faults.stall = True

            resubscribed_at = await wait_until(lambda: stream.stats.resubscribes >= 1)
            # Detected within the first threshold of the last frame (frames come every second),
            # and answered on the same socket: every subscription sent again, no new socket.
            assert RESUBSCRIBE_S - 1.1 <= resubscribed_at - stalled_at <= RESUBSCRIBE_S + 0.1
            assert venue.stats.ws_connections == 1 and venue.stats.ws_open == 1
            assert stream.stats.reconnects == 0
            await trio.sleep(0.5)
            assert venue.stats.ws_messages - messages >= subscriptions

            dead_at = await wait_until(lambda: stream.stats.reconnects >= 1)
            assert DEAD_S - 1.1 <= dead_at - stalled_at <= DEAD_S + 0.1
            assert stream.stats.resubscribes == 1  # one resubscribe per silence
            venue.faults.stall = False  # before the reconnect backoff (>= 0.5 s) ends

            await wait_until(lambda: stream.stats.backfills >= 2)
            assert venue.stats.ws_connections == 2
            await trio.sleep(150)
        text = notes(rt)
        assert "resubscribe (connection 0)" in text
        assert "dead link" in text and "backfill after reconnect" in text
        # The bars that closed during the stall are stored, closed, with the venue's values.
        assert_no_gap_no_duplicate(rt, venue, stalled_ms - stalled_ms % M + M)


async def test_stall_shorter_than_dead_link_is_recovered_in_place(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    """The stall spans a bar boundary, so that bar misses its last trades unless backfilled."""
    async with open_hl_venue() as venue:
        config = hl_config(make_config, venue, ESCALATION)
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            await to_second_of_minute(venue, 48)
            stalled_ms = venue.clock.now_ms()
            venue.faults.stall = True
            await wait_until(lambda: stream.stats.resubscribes >= 1)
            await trio.sleep(RESUBSCRIBE_S / 2)
            venue.faults.stall = False
            await wait_until(lambda: stream.stats.backfills >= 2)
            await trio.sleep(120)
        assert stream.stats.reconnects == 0
        assert venue.stats.ws_connections == 1
        assert "backfill after resubscribe" in notes(rt)
        # The bar open when the stall began closed during it: its stored state is the venue's.
        assert_no_gap_no_duplicate(rt, venue, stalled_ms - stalled_ms % M)


async def test_socket_closed_mid_stream_is_backfilled(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_hl_venue() as venue:
        config = hl_config(make_config, venue, "")
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            await to_second_of_minute(venue, 20)
            dropped_ms = venue.clock.now_ms()
            # The socket closes (no close frame) after 7 more data frames, and new sockets are
            # refused for 150 s: bars open and close while nobody listens.
            venue.max_connections = 0
            venue.faults.drop_after_frames = 7
            await wait_until(lambda: venue.stats.ws_dropped_fault >= 1)
            assert venue.clock.now_ms() - dropped_ms < 10_000  # mid-bar
            await trio.sleep(150)
            venue.max_connections = 10
            # Back: dropped again a few frames into the new socket (its backfill under way).
            venue.faults.drop_after_frames = 3
            await wait_until(lambda: venue.stats.ws_dropped_fault >= 2)
            backfills = stream.stats.backfills
            await wait_until(lambda: stream.stats.backfills > backfills)
            await trio.sleep(120)
        assert venue.stats.ws_connections >= 3
        assert venue.stats.ws_rejected >= 1  # reconnects were refused meanwhile
        assert stream.stats.reconnects >= 3
        text = notes(rt)
        assert "connection 0 failed" in text  # the refused handshakes failed a window
        assert "backfill after reconnect" in text
        assert_no_gap_no_duplicate(rt, venue, dropped_ms - dropped_ms % M + 3 * M)


# --- a socket drop that overlaps an /info outage ---------------------------------------------


async def _drop_during_info_outage(
    rt: Runtime, venue: HyperliquidVenue, stream: HyperliquidStream, kind: str
) -> int:
    """Late in a bar, /info goes down; then the socket drops and reconnects are refused for
    150 s (bars close and one misses its last trades while nobody listens). The socket comes
    back while /info is still down; /info recovers 6 minutes after it failed. Returns the
    open time of the bar that was forming at the drop."""
    await to_second_of_minute(venue, 45)
    venue.faults.info_outage = kind
    outage_started = trio.current_time()
    await trio.sleep(5)
    dropped_ms = venue.clock.now_ms()
    venue.max_connections = 0
    assert await venue.drop_connections() == 1
    await trio.sleep(150)
    venue.max_connections = 10
    await wait_until(lambda: venue.stats.ws_open == 1)
    reconnects = stream.stats.reconnects
    await trio.sleep_until(outage_started + 360)
    assert stream.stats.reconnects == reconnects  # the socket stayed healthy meanwhile
    venue.faults.info_outage = None
    return dropped_ms - dropped_ms % M


@pytest.mark.parametrize("kind", ["500", "429", "hang"])
async def test_gap_is_healed_after_an_info_outage_that_outlasts_the_reconnect(
    kind: str, make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_hl_venue() as venue:
        config = hl_config(make_config, venue, "backfill_retry_budget_s = 60\n")
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            forming = await _drop_during_info_outage(rt, venue, stream, kind)
            # While /info was down past the retry budget, the candles channel was not ok.
            failed = rows(
                rt,
                "SELECT error FROM ingestion_runs WHERE channel='candles' AND status='failed'",
            )
            assert any("pending past the retry budget" in (r["error"] or "") for r in failed)
            await wait_until(lambda: not stream.gaps.pending())
            await trio.sleep(120)
            latest = rows(
                rt,
                "SELECT status FROM ingestion_runs WHERE channel='candles' "
                "ORDER BY finished_at_ms DESC LIMIT 1",
            )
            assert latest == [{"status": "ok"}]
        # The bar forming at the drop and those that closed while the socket was refused are
        # stored closed with the venue's values; nothing missing, duplicated or invented.
        assert_no_gap_no_duplicate(rt, venue, forming + 4 * M)
        assert rows(rt, "SELECT * FROM hyperliquid_candle_gaps") == []


async def test_gap_pending_at_a_restart_is_healed_by_the_next_process(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    async with open_hl_venue() as venue:
        config = hl_config(make_config, venue, "")
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            await to_second_of_minute(venue, 45)
            venue.faults.info_outage = "500"
            forming = venue.clock.now_ms() - venue.clock.now_ms() % M
            venue.max_connections = 0
            assert await venue.drop_connections() == 1
            await trio.sleep(150)
            venue.max_connections = 10
            await wait_until(lambda: venue.stats.ws_open == 1)
            await trio.sleep(30)
            assert stream.gaps.pending()
        # Stopped with the gap pending: it is in the database.
        stored = rows(rt, "SELECT coin FROM hyperliquid_candle_gaps")
        assert {r["coin"] for r in stored} == set(COINS)
        await trio.sleep(300)  # down for five minutes; /info recovers meanwhile
        venue.faults.info_outage = None
        async with pipeline(config, venue) as rt, streaming(rt) as stream:
            await wait_until(lambda: not stream.gaps.pending())
            await trio.sleep(120)
        assert_no_gap_no_duplicate(rt, venue, forming + 8 * M)
        assert rows(rt, "SELECT * FROM hyperliquid_candle_gaps") == []
