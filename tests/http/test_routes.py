"""Every route through httpx against the app: auth outcomes, parameters, errors, documents.

Health and the dashboard (runs, table counts) run on both engines (``engines``), and so do
the token checks in tests/http/test_latest.py; the routes' parameters, errors and documents
are the app's own, over recorded fake reads, on SQLite only. A SQLite file that is not there
yet answers 503; an empty PostgreSQL database reads as empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest
from httpkit import T0_MS, World, row_of, run_events, seed
from prometheus_client.parser import text_string_to_metric_families

from marketmem.clock import FixedClock
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token
from marketmem.http.body import MAX_BODY_BYTES
from marketmem.http.openapi import RouteSpec
from marketmem.http.readers import Unavailable
from marketmem.http.schemas import (
    Dashboard,
    ErrorBody,
    HealthResponse,
)
from marketmem.plugins import parse_config
from marketmem.sources.defillama.api import SubjectsSearchResponse
from marketmem.sources.defillama.subjects import KINDS
from marketmem.sources.hyperliquid.api import AssetsResponse
from marketmem.sources.polymarket.api import MarketsSearchResponse
from marketmem.storage.models.defillama import Subject
from marketmem.storage.models.hyperliquid import Asset
from marketmem.storage.models.polymarket import MarketHit
from marketmem.storage.reads import defillama as dl_reads
from marketmem.storage.reads import hyperliquid as hl_reads
from marketmem.storage.reads import polymarket as pm_reads

BEARER_ROUTES = [
    "/api/v1/assets",
    "/api/v1/candles/BTC",
    "/api/v1/ingestion/health",
    "/api/v1/polymarket/markets/search",
    "/api/v1/defillama/subjects/search",
]
# The route table, read at collection (the app builds it without touching a database).
ROUTES: list[RouteSpec] = create_app(parse_config(""), FixedClock(0)).state.api.specs
BODY_ROUTES = [spec for spec in ROUTES if spec.body is not None]


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = msgspec.json.decode(response.content, type=ErrorBody)
    assert body.error.code == code
    return body.error.message


class Recorder:
    """Fake read functions of the sources' routes: they record their arguments and answer
    canned rows (patched into the modules the routes call)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        self.patch(
            monkeypatch, hl_reads, "list_assets", [row_of(Asset, coin="BTC", categories=["l1"])]
        )
        self.patch(
            monkeypatch,
            pm_reads,
            "search_markets",
            [row_of(MarketHit, market_id="1", question="BTC?", outcomes=[], tags=[], assets=[])],
        )
        self.patch(
            monkeypatch,
            dl_reads,
            "search_subjects",
            [row_of(Subject, subject_id="aave", kind="protocol", name="Aave", updated_at_ms=0)],
        )

    def patch(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, answer: Any) -> None:
        def fn(conn: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls[name] = {"args": args, **kwargs}
            if isinstance(answer, Exception):
                raise answer
            return answer

        monkeypatch.setattr(module, name, fn)


@pytest.mark.parametrize("path", BEARER_ROUTES)
async def test_bearer_routes_refuse_missing_bad_and_revoked_tokens(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    for headers in (
        {},
        {"Authorization": "Basic YWxpY2U6eA=="},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {world.alice[:-2]}xx"},
        world.auth(world.revoked),
    ):
        r = await client.get(path, headers=headers)
        error_of(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")


MISSING = "missing bearer token (Authorization: Bearer <token>)"


def malformed(why: str) -> str:
    return f"malformed Authorization header: {why} (expected Authorization: Bearer <token>)"


@pytest.mark.parametrize("path", [*BEARER_ROUTES, "/api/v1/clones/c1/assets/BTC/latest-data"])
async def test_a_malformed_authorization_header_is_not_called_missing(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    method = "POST" if path.endswith("latest-data") else "GET"
    cases: list[tuple[list[tuple[str, str]], str]] = [
        ([], MISSING),
        (
            [("Authorization", f"Bearer {world.alice} extra")],
            malformed("more than one word after Bearer"),
        ),
        ([("Authorization", "Bearer")], malformed("no token after Bearer")),
        ([("Authorization", "Bearer  ")], malformed("no token after Bearer")),
        ([("Authorization", "Basic xyz")], malformed("its scheme is not Bearer")),
        ([("Authorization", world.alice)], malformed("its scheme is not Bearer")),
        ([("Authorization", "")], malformed("it is empty")),
        (
            [
                ("Authorization", f"Bearer {world.alice}"),
                ("Authorization", f"Bearer {world.alice}"),
            ],
            malformed("it is given more than once"),
        ),
    ]
    for headers, message in cases:
        r = await client.request(method, path, headers=headers)
        assert error_of(r, 401, "unauthorized") == message, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert world.alice not in r.text  # a token sent without its scheme is not echoed
    # Two spaces between the scheme and the token are allowed (RFC 6750: 1*SP).
    r = await client.request(method, path, headers={"Authorization": f"Bearer  {world.alice}"})
    assert r.status_code == 200, r.text


async def test_assets_passes_filters_and_returns_rows(
    make_client: Callable[..., httpx.AsyncClient], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorder(monkeypatch)
    async with make_client() as c:
        r = await c.get(
            "/api/v1/assets",
            params={"category": "l1", "include_delisted": "true"},
            headers=world.auth(world.alice),
        )
    assert r.status_code == 200
    body = msgspec.json.decode(r.content, type=AssetsResponse)
    assert body.count == 1 and body.assets[0].coin == "BTC"
    assert rec.calls["list_assets"] == {"args": (), "category": "l1", "include_delisted": True}


async def test_search_routes_validate_cap_and_pass_parameters(
    make_client: Callable[..., httpx.AsyncClient], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorder(monkeypatch)
    async with make_client() as c:
        r = await c.get(
            "/api/v1/polymarket/markets/search",
            params={"q": "bitcoin", "asset": "BTC", "status": "open", "limit": "5000"},
            headers=world.auth(world.bob),
        )
        assert r.status_code == 200, r.text
        markets = msgspec.json.decode(r.content, type=MarketsSearchResponse)
        assert (markets.count, markets.limit, markets.offset) == (1, 100, 0)
        call = rec.calls["search_markets"]
        assert (call["q"], call["asset"], call["status"], call["limit"]) == (
            "bitcoin",
            "BTC",
            "open",
            100,
        )
        assert call["now_ms"] == T0_MS

        r = await c.get(
            "/api/v1/polymarket/markets/search",
            params={"status": "all"},
            headers=world.auth(world.bob),
        )
        assert r.status_code == 200 and rec.calls["search_markets"]["status"] is None

        r = await c.get(
            "/api/v1/defillama/subjects/search",
            params={"q": "aave", "kind": "protocol", "limit": "3", "offset": "2"},
            headers=world.auth(world.bob),
        )
        assert r.status_code == 200, r.text
        subjects = msgspec.json.decode(r.content, type=SubjectsSearchResponse)
        assert subjects.subjects[0].subject_id == "aave"
        call = rec.calls["search_subjects"]
        assert (call["q"], call["kind"], call["asset"], call["limit"], call["offset"]) == (
            "aave",
            "protocol",
            None,
            3,
            2,
        )


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/v1/assets", {"include_delisted": "perhaps"}, "include_delisted"),
        ("/api/v1/assets", {"categroy": "l1"}, "categroy"),
        ("/api/v1/polymarket/markets/search", {"limit": "0"}, "limit"),
        ("/api/v1/polymarket/markets/search", {"limit": "ten"}, "limit"),
        ("/api/v1/polymarket/markets/search", {"status": "pending"}, "status"),
        ("/api/v1/polymarket/markets/search", {"offset": "-1"}, "offset"),
        ("/api/v1/polymarket/markets/search", {"offset": "10001"}, "offset"),
        ("/api/v1/defillama/subjects/search", {"kind": "bogus"}, "kind"),
        ("/api/v1/defillama/subjects/search", {"offset": "10001"}, "offset"),
        ("/api/v1/defillama/subjects/search", {"q": "x" * 500}, "q"),
        ("/api/v1/ingestion/health", {"verbose": "1"}, "verbose"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: httpx.AsyncClient, world: World, path: str, params: dict[str, str], named: str
) -> None:
    r = await client.get(path, params=params, headers=world.auth(world.alice))
    assert error_of(r, 422, "invalid_parameter").startswith(f"{named}: ")


async def test_auth_is_checked_before_parameters(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/polymarket/markets/search", params={"limit": "0"})
    error_of(r, 401, "unauthorized")


async def test_input_a_reader_refuses_is_422_not_500(
    make_client: Callable[..., httpx.AsyncClient], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    Recorder(monkeypatch).patch(
        monkeypatch, pm_reads, "search_markets", ValueError("q has no searchable words")
    )
    async with make_client() as c:
        r = await c.get(
            "/api/v1/polymarket/markets/search",
            params={"q": "bitcoin"},
            headers=world.auth(world.alice),
        )
        assert error_of(r, 422, "invalid_parameter") == "q has no searchable words"
        # A q with no letter or digit matches nothing; the reader is not asked.
        r = await c.get(
            "/api/v1/polymarket/markets/search",
            params={"q": "!!! ?"},
            headers=world.auth(world.alice),
        )
        assert r.status_code == 200 and r.json()["markets"] == []


async def test_a_part_of_marketmem_that_cannot_answer_is_503(
    make_client: Callable[..., httpx.AsyncClient], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    Recorder(monkeypatch).patch(
        monkeypatch, hl_reads, "list_assets", Unavailable("list_assets is not available")
    )
    async with make_client() as c:
        r = await c.get("/api/v1/assets", headers=world.auth(world.alice))
    assert "not available" in error_of(r, 503, "unavailable")


async def test_an_unexpected_failure_is_a_logged_json_500(
    make_client: Callable[..., httpx.AsyncClient],
    world: World,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Recorder(monkeypatch).patch(monkeypatch, hl_reads, "list_assets", RuntimeError("bug"))
    async with make_client() as c:
        r = await c.get("/api/v1/assets", headers=world.auth(world.alice))
    assert error_of(r, 500, "internal") == "internal error (logged)"
    assert any("RuntimeError" in rec.getMessage() for rec in caplog.records)


@pytest.mark.engines
async def test_health_lists_every_channel_with_its_status(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed(
        world.config,
        *run_events("hyperliquid", "candles", finished_ms=T0_MS - 10_000),
        *run_events(
            "hyperliquid", "mids", finished_ms=T0_MS - 5_000, status="failed", error="boom: x"
        ),
    )
    r = await client.get("/api/v1/ingestion/health", headers=world.auth(world.alice))
    assert r.status_code == 200
    body = msgspec.json.decode(r.content, type=HealthResponse)
    by_name = {f"{c.source}/{c.channel}": c for c in body.channels}
    assert len(by_name) == len(world.config.channels())
    candles = by_name["hyperliquid/candles"]
    assert (candles.status, candles.cadence_s, candles.stale_after_s) == ("ok", 60.0, 360.0)
    assert candles.last_success_at_ms == T0_MS - 10_000 and candles.rows_written == 3
    assert by_name["hyperliquid/mids"].status == "failed"
    assert by_name["hyperliquid/mids"].error == "boom: x"
    assert by_name["polymarket/immediate_markets"].status == "missing"
    assert not by_name["defillama/capital_base"].enabled


@pytest.mark.engines
async def test_dashboard_is_public_and_leaks_no_error_text(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed(
        world.config,
        *run_events("hyperliquid", "candles", finished_ms=T0_MS - 10_000),
        *run_events(
            "hyperliquid",
            "mids",
            finished_ms=T0_MS - 5_000,
            status="failed",
            error="ConnectError: /srv/secret/path",
        ),
    )
    r = await client.get("/api/v1/ingestion/dashboard")
    assert r.status_code == 200
    assert b"secret" not in r.content and b"api_tokens" not in r.content
    d = msgspec.json.decode(r.content, type=Dashboard)
    assert d.status_counts["ok"] == 1 and d.status_counts["failed"] == 1
    assert d.status_counts["missing"] == 2  # technical_indicators, immediate_markets
    assert d.tables["ingestion_runs"] == 2
    assert "clones" not in d.tables
    mids = next(c for c in d.channels if c.channel == "mids")
    assert mids.last_run_failed and mids.status == "failed"


async def test_dashboard_is_cached_briefly(client: httpx.AsyncClient, world: World) -> None:
    first = (await client.get("/api/v1/ingestion/dashboard")).json()
    await seed(world.config, *run_events("hyperliquid", "candles", finished_ms=T0_MS - 1_000))
    assert (await client.get("/api/v1/ingestion/dashboard")).json() == first
    world.clock.advance(5_000)
    later = (await client.get("/api/v1/ingestion/dashboard")).json()
    assert later["status_counts"]["ok"] == first["status_counts"]["ok"] + 1


async def test_dashboard_page_is_html_that_reads_the_public_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "api/v1/ingestion/dashboard" in r.text and "setTimeout(refresh" in r.text
    assert "innerHTML" not in r.text


async def test_unknown_route_and_wrong_method_are_json_errors(client: httpx.AsyncClient) -> None:
    error_of(await client.get("/api/v1/nothing"), 404, "not_found")
    # A trailing slash is not redirected (the redirect would go to the Host the client sent).
    slash = await client.get("/api/v1/assets/", headers={"Host": "evil.example"})
    error_of(slash, 404, "not_found")
    assert "location" not in slash.headers
    r = await client.delete("/api/v1/assets")
    error_of(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


async def test_no_database_yet_is_503(make_config: Callable[..., Any], tmp_path: Any) -> None:
    config = make_config()
    app = create_app(config, FixedClock(T0_MS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        error_of(await c.get("/api/v1/ingestion/dashboard"), 503, "database_unavailable")
        error_of(
            await c.get("/api/v1/assets", headers={"Authorization": "Bearer x"}),
            503,
            "database_unavailable",
        )
        assert (await c.get("/metrics")).status_code == 200


async def test_a_postgres_database_the_writer_has_not_initialised(pg_database: str) -> None:
    """PostgreSQL's counterpart of a SQLite file not there yet: the database is, its tables
    are not (no writer ran): the dashboard shows every channel missing."""
    config = parse_config(f'[storage]\nurl = "{pg_database}"\n', source_path="test.toml")
    app = create_app(config, FixedClock(T0_MS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/api/v1/ingestion/dashboard")
        assert r.status_code == 200, r.text
        d = msgspec.json.decode(r.content, type=Dashboard)
        assert d.tables == {} and {ch.status for ch in d.channels} == {"missing"}
        # A bearer route needs the token table: not there yet, as on a SQLite file the
        # writer has not initialised.
        headers = {"Authorization": f"Bearer {issue_token().token}"}
        r = await c.get("/api/v1/assets", headers=headers)
        assert error_of(r, 503, "database_not_ready") == "the database is not initialised yet"


async def test_metrics_expose_http_latency_and_channel_status(
    client: httpx.AsyncClient, world: World
) -> None:
    await seed(world.config, *run_events("hyperliquid", "candles", finished_ms=T0_MS - 1_000))
    await client.get("/api/v1/ingestion/health", headers=world.auth(world.alice))
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    route = {"route": "/api/v1/ingestion/health", "method": "GET", "status": "200"}
    assert samples[("marketmem_http_request_seconds_count", tuple(sorted(route.items())))] >= 1
    ok = {"source": "hyperliquid", "channel": "candles", "status": "ok"}
    assert samples[("marketmem_channel_status", tuple(sorted(ok.items())))] == 1
    assert "marketmem_rows_written_total" in text
    assert "marketmem_writer_commit_seconds_bucket" in text


async def test_openapi_describes_every_route(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    expected = {
        ("get", "/api/v1/assets"),
        ("get", "/api/v1/ingestion/health"),
        ("get", "/api/v1/ingestion/dashboard"),
        ("get", "/api/v1/polymarket/markets/search"),
        ("get", "/api/v1/defillama/subjects/search"),
        ("post", "/api/v1/clones/{clone_id}/assets/{symbol}/latest-data"),
        ("get", "/api/v1/candles/{symbol}"),
        ("get", "/api/v1/stream"),
        ("get", "/openapi.json"),
        ("get", "/metrics"),
        ("get", "/dashboard"),
        ("get", "/dashboard/charts"),
        ("get", "/dashboard/channels/{source}/{channel}"),
    }
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == expected
    latest = doc["paths"]["/api/v1/clones/{clone_id}/assets/{symbol}/latest-data"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(latest["responses"])
    assert {p["name"] for p in latest["parameters"]} == {"clone_id", "symbol", "verbose"}
    search = doc["paths"]["/api/v1/polymarket/markets/search"]["get"]
    assert [p["name"] for p in search["parameters"]] == ["q", "asset", "status", "limit", "offset"]
    offset = next(p for p in search["parameters"] if p["name"] == "offset")
    assert offset["schema"]["maximum"] == 10_000 and "at most 10000" in offset["description"]
    subjects = doc["paths"]["/api/v1/defillama/subjects/search"]["get"]
    kind = next(p for p in subjects["parameters"] if p["name"] == "kind")
    assert kind["schema"]["enum"] == list(KINDS)
    assert search["security"] == [{"bearer": []}]
    stream = doc["paths"]["/api/v1/stream"]["get"]
    assert [p["name"] for p in stream["parameters"]] == ["symbols", "kinds"]
    assert {"200", "401", "422", "429", "503"} <= set(stream["responses"])
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert stream["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/api/v1/ingestion/dashboard"]["get"]
    # Every reference resolves.
    schemas = doc["components"]["schemas"]
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[1])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs and refs <= set(schemas)


def nested(shape: str, depth: int) -> bytes:
    if shape == "arrays":
        return b"[" * depth + b"]" * depth
    if shape == "objects":
        return b'{"a":' * depth + b"1" + b"}" * depth
    # Deep inside a field the body may have.
    return b'{"include":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [500, 10_000])
@pytest.mark.parametrize("shape", ["arrays", "objects", "in_a_field"])
@pytest.mark.parametrize("spec", BODY_ROUTES, ids=lambda s: s.operation_id)
async def test_json_nested_too_deep_is_422_on_every_body_route(
    client: httpx.AsyncClient, world: World, spec: RouteSpec, shape: str, depth: int
) -> None:
    path = spec.path.replace("{clone_id}", "c1").replace("{symbol}", "BTC")
    body = nested(shape, depth)
    r = await client.request(spec.method, path, headers=world.auth(world.alice), content=body)
    message = error_of(r, 422, "invalid_parameter")
    assert message.startswith("body: ") and "nested deeper than" in message, message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("path", ["/api/v1/assets", "/api/v1/ingestion/dashboard", "/metrics"])
async def test_a_get_route_ignores_a_small_body_and_refuses_a_large_one(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    headers = world.auth(world.alice)
    r = await client.request("GET", path, headers=headers, content=b'{"ignored": true}')
    assert r.status_code == 200, r.text
    r = await client.request("GET", path, headers=headers, content=b"x" * (MAX_BODY_BYTES + 1))
    assert error_of(r, 413, "body_too_large") == f"request body over {MAX_BODY_BYTES} bytes"
