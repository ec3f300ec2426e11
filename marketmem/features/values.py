"""Undefined feature values: ``Null(reason)`` instead of NaN, inf or a made-up number.

Pure feature functions return ``Num`` (a float or a ``Null`` naming why the value is undefined).
``Columns`` collects the named values of one feature row: undefined ones become SQL NULL and
their reasons are kept per column, so a row can say why each NULL is there and the job can
count reasons per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class Null:
    """An undefined value and the reason it is undefined."""

    reason: str


Num = float | Null

# The reasons a value can be undefined (kept as a closed vocabulary so they can be counted).
TOO_FEW_CANDLES = Null("too_few_candles")
GAP = Null("gap")
STALE = Null("stale")
ZERO_VOLUME = Null("zero_volume")
FLAT_PRICES = Null("flat_prices")
ZERO_PRICE = Null("zero_price")
EMPTY_BOOK_SIDE = Null("empty_book_side")
BEYOND_VISIBLE_BOOK = Null("beyond_visible_book")
NO_HISTORY = Null("no_history")
MISSING_INPUT = Null("missing_input")
UNAVAILABLE = Null("source_unavailable")
NON_FINITE = Null("non_finite")
CONSTANT_SERIES = Null("constant_series")
ZERO_BASE = Null("zero_base")
CROSSED_BOOK = Null("crossed_book")
INSUFFICIENT_DEPTH = Null("insufficient_depth")
INVALID_BAR = Null("invalid_bar")
TOO_FEW_POINTS = Null("too_few_points")

REASONS: tuple[str, ...] = tuple(
    n.reason
    for n in (
        TOO_FEW_CANDLES,
        GAP,
        STALE,
        ZERO_VOLUME,
        FLAT_PRICES,
        ZERO_PRICE,
        EMPTY_BOOK_SIDE,
        BEYOND_VISIBLE_BOOK,
        NO_HISTORY,
        MISSING_INPUT,
        UNAVAILABLE,
        NON_FINITE,
        CONSTANT_SERIES,
        ZERO_BASE,
        CROSSED_BOOK,
        INSUFFICIENT_DEPTH,
        INVALID_BAR,
        TOO_FEW_POINTS,
    )
)


def finite(x: float) -> Num:
    """``x`` unless it is NaN or infinite (an overflow must never reach the database)."""
    return x if math.isfinite(x) else NON_FINITE


def ratio(num: Num, den: Num, *, zero: Null = ZERO_PRICE) -> Num:
    """``num / den``; ``zero`` when the denominator is 0, the first Null when either is."""
    if isinstance(num, Null):
        return num
    if isinstance(den, Null):
        return den
    if den == 0:
        return zero
    return finite(num / den)


def change_pct(now: Num, then: Num) -> Num:
    """Percent change from ``then`` to ``now``."""
    r = ratio(now, then)
    return r if isinstance(r, Null) else finite((r - 1.0) * 100.0)


_json = msgspec.json.Encoder()


class Columns:
    """The named values of one feature row, with the reason of every NULL."""

    __slots__ = ("reasons", "values")

    def __init__(self) -> None:
        # Column -> value (float, int, label or None); Any so rows can be built with **values.
        self.values: dict[str, Any] = {}
        self.reasons: dict[str, str] = {}

    def put(self, name: str, value: Num | int | None, *, missing: Null = MISSING_INPUT) -> None:
        """A numeric column; ``None`` stands for an absent input (reason ``missing``)."""
        if value is None:
            value = missing
        if isinstance(value, Null):
            self.values[name] = None
            self.reasons[name] = value.reason
        elif isinstance(value, int):
            self.values[name] = value
        else:
            checked = finite(value)
            if isinstance(checked, Null):
                self.values[name] = None
                self.reasons[name] = checked.reason
            else:
                self.values[name] = checked

    def label(self, name: str, value: str | Null) -> None:
        if isinstance(value, Null):
            self.values[name] = None
            self.reasons[name] = value.reason
        else:
            self.values[name] = value

    def null_all(self, names: tuple[str, ...] | list[str], reason: Null) -> None:
        for name in names:
            self.values[name] = None
            self.reasons[name] = reason.reason

    def reasons_json(self) -> str | None:
        """The NULL reasons as a JSON object (column -> reason), or None when nothing is NULL."""
        if not self.reasons:
            return None
        return _json.encode(self.reasons).decode()
