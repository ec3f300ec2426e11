"""Every recorded Hyperliquid payload decodes into the wire types, exactly."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from marketmem.sources.hyperliquid import wire
from tests.conftest import FIXTURES, fixture_files, fixture_path

SRC = "hyperliquid"

# Each recorded info response and the type it decodes into.
INFO_TYPES: dict[str, object] = {
    "info_meta.json": wire.Meta,
    "info_meta_2026_trimmed.json": wire.Meta,
    "info_metaAndAssetCtxs.json": wire.MetaAndAssetCtxs,
    "info_candleSnapshot.json": wire.CandleSnapshot,
    "info_candleSnapshot_BTC_1h.json": wire.CandleSnapshot,
    "info_l2Book.json": wire.L2BookResponse,
    "info_l2Book_delisted.json": wire.L2BookResponse,
    "info_fundingHistory.json": wire.FundingHistory,
    "info_predictedFundings.json": wire.PredictedFundings,
    "info_allMids.json": wire.AllMids,
    "info_spotMetaAndAssetCtxs.json": wire.SpotMetaAndAssetCtxs,
}
# Not wire payloads: the 422 text body, and frames the client sends.
NOT_SERVER_PAYLOADS = {"info_error_422.txt", "ws_client_messages.jsonl"}


def _frames(path: Path) -> list[bytes]:
    if path.suffix == ".jsonl":
        return [line for line in path.read_bytes().splitlines() if line.strip()]
    return [path.read_bytes()]


def test_every_fixture_is_covered() -> None:
    files = fixture_files(SRC)
    if not files:
        pytest.skip(f"recorded fixtures absent: {FIXTURES / SRC} (../shared not beside the repo)")
    names = {p.name for p in files}
    covered = set(INFO_TYPES) | NOT_SERVER_PAYLOADS | {n for n in names if n.startswith("ws_")}
    assert names <= covered, f"fixtures without a decoding test: {sorted(names - covered)}"


@pytest.mark.parametrize("name", sorted(INFO_TYPES))
def test_info_payload_decodes(name: str) -> None:
    body = fixture_path(SRC, name).read_bytes()
    candles = INFO_TYPES[name] is wire.CandleSnapshot
    msgspec.json.decode(body, type=INFO_TYPES[name], strict=not candles or wire.STRICT_CANDLES)


@pytest.mark.parametrize(
    "name", sorted(n for n in (p.name for p in fixture_files(SRC)) if n.startswith("ws_")) or ["-"]
)
def test_ws_frames_decode(name: str) -> None:
    if name == "-":
        pytest.skip(f"recorded fixtures absent: {FIXTURES / SRC}")
    path = fixture_path(SRC, name)
    for raw in _frames(path):
        if name == "ws_client_messages.jsonl":
            frame = msgspec.json.decode(raw, type=wire.ClientFrame)
            assert frame.method in {"subscribe", "ping"}
            continue
        decoded = wire.decode_frame(raw)
        assert not isinstance(decoded, wire.OtherFrame), raw


def test_meta_and_ctxs_join_by_index_and_keep_delisted_slots() -> None:
    body = fixture_path(SRC, "info_metaAndAssetCtxs.json").read_bytes()
    mc = msgspec.json.decode(body, type=wire.MetaAndAssetCtxs)
    pairs = mc.pairs()
    assert len(pairs) == 232
    delisted = [a for _, a, _ in pairs if a.is_delisted]
    assert len(delisted) == 55
    assert sum(a.only_isolated for _, a, _ in pairs) == 9
    idx, btc, ctx = pairs[0]
    assert (idx, btc.name, btc.sz_decimals, btc.margin_table_id) == (0, "BTC", 5, 56)
    assert ctx.day_ntl_vlm == Decimal("2099966847.0508704185")  # exact, no float rounding
    assert ctx.impact_pxs == [Decimal("66305.0"), Decimal("66306.0")]
    # Delisted contexts carry null premium / mid / impact prices.
    _, _, c = next(p for p in pairs if p[1].is_delisted)
    assert c.mid_px is None and c.impact_pxs is None and c.premium is None
    table = mc.meta.margin_table(btc.margin_table_id)
    assert table is not None and table.margin_tiers[0].max_leverage == 40


def test_meta_old_shape_defaults_optional_keys() -> None:
    meta = msgspec.json.decode(fixture_path(SRC, "info_meta.json").read_bytes(), type=wire.Meta)
    assert len(meta.universe) == 28
    assert meta.margin_tables == [] and meta.collateral_token is None
    assert all(a.margin_table_id is None and not a.is_delisted for a in meta.universe)


def test_candle_fields_map_and_parse_exactly() -> None:
    (raw,) = _frames(fixture_path(SRC, "ws_candle.json"))
    frame = wire.decode_frame(raw)
    assert isinstance(frame, wire.CandleFrame)
    c = frame.data
    assert (c.coin, c.interval, c.open_time_ms, c.close_time_ms) == (
        "BTC",
        "1m",
        1788936660000,
        1788936719999,
    )
    assert c.close_time_ms - c.open_time_ms == 59_999
    # The correctly rounded doubles of the decimals sent.
    assert (c.open, c.close, c.high, c.low) == tuple(
        float(Decimal(x)) for x in ("79139.0", "79118.0", "79139.0", "79110.0")
    )
    assert c.volume == float(Decimal("0.77139")) and c.trades == 89


def test_pong_has_no_data_and_acks_match_by_meaning() -> None:
    assert isinstance(wire.decode_frame(b'{"channel":"pong"}'), wire.PongFrame)
    raw = fixture_path(SRC, "ws_subscriptionResponse_candle.json").read_bytes()
    ack = wire.decode_frame(raw)
    assert isinstance(ack, wire.SubscriptionResponseFrame)
    # The server reorders keys (type, interval, coin); the meaning is the same.
    assert ack.data.subscription.key() == wire.candle_subscription("BTC", "1m").key()
    raw = fixture_path(SRC, "ws_subscriptionResponse_l2Book.json").read_bytes()
    l2 = wire.decode_frame(raw)
    assert isinstance(l2, wire.SubscriptionResponseFrame)
    assert l2.data.subscription.key() == ("l2Book", "BTC", None, None)


def test_error_frames_are_strings() -> None:
    for raw in _frames(fixture_path(SRC, "ws_errors.jsonl")):
        frame = wire.decode_frame(raw)
        assert isinstance(frame, wire.ErrorFrame) and isinstance(frame.data, str)


def test_all_mids_keeps_every_key_kind() -> None:
    frame = wire.decode_frame(fixture_path(SRC, "ws_allMids.json").read_bytes())
    assert isinstance(frame, wire.AllMidsFrame)
    mids = frame.data.mids
    assert mids["BTC"] == Decimal("75981.5")
    assert {"#12090", "@107", "kSHIB"} <= set(mids)
    assert len(mids) == len(
        json.loads(fixture_path(SRC, "ws_allMids.json").read_bytes())["data"]["mids"]
    )


def test_predicted_fundings_allow_null_and_missing_interval() -> None:
    body = b'[["AI",[["BinPerp",{"fundingRate":"0.0001","nextFundingTime":1}],["BybitPerp",null]]]]'
    (entry,) = msgspec.json.decode(body, type=wire.PredictedFundings)
    bin_ = entry.venue("BinPerp")
    assert bin_ is not None and bin_.funding_interval_hours is None
    assert entry.venue("BybitPerp") is None
    (first, *_) = msgspec.json.decode(
        fixture_path(SRC, "info_predictedFundings.json").read_bytes(), type=wire.PredictedFundings
    )
    hl = first.venue("HlPerp")
    assert hl is not None and hl.funding_rate == Decimal("0.0001606131")


def test_l2book_sides_and_null_for_unknown_coin() -> None:
    book = msgspec.json.decode(fixture_path(SRC, "info_l2Book.json").read_bytes(), type=wire.L2Book)
    assert len(book.bids) == 20 and len(book.asks) == 20
    assert book.bids[0].px > book.bids[1].px and book.asks[0].px < book.asks[1].px
    assert msgspec.json.decode(b"null", type=wire.L2BookResponse) is None


def test_unknown_keys_ignored_and_missing_required_named() -> None:
    c = msgspec.json.decode(
        b'{"t":1,"T":60000,"s":"X","i":"1m","o":"1","c":"1","h":"1","l":"1","v":"0","n":0,"z":9}',
        type=wire.WireCandle,
        strict=wire.STRICT_CANDLES,
    )
    assert c.coin == "X"
    with pytest.raises(msgspec.ValidationError, match="`c`"):
        msgspec.json.decode(
            b'{"t":1,"T":60000,"s":"X","i":"1m","o":"1"}',
            type=wire.WireCandle,
            strict=wire.STRICT_CANDLES,
        )


@pytest.mark.parametrize("bad", ["abc", "", " 1.5", "0x10", "1_000", "true"])
def test_a_candle_price_that_is_not_a_decimal_is_refused(bad: str) -> None:
    body = {"t": 1, "T": 60000, "s": "X", "i": "1m", "o": "1", "c": bad}
    body |= {"h": "1", "l": "1", "v": "0", "n": 0}
    with pytest.raises(msgspec.ValidationError, match=re.escape("`$.c`")):
        msgspec.json.decode(
            msgspec.json.encode(body), type=wire.WireCandle, strict=wire.STRICT_CANDLES
        )
    frame = msgspec.json.encode({"channel": "candle", "data": body})
    with pytest.raises(msgspec.ValidationError, match=re.escape("`$.data.c`")):
        wire.decode_frame(frame)


def test_candle_prices_decode_to_the_correctly_rounded_double() -> None:
    # Lax mode parses the decimal string itself: it must give float(Decimal(s)) exactly.
    rng = random.Random(3)
    texts = [
        f"{rng.uniform(0, 10 ** rng.randint(-6, 9)):.{rng.randint(0, 15)}f}" for _ in range(20_000)
    ]
    texts += [repr(rng.random() * 10 ** rng.randint(-12, 12)) for _ in range(20_000)]
    texts += ["0", "0.0", "1e-7", "123456789012345", "0.000000000000001", "99999.99999999999"]
    rows = [
        {"t": 1, "T": 60000, "s": "X", "i": "1m", "o": t, "c": t, "h": t, "l": t, "v": t, "n": 1}
        for t in texts
    ]
    decoded = msgspec.json.decode(
        msgspec.json.encode(rows), type=wire.CandleSnapshot, strict=wire.STRICT_CANDLES
    )
    assert decoded is not None
    wrong = [
        (t, c.close) for t, c in zip(texts, decoded, strict=True) if c.close != float(Decimal(t))
    ]
    assert wrong == []


def test_decode_frame_survives_greeting_and_unknown_channels() -> None:
    with pytest.raises(wire.FrameError):
        wire.decode_frame(b"Websocket connection established.")
    other = wire.decode_frame(b'{"channel":"post","data":{"id":1}}')
    assert isinstance(other, wire.OtherFrame) and other.channel == "post"
    with pytest.raises(msgspec.ValidationError):
        wire.decode_frame(b'{"channel":"candle","data":[]}')


def test_subscribe_frame_encoding() -> None:
    assert wire.encode_subscribe(wire.candle_subscription("BTC")) == (
        b'{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"1m"}}'
    )
    assert wire.encode_subscribe(wire.all_mids_subscription()) == (
        b'{"method":"subscribe","subscription":{"type":"allMids"}}'
    )
