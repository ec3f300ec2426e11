"""Which context table a linked market belongs in at a given time (a pure function).

- ``recently_closed``: closed (or past its end date while Gamma still says open: ended)
  within the window, timed by ``closedTime`` else the end date;
- ``immediate``: open and ending within the horizon;
- ``later``: open and ending after the horizon (or with no end date);
- ``none``: unlinked, archived, closed/ended before the window or at an unknown time.
"""

from __future__ import annotations

from marketmem.storage.reads.polymarket import TABLE_OF as TABLE_OF
from marketmem.storage.reads.polymarket import Bucket

BUCKETS: tuple[Bucket, ...] = ("immediate", "later", "recently_closed")

# The channel that owns each bucket.
CHANNEL_OF: dict[Bucket, str] = {
    "immediate": "immediate_markets",
    "later": "later_markets",
    "recently_closed": "recently_closed",
}
# The table each fills is the storage's ``TABLE_OF`` (imported above).


def classify(
    *,
    linked: bool,
    closed: bool,
    archived: bool,
    end_ms: int | None,
    closed_time_ms: int | None,
    now_ms: int,
    horizon_ms: int,
    window_ms: int,
) -> Bucket:
    if not linked or archived:
        return "none"
    ended = end_ms is not None and end_ms <= now_ms
    if closed or ended:
        at = closed_time_ms if closed and closed_time_ms is not None else end_ms
        if at is None:
            return "none"  # closed at an unknown time: cannot be called recent
        return "recently_closed" if now_ms - at <= window_ms else "none"
    if end_ms is not None and end_ms - now_ms <= horizon_ms:
        return "immediate"
    return "later"
