"""The latest-data composer: one compact object about one asset for one clone.

Each part is read on its own through ``Readers`` and converted into its read model: a part
with no data is null with a reason in ``missing``; a part whose reader failed (or answered
something that is not its model) is null with the failure's type (logged and counted), and
the other parts are still served. Nothing is invented or carried over from elsewhere.
``latest_answer`` turns the composed ``LatestData`` into what is sent (``LATEST_DATA``):
compact, every null left out, unless ``?verbose=1`` asks for every field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from marketmem.events import Candle
from marketmem.http.compact import compact, to_answer
from marketmem.http.freshness import data_time_ms, part_freshness
from marketmem.http.readers import Readers, Unavailable
from marketmem.http.schemas import (
    LATEST_DATA,
    PART_NAMES,
    ExecutionPrice,
    Features,
    LatestData,
    LatestDataRequest,
    Markets,
)
from marketmem.metrics import REGISTRY
from marketmem.query import Param
from marketmem.storage.errors import missing_table
from marketmem.storage.models.defillama import Subject
from marketmem.storage.models.features import FeatureRow
from marketmem.storage.models.polymarket import ContextMarket
from marketmem.storage.models.retention import FormingHour
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import Connection

log = logging.getLogger(__name__)

PART_ERRORS = REGISTRY.counter(
    "marketmem_http_latest_part_errors_total",
    "Latest-data parts that could not be read, by part",
    ("part",),
)

VERBOSE = Param(
    "verbose",
    "boolean",
    "false (default): the compact answer, every null left out (the reasons of a feature "
    "row's NULL columns stay in its null_reasons, and missing names every absent part); "
    "true: every field, nulls included",
    default=False,
)
PARAMS: tuple[Param, ...] = (VERBOSE,)

FEATURE_CHANNELS: tuple[str, ...] = tuple(Features.__struct_fields__)
# The fields of a feature row that are not values: with every other one NULL, the row says
# only why.
_ROW_FIELDS = frozenset(
    {"coin", "computed_at_ms", "window_start_ms", "window_end_ms", "null_reasons", "impacts"}
)

T = TypeVar("T")


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


def _convert(part: str, coin: str, value: Any, model: type[T] | Any) -> T | _Missing:
    """``value`` (a read model or its JSON form) as ``model``, or why it is not one."""
    try:
        converted: T = msgspec.convert(msgspec.to_builtins(value), model)
        return converted
    except Exception as exc:
        return _failed(part, coin, exc)


def _read(part: str, coin: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What ``fn`` answers, or why it could not."""
    try:
        return fn(*args, **kwargs)
    except Unavailable as exc:
        return _Missing(str(exc))
    except Exception as exc:
        if missing_table(exc):
            # A database written before that part of marketmem was installed.
            log.warning("latest-data: %s of %s: %s", part, coin, exc)
            return _Missing(f"no data yet ({exc})")
        # A failing part must not take the others down; it is logged, counted and explained.
        return _failed(part, coin, exc)


def _newest(rows: Sequence[Any]) -> int | None:
    times = [t for t in (data_time_ms(r) for r in rows) if t is not None]
    return max(times) if times else None


