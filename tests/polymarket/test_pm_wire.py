"""Gamma wire decoding and conversion: every recorded payload, string-encoded fields,
numbers as strings and numbers, both closedTime formats, and resolution."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from marketmem.httpclient import PayloadError, decode
from marketmem.sources.polymarket.convert import (
    context_row,
    convert_events,
    event_row,
    market_row,
    resolution,
)
from marketmem.sources.polymarket.matching import build_terms
from marketmem.sources.polymarket.wire import (
    ClobBook,
    EventsPage,
    FieldError,
    GammaEvent,
    GammaMarket,
    GammaTag,
    MarketsPage,
    decimal,
    str_list,
    timestamp_ms,
)
from tests.conftest import fixture_files, fixture_path

NOW = 1_795_564_800_000
TERMS = build_terms(
    {"BTC": {"terms": ["bitcoin", "btc"]}, "ETH": {"terms": ["ethereum", "eth"]}},
    crypto_tags=["crypto"],
)


class _Search(msgspec.Struct):
    events: list[GammaEvent]


class _GammaError(msgspec.Struct):
    type: str
    error: str


# How each recorded file decodes; a new file without an entry fails the test below.
DECODERS: dict[str, type] = {
    "gamma_events.json": list[GammaEvent],
    "gamma_events_negrisk_2_markets.json": list[GammaEvent],
    "gamma_market.json": GammaMarket,
    "gamma_market_with_event.json": GammaMarket,
    "gamma_market_closed_resolved.json": GammaMarket,
    "gamma_market_closed_legacy_nonbinary.json": GammaMarket,
    "gamma_markets.json": list[GammaMarket],
    "gamma_markets_keyset_empty.json": MarketsPage,
    "gamma_public_search.json": _Search,
    "gamma_tags.json": list[GammaTag],
    "gamma_error_422_offset_too_large.json": _GammaError,
    "clob_book.json": ClobBook,
}


def _markets_of(obj: object) -> list[GammaMarket]:
    if isinstance(obj, GammaMarket):
        return [obj]
    if isinstance(obj, list):
        return [m for x in obj for m in _markets_of(x)]
    if isinstance(obj, GammaEvent | _Search | MarketsPage):
        inner = obj.events if isinstance(obj, _Search) else getattr(obj, "markets", None)
        return [m for x in inner or [] for m in _markets_of(x)]
    return []


def test_every_recorded_payload_decodes_and_converts() -> None:
    files = fixture_files("polymarket", "*.json")
    if not files:
        pytest.skip("../shared/fixtures/polymarket is absent")
    assert {f.name for f in files} <= set(DECODERS), "a recorded payload has no decoder"
    converted = 0
    for path in files:
        obj: object = decode(path.read_bytes(), DECODERS[path.name], path.name)
        for m in _markets_of(obj):
            row = market_row(m, NOW)
            converted += 1
            assert row.market_id == m.id
            if row.outcome_prices is not None:
                assert len(row.outcome_prices) == len(row.outcomes)
            assert all(len(t) > 70 and t.isdigit() for t in row.clob_token_ids)
    assert converted >= 15


def test_string_encoded_lists_and_number_duality() -> None:
    m = decode(fixture_path("polymarket", "gamma_market.json").read_bytes(), GammaMarket, "m")
    assert isinstance(m.outcomes, str)  # on the wire a JSON string inside JSON
    row = market_row(m, NOW)
    assert row.outcomes == ["Up", "Down"]
    assert row.outcome_prices == ["0.505", "0.495"]
    assert row.clob_token_ids[0].startswith("1042398980388071360523998")
    assert row.volume == 9.999997 and row.volume_24h == 9.999997
    assert row.liquidity == 20328.3747
    assert (row.best_bid, row.best_ask, row.last_trade_price) == (0.5, 0.51, 0.51)
    assert row.event_id == "260654" and row.event_title.startswith("Bitcoin Up or Down")
    assert row.end_ms == timestamp_ms("2026-03-12T09:25:00Z", "e")
    # A string-only number parses as well as a number.
    only_str = msgspec.json.decode(
        b'{"id": "1", "volume": "12.5", "liquidity": "3"}', type=GammaMarket
    )
    r = market_row(only_str, NOW)
    assert (r.volume, r.liquidity, r.outcomes, r.outcome_prices) == (12.5, 3.0, [], None)


def test_new_markets_without_prices_and_zero_fields_omitted() -> None:
    events = decode(
        fixture_path("polymarket", "gamma_events.json").read_bytes(), list[GammaEvent], "e"
    )
    conv = convert_events(events, TERMS, NOW)
    assert len(conv.events) == 10 and len(conv.markets) == 10 and not conv.skipped
    no_prices = [m for m in conv.markets if m.outcome_prices is None]
    assert no_prices and all(m.resolution == "open" for m in no_prices)
    sol = next(m for m in conv.markets if m.market_id == "1106920")
    assert sol.outcome_prices == ["0.5", "0.5"]
    assert sol.volume is None and sol.liquidity == 8255.84  # no volume on the wire yet
    assert "crypto" in sol.tags and "solana" in sol.tags
    linked = {(x.market_id, x.asset) for x in conv.links}
    assert ("1106923", "BTC") in linked and ("1107050", "ETH") in linked
    assert not any(x.market_id == "1107051" for x in conv.links)  # XRP is not tracked here


def test_closed_time_formats_and_resolutions() -> None:
    markets = decode(
        fixture_path("polymarket", "gamma_markets.json").read_bytes(), list[GammaMarket], "m"
    )
    trump = market_row(markets[0], NOW)
    assert trump.closed and trump.active  # closed markets stay active
    assert trump.closed_time_ms == timestamp_ms("2024-11-06T15:17:41Z", "t")
    assert (trump.resolution, trump.resolved_outcome) == ("resolved", 0)
    assert markets[0].events and markets[0].events[0].id == "903193"
    resolved = market_row(
        decode(
            fixture_path("polymarket", "gamma_market_closed_resolved.json").read_bytes(),
            GammaMarket,
            "m",
        ),
        NOW,
    )
    assert (resolved.resolution, resolved.resolved_outcome) == ("resolved", 1)
    assert resolved.liquidity is None and resolved.best_bid is None
    legacy = market_row(
        decode(
            fixture_path("polymarket", "gamma_market_closed_legacy_nonbinary.json").read_bytes(),
            GammaMarket,
            "m",
        ),
        NOW,
    )
    assert (legacy.resolution, legacy.resolved_outcome) == ("fractional", None)
    assert legacy.outcome_prices == [
        "0.5843311669077693146635445446077281",
        "0.4156688330922306853364554553922719",
    ]


def test_absent_numbers_are_none_never_zero() -> None:
    resolved = decode(
        fixture_path("polymarket", "gamma_market_closed_resolved.json").read_bytes(),
        GammaMarket,
        "m",
    )
    assert resolved.volume is None and resolved.liquidity is None  # absent on the wire
    row = market_row(resolved, NOW)
    assert (row.volume, row.volume_24h, row.liquidity) == (None, None, None)
    assert context_row(row, NOW).volume is None and context_row(row, NOW).liquidity is None
    events = decode(
        fixture_path("polymarket", "gamma_events.json").read_bytes(), list[GammaEvent], "e"
    )
    conv = convert_events(events, TERMS, NOW)
    new = [e for e in events if e.volume is None]
    assert new, "the recording has new events without volume"
    rows = {e.event_id: e for e in conv.events}
    for e in new:
        assert (rows[e.id].volume, rows[e.id].volume_24h, rows[e.id].liquidity) == (None,) * 3
    # A zero Gamma sent is a zero.
    zero = next(e for e in events if e.volume is not None)
    assert rows[zero.id].volume == 0.0
    bare = market_row(GammaMarket(id="1"), NOW)
    assert (bare.volume, bare.volume_24h, bare.liquidity) == (None, None, None)
    assert event_row(GammaEvent(id="1"), NOW).liquidity is None


def test_the_exact_decimal_string_wins_over_the_rounded_number() -> None:
    legacy = decode(
        fixture_path("polymarket", "gamma_market_closed_legacy_nonbinary.json").read_bytes(),
        GammaMarket,
        "m",
    )
    assert (legacy.volume, legacy.volume_num) == ("46944.579746", 46944.58)
    row = market_row(legacy, NOW)
    assert row.volume == 46944.579746 and row.liquidity == 4.601742
    only_num = msgspec.json.decode(
        b'{"id": "1", "volumeNum": 7.25, "liquidityNum": 2}', type=GammaMarket
    )
    r = market_row(only_num, NOW)
    assert (r.volume, r.liquidity) == (7.25, 2.0)
    with pytest.raises(FieldError, match="volume"):
        market_row(GammaMarket(id="1", volume="lots", volume_num=3.0), NOW)


@pytest.mark.parametrize(
    ("closed", "prices", "expected"),
    [
        (False, ["1", "0"], ("open", None)),
        (True, ["1", "0"], ("resolved", 0)),
        (True, ["0", "1"], ("resolved", 1)),
        (True, ["0", "0", "1"], ("resolved", 2)),
        (True, ["1.0", "0.000"], ("resolved", 0)),
        (True, ["0", "0"], ("void", None)),
        (True, ["1", "1"], ("fractional", None)),
        (True, ["0.9995", "0.0005"], ("fractional", None)),
        (True, None, ("pending", None)),
        (True, [], ("pending", None)),
    ],
)
def test_resolution(closed: bool, prices: list[str] | None, expected: tuple) -> None:
    assert resolution(closed, prices) == expected


def test_field_helpers() -> None:
    assert str_list('["Yes", "No"]', "outcomes") == ["Yes", "No"]
    assert str_list(["a"], "outcomes") == ["a"]
    assert str_list(None, "outcomes") is None
    with pytest.raises(FieldError, match="outcomes"):
        str_list('["Yes", ', "outcomes")
    with pytest.raises(FieldError, match="outcomes"):
        str_list("[1, 2]", "outcomes")
    assert decimal("0.5843311669077693146635445446077281", "p") == Decimal(
        "0.5843311669077693146635445446077281"
    )
    assert decimal(1, "p") == 1 and decimal(0.01, "p") == Decimal("0.01")
    assert decimal("", "p") is None
    with pytest.raises(FieldError, match="bestBid"):
        decimal("abc", "bestBid")
    with pytest.raises(FieldError):
        decimal("NaN", "x")
    z = timestamp_ms("2024-11-06T20:40:10Z", "t")
    assert timestamp_ms("2024-11-06 20:40:10+00", "t") == z
    assert timestamp_ms("2024-11-06T20:40:10.000001Z", "t") == z
    assert timestamp_ms("2025-07-11T18:41:17.82745Z", "t") == 1752259277827
    assert timestamp_ms("2026-10-07", "t") == timestamp_ms("2026-10-07T00:00:00Z", "t")
    assert timestamp_ms(None, "t") is None
    with pytest.raises(FieldError, match="endDate"):
        timestamp_ms("next friday", "endDate")


def test_bad_market_is_skipped_not_fatal() -> None:
    ev = msgspec.json.decode(
        b'{"id": "9", "title": "Bitcoin", "markets": ['
        b'{"id": "1", "question": "Bitcoin up?", "outcomes": "[\\"Yes\\", \\"No\\"]",'
        b' "outcomePrices": "[\\"0.5\\"]"},'
        b'{"id": "2", "question": "Bitcoin down?", "endDate": "soon"},'
        b'{"id": "3", "question": "Bitcoin sideways?"}]}',
        type=GammaEvent,
    )
    conv = convert_events([ev], TERMS, NOW)
    assert [m.market_id for m in conv.markets] == ["3"]
    assert [(s.id, "outcomePrices" in s.reason or "endDate" in s.reason) for s in conv.skipped] == [
        ("1", True),
        ("2", True),
    ]


def test_missing_id_is_a_payload_error_naming_the_field() -> None:
    with pytest.raises(PayloadError, match=r"id"):
        decode(b'{"events": [{"title": "x"}]}', EventsPage, "GET /events/keyset")
    page = decode(b'{"events": [], "zzExtra": 1}', EventsPage, "GET /events/keyset")
    assert page.next_cursor is None


def test_clob_book_best_levels_whatever_the_order() -> None:
    book = decode(fixture_path("polymarket", "clob_book.json").read_bytes(), ClobBook, "book")
    assert book.bids and book.asks
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None and best_ask is not None and best_bid < best_ask
    assert best_bid == Decimal(book.bids[-1].price)  # bids ascending: best is the last
    assert best_ask == Decimal(book.asks[-1].price)  # asks descending: best is the last
