"""The Hyperliquid info client: ``POST {info_url}/info`` over httpx on trio.

One ``InfoClient`` per opening of the source (``resources.open_resources``), so every
caller (registry, gap backfill, context poller) draws from ONE ``WeightBudget``: each attempt
reserves an upper bound of its weight before it is sent and settles to the documented weight
of what came back. Retries follow ``marketmem.httpclient``: timeouts, connection errors, 429
and 5xx back off with jitter; any other 4xx fails at once with the response text. Answers are
decoded into the wire types of ``wire.py`` (a bad payload is a ``PayloadError`` naming the
field).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from marketmem.budget import Charge, WeightBudget
from marketmem.httpclient import RetryPolicy, decode, request
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.weights import (
    INFO_WEIGHT_PER_MINUTE,
    INTERVAL_MS,
    MAX_FUNDING_ROWS,
    base_weight,
    candle_items_upper_bound,
    request_weight,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class InfoClient:
    """Typed reads of the info endpoint, paced by a shared weight budget."""

    def __init__(
        self,
        base_url: str,
        *,
        budget: WeightBudget | None = None,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/info"
        self.budget = budget or WeightBudget(INFO_WEIGHT_PER_MINUTE)
        self._http = http or httpx.AsyncClient(timeout=timeout_s)
        self._policy = policy or RetryPolicy()
        self._rng = rng
        self.requests = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self,
        body: dict[str, Any],
        type_: type[T] | Any,
        *,
        max_items: int = 0,
        count: Callable[[T], int] | None = None,
        strict: bool = True,
    ) -> T:
        """One info request: budgeted, retried, decoded into ``type_`` (``strict``: as
        ``httpclient.decode``).

        ``max_items`` bounds the items the answer can hold (reserved up front); ``count``
        tells how many it held, to settle the real weight.
        """
        kind = str(body["type"])
        charges: list[Charge] = []

        async def before_attempt() -> None:
            # A retried attempt is a new request for the venue: the failed one keeps its base.
            if charges:
                self.budget.settle(charges[-1], base_weight(kind))
            charges.append(await self.budget.acquire(request_weight(kind, max_items)))
            self.requests += 1

        try:
            resp = await request(
                self._http,
                "POST",
                self.url,
                json=body,
                policy=self._policy,
                before_attempt=before_attempt,
                rng=self._rng,
            )
            result: T = decode(resp.content, type_, f"info {kind}", strict=strict)
        except BaseException:
            if charges:
                self.budget.settle(charges[-1], base_weight(kind))
            raise
        items = count(result) if count is not None else 0
        self.budget.settle(charges[-1], request_weight(kind, items))
        return result

    # --- the reads -------------------------------------------------------------------------

    async def meta(self, dex: str | None = None) -> wire.Meta:
        return await self.post(_with_dex({"type": "meta"}, dex), wire.Meta)

    async def meta_and_asset_ctxs(self, dex: str | None = None) -> wire.MetaAndAssetCtxs:
        return await self.post(_with_dex({"type": "metaAndAssetCtxs"}, dex), wire.MetaAndAssetCtxs)

    async def all_mids(self, dex: str | None = None) -> dict[str, Decimal]:
        return await self.post(_with_dex({"type": "allMids"}, dex), wire.AllMids)

    async def l2_book(
        self, coin: str, *, n_sig_figs: int | None = None, mantissa: int | None = None
    ) -> wire.L2Book | None:
        """The book (20 levels a side); None for an unknown coin."""
        body: dict[str, Any] = {"type": "l2Book", "coin": coin}
        if n_sig_figs is not None:
            body["nSigFigs"] = n_sig_figs
        if mantissa is not None:
            body["mantissa"] = mantissa
        return await self.post(body, wire.L2BookResponse)

    async def predicted_fundings(self) -> list[wire.CoinPredictedFundings]:
        return await self.post({"type": "predictedFundings"}, wire.PredictedFundings)

    async def candle_snapshot_page(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> list[wire.WireCandle]:
        """One ``candleSnapshot`` request: bars overlapping [start, end], ascending.

        When ``end_ms`` reaches the present, the last bar is the one still forming.
        """
        if interval not in INTERVAL_MS:
            raise ValueError(f"unknown candle interval {interval!r}")
        body = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        rows: list[wire.WireCandle] | None = await self.post(
            body,
            wire.CandleSnapshot,
            max_items=candle_items_upper_bound(interval, start_ms, end_ms),
            count=lambda r: len(r) if r else 0,
            strict=wire.STRICT_CANDLES,
        )
        return rows or []

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> list[wire.WireCandle]:
        """Every bar overlapping [start, end] (paged), ascending and without duplicates."""
        if interval not in INTERVAL_MS:
            raise ValueError(f"unknown candle interval {interval!r}")
        out: list[wire.WireCandle] = []
        cursor = start_ms
        while cursor <= end_ms:
            page = await self.candle_snapshot_page(coin, interval, cursor, end_ms)
            fresh = [c for c in page if not out or c.open_time_ms > out[-1].open_time_ms]
            if not fresh:
                break
            out.extend(fresh)
            nxt = out[-1].close_time_ms + 1
            if nxt <= cursor:
                break
            cursor = nxt
        return out

    async def funding_history(
        self, coin: str, start_ms: int, end_ms: int | None = None
    ) -> list[wire.FundingRecord]:
        """Hourly funding rows from ``start_ms`` (inclusive), paged by 500, ascending.

        An unknown coin answers 500 with ``null``, which is retried and then fails.
        """
        out: list[wire.FundingRecord] = []
        cursor = start_ms
        while True:
            body: dict[str, Any] = {"type": "fundingHistory", "coin": coin, "startTime": cursor}
            if end_ms is not None:
                body["endTime"] = end_ms
            page: list[wire.FundingRecord] | None = await self.post(
                body,
                wire.FundingHistory,
                max_items=_funding_items_upper_bound(cursor, end_ms),
                count=lambda r: len(r) if r else 0,
            )
            rows = page or []
            out.extend(r for r in rows if not out or r.time > out[-1].time)
            if len(rows) < MAX_FUNDING_ROWS:
                return out
            # Rows land a few ms after the hour: page from the last time seen, not a boundary.
            cursor = rows[-1].time + 1
            if end_ms is not None and cursor > end_ms:
                return out


def _with_dex(body: dict[str, Any], dex: str | None) -> dict[str, Any]:
    if dex is not None:
        body["dex"] = dex
    return body


def _funding_items_upper_bound(start_ms: int, end_ms: int | None) -> int:
    if end_ms is None:
        return MAX_FUNDING_ROWS
    hours = max(0, end_ms - start_ms) // 3_600_000 + 1
    return min(MAX_FUNDING_ROWS, hours)
