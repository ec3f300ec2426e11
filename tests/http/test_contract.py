"""The HTTP contract: ``/openapi.json`` against its committed snapshot, every field typed, and
real answers (a database the real channels filled) valid against the document.

The snapshot (``openapi.snapshot.json`` beside this file) makes every change of the API show
as a diff in review. After an intended change, regenerate it and commit it with the change:

    MARKETMEM_WRITE_OPENAPI_SNAPSHOT=1 bin/test tests/http/test_contract.py

(the test then writes the file and skips, saying so; it never rewrites it otherwise).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import trio
import trio.testing

from marketmem.clock import HOUR_MS, FixedClock
from marketmem.config import Config
from marketmem.events import RollupHours
from marketmem.executors import inline_executor
from marketmem.http.app import create_app
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.retention.rollup import hour_start
from tests.faults.faults_helpers import ApiWorld, populate

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")
WRITE_ENV = "MARKETMEM_WRITE_OPENAPI_SNAPSHOT"
# The document of this document: its operations and schemas are OpenAPI's own objects.
OPEN_BY_NATURE = {"OpenApiDocument", "OpenApiComponents"}


def served_document(config: Config) -> dict[str, Any]:
    app = create_app(config, FixedClock(0))

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/openapi.json")

    r = trio.run(fetch)
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return served_document(parse_config(""))


def snapshot_text(doc: dict[str, Any]) -> str:
    # The package version is not part of the API.
    doc = {**doc, "info": {**doc["info"], "version": "(the package version)"}}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_the_document_is_the_committed_snapshot(document: dict[str, Any]) -> None:
    now = snapshot_text(document)
    if os.environ.get(WRITE_ENV):
        SNAPSHOT.write_text(now)
        pytest.skip(f"{WRITE_ENV} is set: wrote {SNAPSHOT.name}; review it with git diff")
    before = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if now != before:
        diff = difflib.unified_diff(
            before.splitlines(),
            now.splitlines(),
            f"{SNAPSHOT.name} (committed)",
            "/openapi.json (this code)",
            lineterm="",
        )
        lines = list(diff)
        shown = "\n".join(lines[:300]) + ("\n..." if len(lines) > 300 else "")
        pytest.fail(
            f"/openapi.json differs from tests/http/{SNAPSHOT.name}:\n{shown}\n\n"
            f"If the API change is intended, regenerate and commit the snapshot:\n"
            f"    {WRITE_ENV}=1 bin/test tests/http/test_contract.py",
            pytrace=False,
        )


def schema_nodes(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object under ``node`` (values of ``default`` and ``examples`` are data)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key not in ("default", "examples"):
                yield from schema_nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schema_nodes(value, f"{path}/{i}")


def test_every_field_is_typed_no_bare_object(document: dict[str, Any]) -> None:
    untyped: list[str] = []
    for name, schema in document["components"]["schemas"].items():
        if name in OPEN_BY_NATURE:
            continue
        for path, node in schema_nodes(schema, name):
            if path.endswith("/properties"):
                continue  # a map of field names, not a schema
            if node == {}:
                untyped.append(f"{path}: any value")
            elif node.get("type") == "object" and not (
                node.get("properties") or node.get("additionalProperties")
            ):
                untyped.append(f"{path}: a bare object")
            elif not ({"type", "$ref", "anyOf", "enum", "const"} & set(node)):
                untyped.append(f"{path}: no type")
    assert untyped == []


def test_every_json_route_answers_a_struct(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, op in item.items():
            content = op["responses"]["200"]["content"]
            for media, body in content.items():
                if media == "application/json":
                    ref = body["schema"]["$ref"].rsplit("/", 1)[1]
                    assert schemas[ref]["type"] == "object", (method, path)


def test_nullable_fields_are_nullable_and_compact_ones_optional(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def field(struct: str, name: str) -> tuple[set[str], bool]:
        s = schemas[struct]
        prop = s["properties"][name]
        types = {o.get("type", "ref") for o in prop.get("anyOf", [prop])}
        return types, name in s.get("required", [])

    # Read whole, a NULL column is required and nullable; in latest-data it may be absent.
    assert field("Asset", "margin_table_id") == ({"integer", "null"}, True)
    assert field("Subject", "slug") == ({"string", "null"}, True)
    assert field("LatestSubject", "slug") == ({"string", "null"}, False)
    assert field("LatestTechnicalIndicatorsRow", "h1_rsi_14") == ({"number", "null"}, False)
    assert field("LatestTechnicalIndicatorsRow", "coin") == ({"string"}, True)
    assert field("LatestPartFreshness", "age_ms") == ({"integer", "null"}, False)
    assert field("Bar", "closed") == ({"boolean"}, True)
    assert field("CandlePage", "next_cursor") == ({"string", "null"}, True)
    assert field("ChannelHealth", "error") == ({"string", "null"}, True)
    # One ChannelHealth: the storage's, answered as it is.
    channels = schemas["HealthResponse"]["properties"]["channels"]["items"]
    assert channels == {"$ref": "#/components/schemas/ChannelHealth"}


# --- real answers against the document ------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ApiWorld:
    """A database the real channels filled (as the API fuzz tests use), with the ended hour
    rolled up as a maintenance pass would: 1h bars are a rolled-up hour and the forming one."""
    path: Path = tmp_path_factory.mktemp("contract") / "api.db"

    def make_config(toml: str = "") -> Config:
        return parse_config(f'[storage]\npath = "{path}"\n' + toml, source_path="test.toml")

    async def fill() -> ApiWorld:
        world = await populate(make_config)
        async with open_pipeline(world.config, executor=inline_executor) as rt:
            assert rt.writer is not None
            await rt.writer.execute(
                RollupHours(
                    through_ms=hour_start(world.now_ms) - HOUR_MS,
                    minutes_before_ms=0,
                    hours_before_ms=0,
                    rolled_up_at_ms=world.now_ms,
                    limit=100,
                )
            )
        return world

    world = trio.run(fill, clock=trio.testing.MockClock(autojump_threshold=0))
    assert set(world.runs.values()) == {"ok"}, world.runs
    return world


def has_null(node: Any) -> bool:
    if isinstance(node, dict):
        return any(has_null(v) for v in node.values())
    if isinstance(node, list):
        return any(has_null(v) for v in node)
    return node is None


def closed(node: Any) -> Any:
    """``node`` with every Struct's schema closed to fields it does not list, so an answer
    holding an undocumented field fails (the document itself leaves them open)."""
    if isinstance(node, dict):
        out = {k: closed(v) for k, v in node.items()}
        if "properties" in node and node.get("type") == "object":
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [closed(v) for v in node]
    return node


def validator(document: dict[str, Any], ref: str) -> jsonschema_rs.Validator:
    components = dict(document["components"])
    components["schemas"] = {
        name: schema if name in OPEN_BY_NATURE else closed(schema)
        for name, schema in components["schemas"].items()
    }
    return jsonschema_rs.Draft202012Validator(
        {"$ref": ref, "components": components}, validate_formats=True
    )


def answers(world: ApiWorld) -> list[tuple[str, httpx.Response]]:
    """Every JSON route's 200 answers to the requests an agent makes, by path."""
    app = create_app(world.config, FixedClock(world.now_ms))
    alice, bob = world.auth(world.alice), world.auth(world.bob)
    latest = "/api/v1/clones/{clone}/assets/{symbol}/latest-data"

    async def ask() -> list[tuple[str, httpx.Response]]:
        out: list[tuple[str, httpx.Response]] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for clone, symbol, headers in (("c1", "BTC", alice), ("c1", "ETH", alice)):
                for params in ({}, {"verbose": "1"}):
                    r = await c.post(
                        latest.format(clone=clone, symbol=symbol), params=params, headers=headers
                    )
                    out.append(("/api/v1/clones/{clone_id}/assets/{symbol}/latest-data", r))
            r = await c.post(latest.format(clone="c2", symbol="SOL"), headers=bob)
            out.append(("/api/v1/clones/{clone_id}/assets/{symbol}/latest-data", r))
            for params in (
                {},
                {"interval": "1h"},
                {"interval": "1m", "limit": "7", "start": str(world.now_ms - 20 * 60_000)},
            ):
                r = await c.get("/api/v1/candles/BTC", params=params, headers=alice)
                out.append(("/api/v1/candles/{symbol}", r))
            for path, params in (
                ("/api/v1/ingestion/health", {}),
                ("/api/v1/ingestion/dashboard", {}),
                ("/api/v1/assets", {}),
                ("/api/v1/polymarket/markets/search", {"q": "bitcoin"}),
                ("/api/v1/defillama/subjects/search", {"q": "ethereum"}),
                ("/openapi.json", {}),
            ):
                out.append((path, await c.get(path, params=params, headers=alice)))
        return out

    return trio.run(ask)


