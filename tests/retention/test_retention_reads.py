"""The forming hour read from 1-minute candles, and the probes a pass relies on (on both
engines)."""

from __future__ import annotations

import msgspec
import pytest
from retention_helpers import H0, Store, minute, ro

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.retention.forming import current_hour_candle
from marketmem.storage.reads import retention as reads

pytestmark = pytest.mark.engines


def test_current_hour_is_aggregated_from_its_minutes_so_far(store: Store) -> None:
    store.write_minutes(
        [
            minute("BTC", H0 - MINUTE_MS, h=99.0),  # the previous hour: not part of it
            minute(
                "BTC", H0, o=10.0, h=12.0, lo=9.0, c=11.0, v=1.5, n=3, updated_at_ms=H0 + 60_000
            ),
            minute(
                "BTC",
                H0 + 2 * MINUTE_MS,
                o=11.0,
                h=13.0,
                lo=10.5,
                c=12.5,
                v=0.5,
                n=2,
                updated_at_ms=H0 + 170_000,
            ),
            minute("ETH", H0, h=500.0),  # another coin
        ]
    )
    conn = ro(store.path)
    got = current_hour_candle(conn, "BTC", H0 + 2 * MINUTE_MS + 30_000)
    assert got is not None and msgspec.structs.asdict(got) == {
        "coin": "BTC",
        "open_time_ms": H0,
        "close_time_ms": H0 + HOUR_MS - 1,
        "open": 10.0,
        "high": 13.0,
        "low": 9.0,
        "close": 12.5,
        "volume": 2.0,
        "trades": 5,
        "minute_count": 2,
        "updated_at_ms": H0 + 170_000,
    }
    assert current_hour_candle(conn, "BTC", H0 + HOUR_MS) is None  # next hour: none yet
    assert current_hour_candle(conn, "SOL", H0) is None


def test_probes_see_what_a_pass_would_find(store: Store) -> None:
    conn = ro(store.path)
    assert reads.oldest_minute(conn) is None
    assert not reads.has_pending_hours(conn, H0)
    store.write_minutes([minute("BTC", H0 + 5 * MINUTE_MS), minute("BTC", H0 + HOUR_MS)])
    assert reads.oldest_minute(conn) == H0 + 5 * MINUTE_MS
    assert reads.has_pending_hours(conn, H0)
    assert not reads.has_pending_hours(conn, H0 - HOUR_MS)
    assert "hyperliquid_candles_1h" in reads.existing_tables(conn)
    pages, size = reads.file_pages(conn)
    assert pages > 0 and size in (1024, 2048, 4096, 8192, 16384, 32768, 65536)
    assert reads.free_pages(conn) >= 0
