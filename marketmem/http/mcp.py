"""The MCP server: five tools over the calls the HTTP routes make, served at ``/mcp``
(streamable HTTP, in the app) and over stdio (``bin/marketmem mcp``).

Built on the official ``mcp`` SDK's low-level ``Server`` (anyio; it runs on trio, as the
rest of the service). Each tool is declared here with its schemas taken from what the HTTP
API declares: the input schema from the route's ``Param``s (and, for ``latest_context``, the
``LatestDataRequest`` Struct), the output schema from the response Struct (``msgspec``), so a
tool and its route share one schema. A call goes to the same ``Api.read_*`` method as the
route, through the same read pool, caches, token check and clone owner check; the answer is
the route's Struct as structured content, with a JSON text copy. A refused call (bad
argument, unknown clone, another user's clone, revoked token) is a tool error carrying the
route's error code and message, never data.

``/mcp`` takes ``Authorization: Bearer <token>`` exactly as ``/api/v1``: without a valid
token the request gets the API's 401 before any MCP message is read. Over stdio the token
comes from ``--token-file`` or ``MARKETMEM_TOKEN`` and is checked at start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
import msgspec
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from marketmem.http import candles, latest, metrics
from marketmem.http.app import Api, api_error_of, request_token
from marketmem.http.errors import ApiError, api_error_response
from marketmem.http.schemas import LATEST_DATA, CandlePage, HealthResponse, LatestDataRequest
from marketmem.query import InvalidParameter, Param
from marketmem.source import ReadRoute
from marketmem.storage.reads import Connection

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
TOKEN_SCOPE_KEY = "marketmem.token"
_json = msgspec.json.Encoder()

Call = Callable[[str | None, dict[str, Any]], Awaitable[msgspec.Struct]]


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    call: Call


def struct_schema(struct: Any) -> dict[str, Any]:
    """``struct``'s JSON Schema with its own definition at the root (``type: object``, as MCP
    asks) and every other one under ``$defs``."""
    schema = msgspec.json.schema(struct)
    defs: dict[str, Any] = schema.pop("$defs", {})
    ref = schema.get("$ref")
    if ref is None:
        return schema
    root = dict(defs[ref.rsplit("/", 1)[1]])
    if defs:
        root["$defs"] = defs
    return root


def param_schema(p: Param) -> dict[str, Any]:
    return {**p.schema(), "description": p.description}


def object_schema(
    properties: dict[str, dict[str, Any]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def query_items(params: tuple[Param, ...], arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """Tool arguments as the query the route would get (``parse_query`` validates both)."""
    names = {p.name for p in params}
    items: list[tuple[str, str]] = []
    for name, value in arguments.items():
        if value is None:
            continue
        if name not in names:
            raise InvalidParameter(name, "unknown argument")
        if isinstance(value, bool):
            items.append((name, "true" if value else "false"))
        elif isinstance(value, int | str):
            items.append((name, str(value)))
        else:
            raise InvalidParameter(name, f"expected a string or an integer, got {value!r:.40}")
    return items


def _string(arguments: dict[str, Any], name: str) -> str:
    value = arguments.pop(name, None)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(name, "required, a non-empty string")
    return value


def build_tools(api: Api) -> list[ToolDef]:
    """The tools over ``api``'s read calls."""
    routes = api.source_routes
    markets = routes["searchPolymarketMarkets"]
    subjects = routes["searchDefillamaSubjects"]

    async def latest_context(token: str | None, args: dict[str, Any]) -> msgspec.Struct:
        clone_id = _string(args, "clone_id")
        symbol = _string(args, "symbol")
        body_fields = {
            k: args.pop(k) for k in ("include", "max_markets", "max_subjects") if k in args
        }
        body = _json.encode(body_fields) if body_fields else b""
        items = query_items(latest.PARAMS, args)
        result: msgspec.Struct = await api.read_latest(token, clone_id, symbol, items, body)
        return result

    async def candle_history(token: str | None, args: dict[str, Any]) -> msgspec.Struct:
        symbol = _string(args, "symbol")
        result: msgspec.Struct = await api.read_candles(
            token, symbol, query_items(candles.PARAMS, args)
        )
        return result

    def source_tool(route: ReadRoute) -> Call:
        async def call(token: str | None, args: dict[str, Any]) -> msgspec.Struct:
            result: msgspec.Struct = await api.read_source(
                route, token, query_items(route.params, args)
            )
            return result

        return call

    async def health(token: str | None, args: dict[str, Any]) -> msgspec.Struct:
        result: msgspec.Struct = await api.read_health(token, query_items((), args))
        return result

    body = struct_schema(LatestDataRequest)["properties"]
    symbol = {"type": "string", "maxLength": 40}
    return [
        ToolDef(
            "latest_context",
            "Compact latest context of one asset a clone trades (the clone's owner only): "
            "execution price, last candles, features, linked Polymarket markets and DefiLlama "
            "subjects, freshness and what is missing. Same answer as POST "
            "/api/v1/clones/{clone_id}/assets/{symbol}/latest-data.",
            object_schema(
                {
                    "clone_id": {
                        "type": "string",
                        "maxLength": 64,
                        "description": "the clone's id",
                    },
                    "symbol": {**symbol, "description": "an asset symbol the clone trades"},
                    **body,
                    **{p.name: param_schema(p) for p in latest.PARAMS},
                },
                ("clone_id", "symbol"),
            ),
            struct_schema(LATEST_DATA),
            latest_context,
        ),
        ToolDef(
            "candles",
            "Candle history of a listed Hyperliquid perp, ascending, in pages (next_cursor). "
            "Same answer as GET /api/v1/candles/{symbol}.",
            object_schema(
                {
                    "symbol": {**symbol, "description": "a listed Hyperliquid perp, e.g. BTC"},
                    **{p.name: param_schema(p) for p in candles.PARAMS},
                },
                ("symbol",),
            ),
            struct_schema(CandlePage),
            candle_history,
        ),
        ToolDef(
            "search_markets",
            f"{markets.summary}. Same answer as GET {markets.path}.",
            object_schema({p.name: param_schema(p) for p in markets.params}),
            struct_schema(markets.response),
            source_tool(markets),
        ),
        ToolDef(
            "search_subjects",
            f"{subjects.summary}. Same answer as GET {subjects.path}.",
            object_schema({p.name: param_schema(p) for p in subjects.params}),
            struct_schema(subjects.response),
            source_tool(subjects),
        ),
        ToolDef(
            "health",
            "Ingestion health: every source/channel with status, cadence, stale threshold, "
            "runs, rows and last error. Same answer as GET /api/v1/ingestion/health.",
            object_schema({}),
            struct_schema(HealthResponse),
            health,
        ),
    ]


