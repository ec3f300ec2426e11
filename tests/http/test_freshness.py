"""Freshness of latest-data parts and the dashboard summary (pure)."""

from __future__ import annotations

from marketmem.health import stale_after_s
from marketmem.http.dashboard import summarize
from marketmem.http.freshness import data_time_ms, deciding_channel, part_freshness
from marketmem.storage.models.runs import ChannelHealth

NOW = 1_000_000_000


def health(
    channel: str,
    status: str = "ok",
    *,
    enabled: bool = True,
    cadence_s: float = 60,
    success_ago_s: float | None = 10,
    error: str | None = None,
    source: str = "hyperliquid",
) -> ChannelHealth:
    success = None if success_ago_s is None else NOW - int(success_ago_s * 1000)
    return ChannelHealth(
        source=source,
        channel=channel,
        enabled=enabled,
        status=status,
        cadence_s=cadence_s,
        stale_after_s=stale_after_s(cadence_s),
        last_started_at_ms=success,
        last_finished_at_ms=success,
        last_success_at_ms=success,
        rows_written=5 if success else None,
        error=error,
    )


def test_data_time_prefers_the_most_specific_key() -> None:
    assert data_time_ms({"close_time_ms": 5, "updated_at_ms": 7}) == 7
    assert data_time_ms({"computed_at_ms": 3, "window_end_ms": 9}) == 3
    assert data_time_ms({"at_ms": True}) is None
    assert data_time_ms({"price": 1.0}) is None
    assert data_time_ms(None) is None


def test_data_within_the_stale_threshold_is_fresh() -> None:
    # cadence 60 s -> stale after max(120, 360) = 360 s
    got = part_freshness([health("candles")], NOW - 359_000, NOW)
    assert (got.stale, got.age_ms, got.stale_after_s) == (False, 359_000, 360.0)
    assert got.channel == "hyperliquid/candles"
    assert got.channel_status == "ok"


def test_data_past_the_threshold_is_stale_even_when_the_channel_is_ok() -> None:
    got = part_freshness([health("candles")], NOW - 361_000, NOW)
    assert got.stale and got.age_ms == 361_000


def test_without_a_data_time_the_last_success_decides() -> None:
    assert not part_freshness([health("candles", success_ago_s=100)], None, NOW).stale
    got = part_freshness([health("candles", "stale", success_ago_s=400)], None, NOW)
    assert got.stale and got.age_ms == 400_000


def test_never_succeeded_is_stale_with_no_age() -> None:
    got = part_freshness([health("candles", "missing", success_ago_s=None)], None, NOW)
    assert got.stale and got.age_ms is None and got.channel_status == "missing"


def test_the_least_healthy_enabled_channel_decides() -> None:
    rows = [
        health("capital_base", "ok", source="defillama", cadence_s=3600),
        health("capital_flows", "failed", source="defillama", cadence_s=3600),
        health("economic_throughput", "missing", source="defillama", enabled=False),
    ]
    assert deciding_channel(rows).channel == "capital_flows"
    # Disabled channels count only when no channel is enabled.
    assert deciding_channel([rows[2]]).channel == "economic_throughput"


def test_dashboard_counts_freshness_and_hides_errors_and_private_tables() -> None:
    rows = [
        health("candles", "ok", success_ago_s=30),
        health("mids", "failed", success_ago_s=90, error="ConnectError: 10.0.0.5 refused"),
        health("registry", "missing", enabled=False, success_ago_s=None),
        health("discovery", "missing", enabled=False, source="polymarket", success_ago_s=None),
    ]
    tables = {"hyperliquid_candles": 10, "api_tokens": 2, "clones": 1}
    prices = {"mid": [NOW - 5_000, NOW - 20_000], "candle_1m": []}
    d = summarize(rows, tables, prices, NOW)
    assert d.status_counts["ok"] == 1
    assert d.status_counts["failed"] == 1
    assert d.status_counts["disabled"] == 2
    assert d.tables == {"hyperliquid_candles": 10}
    hl = next(s for s in d.sources if s.source == "hyperliquid")
    assert (hl.worst_status, hl.enabled_channels) == ("failed", 2)
    assert (hl.newest_success_age_s, hl.oldest_success_age_s) == (30.0, 90.0)
    pm = next(s for s in d.sources if s.source == "polymarket")
    assert pm.worst_status == "disabled" and pm.newest_success_age_s is None
    mids = next(c for c in d.channels if c.channel == "mids")
    assert mids.last_run_failed
    assert "refused" not in repr(d)
    assert d.prices["mid"].coins == 2
    assert (d.prices["mid"].newest_age_s, d.prices["mid"].oldest_age_s) == (5.0, 20.0)
    assert d.prices["candle_1m"].coins == 0 and d.prices["candle_1m"].newest_age_s is None


def test_a_part_without_data_is_stale_however_healthy_its_channel() -> None:
    got = part_freshness(
        [health("technical_indicators", "ok", success_ago_s=5)], None, NOW, present=False
    )
    assert got.stale and got.age_ms == 5_000 and got.channel_status == "ok"
