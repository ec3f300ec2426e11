"""Gamma wire types (msgspec Structs) and the helpers that read their awkward fields.

Every field may be absent (zero values are omitted) or null, unknown keys are ignored, and
only ``id`` is required. Gamma sends ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` as
JSON strings inside JSON, numbers both as strings and as numbers, and ``closedTime`` as
``2024-11-06 15:17:41+00`` on markets but ISO ``Z`` on events: the helpers here turn them into
real lists, Decimals and epoch milliseconds, raising ``FieldError`` naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import msgspec

Number = float | str | None


class FieldError(ValueError):
    """One field of one object that cannot be read."""


class Wire(msgspec.Struct, kw_only=True, rename="camel"):
    pass


class GammaTag(Wire):
    id: str | int | None = None
    label: str | None = None
    slug: str | None = None


class GammaEventRef(Wire):
    """An event nested in a market row (no markets of its own)."""

    id: str
    slug: str | None = None
    title: str | None = None
    tags: list[GammaTag] | None = None


class GammaMarket(Wire):
    id: str
    condition_id: str | None = None
    question: str | None = None
    slug: str | None = None
    outcomes: str | list[str] | None = None
    outcome_prices: str | list[str] | None = None
    clob_token_ids: str | list[str] | None = None
    volume: Number = None
    volume_num: Number = None
    volume24hr: Number = None
    liquidity: Number = None
    liquidity_num: Number = None
    best_bid: Number = None
    best_ask: Number = None
    last_trade_price: Number = None
    start_date: str | None = None
    end_date: str | None = None
    closed_time: str | None = None
    updated_at: str | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    tags: list[GammaTag] | None = None
    events: list[GammaEventRef] | None = None


class GammaEvent(Wire):
    id: str
    slug: str | None = None
    title: str | None = None
    ticker: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    closed_time: str | None = None
    updated_at: str | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    volume: Number = None
    volume24hr: Number = None
    liquidity: Number = None
    tags: list[GammaTag] | None = None
    markets: list[GammaMarket] | None = None


class EventsPage(msgspec.Struct, kw_only=True):
    """``/events/keyset``: ``next_cursor`` is absent on the last page."""

    events: list[GammaEvent] = []
    next_cursor: str | None = None


class MarketsPage(msgspec.Struct, kw_only=True):
    """``/markets/keyset``; an empty result is ``{"markets": []}``."""

    markets: list[GammaMarket] = []
    next_cursor: str | None = None


class ClobLevel(msgspec.Struct):
    price: str
    size: str


class ClobBook(msgspec.Struct, kw_only=True):
    """CLOB ``GET /book``: decimal strings; bids ascending and asks descending, so the best
    of each side is its last level."""

    market: str | None = None
    asset_id: str | None = None
    timestamp: str | None = None
    bids: list[ClobLevel] = []
    asks: list[ClobLevel] = []
    tick_size: str | None = None
    min_order_size: str | None = None

    def best_bid(self) -> Decimal | None:
        return max((Decimal(b.price) for b in self.bids), default=None)

    def best_ask(self) -> Decimal | None:
        return min((Decimal(a.price) for a in self.asks), default=None)


_str_list = msgspec.json.Decoder(list[str])


def str_list(value: str | list[str] | None, field: str) -> list[str] | None:
    """A list of strings sent either as a real list or as a JSON string holding one."""
    if value is None:
        return None
    if isinstance(value, list):
        return value
    try:
        return _str_list.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FieldError(f"{field}: not a JSON list of strings ({exc}): {value[:80]!r}") from None


def decimal(value: Number, field: str) -> Decimal | None:
    """A number sent as a JSON number or as a decimal string."""
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise FieldError(f"{field}: not a number: {value!r}") from None
    if not d.is_finite():
        raise FieldError(f"{field}: not a finite number: {value!r}")
    return d


def number(value: Number, field: str, default: float | None = None) -> float | None:
    d = decimal(value, field)
    return default if d is None else float(d)


def first_number(*pairs: tuple[Number, str]) -> float | None:
    """The first present of several spellings (``volume`` then ``volumeNum``); None when
    every one is absent: an absent number is unknown, never 0."""
    for value, field in pairs:
        got = number(value, field)
        if got is not None:
            return got
    return None


def timestamp_ms(value: str | None, field: str) -> int | None:
    """ISO ``Z`` (any fraction digits), ``2024-11-06 15:17:41+00`` or a bare date, as UTC ms."""
    if value is None or value == "":
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"{field}: not a timestamp: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def tag_names(tags: list[GammaTag] | None) -> list[str]:
    """Tag slugs (labels when a tag has no slug), in order, without duplicates."""
    out: list[str] = []
    for t in tags or []:
        name = t.slug or (t.label or "").strip().lower().replace(" ", "-")
        if name and name not in out:
            out.append(name)
    return out


def tag_labels(tags: list[GammaTag] | None) -> list[str]:
    return [t.label for t in tags or [] if t.label]
