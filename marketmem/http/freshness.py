"""Freshness of latest-data parts, as pure functions over channel health rows.

A part is fed by one or more source/channels. The channel that decides is the least healthy
of the enabled ones (all of them when none is enabled). A part is stale, per the health rules,
when its data is older than that channel's ``stale_after_s`` (``max(2 x cadence, cadence +
300 s)``); without a data time of its own, the channel's last success stands in for it. A
part with no data at all is stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from marketmem.http.schemas import PartFreshness
from marketmem.storage.models.runs import ChannelHealth

SEVERITY = ("failed", "stale", "missing", "running", "ok")

# Keys that carry the time a row's data refers to, most specific first.
TIME_KEYS = (
    "updated_at_ms",
    "computed_at_ms",
    "observed_at_ms",
    "as_of_ms",
    "at_ms",
    "close_time_ms",
    "time_ms",
    "ts_ms",
)


def data_time_ms(row: Any, keys: Sequence[str] = TIME_KEYS) -> int | None:
    """The first integer time among ``keys`` of ``row`` (a read model's fields, or a
    mapping's keys), else None."""
    if not row:
        return None
    for key in keys:
        value = row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def deciding_channel(rows: Sequence[ChannelHealth]) -> ChannelHealth:
    """The least healthy enabled channel (ties: the one with the oldest last success)."""
    if not rows:
        raise ValueError("a part needs at least one channel")
    candidates = [r for r in rows if r.enabled] or list(rows)

    def rank(r: ChannelHealth) -> tuple[int, int]:
        severity = SEVERITY.index(r.status) if r.status in SEVERITY else 0
        return severity, r.last_success_at_ms or 0

    return min(candidates, key=rank)


def part_freshness(
    rows: Sequence[ChannelHealth], data_at_ms: int | None, now_ms: int, *, present: bool = True
) -> PartFreshness:
    """``present=False`` (the part is null) is always stale, however healthy the channel."""
    channel = deciding_channel(rows)
    at_ms = data_at_ms if data_at_ms is not None else channel.last_success_at_ms
    age_ms = None if at_ms is None else max(0, now_ms - at_ms)
    stale_after_s = float(channel.stale_after_s)
    return PartFreshness(
        stale=not present or age_ms is None or age_ms > stale_after_s * 1000,
        age_ms=age_ms,
        stale_after_s=stale_after_s,
        channel=f"{channel.source}/{channel.channel}",
        channel_status=channel.status,
    )