def all_null(row: FeatureRow) -> str | None:
    """Why ``row`` says nothing, when every value of it is NULL: its reasons, most common
    first; None when it has a value."""
    values = [f for f in row.__struct_fields__ if f not in _ROW_FIELDS]
    if any(getattr(row, f) is not None for f in values):
        return None
    counts: dict[str, int] = {}
    for f in values:
        reason = row.null_reasons.get(f, "no reason recorded")
        counts[reason] = counts.get(reason, 0) + 1
    reasons = sorted(counts, key=lambda r: (-counts[r], r))
    return f"every value is NULL ({', '.join(reasons)})"


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
    missing = out.missing

    def fresh(
        key: str, names: Sequence[tuple[str, str]], at_ms: int | None, present: bool = True
    ) -> None:
        rows = [channels[n] for n in names if n in channels]
        if rows:
            out.freshness[key] = part_freshness(rows, at_ms, now_ms, present=present)

    def read(part: str, model: Any, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """The part as ``model``; None when the reader has nothing, ``_Missing`` when it
        cannot say."""
        raw = _read(part, symbol, fn, *args, **kw)
        if raw is None or isinstance(raw, _Missing):
            return raw
        return _convert(part, symbol, raw, model)

    if "execution_price" in parts:
        got = read(
            "execution_price",
            ExecutionPrice,
            readers.execution_price,
            conn,
            symbol,
            now_ms,
            max_mid_age_ms=max_mid_age_ms,
        )
        mid_age = f"{max_mid_age_ms / 1000:g}s"
        price: ExecutionPrice | None = None
        if got is None:
            missing["execution_price"] = (
                f"no mid within {mid_age} and no closed candle for {symbol}"
            )
        elif isinstance(got, _Missing):
            missing["execution_price"] = got.reason
        else:
            price = got
            if price.source == "candle_close":
                missing["execution_price.mid"] = (
                    f"no mid within {mid_age} for {symbol}: the price is the latest 1-minute close"
                )
        out.execution_price = price
        feeds = [("hyperliquid", "mids"), ("hyperliquid", "candles")]
        if price is not None:
            feeds = [("hyperliquid", "mids" if price.source == "mid" else "candles")]
        fresh("execution_price", feeds, price.at_ms if price else None, price is not None)

    for part, label, model, fn, args in (
        (
            "candle_1m",
            "closed 1-minute candle",
            Candle,
            readers.last_closed_candle,
            (conn, symbol),
        ),
        (
            "candle_1h",
            "1-hour candle this hour",
            FormingHour,
            readers.current_hour_candle,
            (conn, symbol, now_ms),
        ),
    ):
        if part not in parts:
            continue
        row = read(part, model, fn, *args)
        if isinstance(row, _Missing):
            missing[part] = row.reason
            row = None
        elif row is None:
            missing[part] = f"no {label} for {symbol}"
        setattr(out, part, row)
        fresh(part, [("hyperliquid", "candles")], data_time_ms(row), row is not None)

    if "features" in parts:
        got = _read("features", symbol, readers.latest_features, conn, symbol)
        rows: dict[str, Any] = {}
        if isinstance(got, _Missing):
            out.features = None
            missing["features"] = got.reason
        else:
            row_models = {f.name: f.type for f in msgspec.structs.fields(Features)}
            for name in FEATURE_CHANNELS:
                row = (got or {}).get(name)
                part = f"features.{name}"
                if row is not None:
                    row = _convert(part, symbol, row, row_models[name])
                if isinstance(row, _Missing):
                    missing[part] = row.reason
                    row = None
                elif row is None:
                    missing[part] = f"no {name} row for {symbol}"
                elif (why := all_null(row)) is not None:
                    missing[part] = why
                rows[name] = row
            out.features = Features(**rows)
        for name in FEATURE_CHANNELS:
            row = rows.get(name)
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
        buckets: dict[str, list[ContextMarket]] = {"immediate": [], "later": []}
        if isinstance(got, _Missing):
            out.polymarket = None
            missing["polymarket"] = got.reason
        else:
            raw = msgspec.to_builtins(got) or {}
            for bucket in buckets:
                markets = _convert(
                    f"polymarket.{bucket}",
                    symbol,
                    list(raw.get(bucket, []))[: request.max_markets],
                    list[ContextMarket],
                )
                if isinstance(markets, _Missing):
                    missing[f"polymarket.{bucket}"] = markets.reason
                else:
                    buckets[bucket] = markets
                    if not markets:
                        missing[f"polymarket.{bucket}"] = f"no {bucket} market linked to {symbol}"
            out.polymarket = Markets(**buckets)
        present = out.polymarket is not None
        for bucket, channel in (("immediate", "immediate_markets"), ("later", "later_markets")):
            fresh(
                f"polymarket.{bucket}",
                [("polymarket", channel)],
                _newest(buckets[bucket]),
                present,
            )

    if "defillama" in parts:
        got = _read("defillama", symbol, readers.metrics_for_asset, conn, symbol)
        subjects: list[Subject] = []
        if not isinstance(got, _Missing):
            got = _convert(
                "defillama", symbol, list(got or [])[: request.max_subjects], list[Subject]
            )
        if isinstance(got, _Missing):
            out.defillama = None
            missing["defillama"] = got.reason
        else:
            subjects = got
            out.defillama = subjects
            if not subjects:
                missing["defillama"] = f"no DefiLlama subject linked to {symbol}"
        names = [("defillama", c) for c in ("capital_base", "capital_flows", "economic_throughput")]
        fresh("defillama", names, _newest(subjects), out.defillama is not None)
    return out


def latest_answer(data: LatestData, *, verbose: bool) -> msgspec.Struct:
    """What latest-data sends: ``data`` as ``LATEST_DATA``, compact unless ``verbose``."""
    answer = to_answer(data, LATEST_DATA)
    return answer if verbose else compact(answer)
