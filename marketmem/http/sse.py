"""Server-Sent Events of ``/api/v1/stream`` as pure functions: the request (``symbols``,
``kinds``, ``Last-Event-ID``) validated, the events' payloads as msgspec Structs, their bytes.

On the wire each event is ``event: <kind>``, for candles ``id: <coin>:1m:<open_time_ms>``, and
one ``data:`` line of JSON; ``: keepalive`` is the heartbeat comment. A candle id names the bar
exactly, so a reconnect with ``Last-Event-ID`` resumes from the stored bars: every closed bar
stored (or rewritten) since that bar closed, less ``RESUME_SLACK_MS`` (bars are stamped when
the stream turns a push into a row, in the order the writer commits them, so every bar
committed after the one the client saw last carries a later stamp, give or take clocks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from marketmem.events import Candle, ChannelStatusChange, MidPrice
from marketmem.query import InvalidParameter, Param, parse_query

KINDS = ("mid", "candle", "health")
MAX_SYMBOLS = 50
HEARTBEAT_S = 15.0
HEARTBEAT = b": keepalive\n\n"
# What a client waits before it reconnects (EventSource's ``retry:``).
RETRY_MS = 3_000
INTERVAL = "1m"
INTERVAL_MS = 60_000
# Resume and refills start this much before the bar's end (or the last stamp seen): clocks and
# the order of stamps against the order of commits may differ by that much.
RESUME_SLACK_MS = 5_000
# How far back a bar may be rewritten after it opened (gap healing fills at most a day).
REPLAY_HORIZON_MS = 25 * 3_600_000

PARAMS = (
    Param(
        "symbols",
        "string",
        f"comma-separated listed Hyperliquid coins, at most {MAX_SYMBOLS} (e.g. BTC,ETH); "
        "required with kinds mid or candle",
        max_length=2000,
    ),
    Param(
        "kinds",
        "string",
        "comma-separated subset of mid, candle, health",
        default=",".join(KINDS),
        max_length=100,
    ),
)


class Lagged(msgspec.Struct, frozen=True, gc=False):
    """Sent to a client that fell behind, once it catches up: the events it lost since the
    last ``lagged`` (and in all). Lost candles follow at once, read back from the database."""

    dropped: int
    total_dropped: int


class StreamError(msgspec.Struct, frozen=True, gc=False):
    """Why the server ends a stream (the last event it sends)."""

    code: str
    message: str


class Resume(msgspec.Struct, frozen=True, gc=False):
    """Where a ``Last-Event-ID`` resumes: bars stamped from ``since_ms`` on."""

    coin: str
    open_time_ms: int
    since_ms: int


class StreamRequest(msgspec.Struct, frozen=True):
    symbols: tuple[str, ...]
    kinds: frozenset[str]
    resume: Resume | None = None


def _split(text: str | None) -> list[str]:
    out: list[str] = []
    for part in (text or "").split(","):
        word = part.strip()
        if word and word not in out:
            out.append(word)
    return out


def _resolve(symbols: list[str], listed: Sequence[str]) -> tuple[str, ...]:
    exact = set(listed)
    by_lower = {c.lower(): c for c in listed}
    out: list[str] = []
    for s in symbols:
        coin = s if s in exact else by_lower.get(s.lower())
        if coin is None:
            if not listed:
                raise InvalidParameter(
                    "symbols", "no coin is listed yet (the Hyperliquid registry has not run)"
                )
            raise InvalidParameter(
                "symbols", f"unknown coin {s[:40]!r} (not a listed Hyperliquid perp)"
            )
        if coin not in out:
            out.append(coin)
    return tuple(out)


def parse_event_id(text: str) -> Resume:
    """``BTC:1m:1795564800000`` -> where to resume; a 422 naming the header otherwise."""
    parts = text.strip().rsplit(":", 2)
    coin, interval, open_ms = parts if len(parts) == 3 else ("", "", "")
    if not coin or interval != INTERVAL or not open_ms.isdigit() or len(open_ms) > 15:
        raise InvalidParameter(
            "Last-Event-ID", f"expected COIN:{INTERVAL}:OPEN_TIME_MS, got {text[:60]!r}"
        )
    opened = int(open_ms)
    return Resume(coin=coin, open_time_ms=opened, since_ms=resume_since(opened))


def resume_since(open_time_ms: int) -> int:
    """The first stamp a resume after the bar opening at ``open_time_ms`` must read."""
    return open_time_ms + INTERVAL_MS - RESUME_SLACK_MS


def parse_request(
    items: Iterable[tuple[str, str]], listed: Sequence[str], last_event_id: str | None
) -> StreamRequest:
    """The validated request; ``InvalidParameter`` (a 422) names what is wrong."""
    values = parse_query(PARAMS, items)
    kinds = _split(values["kinds"])
    for kind in kinds:
        if kind not in KINDS:
            raise InvalidParameter(
                "kinds", f"unknown kind {kind[:40]!r} (expected mid, candle, health)"
            )
    if not kinds:
        raise InvalidParameter("kinds", "give at least one of mid, candle, health")
    symbols = _split(values["symbols"])
    if len(symbols) > MAX_SYMBOLS:
        raise InvalidParameter("symbols", f"at most {MAX_SYMBOLS} coins, got {len(symbols)}")
    if not symbols and {"mid", "candle"} & set(kinds):
        raise InvalidParameter("symbols", "required with kinds mid or candle, e.g. symbols=BTC,ETH")
    resume = None
    if last_event_id is not None and last_event_id.strip() and "candle" in kinds:
        resume = parse_event_id(last_event_id)
    return StreamRequest(symbols=_resolve(symbols, listed), kinds=frozenset(kinds), resume=resume)


# --- bytes on the wire -----------------------------------------------------------------------

_json = msgspec.json.Encoder()


def frame(kind: str, data: msgspec.Struct, event_id: str | None = None) -> bytes:
    head = f"event: {kind}\nid: {event_id}\n" if event_id is not None else f"event: {kind}\n"
    return head.encode() + b"data: " + _json.encode(data) + b"\n\n"


def candle_id(bar: Candle) -> str:
    return f"{bar.coin}:{bar.interval}:{bar.open_time_ms}"


def candle_frame(bar: Candle) -> bytes:
    return frame("candle", bar, candle_id(bar))


def mid_frame(mid: MidPrice) -> bytes:
    return frame("mid", mid)


def health_frame(change: ChannelStatusChange) -> bytes:
    return frame("health", change)


def lagged_frame(dropped: int, total: int) -> bytes:
    return frame("lagged", Lagged(dropped=dropped, total_dropped=total))


REVOKED = frame(
    "error", StreamError(code="unauthorized", message="invalid or revoked bearer token")
)


def opening() -> bytes:
    """The first bytes of every stream (they also flush the headers)."""
    return f"retry: {RETRY_MS}\n\n".encode()
