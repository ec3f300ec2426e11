"""The public dashboard summary: counts per status, per-source freshness, rows per table and
the age of the latest prices. ``summarize`` is pure; ``read_dashboard`` gathers its inputs.

Nothing secret or internal leaves here: no error texts (only whether the last run failed), no
tokens, no clone data.
"""

from __future__ import annotations

from marketmem.config import Config
from marketmem.http.schemas import Dashboard, DashboardChannel, PriceAge, SourceFreshness
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import Connection, hyperliquid
from marketmem.storage.reads.catalog import table_row_counts
from marketmem.storage.reads.runs import channel_health

# Worst first: the status a source shows when its channels disagree.
SEVERITY = ("failed", "stale", "missing", "running", "ok")
PRIVATE_TABLES = frozenset({"api_tokens", "clones"})


def _age_s(now_ms: int, at_ms: int | None) -> float | None:
    return None if at_ms is None else max(0.0, (now_ms - at_ms) / 1000)


def price_age(now_ms: int, latest_by_coin: list[int]) -> PriceAge:
    if not latest_by_coin:
        return PriceAge(coins=0, newest_age_s=None, oldest_age_s=None)
    return PriceAge(
        coins=len(latest_by_coin),
        newest_age_s=_age_s(now_ms, max(latest_by_coin)),
        oldest_age_s=_age_s(now_ms, min(latest_by_coin)),
    )


def summarize(
    health: list[ChannelHealth],
    tables: dict[str, int],
    prices: dict[str, list[int]],
    now_ms: int,
) -> Dashboard:
    """The dashboard from channel health rows, row counts and latest price times per coin."""
    channels = [
        DashboardChannel(
            source=h.source,
            channel=h.channel,
            enabled=h.enabled,
            status=h.status,
            cadence_s=h.cadence_s,
            stale_after_s=h.stale_after_s,
            last_success_at_ms=h.last_success_at_ms,
            last_success_age_s=_age_s(now_ms, h.last_success_at_ms),
            rows_written=h.rows_written,
            last_run_failed=h.error is not None and h.status == "failed",
        )
        for h in health
    ]
    counts: dict[str, int] = {s: 0 for s in SEVERITY}
    counts["disabled"] = 0
    for c in channels:
        counts[c.status if c.enabled else "disabled"] += 1
    sources: list[SourceFreshness] = []
    for source in dict.fromkeys(c.source for c in channels):
        enabled = [c for c in channels if c.source == source and c.enabled]
        ages = [c.last_success_age_s for c in enabled if c.last_success_age_s is not None]
        worst = min((SEVERITY.index(c.status) for c in enabled), default=None)
        sources.append(
            SourceFreshness(
                source=source,
                enabled_channels=len(enabled),
                worst_status=SEVERITY[worst] if worst is not None else "disabled",
                newest_success_age_s=min(ages) if ages else None,
                oldest_success_age_s=max(ages) if ages else None,
            )
        )
    return Dashboard(
        generated_at_ms=now_ms,
        status_counts=counts,
        channels=channels,
        sources=sources,
        tables={k: v for k, v in tables.items() if k not in PRIVATE_TABLES},
        prices={kind: price_age(now_ms, times) for kind, times in prices.items()},
    )


def latest_price_times(conn: Connection) -> dict[str, list[int]]:
    """Per kind of price, the time of the latest row of each coin."""
    times = hyperliquid.latest_price_times(conn)
    return {"mid": times.mid, "candle_1m": times.candle_1m}


def read_dashboard(conn: Connection, config: Config, now_ms: int) -> Dashboard:
    health = channel_health(conn, config, now_ms)
    return summarize(health, table_row_counts(conn), latest_price_times(conn), now_ms)
