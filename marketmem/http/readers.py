"""The read functions of other parts of marketmem that the API serves, behind one injectable
object so tests can replace any of them.

``default_readers()`` imports each owner's ``reads`` module. A part of marketmem that is not
built into this installation yields a reader that raises ``Unavailable``: its route answers
503 and its latest-data part is null with that reason, while every other route keeps working.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The part of marketmem behind a reader is not built into this installation."""


@dataclass(frozen=True)
class Readers:
    list_assets: Callable[..., list[dict[str, Any]]]
    execution_price: Callable[..., dict[str, Any] | None]
    last_closed_candle: Callable[..., dict[str, Any] | None]
    current_hour_candle: Callable[..., dict[str, Any] | None]
    latest_features: Callable[..., dict[str, dict[str, Any] | None]]
    search_markets: Callable[..., list[dict[str, Any]]]
    markets_for_asset: Callable[..., dict[str, list[dict[str, Any]]]]
    search_subjects: Callable[..., list[dict[str, Any]]]
    metrics_for_asset: Callable[..., list[dict[str, Any]]]


_SOURCES = {
    "list_assets": "marketmem.sources.hyperliquid.reads",
    "execution_price": "marketmem.sources.hyperliquid.reads",
    "last_closed_candle": "marketmem.sources.hyperliquid.reads",
    "current_hour_candle": "marketmem.retention.reads",
    "latest_features": "marketmem.features.reads",
    "search_markets": "marketmem.sources.polymarket.reads",
    "markets_for_asset": "marketmem.sources.polymarket.reads",
    "search_subjects": "marketmem.sources.defillama.reads",
    "metrics_for_asset": "marketmem.sources.defillama.reads",
}


def _unavailable(name: str, module: str) -> Callable[..., Any]:
    def reader(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable(f"{name} is not available in this build ({module} is missing)")

    return reader


def _load(name: str, module: str) -> Callable[..., Any]:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            log.warning("HTTP API: %s unavailable: %s is not built", name, module)
            return _unavailable(name, module)
        raise
    fn = getattr(mod, name, None)
    if fn is None:
        log.warning("HTTP API: %s unavailable: %s has no %s", name, module, name)
        return _unavailable(name, module)
    reader: Callable[..., Any] = fn
    return reader


def default_readers() -> Readers:
    return Readers(**{name: _load(name, module) for name, module in _SOURCES.items()})
