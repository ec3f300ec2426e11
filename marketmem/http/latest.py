"""The latest-data composer: one compact object about one asset for one clone.

Each part is read on its own through ``Readers``: a part with no data is null with a reason in
``missing``; a part whose reader failed is null with the failure's type (logged and counted),
and the other parts are still served. Nothing is invented or carried over from elsewhere.
The readers answer read models; a part enters the answer as their plain JSON form
(``msgspec.to_builtins``), which is what the answer's schema declares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from marketmem.http.freshness import data_time_ms, part_freshness
from marketmem.http.readers import Readers, Unavailable
from marketmem.http.schemas import (
    PART_NAMES,
    ExecutionPrice,
    LatestData,
    LatestDataRequest,
    Markets,
)
from marketmem.metrics import REGISTRY
from marketmem.storage.errors import missing_table
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import Connection

log = logging.getLogger(__name__)

PART_ERRORS = REGISTRY.counter(
    "marketmem_http_latest_part_errors_total",
    "Latest-data parts that could not be read, by part",
    ("part",),
)

FEATURE_CHANNELS = (
    "technical_indicators",
    "funding_pressure",
    "liquidity_profiles",
    "volatility_profiles",
    "positioning_pressure",
)


class _Missing:
    """Why a part is null."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _failed(part: str, coin: str, exc: Exception) -> _Missing:
    PART_ERRORS.inc(part=part)
    log.error(
        "latest-data: reading %s of %s failed: %s: %s",
        part,
        coin,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return _Missing(f"could not be read ({type(exc).__name__})")


def _read(part: str, coin: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What ``fn`` answers as plain JSON values (None stays None), or why it could not."""
    try:
        return msgspec.to_builtins(fn(*args, **kwargs))
    except Unavailable as exc:
        return _Missing(str(exc))
    except Exception as exc:
        if missing_table(exc):
            # A database written before that part of marketmem was installed.
            log.warning("latest-data: %s of %s: %s", part, coin, exc)
            return _Missing(f"no data yet ({exc})")
        # A failing part must not take the others down; it is logged, counted and explained.
        return _failed(part, coin, exc)


def _newest(rows: Sequence[Mapping[str, Any]]) -> int | None:
    times = [t for t in (data_time_ms(r) for r in rows) if t is not None]
    return max(times) if times else None


def compose_latest(
    conn: Connection,
    readers: Readers,
    *,
    clone_id: str,
    symbol: str,
    request: LatestDataRequest,
    health: Sequence[ChannelHealth],
    now_ms: int,
    max_mid_age_ms: int,
) -> LatestData:
    parts = set(request.include if request.include is not None else PART_NAMES)
    channels = {(h.source, h.channel): h for h in health}
    out = LatestData(clone_id=clone_id, symbol=symbol, as_of_ms=now_ms)

    def fresh(
        key: str, names: Sequence[tuple[str, str]], at_ms: int | None, present: bool = True
    ) -> None:
        rows = [channels[n] for n in names if n in channels]
        if rows:
            out.freshness[key] = part_freshness(rows, at_ms, now_ms, present=present)

    if "execution_price" in parts:
        raw = _read(
            "execution_price",
            symbol,
            readers.execution_price,
            conn,
            symbol,
            now_ms,
            max_mid_age_ms=max_mid_age_ms,
        )
        price: ExecutionPrice | None = None
        if raw is None:
            out.missing["execution_price"] = (
                f"no mid within {max_mid_age_ms / 1000:g}s and no closed candle for {symbol}"
            )
        elif isinstance(raw, _Missing):
            out.missing["execution_price"] = raw.reason
        else:
            try:
                price = msgspec.convert(raw, ExecutionPrice)
            except Exception as exc:
                out.missing["execution_price"] = _failed("execution_price", symbol, exc).reason
        out.execution_price = price
        feeds = [("hyperliquid", "mids"), ("hyperliquid", "candles")]
        if price is not None:
            feeds = [("hyperliquid", "mids" if price.source == "mid" else "candles")]
        fresh("execution_price", feeds, price.at_ms if price else None, price is not None)

    for part, label, fn, args in (
        ("candle_1m", "closed 1-minute candle", readers.last_closed_candle, (conn, symbol)),
        (
            "candle_1h",
            "1-hour candle this hour",
            readers.current_hour_candle,
            (conn, symbol, now_ms),
        ),
    ):
        if part not in parts:
            continue
        row = _read(part, symbol, fn, *args)
        if isinstance(row, _Missing):
            out.missing[part] = row.reason
            row = None
        elif row is None:
            out.missing[part] = f"no {label} for {symbol}"
        setattr(out, part, row)
        fresh(part, [("hyperliquid", "candles")], data_time_ms(row), row is not None)

    if "features" in parts:
        got = _read("features", symbol, readers.latest_features, conn, symbol)
        if isinstance(got, _Missing):
            out.features = None
            out.missing["features"] = got.reason
            got = {}
        else:
            out.features = {name: got.get(name) for name in FEATURE_CHANNELS}
        for name in FEATURE_CHANNELS:
            row = got.get(name)
            if row is None and out.features is not None:
                out.missing[f"features.{name}"] = f"no {name} row for {symbol}"
            fresh(f"features.{name}", [("hyperliquid", name)], data_time_ms(row), row is not None)

    if "polymarket" in parts:
        got = _read(
            "polymarket",
            symbol,
            readers.markets_for_asset,
            conn,
            symbol,
            now_ms,
            limit=request.max_markets,
        )
        immediate: list[dict[str, Any]] = []
        later: list[dict[str, Any]] = []
        if isinstance(got, _Missing):
            out.polymarket = None
            out.missing["polymarket"] = got.reason
        else:
            immediate = list(got.get("immediate", []))[: request.max_markets]
            later = list(got.get("later", []))[: request.max_markets]
            out.polymarket = Markets(immediate=immediate, later=later)
        present = out.polymarket is not None
        fresh(
            "polymarket.immediate",
            [("polymarket", "immediate_markets")],
            _newest(immediate),
            present,
        )
        fresh("polymarket.later", [("polymarket", "later_markets")], _newest(later), present)

    if "defillama" in parts:
        got = _read("defillama", symbol, readers.metrics_for_asset, conn, symbol)
        subjects: list[dict[str, Any]] = []
        if isinstance(got, _Missing):
            out.defillama = None
            out.missing["defillama"] = got.reason
        else:
            subjects = list(got)[: request.max_subjects]
            out.defillama = subjects
        names = [("defillama", c) for c in ("capital_base", "capital_flows", "economic_throughput")]
        fresh("defillama", names, _newest(subjects), out.defillama is not None)
    return out
