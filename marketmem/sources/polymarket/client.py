"""The Gamma client: keyset listing of events and markets, rate limited, with retries.

Paging follows research/polymarket.md §2: ``/events/keyset`` and ``/markets/keyset``, the
opaque ``next_cursor`` sent back as ``after_cursor`` with every filter re-sent, stop when
``next_cursor`` is absent (never on page length: the server clamps page sizes), and a
repeated cursor or more than ``max_pages`` pages fails the listing. ``active``, ``closed``
and ``archived`` are always sent, because their server defaults differ per route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from marketmem.httpclient import RetryPolicy, SourceError, decode, request
from marketmem.sources.polymarket.ratelimit import SlidingWindowLimiter
from marketmem.sources.polymarket.wire import EventsPage, GammaEvent, GammaMarket, MarketsPage

Page = TypeVar("Page", EventsPage, MarketsPage)

# Progress callback: (route, pages so far, objects so far).
Progress = Callable[[str, int, int], None]

# Gamma accepts at most this many repeated ``id`` values in one request comfortably.
IDS_PER_REQUEST = 100


class PagingError(SourceError):
    """The server's cursors do not end (repeated cursor, or more pages than allowed)."""


@dataclass(frozen=True)
class Filters:
    """A listing query; the three state flags are required so they are always sent."""

    active: bool
    closed: bool
    archived: bool
    extra: tuple[tuple[str, str], ...] = ()

    def params(self) -> list[tuple[str, str]]:
        flags = [
            ("active", str(self.active).lower()),
            ("closed", str(self.closed).lower()),
            ("archived", str(self.archived).lower()),
        ]
        return flags + list(self.extra)


@dataclass
class Limiters:
    events: SlidingWindowLimiter
    markets: SlidingWindowLimiter

    @classmethod
    def per_10s(cls, events: int, markets: int) -> Limiters:
        return cls(SlidingWindowLimiter(events, 10.0), SlidingWindowLimiter(markets, 10.0))


@dataclass
class GammaClient:
    http: httpx.AsyncClient
    base_url: str
    limiters: Limiters
    page_size: int = 100
    max_pages: int = 300
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    progress: Progress | None = None
    requests: int = 0

    async def list_events(self, filters: Filters) -> list[GammaEvent]:
        out: list[GammaEvent] = []
        async for page in self._keyset("/events/keyset", EventsPage, filters):
            out.extend(page.events)
        return out

    async def list_markets(self, filters: Filters) -> list[GammaMarket]:
        out: list[GammaMarket] = []
        async for page in self._keyset("/markets/keyset", MarketsPage, filters):
            out.extend(page.markets)
        return out

    async def markets_by_id(self, ids: list[str]) -> list[GammaMarket]:
        """Markets by id, open and closed (``/markets`` hides closed ones unless asked)."""
        found: dict[str, GammaMarket] = {}
        for i in range(0, len(ids), IDS_PER_REQUEST):
            chunk = tuple(("id", x) for x in ids[i : i + IDS_PER_REQUEST])
            for closed in (False, True):
                filters = Filters(active=True, closed=closed, archived=False, extra=chunk)
                for m in await self.list_markets(filters):
                    found[m.id] = m  # the closed=true answer comes last and wins
        return list(found.values())

    async def _keyset(
        self, path: str, page_type: type[Page], filters: Filters
    ) -> AsyncIterator[Page]:
        limiter = self.limiters.events if path.startswith("/events") else self.limiters.markets
        url = self.base_url.rstrip("/") + path
        seen: set[str] = set()
        cursor: str | None = None
        pages = objects = 0
        while True:
            params = [("limit", str(self.page_size)), *filters.params()]
            if cursor is not None:
                params.append(("after_cursor", cursor))
            self.requests += 1
            resp = await request(
                self.http,
                "GET",
                url,
                params=params,
                policy=self.policy,
                before_attempt=limiter.acquire,
            )
            page = decode(resp.content, page_type, f"GET {path} page {pages + 1}")
            pages += 1
            objects += len(page.events if isinstance(page, EventsPage) else page.markets)
            if self.progress is not None:
                self.progress(path, pages, objects)
            yield page
            cursor = page.next_cursor or None
            if cursor is None:
                return
            if cursor in seen:
                raise PagingError(f"GET {path}: cursor repeated after {pages} page(s)")
            if pages >= self.max_pages:
                raise PagingError(f"GET {path}: more than {self.max_pages} pages; raise max_pages")
            seen.add(cursor)
