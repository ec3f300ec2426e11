"""What the feature channels fetch from the info endpoint, shared and cached across runs.

- ``CtxCache``: one ``metaAndAssetCtxs`` answer (weight 20) serves every channel that runs
  within ``ctx_max_age_s`` of it; failures are not cached (each channel's run fails on its own).
- ``FundingHistories``: per-coin hourly funding of the last 7 days, fetched incrementally. A
  coin is due when it has no history or a newer hour has settled; at most
  ``funding_history_requests_per_run`` coins are fetched per run (each request weighs 20+),
  those without any history first.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from marketmem.events import AssetCtxSnapshot
from marketmem.features import convert
from marketmem.features.funding import HISTORY_MS
from marketmem.runs import describe_error
from marketmem.sources.hyperliquid.info import InfoClient

HOUR_MS = 3_600_000
# A settlement lands a few ms to a couple of minutes after the hour.
SETTLE_GRACE_MS = 120_000
# A coin whose fetch failed (or found nothing new) is not retried sooner than this.
RETRY_AFTER_MS = 600_000
MAX_CONSECUTIVE_FAILURES = 3


@dataclass(frozen=True)
class CtxSnapshot:
    snapshot_ms: int
    by_coin: dict[str, AssetCtxSnapshot]
    delisted: frozenset[str]


class CtxCache:
    def __init__(self, client: InfoClient, max_age_s: float) -> None:
        self.client = client
        self.max_age_s = max_age_s
        self._lock = trio.Lock()
        self._value: CtxSnapshot | None = None
        self._at = 0.0
        self.fetches = 0

    async def get(self, now_ms: int) -> CtxSnapshot:
        async with self._lock:
            now = trio.current_time()
            if self._value is not None and now - self._at < self.max_age_s:
                return self._value
            answer = await self.client.meta_and_asset_ctxs()
            self.fetches += 1
            by_coin, delisted = convert.asset_ctx_snapshots(answer, now_ms)
            self._value = CtxSnapshot(now_ms, by_coin, frozenset(delisted))
            self._at = now
            return self._value


class FundingHistories:
    def __init__(self, client: InfoClient) -> None:
        self.client = client
        self.points: dict[str, list[tuple[int, float]]] = {}
        self._attempted: dict[str, int] = {}

    def due(self, coins: list[str], now_ms: int) -> list[str]:
        """Coins whose history should be fetched now, most needed first."""
        out: list[tuple[int, int, str]] = []
        for coin in coins:
            if now_ms - self._attempted.get(coin, -RETRY_AFTER_MS) < RETRY_AFTER_MS:
                continue
            pts = self.points.get(coin)
            if pts is None:
                out.append((0, 0, coin))
            elif not pts or now_ms - pts[-1][0] > HOUR_MS + SETTLE_GRACE_MS:
                out.append((1, pts[-1][0] if pts else 0, coin))
        out.sort()
        return [c for _, _, c in out]

    async def refresh(self, coins: list[str], now_ms: int, max_requests: int) -> dict[str, str]:
        """Fetch what is due (at most ``max_requests`` coins); returns coin -> error.

        Stops after ``MAX_CONSECUTIVE_FAILURES`` failures in a row: the endpoint is down, and
        every further request would only wait out its retries.
        """
        failures: dict[str, str] = {}
        since = now_ms - HISTORY_MS
        in_a_row = 0
        for coin in self.due(coins, now_ms)[:max_requests]:
            if in_a_row >= MAX_CONSECUTIVE_FAILURES:
                break
            self._attempted[coin] = now_ms
            held = self.points.get(coin) or []
            start = held[-1][0] + 1 if held else since
            try:
                rows = await self.client.funding_history(coin, start, now_ms)
            except Exception as exc:
                failures[coin] = describe_error(exc)
                in_a_row += 1
                continue
            in_a_row = 0
            fresh = [p for p in convert.funding_points(rows) if not held or p[0] > held[-1][0]]
            self.points[coin] = [p for p in held + fresh if p[0] >= since]
        return failures

    def history(self, coin: str) -> list[tuple[int, float]] | None:
        return self.points.get(coin)
