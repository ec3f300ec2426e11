# msgspec's frozen=True is inherited from ``Wire`` at run time; mypy's dataclass_transform view
# calls each subclass "non-frozen" (a false alarm, the only "misc" error here).
# mypy: disable-error-code="misc"
"""Hyperliquid wire types: every ``/info`` response and WebSocket frame marketmem reads.

Shapes follow the recorded payloads in ``shared/fixtures/hyperliquid`` (see the protocol notes
in ``shared/research/hyperliquid.md``). Every Struct ignores unknown keys, keys the venue only
sends when set (``isDelisted``, ``onlyIsolated``, ``premium``...) are optional, and every price,
size, rate and volume arrives as a decimal string and is decoded into ``Decimal`` (exact),
except a candle's prices and volume: they are stored as REAL, so ``WireCandle`` decodes them
straight into ``float``, which needs msgspec's lax mode (``strict=False``: a numeric string
becomes the correctly rounded double, the value ``float(Decimal(s))`` gives, in a third of the
time; a string that is not a number is still refused). Candle payloads (``candleSnapshot``
and the WebSocket frames) are therefore decoded with ``STRICT_CANDLES``; lax mode also takes
integers sent as strings, which changes no value. Only timestamps, counts, indexes,
``szDecimals`` and ``maxLeverage`` are JSON integers.

Field names are readable Python names; ``msgspec.field(name=...)`` maps them onto the terse
wire keys (``t``, ``T``, ``o``...). Nothing outside this source sees these types: the stream,
the registry and the context poller (``convert``) turn them into bus events at the boundary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


class Wire(msgspec.Struct, frozen=True, gc=False):
    """Base of the wire types (msgspec ignores unknown keys by default)."""


# --- meta / metaAndAssetCtxs --------------------------------------------------------------


class MarginTier(Wire):
    lower_bound: Decimal = msgspec.field(name="lowerBound")
    max_leverage: int = msgspec.field(name="maxLeverage")


class MarginTable(Wire):
    margin_tiers: list[MarginTier] = msgspec.field(name="marginTiers")
    description: str = ""


class MarginTableEntry(Wire, array_like=True):
    """``[id, table]`` in ``meta.marginTables``."""

    id: int
    table: MarginTable


class AssetMeta(Wire):
    """One perp of ``meta.universe``; its array index is the asset id (delisted keep slots)."""

    name: str
    sz_decimals: int = msgspec.field(name="szDecimals")
    max_leverage: int = msgspec.field(name="maxLeverage")
    margin_table_id: int | None = msgspec.field(default=None, name="marginTableId")
    # Sent only when true / set.
    is_delisted: bool = msgspec.field(default=False, name="isDelisted")
    only_isolated: bool = msgspec.field(default=False, name="onlyIsolated")
    margin_mode: str | None = msgspec.field(default=None, name="marginMode")


class Meta(Wire):
    universe: list[AssetMeta]
    # Absent from the 2023 shape.
    margin_tables: list[MarginTableEntry] = msgspec.field(default_factory=list, name="marginTables")
    collateral_token: int | None = msgspec.field(default=None, name="collateralToken")

    def margin_table(self, table_id: int | None) -> MarginTable | None:
        if table_id is None:
            return None
        for entry in self.margin_tables:
            if entry.id == table_id:
                return entry.table
        return None


class AssetCtx(Wire):
    """Context of ``universe[i]`` (joined by index: a context carries no coin name)."""

    funding: Decimal
    open_interest: Decimal = msgspec.field(name="openInterest")
    prev_day_px: Decimal = msgspec.field(name="prevDayPx")
    day_ntl_vlm: Decimal = msgspec.field(name="dayNtlVlm")
    oracle_px: Decimal = msgspec.field(name="oraclePx")
    mark_px: Decimal = msgspec.field(name="markPx")
    # null on delisted assets (and mid when a book side is empty).
    premium: Decimal | None = None
    mid_px: Decimal | None = msgspec.field(default=None, name="midPx")
    impact_pxs: list[Decimal] | None = msgspec.field(default=None, name="impactPxs")
    day_base_vlm: Decimal | None = msgspec.field(default=None, name="dayBaseVlm")


class MetaAndAssetCtxs(Wire, array_like=True):
    """``[meta, ctxs]``; ``ctxs[i]`` belongs to ``meta.universe[i]``."""

    meta: Meta
    ctxs: list[AssetCtx]

    def pairs(self) -> list[tuple[int, AssetMeta, AssetCtx]]:
        """(asset index, meta, ctx) for every slot; raises when the two arrays disagree."""
        if len(self.meta.universe) != len(self.ctxs):
            raise ValueError(
                f"metaAndAssetCtxs: {len(self.meta.universe)} assets but {len(self.ctxs)} contexts"
            )
        return [
            (i, a, c) for i, (a, c) in enumerate(zip(self.meta.universe, self.ctxs, strict=True))
        ]


# --- candles (candleSnapshot rows and WS candle data share the shape) ----------------------


# Candle payloads are decoded with ``strict=STRICT_CANDLES`` (see the module docstring).
STRICT_CANDLES = False


class WireCandle(Wire):
    open_time_ms: int = msgspec.field(name="t")
    # Last millisecond of the bar: open + interval - 1.
    close_time_ms: int = msgspec.field(name="T")
    coin: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    open: float = msgspec.field(name="o")
    close: float = msgspec.field(name="c")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    # In base units (coins).
    volume: float = msgspec.field(name="v")
    trades: int = msgspec.field(name="n")


# --- l2Book ------------------------------------------------------------------------------------


class L2Level(Wire):
    px: Decimal
    sz: Decimal
    n: int


class L2Book(Wire):
    coin: str
    time: int
    # [bids best first (descending), asks best first (ascending)]; empty sides when delisted.
    levels: list[list[L2Level]]
    spread: Decimal | None = None

    @property
    def bids(self) -> list[L2Level]:
        return self.levels[0] if self.levels else []

    @property
    def asks(self) -> list[L2Level]:
        return self.levels[1] if len(self.levels) > 1 else []


# --- funding -----------------------------------------------------------------------------------


class FundingRecord(Wire):
    coin: str
    funding_rate: Decimal = msgspec.field(name="fundingRate")
    time: int
    premium: Decimal | None = None


class PredictedFunding(Wire):
    funding_rate: Decimal = msgspec.field(name="fundingRate")
    next_funding_time: int = msgspec.field(name="nextFundingTime")
    funding_interval_hours: int | None = msgspec.field(default=None, name="fundingIntervalHours")


class VenueFunding(Wire, array_like=True):
    """``[venue, info | null]``; venues seen: BinPerp, HlPerp, BybitPerp."""

    venue: str
    info: PredictedFunding | None


class CoinPredictedFundings(Wire, array_like=True):
    """``[coin, [[venue, info], ...]]``."""

    coin: str
    venues: list[VenueFunding]

    def venue(self, name: str) -> PredictedFunding | None:
        for v in self.venues:
            if v.venue == name:
                return v.info
        return None


# --- spot (decoded for completeness; only ``@N`` mids keys refer to it) ------------------------


class SpotToken(Wire):
    name: str
    sz_decimals: int = msgspec.field(name="szDecimals")
    wei_decimals: int = msgspec.field(name="weiDecimals")
    index: int
    token_id: str = msgspec.field(name="tokenId")
    is_canonical: bool = msgspec.field(default=False, name="isCanonical")
    full_name: str | None = msgspec.field(default=None, name="fullName")


class SpotPair(Wire):
    name: str
    tokens: list[int]
    index: int
    is_canonical: bool = msgspec.field(default=False, name="isCanonical")


class SpotMeta(Wire):
    universe: list[SpotPair]
    tokens: list[SpotToken]


class SpotAssetCtx(Wire):
    """Joined to the spot universe by ``coin`` (not by index: the counts differ)."""

    coin: str
    mark_px: Decimal = msgspec.field(name="markPx")
    prev_day_px: Decimal = msgspec.field(name="prevDayPx")
    day_ntl_vlm: Decimal = msgspec.field(name="dayNtlVlm")
    mid_px: Decimal | None = msgspec.field(default=None, name="midPx")
    circulating_supply: Decimal | None = msgspec.field(default=None, name="circulatingSupply")
    total_supply: Decimal | None = msgspec.field(default=None, name="totalSupply")
    day_base_vlm: Decimal | None = msgspec.field(default=None, name="dayBaseVlm")


class SpotMetaAndAssetCtxs(Wire, array_like=True):
    meta: SpotMeta
    ctxs: list[SpotAssetCtx]


# --- response types per info request -----------------------------------------------------------

AllMids = dict[str, Decimal]
CandleSnapshot = list[WireCandle] | None  # unknown coin: null
L2BookResponse = L2Book | None  # unknown coin: null
FundingHistory = list[FundingRecord] | None
PredictedFundings = list[CoinPredictedFundings]


# --- WebSocket: client frames ------------------------------------------------------------------


class Subscription(Wire, omit_defaults=True):
    """A subscription as sent, and as the server echoes it (normalized; extras ignored)."""

    type: str
    coin: str | None = None
    interval: str | None = None
    dex: str | None = None

    def key(self) -> tuple[str, str | None, str | None, str | None]:
        """Identity for matching acks by meaning, not by string."""
        return (self.type, self.coin, self.interval, self.dex)


class ClientFrame(Wire, omit_defaults=True):
    method: str  # "subscribe" | "unsubscribe" | "ping"
    subscription: Subscription | None = None


def candle_subscription(coin: str, interval: str = "1m") -> Subscription:
    return Subscription(type="candle", coin=coin, interval=interval)


def all_mids_subscription(dex: str | None = None) -> Subscription:
    return Subscription(type="allMids", dex=dex)


_encoder = msgspec.json.Encoder()


def encode_subscribe(sub: Subscription, method: str = "subscribe") -> bytes:
    return _encoder.encode(ClientFrame(method=method, subscription=sub))


PING_FRAME = b'{"method":"ping"}'


# --- WebSocket: server frames (a union tagged by ``channel``) ----------------------------------


class ServerFrame(Wire, tag_field="channel"):
    pass


class SubscriptionAck(Wire):
    method: str
    subscription: Subscription


class SubscriptionResponseFrame(ServerFrame, tag="subscriptionResponse"):
    data: SubscriptionAck


class CandleFrame(ServerFrame, tag="candle"):
    # A bare object on the wire (the docs' ``Candle[]`` is wrong).
    data: WireCandle


class AllMidsData(Wire):
    mids: dict[str, Decimal]
    dex: str | None = None


class AllMidsFrame(ServerFrame, tag="allMids"):
    data: AllMidsData


class PongFrame(ServerFrame, tag="pong"):
    """``{"channel":"pong"}``: no ``data`` key."""


class ErrorFrame(ServerFrame, tag="error"):
    data: str


class OtherFrame(Wire):
    """Any other channel (e.g. ``post``, ``l2Book``): kept by name, content not decoded."""

    channel: str
    data: Any = None


KnownFrame = SubscriptionResponseFrame | CandleFrame | AllMidsFrame | PongFrame | ErrorFrame
Frame = KnownFrame | OtherFrame

_known = msgspec.json.Decoder(KnownFrame, strict=STRICT_CANDLES)
_other = msgspec.json.Decoder(OtherFrame)


class FrameError(ValueError):
    """A WebSocket text frame that is not a JSON object with a ``channel``."""


def decode_frame(text: str | bytes) -> Frame:
    """Decode one server text frame; unknown channels become ``OtherFrame``.

    A known channel whose payload does not fit its type raises ``msgspec.ValidationError``
    (naming the field); non-JSON text (the old greeting) raises ``FrameError``.
    """
    raw = text.encode() if isinstance(text, str) else text
    try:
        return _known.decode(raw)
    except msgspec.ValidationError as exc:
        if "Invalid value" in str(exc) and "`$.channel`" in str(exc):
            try:
                return _other.decode(raw)
            except msgspec.DecodeError as inner:
                raise FrameError(f"not a Hyperliquid frame: {raw[:80]!r}") from inner
        if "Object missing required field `channel`" in str(exc):
            raise FrameError(f"frame without channel: {raw[:80]!r}") from None
        raise
    except msgspec.DecodeError as exc:
        raise FrameError(f"not JSON: {raw[:80]!r}") from exc
