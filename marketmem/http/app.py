"""The Starlette application: the route table, its handlers and the error/metrics wrapper.

``create_app(config, clock)`` builds everything from injected parts (no lifespan), so tests
drive it through ``httpx.ASGITransport``. Handlers parse what needs no database on the trio
thread, then make one call into a worker thread that authenticates, validates and reads
(so 401 and 403 come before 422, and a request costs one thread hop). latest-data answers
from memory, with no hop, while its token and clone checks and the composed answer are
younger than ``[http] cache_s``, compact unless ``?verbose=1`` (``latest``); ``candles`` cuts
candle history into pages. In front of every route, ``BodyLimit`` reads the request body to
its end (a route that takes none ignores it) or refuses it. The routes' answers come from the
``Api.read_*`` calls, which the MCP tools at ``/mcp`` (``http.mcp``) call as well. ``/api/v1/stream`` checks its
request the same way, then answers with an ``EventStream`` served from the ``StreamHub`` it
was given (``http.stream``); an app built without one answers that route 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib import metadata
from typing import Any, TypeVar

import msgspec
import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from marketmem import metrics as core_metrics
from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.events import ChannelStatusChange
from marketmem.http import candles, latest, metrics
from marketmem.http.access import CachedAccess, check_clone
from marketmem.http.auth import MalformedAuthorization, bearer_token, hash_token, token_id_of
from marketmem.http.body import MAX_BODY_BYTES, decode_body
from marketmem.http.bodylimit import BodyLimit
from marketmem.http.cache import KeyedTtlCache, RefreshAhead, TtlCache
from marketmem.http.channelpage import PARAMS as CHANNEL_PAGE_PARAMS
from marketmem.http.channelpage import ChannelPage, read_channel_page, render_channel_page
from marketmem.http.clienterrors import ClientErrors, route_resolver
from marketmem.http.dashboard import read_dashboard
from marketmem.http.errors import (
    ApiError,
    api_error_response,
    error_response,
    not_found,
    unauthorized,
)
from marketmem.http.feed import health_snapshot
from marketmem.http.openapi import OpenApiDocument, RouteSpec, build_openapi
from marketmem.http.page import csp, dashboard_page
from marketmem.http.panels import Panels, read_panels, render_panels
from marketmem.http.pool import ReadPool
from marketmem.http.readers import Readers, Unavailable, default_readers
from marketmem.http.schemas import (
    LATEST_DATA,
    CandlePage,
    Dashboard,
    HealthResponse,
    LatestDataRequest,
    PartName,
)
from marketmem.http.sse import PARAMS as STREAM_PARAMS
from marketmem.http.sse import StreamRequest, parse_request
from marketmem.http.stream import EventStream, StreamHub
from marketmem.query import InvalidParameter, parse_query
from marketmem.runs import describe_error
from marketmem.source import ReadContext, ReadRoute
from marketmem.storage.errors import BUSY, STORAGE_ERROR, missing_table
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import Connection
from marketmem.storage.reads.hyperliquid import listed_coins
from marketmem.storage.reads.runs import channel_health
from marketmem.telemetry import Telemetry, TelemetryView

log = logging.getLogger(__name__)

_json = msgspec.json.Encoder()

HEALTH_TTL_MS = 1_000
DASHBOARD_TTL_MS = 2_000
# What the pages hold; the channel page's errors stay out of shared caches.
PAGE_HEADERS = {"Cache-Control": "no-cache"}
PRIVATE_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": csp("", scripts=False),
}

T = TypeVar("T")

Handler = Callable[[Request], Awaitable[Response]]


def _version() -> str:
    try:
        return metadata.version("marketmem")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def request_token(request: Request) -> str | None:
    """The request's bearer token, None without an Authorization header; a 401 saying the
    header is malformed when it is there but is not ``Bearer <token>``."""
    headers = request.headers.getlist("authorization")
    try:
        if len(headers) > 1:
            raise MalformedAuthorization("it is given more than once")
        return bearer_token(headers[0] if headers else None)
    except MalformedAuthorization as exc:
        raise unauthorized(
            f"malformed Authorization header: {exc} (expected Authorization: Bearer <token>)"
        ) from None


# What keeps ``/metrics`` from refreshing the channel gauges (it is served all the same).
_UNREADABLE: tuple[type[Exception], ...] = (ApiError, *STORAGE_ERROR)


def json_response(value: Any) -> Response:
    return Response(_json.encode(value), media_type="application/json")


class Api:
    """The handlers and what they share: config, wall clock, read pool, readers, caches, and
    the service's in-process telemetry when this process runs the writer (None in ``serve``)."""

    def __init__(
        self,
        config: Config,
        clock: WallClock,
        *,
        pool: ReadPool | None = None,
        readers: Readers | None = None,
        telemetry: Telemetry | None = None,
        streams: StreamHub | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.telemetry = telemetry
        self.streams = streams
        self.pool = pool or ReadPool(
            config.database(),
            busy_timeout_ms=config.storage.busy_timeout_ms,
            max_threads=config.http.read_threads,
        )
        self.readers = readers or default_readers()
        self.max_mid_age_ms = int(config.http.max_mid_age_s * 1000)
        self.health_cache: TtlCache[list[ChannelHealth]] = TtlCache(HEALTH_TTL_MS)
        self.dashboard_cache: TtlCache[Dashboard] = TtlCache(DASHBOARD_TTL_MS)
        self.panels_cache: TtlCache[Panels] = TtlCache(DASHBOARD_TTL_MS)
        self._page, self._page_csp = dashboard_page(config.http.dashboard_refresh_s)
        cache_ms = int(config.http.cache_s * 1000)
        self.access = CachedAccess(cache_ms)
        self.latest_cache: KeyedTtlCache[LatestKey, msgspec.Struct] = KeyedTtlCache(cache_ms)
        # Answers and checks redone before they expire (``_refresh_ahead``); the app's lifespan
        # gives it the server's nursery (without one, as under ASGITransport, nothing is).
        self.ahead = RefreshAhead(REFRESH_AHEAD, REFRESH_CONCURRENCY)
        self.source_routes: dict[str, ReadRoute] = {
            route.operation_id: route
            for src in config.SOURCES
            if src.routes is not None
            for route in src.routes(config)
        }
        self.specs = self._specs()
        self.version = _version()
        self._openapi = _json.encode(build_openapi(self.specs, version=self.version))

    # --- route table -----------------------------------------------------------------------

    def _specs(self) -> list[RouteSpec]:
        """The core routes, with each source's read routes after the first (the assets)."""
        sources = [
            RouteSpec(
                "GET",
                r.path,
                r.operation_id,
                r.summary,
                "bearer",
                params=r.params,
                response=r.response,
            )
            for r in self.source_routes.values()
        ]
        return [*sources[:1], *self._core_specs(), *sources[1:]]

    def _core_specs(self) -> list[RouteSpec]:
        return [
            RouteSpec(
                "GET",
                "/api/v1/ingestion/health",
                "ingestionHealth",
                "Every source/channel with status, cadence, stale threshold, runs, rows, error",
                "bearer",
                response=HealthResponse,
            ),
            RouteSpec(
                "GET",
                "/api/v1/ingestion/dashboard",
                "ingestionDashboard",
                "Public summary: counts per status, freshness, rows per table, price ages",
                "public",
                response=Dashboard,
            ),
            RouteSpec(
                "POST",
                "/api/v1/clones/{clone_id}/assets/{symbol}/latest-data",
                "latestData",
                "Compact latest context for one asset of a clone (owner only); ?verbose=1 "
                "for every field, nulls included",
                "owner",
                params=latest.PARAMS,
                body=LatestDataRequest,
                response=LATEST_DATA,
                path_params=(
                    ("clone_id", "the clone's id"),
                    ("symbol", "an asset symbol the clone trades"),
                ),
            ),
            RouteSpec(
                "GET",
                "/api/v1/candles/{symbol}",
                "candleHistory",
                "Candle history of a listed perp: 1m bars of the last 24 h, or 1h bars of the "
                "last 7 days and the hour in progress; ascending, each closed or not, in pages",
                "bearer",
                params=candles.PARAMS,
                response=CandlePage,
                path_params=(("symbol", "a listed Hyperliquid perp, e.g. BTC"),),
            ),
            RouteSpec(
                "GET",
                "/api/v1/stream",
                "stream",
                "Server-Sent Events of committed data: mid, candle (closed 1m bars, with ids: "
                "Last-Event-ID resumes from the stored bars), health (channel status changes), "
                "lagged (events a slow client lost); a ': keepalive' comment every 15 s",
                "bearer",
                params=STREAM_PARAMS,
                media_type="text/event-stream",
                errors=((429, "this token holds [http] stream_max_per_token open streams"),),
            ),
            RouteSpec(
                "GET",
                "/openapi.json",
                "openapi",
                "This document",
                "public",
                response=OpenApiDocument,
                api=False,
            ),
            RouteSpec(
                "GET",
                "/metrics",
                "metrics",
                "Prometheus metrics",
                "public",
                media_type="text/plain",
                api=False,
            ),
            RouteSpec(
                "GET",
                "/dashboard",
                "dashboardPage",
                "HTML dashboard (refreshes itself)",
                "public",
                media_type="text/html",
                api=False,
            ),
            RouteSpec(
                "GET",
                "/dashboard/charts",
                "dashboardCharts",
                "The dashboard's charts as an HTML fragment of SVG (no error texts)",
                "public",
                media_type="text/html",
            ),
            RouteSpec(
                "GET",
                "/dashboard/channels/{source}/{channel}",
                "channelPage",
                "HTML page of one channel: health, outcomes, its latest runs with full errors",
                "bearer",
                params=CHANNEL_PAGE_PARAMS,
                media_type="text/html",
                path_params=(("source", "a source, e.g. hyperliquid"), ("channel", "its channel")),
                not_found="no such source/channel in this configuration",
            ),
        ]

    def handler(self, operation_id: str) -> Handler:
        route = self.source_routes.get(operation_id)
        if route is not None:
            return self.read_route(route)
        handlers: dict[str, Handler] = {
            "ingestionHealth": self.health,
            "ingestionDashboard": self.dashboard,
            "latestData": self.latest_data,
            "candleHistory": self.candles,
            "stream": self.stream,
            "openapi": self.openapi,
            "metrics": self.metrics,
            "dashboardPage": self.dashboard_page,
            "dashboardCharts": self.dashboard_charts,
            "channelPage": self.channel_page,
        }
        return handlers[operation_id]

    def spec(self, operation_id: str) -> RouteSpec:
        return next(s for s in self.specs if s.operation_id == operation_id)

    # --- handlers --------------------------------------------------------------------------

    def read_route(self, route: ReadRoute) -> Handler:
        """A source's read route: bearer token, validated parameters, one read-only call."""

        async def handle(request: Request) -> Response:
            token = request_token(request)
            return json_response(
                await self.read_source(route, token, request.query_params.multi_items())
            )

        return handle

    # What the routes answer, by what they take (the MCP tools call these too, ``http.mcp``).

    async def read_source(
        self, route: ReadRoute, token: str | None, items: list[tuple[str, str]]
    ) -> msgspec.Struct:
        now = self.clock.now_ms()

        def work(conn: Connection) -> msgspec.Struct:
            self.access.authenticate(conn, token, now)
            p = parse_query(route.params, items)
            try:
                return route.read(ReadContext(conn=conn, config=self.config, now_ms=now), p)
            except ValueError as exc:
                # Input the source refuses (documented by its route): the caller's mistake.
                raise ApiError(422, "invalid_parameter", str(exc)) from None

        return await self.pool.run(work)

    async def read_health(self, token: str | None, items: list[tuple[str, str]]) -> HealthResponse:
        now = self.clock.now_ms()

        def work(conn: Connection) -> HealthResponse:
            self.access.authenticate(conn, token, now)
            parse_query((), items)
            return HealthResponse(
                generated_at_ms=now, channels=channel_health(conn, self.config, now)
            )

        return await self.pool.run(work)

    async def health(self, request: Request) -> Response:
        token = request_token(request)
        return json_response(await self.read_health(token, request.query_params.multi_items()))

    async def dashboard(self, request: Request) -> Response:
        parse_query((), request.query_params.multi_items())
        now = self.clock.now_ms()

        def work(conn: Connection) -> Dashboard:
            return self.dashboard_cache.get(now, lambda: read_dashboard(conn, self.config, now))

        return json_response(await self.pool.run(work))

    async def latest_data(self, request: Request) -> Response:
        token = request_token(request)
        clone_id = request.path_params["clone_id"]
        symbol = request.path_params["symbol"]
        body = await request.body()  # BodyLimit has refused one over MAX_BODY_BYTES
        items = request.query_params.multi_items()
        return json_response(await self.read_latest(token, clone_id, symbol, items, body))

    async def read_latest(
        self,
        token: str | None,
        clone_id: str,
        symbol: str,
        items: list[tuple[str, str]],
        body: bytes,
    ) -> msgspec.Struct:
        """The latest-data answer for the token's user, who must own the clone."""
        if token is None:
            raise unauthorized("missing bearer token (Authorization: Bearer <token>)")
        now = self.clock.now_ms()
        # Fast path, all in memory on the trio thread: the token and the clone were checked,
        # and this answer composed, less than ``cache_s`` ago.
        token_hash = hash_token(token)
        key = self._authorized_key(token_hash, clone_id, symbol, items, body, now)
        hit = self.latest_cache.peek(key, now) if key is not None else None
        if hit is not None:
            assert key is not None
            self._refresh_ahead(token, token_hash, clone_id, key, now)
            return msgspec.structs.replace(hit, clone_id=clone_id)

        def work(conn: Connection) -> msgspec.Struct:
            user = self.access.authenticate(conn, token, now)
            clone = self.access.clone(conn, clone_id, now)
            own_symbol = check_clone(clone, user, clone_id, symbol)
            verbose: bool = parse_query(latest.PARAMS, items)["verbose"]
            wanted = decode_body(body, LatestDataRequest)
            key = latest_key(own_symbol, wanted, verbose=verbose)
            composed = self.latest_cache.get(key, now, lambda: self._compose_latest(conn, key, now))
            return msgspec.structs.replace(composed, clone_id=clone_id)

        return await self.pool.run(work)

    def _compose_latest(self, conn: Connection, key: LatestKey, now: int) -> msgspec.Struct:
        """The answer of ``key`` at ``now``, for any clone (the caller sets ``clone_id``)."""
        symbol, include, max_markets, max_subjects, verbose = key
        wanted = LatestDataRequest(
            include=list(include) if include is not None else None,
            max_markets=max_markets,
            max_subjects=max_subjects,
        )
        health = self.health_cache.get(now, lambda: channel_health(conn, self.config, now))
        data = latest.compose_latest(
            conn,
            self.readers,
            clone_id="",
            symbol=symbol,
            request=wanted,
            health=health,
            now_ms=now,
            max_mid_age_ms=self.max_mid_age_ms,
        )
        return latest.latest_answer(data, verbose=verbose)

    def _refresh_ahead(
        self, token: str, token_hash: str, clone_id: str, key: LatestKey, now: int
    ) -> None:
        """Redo, in the background, the token check, the clone check and the answer of a
        request served from memory, each once it is ``REFRESH_AHEAD`` of ``cache_s`` old: no
        request then waits for them while they are asked for (under load a composition is
        tens of ms of round trips and GIL turns: PostgreSQL on 2 cores). All stay younger
        than ``cache_s``, so a revocation still takes effect within it."""
        ahead, access = self.ahead, self.access
        if ahead.due(access.users, token_hash, now):
            ahead.start(
                access.users, token_hash, partial(self._redo, "token", access.recheck_user, token)
            )
        if ahead.due(access.clones, clone_id, now):
            ahead.start(
                access.clones,
                clone_id,
                partial(self._redo, "clone", access.recheck_clone, clone_id),
            )
        if ahead.due(self.latest_cache, key, now):
            ahead.start(
                self.latest_cache, key, partial(self._redo, "latest-data", self._recompose, key)
            )

    def _recompose(self, conn: Connection, key: LatestKey, now_ms: int) -> None:
        self.latest_cache.put(key, self._compose_latest(conn, key, now_ms), now_ms)

    async def _redo(
        self, what: str, check: Callable[[Connection, Any, int], None], subject: Any
    ) -> None:
        """``check(conn, subject, now_ms)`` in a reader thread (it keeps a new value, or drops
        the old one); a failure is logged and counted under ``what`` (the value then expires,
        and the next request redoes it as without refreshes)."""
        try:
            await self.pool.run(check, subject, self.clock.now_ms())
        except Exception as exc:
            metrics.REFRESH_FAILURES.inc(what=what)
            bug = api_error_of(exc) is None  # not the storage's state: with its traceback
            log.log(
                logging.ERROR if bug else logging.WARNING,
                "%s: refreshing ahead of expiry failed (%s); the next request redoes it",
                what,
                describe_error(exc),
                exc_info=exc if bug else None,
            )

    def _authorized_key(
        self,
        token_hash: str,
        clone_id: str,
        symbol: str,
        items: list[tuple[str, str]],
        body: bytes,
        now: int,
    ) -> LatestKey | None:
        """The answer's cache key when token and clone checks are cached (raising 403, 404 or
        422 as the worker thread would); None when the thread must check them."""
        user = self.access.cached_user(token_hash, now)
        clone = self.access.cached_clone(clone_id, now)
        if user is None or clone is None:
            return None
        own_symbol = check_clone(clone, user, clone_id, symbol)
        verbose: bool = parse_query(latest.PARAMS, items)["verbose"]
        return latest_key(own_symbol, decode_body(body, LatestDataRequest), verbose=verbose)

    async def candles(self, request: Request) -> Response:
        token = request_token(request)
        symbol = request.path_params["symbol"]
        items = request.query_params.multi_items()
        return json_response(await self.read_candles(token, symbol, items))

    async def read_candles(
        self, token: str | None, symbol: str, items: list[tuple[str, str]]
    ) -> CandlePage:
        now = self.clock.now_ms()

        def work(conn: Connection) -> CandlePage:
            self.access.authenticate(conn, token, now)
            p = parse_query(candles.PARAMS, items)
            return candles.candle_page(conn, self.config, symbol, p, now)

        return await self.pool.run(work)

    async def stream(self, request: Request) -> Response:
        """401, 422, 503 (no live stream here) and 429 as JSON; then the event stream."""
        token = request_token(request)
        items = request.query_params.multi_items()
        last_event_id = request.headers.get("last-event-id")
        now = self.clock.now_ms()

        def work(conn: Connection) -> tuple[StreamRequest, list[ChannelStatusChange]]:
            self.access.authenticate(conn, token, now)
            wanted = parse_request(items, listed_coins(conn), last_event_id)
            health = []
            if "health" in wanted.kinds:
                health = health_snapshot(channel_health(conn, self.config, now), now)
            return wanted, health

        wanted, health = await self.pool.run(work)
        hub = self.streams
        if hub is None:
            raise ApiError(
                503,
                "stream_unavailable",
                "this process serves no live stream (bin/marketmem run and serve do)",
            )
        assert token is not None

        async def authorized() -> bool:
            """The token is still valid (a database that cannot say keeps the stream)."""
            at = self.clock.now_ms()
            try:
                await self.pool.run(self.access.authenticate, token, at)
            except ApiError as exc:
                return exc.status != 401
            except STORAGE_ERROR:
                return True
            return True

        session = hub.open(
            token_id_of(token) or hash_token(token),
            wanted,
            reader=self.pool.run,
            health=health,
            now_ms=now,
            authorized=authorized,
        )
        return EventStream(hub, session)

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        now = self.clock.now_ms()

        def work(conn: Connection) -> None:
            health = self.health_cache.get(now, lambda: channel_health(conn, self.config, now))
            for h in health:
                if not h.enabled:
                    continue
                for status in ("missing", "running", "ok", "failed", "stale"):
                    metrics.CHANNEL_STATUS.set(
                        1.0 if h.status == status else 0.0,
                        source=h.source,
                        channel=h.channel,
                        status=status,
                    )

        try:
            await self.pool.run(work)
        except _UNREADABLE as exc:
            # Metrics are still served without a database; the channel gauges just go stale.
            log.warning("metrics: channel health not refreshed: %s", exc)
        return Response(
            core_metrics.REGISTRY.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def dashboard_page(self, request: Request) -> Response:
        headers = {**PAGE_HEADERS, "Content-Security-Policy": self._page_csp}
        return HTMLResponse(self._page, headers=headers)

    def _live(self) -> TelemetryView | None:
        # Copied here, on the trio thread the telemetry actor updates it from.
        return self.telemetry.view() if self.telemetry is not None else None

    async def dashboard_charts(self, request: Request) -> Response:
        parse_query((), request.query_params.multi_items())
        now = self.clock.now_ms()
        live = self._live()

        def work(conn: Connection) -> Panels:
            return self.panels_cache.get(
                now,
                lambda: read_panels(conn, self.config, now, max_mid_age_ms=self.max_mid_age_ms),
            )

        panels = await self.pool.run(work)
        return HTMLResponse(render_panels(panels, live), headers=PAGE_HEADERS)

    async def channel_page(self, request: Request) -> Response:
        token = request_token(request)
        source = request.path_params["source"]
        channel = request.path_params["channel"]
        items = request.query_params.multi_items()
        now = self.clock.now_ms()
        live = self._live()

        def work(conn: Connection) -> tuple[ChannelPage, int]:
            self.access.authenticate(conn, token, now)
            limit: int = parse_query(CHANNEL_PAGE_PARAMS, items)["limit"]
            page = read_channel_page(conn, self.config, source, channel, now, limit=limit)
            if page is None:
                name = f"{source}/{channel}"
                raise not_found(f"no channel {name[:100]!r} in this configuration")
            return page, limit

        page, limit = await self.pool.run(work)
        skips = None if live is None else live.skips.get((source, channel), ())
        return HTMLResponse(
            render_channel_page(
                page, skips, limit=limit, skips_since_ms=live.started_at_ms if live else None
            ),
            headers=PRIVATE_PAGE_HEADERS,
        )


LatestKey = tuple[str, tuple[PartName, ...] | None, int, int, bool]
# The share of ``cache_s`` after which a kept answer or check that is asked for is redone,
# and how many are redone at once.
REFRESH_AHEAD = 0.75
REFRESH_CONCURRENCY = 2


def latest_key(symbol: str, wanted: LatestDataRequest, *, verbose: bool) -> LatestKey:
    parts = tuple(sorted(set(wanted.include))) if wanted.include is not None else None
    return symbol, parts, wanted.max_markets, wanted.max_subjects, verbose


def _client_errors(request: Request) -> ClientErrors | None:
    errors = getattr(request.app.state, "client_errors", None)
    return errors if isinstance(errors, ClientErrors) else None


def api_error_of(exc: Exception) -> ApiError | None:
    """The answer to an exception a read raised for the caller's input or the storage's state:
    the route's own error (422, 401, 403, 404), or 503 while the database cannot answer; None
    for anything else (a bug: 500)."""
    if isinstance(exc, InvalidParameter):
        return ApiError(422, "invalid_parameter", str(exc))
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Unavailable):
        return ApiError(503, "unavailable", str(exc))
    if isinstance(exc, BUSY):
        return ApiError(503, "database_busy", "the database is busy; retry shortly")
    if missing_table(exc):
        return ApiError(503, "database_not_ready", "the database is not initialised yet")
    return None


def _failure_response(route: str, request: Request, exc: Exception) -> Response:
    """Map an exception raised by a handler to an error response, logging with context:
    a 4xx at DEBUG and counted for the minute's INFO summary (``clienterrors``), a 5xx as a
    WARNING (503) or an ERROR with its traceback (500)."""
    error = api_error_of(exc)
    if error is not None and isinstance(exc, ApiError | InvalidParameter):
        errors = _client_errors(request)
        if error.status < 500 and errors is not None:
            errors.record(error.status, request.method, route, error.code, error.message)
        else:
            level = logging.WARNING if error.status >= 500 else logging.DEBUG
            log.log(
                level,
                "%s %s -> %d %s: %s",
                request.method,
                route,
                error.status,
                error.code,
                error.message,
            )
        metrics.ERRORS.inc(code=error.code)
        return api_error_response(error)
    if error is not None:
        code, status, message = error.code, error.status, error.message
    else:
        code, status, message = "internal", 500, "internal error (logged)"
    log.log(
        logging.ERROR if status == 500 else logging.WARNING,
        "%s %s -> %d %s: %s: %s",
        request.method,
        route,
        status,
        code,
        type(exc).__name__,
        exc,
        exc_info=exc if status == 500 else None,
    )
    metrics.ERRORS.inc(code=code)
    return error_response(status, code, message)


def instrument(route: str, handler: Handler) -> Handler:
    """Time every request of ``route`` and turn every exception into a JSON error."""

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except Exception as exc:
            response = _failure_response(route, request, exc)
        metrics.REQUEST_SECONDS.observe(
            time.perf_counter() - started,
            route=route,
            method=request.method,
            status=str(response.status_code),
        )
        return response

    return endpoint


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Routing failures (unknown path, wrong method) get the same JSON error shape.
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    metrics.ERRORS.inc(code=code)
    message = "no such route" if exc.status_code == 404 else str(exc.detail)
    errors = _client_errors(request)
    if errors is not None and 400 <= exc.status_code < 500:
        route = request.app.state.route_of(request.scope)
        errors.record(exc.status_code, request.method, route, code, message)
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


def create_app(
    config: Config,
    clock: WallClock,
    *,
    pool: ReadPool | None = None,
    readers: Readers | None = None,
    telemetry: Telemetry | None = None,
    streams: StreamHub | None = None,
) -> Starlette:
    api = Api(config, clock, pool=pool, readers=readers, telemetry=telemetry, streams=streams)
    routes = [
        Route(
            spec.path,
            instrument(spec.path, api.handler(spec.operation_id)),
            methods=[spec.method],
            name=spec.operation_id,
        )
        for spec in api.specs
    ]
    # MCP (streamable HTTP) behind the same bearer check; not an OpenAPI route. Imported
    # here: the SDK takes seconds to import, which no other command should pay.
    from marketmem.http.mcp import MCP_PATH, McpEndpoint

    mcp = McpEndpoint(api)
    # Every method: the transport answers the ones it does not take (405).
    routes.append(Route(MCP_PATH, mcp, name="mcp"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            # The MCP transport's task group, and the answers refreshed ahead of expiry, live
            # as long as the server.
            async with trio.open_nursery() as background, mcp.manager.run():
                api.ahead.nursery = background
                try:
                    yield
                finally:
                    api.ahead.nursery = None
                    background.cancel_scope.cancel()
        finally:
            # The readers' connections (PostgreSQL: the pool's sessions) end with the server.
            await trio.to_thread.run_sync(api.pool.close)

    client_errors = ClientErrors()
    route_of = route_resolver(list(routes))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                BodyLimit, limit=MAX_BODY_BYTES, client_errors=client_errors, route_of=route_of
            )
        ],
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
    # No redirect from ``/path/`` to ``/path``: Starlette builds its Location from the Host
    # header, so a forged Host would get a redirect to a host of the client's choosing.
    app.router.redirect_slashes = False
    app.state.api = api
    # 4xx answers, counted for one INFO line a minute (``serve_http`` runs its clock).
    app.state.client_errors = client_errors
    app.state.route_of = route_of
    app.state.mcp = mcp
    return app
