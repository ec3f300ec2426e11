"""Candle history: ``GET /api/v1/candles/{symbol}``, its parameters, range and cursor rules.

1m bars come from the stored minutes (the last 24 h), 1h bars from the rolled-up hours (the
last 7 days) and then the hours not rolled up yet, the hour in progress among them
(``retention.forming``); each bar says whether it is closed. Bars are ascending by open time.

- The range is ``start``..``end`` on open times, both inclusive, in ms since the epoch.
  ``end`` defaults to now; ``start`` to the ``limit`` bars up to ``end`` (the latest ones).
- Refused with 422: ``start`` after ``end`` (reversed); a range wider than the interval's
  retention window (``[hyperliquid] retention_candles_1m_s`` / ``_1h_s``: 24 h of 1m bars,
  7 days of 1h bars), e.g. a ``start`` with no ``end`` further back than that (unbounded);
  a symbol that is not a listed perp; a cursor this route did not make for this symbol,
  interval and range.
- A page holds at most ``limit`` bars (default 500, at most 1000: larger values are capped).
  ``next_cursor`` is set when more bars of the range follow; it is base64url of
  ``[coin, interval, open time of the page's last bar]``, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from marketmem.clock import HOUR_MS, MINUTE_MS
from marketmem.config import Config
from marketmem.http.errors import invalid_parameter
from marketmem.http.schemas import CandlePage
from marketmem.query import Param
from marketmem.retention import forming
from marketmem.retention.policy import RetentionPolicy
from marketmem.sources.hyperliquid.config import SECTION as HYPERLIQUID
from marketmem.storage.reads import Connection
from marketmem.storage.reads import hyperliquid as hl_reads

INTERVAL_MS = {"1m": MINUTE_MS, "1h": HOUR_MS}
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

PARAMS: tuple[Param, ...] = (
    Param(
        "interval",
        "string",
        "bar interval: 1m (the last 24 h of 1-minute bars) or 1h (the last 7 days of hours, "
        "and the hour in progress)",
        default="1m",
        choices=tuple(INTERVAL_MS),
    ),
    Param(
        "start",
        "integer",
        "earliest open time, ms since the epoch, inclusive (default: the limit bars up to "
        "end); start..end may span at most the interval's retention window (24 h for 1m, "
        "7 days for 1h)",
        minimum=0,
        maximum=MAX_MS,
    ),
    Param(
        "end",
        "integer",
        "latest open time, ms since the epoch, inclusive (default: now)",
        minimum=0,
        maximum=MAX_MS,
    ),
    Param(
        "limit",
        "integer",
        f"bars per page (at most {MAX_LIMIT}; larger values are capped)",
        default=DEFAULT_LIMIT,
        minimum=1,
        cap=MAX_LIMIT,
    ),
    Param(
        "cursor",
        "string",
        "next_cursor of the previous page, with the same symbol, interval, start and end",
        max_length=200,
    ),
)


def max_span_ms(config: Config, interval: str) -> int:
    """How far apart start and end may be: the retention window of ``interval``'s bars."""
    policy = RetentionPolicy.from_config(HYPERLIQUID.of(config))
    return policy.candles_1m_ms if interval == "1m" else policy.candles_1h_ms


def _span(ms: int) -> str:
    hours, rest = divmod(ms, HOUR_MS)
    return f"{hours} h" if not rest else f"{ms / HOUR_MS:.2f} h"


def resolve_range(
    interval: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    limit: int,
    now_ms: int,
    max_span_ms: int,
) -> tuple[int, int]:
    """The range asked for, defaults filled in; a 422 for a reversed or unbounded one."""
    step = INTERVAL_MS[interval]
    end = now_ms if end_ms is None else end_ms
    if start_ms is None:
        latest = end - end % step - (limit - 1) * step
        return max(0, latest, end - max_span_ms), end
    if start_ms > end:
        raise invalid_parameter("start", f"{start_ms} is after end {end} (a reversed range)")
    if end - start_ms > max_span_ms:
        raise invalid_parameter(
            "start",
            f"start..end spans {_span(end - start_ms)}, more than the {_span(max_span_ms)} "
            f"of {interval} bars kept (an unbounded range: ask for at most that, and page "
            "with cursor)",
        )
    return start_ms, end


class _Cursor(msgspec.Struct, array_like=True, frozen=True):
    coin: str
    interval: str
    after_ms: int


_decode_cursor = msgspec.json.Decoder(_Cursor)


def encode_cursor(coin: str, interval: str, after_ms: int) -> str:
    raw = msgspec.json.encode(_Cursor(coin, interval, after_ms))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, coin: str, interval: str, start_ms: int, end_ms: int) -> int:
    """The open time the page before ``text`` ended at; a 422 for any cursor this route did
    not make for this symbol, interval and range."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        cursor = _decode_cursor.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise invalid_parameter(
            "cursor", "not a cursor of this route (pass next_cursor as it was given)"
        ) from None
    if (cursor.coin, cursor.interval) != (coin, interval):
        raise invalid_parameter(
            "cursor", f"made for another symbol or interval than {coin} {interval}"
        )
    if not start_ms <= cursor.after_ms <= end_ms:
        raise invalid_parameter("cursor", "not within start..end of this request")
    return cursor.after_ms


def candle_page(
    conn: Connection, config: Config, symbol: str, p: dict[str, Any], now_ms: int
) -> CandlePage:
    """One page of ``symbol``'s candle history; ``p`` are the validated ``PARAMS``."""
    interval: str = p["interval"]
    limit: int = p["limit"]
    coin = hl_reads.listed_coin(conn, symbol)
    if coin is None:
        raise invalid_parameter("symbol", f"{symbol[:40]!r} is not a listed Hyperliquid perp")
    start, end = resolve_range(
        interval,
        p["start"],
        p["end"],
        limit=limit,
        now_ms=now_ms,
        max_span_ms=max_span_ms(config, interval),
    )
    lo = start
    if p["cursor"] is not None:
        lo = decode_cursor(p["cursor"], coin, interval, start, end) + 1
    if interval == "1m":
        bars = hl_reads.bars(conn, coin, "1m", lo, end, limit + 1)
    else:
        bars = forming.hour_bars(conn, coin, lo, end, now_ms, limit + 1)
    more = len(bars) > limit
    bars = bars[:limit]
    return CandlePage(
        symbol=coin,
        interval="1m" if interval == "1m" else "1h",
        start_ms=start,
        end_ms=end,
        limit=limit,
        count=len(bars),
        bars=bars,
        next_cursor=encode_cursor(coin, interval, bars[-1].open_time_ms) if more else None,
    )
