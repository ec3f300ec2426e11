"""Pure parts of the Hyperliquid source: closed detection, mids, coin selection, arithmetic."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from marketmem.shards import Shard
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.candles import CandleTracker, to_row
from marketmem.sources.hyperliquid.mids import MidFilter, bucket_of, mid_rows
from marketmem.sources.hyperliquid.planning import plan_connections, select_coins
from marketmem.sources.hyperliquid.taxonomy import (
    TaxonomyError,
    categorize,
    parse_taxonomy,
)
from marketmem.sources.hyperliquid.weights import (
    INTERVAL_MS,
    candle_items_upper_bound,
    request_weight,
)
from marketmem.venues.hyperliquid import request_weight as venue_weight
from marketmem.venues.simulator import INTERVAL_MS as VENUE_INTERVALS
from marketmem.venues.simulator import fmt_decimal, fmt_price, price_tick

M = 60_000
T0 = 1_795_564_800_000


def bar(t: int, *, n: int = 1, c: str = "100.0", coin: str = "BTC") -> wire.WireCandle:
    return msgspec.json.decode(
        msgspec.json.encode(
            {
                "t": t,
                "T": t + M - 1,
                "s": coin,
                "i": "1m",
                "o": "100.0",
                "c": c,
                "h": "101.0",
                "l": "99.0",
                "v": "1.5",
                "n": n,
            }
        ),
        type=wire.WireCandle,
        strict=wire.STRICT_CANDLES,
    )


# --- closed detection -----------------------------------------------------------------------


def test_push_updates_then_rollover_closes_previous_bar() -> None:
    tr = CandleTracker(grace_ms=5000)
    (r1,) = tr.on_push(bar(T0, n=1), T0 + 1000)
    assert not r1.closed
    (r2,) = tr.on_push(bar(T0, n=5, c="100.5"), T0 + 30_000)
    assert not r2.closed and r2.close == 100.5 and r2.trades == 5
    closed, new = tr.on_push(bar(T0 + M, n=1), T0 + M + 200)
    assert (closed.open_time_ms, closed.closed, closed.trades) == (T0, True, 5)
    assert (new.open_time_ms, new.closed) == (T0 + M, False)
    assert tr.last_closed_ms("BTC") == T0
    assert tr.stats.closed_by_rollover == 1


def test_clock_closes_after_end_plus_grace_only() -> None:
    tr = CandleTracker(grace_ms=5000)
    tr.on_push(bar(T0, n=3), T0 + 10_000)
    end = T0 + M - 1
    assert tr.on_clock(end + 5000) == []  # not yet past the grace period
    (row,) = tr.on_clock(end + 5001)
    assert row.closed and row.open_time_ms == T0 and row.trades == 3
    assert tr.on_clock(end + 60_000) == []  # closed once
    assert tr.stats.closed_by_clock == 1
    assert tr.last_closed_ms("BTC") == T0


def test_stale_pushes_never_move_a_bar_backwards() -> None:
    tr = CandleTracker()
    tr.on_push(bar(T0, n=10), T0 + 1)
    assert tr.on_push(bar(T0, n=4), T0 + 2) == []  # older state of the same bar
    tr.on_push(bar(T0 + M, n=1), T0 + M)
    assert tr.on_push(bar(T0, n=11), T0 + M + 1) == []  # bar already closed
    assert tr.stats.stale_pushes == 2


def test_snapshot_closes_over_bars_and_adopts_forming_bar_only_if_newer() -> None:
    tr = CandleTracker()
    tr.on_push(bar(T0, n=2), T0 + 1000)
    now = T0 + 2 * M + 30_000
    rows = tr.on_snapshot([bar(T0, n=9), bar(T0 + M, n=4), bar(T0 + 2 * M, n=3)], now)
    got = [(r.open_time_ms, r.closed, r.trades) for r in rows]
    # The held open bar is replaced by the final snapshot row, no duplicate of it.
    assert got == [(T0, True, 9), (T0 + M, True, 4), (T0 + 2 * M, False, 3)]
    assert tr.last_closed_ms("BTC") == T0 + M
    # A newer push for the forming bar wins; an older snapshot of it is ignored.
    tr.on_push(bar(T0 + 2 * M, n=7), now + 1000)
    assert tr.on_snapshot([bar(T0 + 2 * M, n=5)], now + 2000) == []
    assert tr.open["BTC"].trades == 7


def test_snapshot_never_invents_bars_for_quiet_minutes() -> None:
    tr = CandleTracker()
    rows = tr.on_snapshot([bar(T0), bar(T0 + 3 * M)], T0 + 10 * M)
    assert [r.open_time_ms for r in rows] == [T0, T0 + 3 * M]


def test_row_conversion_is_exact_for_venue_decimals() -> None:
    c = msgspec.json.decode(
        b'{"t":1,"T":60000,"s":"kPEPE","i":"1m","o":"0.011994","c":"0.0119945",'
        b'"h":"0.012","l":"0.011","v":"123456789.12345","n":3}',
        type=wire.WireCandle,
        strict=wire.STRICT_CANDLES,
    )
    row = to_row(c, closed=True, now_ms=5)
    assert repr(row.close) == "0.0119945" and repr(row.volume) == "123456789.12345"


# --- mids ---------------------------------------------------------------------------------------


def test_mid_filter_keeps_perps_and_configured_extras_only() -> None:
    keep = MidFilter(["BTC", "kPEPE"])
    assert [
        k for k in ("BTC", "kPEPE", "@107", "#12090", "PURR/USDC", "MATIC") if keep.keep(k)
    ] == [
        "BTC",
        "kPEPE",
    ]
    extra = MidFilter(["BTC"], ["@*", "PURR/USDC"])
    assert extra.keep("@1") and extra.keep("PURR/USDC") and not extra.keep("#1")
    assert MidFilter([], ["#*", "*/*"]).keep("#5") and MidFilter([], ["*/*"]).keep("A/B")


def test_mid_rows_bucket_by_five_seconds() -> None:
    rows = mid_rows(
        {"BTC": Decimal("75981.5"), "@1": Decimal("1")}, MidFilter(["BTC"]), T0 + 7_400, 5000
    )
    assert [(r.coin, r.bucket_ms, r.price, r.observed_at_ms) for r in rows] == [
        ("BTC", T0 + 5000, 75981.5, T0 + 7_400)
    ]
    assert bucket_of(T0 + 4_999, 5000) == T0


# --- selection, planning ------------------------------------------------------------


def meta(*names: str, delisted: tuple[str, ...] = ()) -> wire.Meta:
    return wire.Meta(
        universe=[
            wire.AssetMeta(name=n, sz_decimals=2, max_leverage=5, is_delisted=n in delisted)
            for n in names
        ]
    )


def test_select_coins_refuses_unknown_and_skips_delisted() -> None:
    m = meta("BTC", "ETH", "MATIC", "kPEPE", delisted=("MATIC",))
    sel = select_coins(["BTC", "btc", "MATIC", "kPEPE", "NOPE", "BTC"], m, max_coins=10)
    assert sel.coins == ["BTC", "kPEPE"]
    assert sel.refused == ["btc", "NOPE"]  # names are case-sensitive
    assert sel.delisted == ["MATIC"]
    assert sel.perps == ["BTC", "ETH", "kPEPE"]
    star = select_coins(["*"], m, max_coins=2)
    assert star.coins == ["BTC", "ETH"] and star.over_cap == ["kPEPE"]


def test_select_coins_keeps_this_instances_shard_only() -> None:
    names = [f"C{i}" for i in range(40)]
    m = meta(*names)
    halves = [select_coins(["*"], m, max_coins=100, shard=Shard(i, 2)).coins for i in (1, 2)]
    assert sorted(halves[0] + halves[1]) == sorted(names) and not set(halves[0]) & set(halves[1])
    assert halves[0] and halves[1]
    fixed = select_coins(["C1", "C2", "C3"], m, max_coins=100, shard=Shard(1, 2))
    assert fixed.coins == Shard(1, 2).select(["C1", "C2", "C3"]) and fixed.refused == []


def test_plan_spreads_subscriptions_within_caps() -> None:
    subs = [wire.all_mids_subscription()] + [wire.candle_subscription(f"C{i}") for i in range(250)]
    plan = plan_connections(subs, per_connection=100, max_connections=10)
    assert len(plan) == 3 and sum(len(p) for p in plan) == 251
    assert max(len(p) for p in plan) <= 100
    assert plan_connections(subs[:5], per_connection=100, max_connections=10) == [subs[:5]]
    assert plan_connections([], per_connection=100, max_connections=10) == []


# --- weights --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "items"),
    [
        ("meta", 0),
        ("metaAndAssetCtxs", 0),
        ("allMids", 0),
        ("l2Book", 0),
        ("predictedFundings", 0),
        ("candleSnapshot", 0),
        ("candleSnapshot", 1),
        ("candleSnapshot", 60),
        ("candleSnapshot", 61),
        ("candleSnapshot", 5000),
        ("fundingHistory", 19),
        ("fundingHistory", 500),
    ],
)
def test_the_clients_weights_agree_with_the_venues_own_table(kind: str, items: int) -> None:
    # The venue keeps its own table: a wrong client table cannot hide behind a shared one.
    assert request_weight(kind, items) == venue_weight(kind, items)


def test_the_clients_intervals_agree_with_the_venues() -> None:
    assert {k: v for k, v in INTERVAL_MS.items() if k != "1M"} == VENUE_INTERVALS


def test_request_weights_follow_the_documented_table() -> None:
    assert request_weight("l2Book") == request_weight("allMids") == 2
    assert request_weight("meta") == request_weight("predictedFundings") == 20
    assert request_weight("userRole") == 60
    assert request_weight("candleSnapshot", 5000) == 20 + 84
    assert request_weight("candleSnapshot", 60) == 21 and request_weight("candleSnapshot", 61) == 22
    assert request_weight("fundingHistory", 500) == 45
    assert candle_items_upper_bound("1m", T0, T0 + 10 * M - 1) == 10
    assert candle_items_upper_bound("1m", T0 + 1, T0 + M) == 2  # overlapping bars count
    assert candle_items_upper_bound("1m", 0, 10**13) == 5000


# --- taxonomy -------------------------------------------------------------------------------


def test_taxonomy_parse_and_categorize() -> None:
    tax = parse_taxonomy(
        '[[category]]\nid = "l1"\nlabel = "L1"\ncoins = ["BTC", "ETH"]\n'
        '[[category]]\nid = "meme"\nlabel = "Meme"\ncoins = ["DOGE", "ETH", "GONE"]\n'
    )
    assert [c.id for c in tax] == ["l1", "meme", "uncategorized"]
    cat = categorize(tax, ["BTC", "ETH", "NEW"])
    assert cat.links == [("BTC", "l1"), ("ETH", "l1"), ("ETH", "meme"), ("NEW", "uncategorized")]
    assert cat.uncategorized == ["NEW"] and cat.unknown == ["DOGE", "GONE"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[category]]\nid = "L1"\nlabel = "x"\n', "lowercase"),
        ('[[category]]\nid = "a"\nlabel = "x"\n[[category]]\nid = "a"\nlabel = "y"\n', "twice"),
        ('[[category]]\nid = "uncategorized"\nlabel = "x"\n', "built in"),
        ('[[category]]\nid = "a"\nlabel = "x"\ncolor = 1\n', "unknown field"),
        ("[[category]\n", "TOML"),
    ],
)
def test_taxonomy_errors_are_clear(text: str, match: str) -> None:
    with pytest.raises(TaxonomyError, match=match):
        parse_taxonomy(text)


# --- simulator number formatting ----------------------------------------------------------------


def test_simulator_formats_like_the_venue() -> None:
    assert fmt_price(Decimal("97641.4"), 5) == "97641.0"
    assert fmt_price(Decimal("2629.437"), 4) == "2629.4"
    assert fmt_price(Decimal("0.0119945"), 0) == "0.011994"  # 5 significant figures
    assert fmt_price(Decimal("123456.7"), 5) == "123457.0"  # integers always allowed
    assert (
        fmt_decimal(Decimal("0.77139")) == "0.77139" and fmt_decimal(Decimal("86.0620")) == "86.062"
    )
    assert price_tick(Decimal("97641"), 5) == 1 and price_tick(Decimal("4.1665"), 2) == Decimal(
        "0.0001"
    )