def test_real_answers_are_valid_against_the_document(world: ApiWorld) -> None:
    document = served_document(world.config)
    got = answers(world)
    problems: list[str] = []
    for path, r in got:
        assert r.status_code == 200, (path, r.text)
        op = document["paths"][path]["post" if "latest" in path else "get"]
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        body = r.json()
        for error in validator(document, ref).iter_errors(body):
            where = "/".join(str(p) for p in error.instance_path)
            problems.append(
                f"{r.request.url.path}?{r.request.url.query.decode()} {where}: {error.message}"
            )
    assert problems == []
    # The answers hold what the document describes, not just its empty cases.
    by_path: dict[str, list[Any]] = {}
    for path, r in got:
        by_path.setdefault(path, []).append(r.json())
    btc_compact, btc_verbose = by_path["/api/v1/clones/{clone_id}/assets/{symbol}/latest-data"][:2]
    assert btc_compact["features"]["technical_indicators"]["null_reasons"]
    assert btc_compact["candle_1m"] and btc_compact["execution_price"]
    assert not has_null(btc_compact) and has_null(btc_verbose)
    assert None in btc_verbose["features"]["technical_indicators"].values()
    minutes, hours, paged = by_path["/api/v1/candles/{symbol}"]
    assert minutes["count"] > 30 and [b["closed"] for b in minutes["bars"]][-1] is False
    assert [b["closed"] for b in hours["bars"]] == [True] * (len(hours["bars"]) - 1) + [False]
    assert len(hours["bars"]) >= 2 and paged["count"] == 7 and paged["next_cursor"]
    assert by_path["/api/v1/ingestion/health"][0]["channels"]
