"""Funding-history refresh and the shared asset-context cache, against a fake info client."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio

from marketmem.features.fetch import CtxCache, FundingHistories
from marketmem.httpclient import TransportFailed
from marketmem.sources.hyperliquid import wire

HOUR = 3_600_000
NOW = 1_000 * HOUR


class FakeClient:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, int, int | None]] = []
        self.fail = fail or set()
        self.ctx_calls = 0
        self.ctx_fail = False

    async def funding_history(
        self, coin: str, start_ms: int, end_ms: int | None = None
    ) -> list[wire.FundingRecord]:
        self.calls.append((coin, start_ms, end_ms))
        if coin in self.fail:
            raise TransportFailed("gave up after 4 attempt(s): HTTP 500")
        end = end_ms or NOW
        hours = range(start_ms // HOUR + 1, end // HOUR + 1)
        return [
            wire.FundingRecord(coin=coin, funding_rate=Decimal("0.00001"), time=h * HOUR + 50)
            for h in hours
            if start_ms <= h * HOUR + 50 <= end
        ]

    async def meta_and_asset_ctxs(self) -> wire.MetaAndAssetCtxs:
        self.ctx_calls += 1
        if self.ctx_fail:
            raise TransportFailed("down")
        meta = wire.Meta(universe=[wire.AssetMeta(name="BTC", sz_decimals=5, max_leverage=40)])
        ctx = wire.AssetCtx(
            funding=Decimal("0.0000125"),
            open_interest=Decimal("10"),
            prev_day_px=Decimal("1"),
            day_ntl_vlm=Decimal("5"),
            oracle_px=Decimal("2"),
            mark_px=Decimal("2"),
        )
        return wire.MetaAndAssetCtxs(meta=meta, ctxs=[ctx])


def histories(client: FakeClient) -> FundingHistories:
    return FundingHistories(client)  # type: ignore[arg-type]


async def test_first_fetch_covers_seven_days_then_only_new_hours() -> None:
    client = FakeClient()
    h = histories(client)
    assert await h.refresh(["BTC"], NOW, 10) == {}
    assert client.calls == [("BTC", NOW - 168 * HOUR, NOW)]
    # Settlements land just after each hour: the one of the current hour is not there yet.
    assert len(h.history("BTC") or []) == 167
    assert h.due(["BTC"], NOW + 60_000) == []  # just fetched
    # The settlement of NOW's hour has landed since: fetch only what is new.
    later = NOW + 30 * 60_000
    assert h.due(["BTC"], later) == ["BTC"]
    await h.refresh(["BTC"], later, 10)
    assert client.calls[-1] == ("BTC", NOW - HOUR + 50 + 1, later)
    pts = h.history("BTC") or []
    assert len(pts) == 168 and pts[-1][0] == NOW + 50
    # Up to date until the next hour has settled.
    assert h.due(["BTC"], NOW + 50 * 60_000) == []
    assert h.due(["BTC"], NOW + HOUR + 3 * 60_000) == ["BTC"]


async def test_coins_without_history_go_first_and_the_cap_holds() -> None:
    client = FakeClient()
    h = histories(client)
    await h.refresh(["A"], NOW - 3 * HOUR, 10)
    assert h.due(["A", "B", "C"], NOW) == ["B", "C", "A"]
    await h.refresh(["A", "B", "C"], NOW, 2)
    assert [c for c, _, _ in client.calls[1:]] == ["B", "C"]


async def test_failures_are_reported_retried_later_and_stop_a_run() -> None:
    client = FakeClient(fail={"A", "B", "C", "D"})
    h = histories(client)
    failures = await h.refresh(["A", "B", "C", "D", "E"], NOW, 10)
    assert set(failures) == {"A", "B", "C"} and "HTTP 500" in failures["A"]
    assert [c for c, _, _ in client.calls] == ["A", "B", "C"]  # stopped after 3 in a row
    assert h.history("A") is None
    assert h.due(["A"], NOW + 60_000) == []  # not retried at once
    assert h.due(["A"], NOW + 11 * 60_000) == ["A"]


async def test_one_context_answer_is_shared_and_failures_are_not_cached(
    autojump_clock: object,
) -> None:
    client = FakeClient()
    cache = CtxCache(client, max_age_s=60)  # type: ignore[arg-type]
    a = await cache.get(1)
    b = await cache.get(2)
    assert a is b and client.ctx_calls == 1 and a.by_coin["BTC"].mark_px == 2.0
    await trio.sleep(61)
    client.ctx_fail = True
    with pytest.raises(TransportFailed):
        await cache.get(3)
    client.ctx_fail = False
    c = await cache.get(4)
    assert c.snapshot_ms == 4 and client.ctx_calls == 3