def _error_result(exc: ApiError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{exc.code}: {exc.message}")],
        is_error=True,
    )


def http_token(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The bearer token ``McpEndpoint`` checked for the HTTP request carrying this call."""
    request = ctx.request
    if isinstance(request, Request):
        token = request.scope.get(TOKEN_SCOPE_KEY)
        return token if isinstance(token, str) else None
    return None


def build_server(
    api: Api, token_of: Callable[[ServerRequestContext[Any, Any]], str | None]
) -> Server[Any]:
    """The MCP server of ``api``'s tools; ``token_of`` says whose call it is."""
    tools = build_tools(api)
    by_name = {t.name: t for t in tools}
    listed = types.ListToolsResult(
        tools=[
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                output_schema=t.output_schema,
                annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
            )
            for t in tools
        ]
    )

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listed

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:
            return _error_result(ApiError(404, "not_found", f"no tool {params.name[:60]!r}"))
        try:
            answer = await tool.call(token_of(ctx), dict(params.arguments or {}))
        except Exception as exc:
            error = api_error_of(exc)
            if error is None:
                log.exception("mcp tool %s failed", tool.name)
                error = ApiError(500, "internal", "internal error (logged)")
            log.info("mcp tool %s -> %s: %s", tool.name, error.code, error.message)
            return _error_result(error)
        encoded = _json.encode(answer)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=encoded.decode())],
            structured_content=msgspec.json.decode(encoded),
        )

    return Server(
        "marketmem",
        version=api.version,
        instructions="Market memory of a crypto trading backend: Hyperliquid candles, mids "
        "and features, Polymarket markets, DefiLlama subjects, ingestion health. Read-only.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class McpEndpoint:
    """``/mcp``: the API's bearer check, then the SDK's streamable HTTP transport (stateless,
    JSON answers: every POST carries its own token and gets its answer in its response; any
    other method is 405)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.server = build_server(api, http_token)
        self.manager = StreamableHTTPSessionManager(
            app=self.server, json_response=True, stateless=True
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Timed like every route (``marketmem_http_request_seconds{route="/mcp"}``)."""
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._serve(scope, receive, timed_send)
        finally:
            metrics.REQUEST_SECONDS.observe(
                time.perf_counter() - started,
                route=MCP_PATH,
                method=scope.get("method", ""),
                status=str(status),
            )

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        now = self.api.clock.now_ms()
        try:
            token = request_token(request)
            if request.method != "POST":
                # Stateless with JSON answers: no stream to open (GET would hold one open
                # with nothing ever to send) and no session to end.
                raise ApiError(
                    405, "method_not_allowed", "use POST for MCP messages", {"Allow": "POST"}
                )

            def work(conn: Connection) -> str:
                user: str = self.api.access.authenticate(conn, token, now)
                return user

            user = await self.api.pool.run(work)
        except Exception as exc:
            error = api_error_of(exc)
            if error is None:
                raise
            metrics.ERRORS.inc(code=error.code)
            await api_error_response(error)(scope, receive, send)
            return
        assert token is not None
        scope[TOKEN_SCOPE_KEY] = token
        # The SDK ties a session to the principal that opened it.
        scope["user"] = AuthenticatedUser(AccessToken(token="-", client_id=user, scopes=[]))
        await self.manager.handle_request(scope, receive, send)
