"""The MCP tools over both transports, with the SDK's own client: streamable HTTP at ``/mcp``
on a real server (hypercorn's trio worker on 127.0.0.1) and stdio (``python -m marketmem mcp``
in a child process), against a database the real channels filled (the demo's venues)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
import sniffio
import trio
import trio.testing
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from marketmem.cli import main
from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.http import mcp as mcp_module
from marketmem.http.app import create_app
from marketmem.http.schemas import LATEST_DATA, CandlePage, HealthResponse
from marketmem.http.server import serve_http
from marketmem.plugins import parse_config
from tests.faults.faults_helpers import ApiWorld, populate

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"latest_context", "candles", "search_markets", "search_subjects", "health"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ApiWorld:
    """A database the real channels filled, as the API fuzz and contract tests use."""
    path: Path = tmp_path_factory.mktemp("mcp") / "api.db"

    def make_config(toml: str = "") -> Config:
        return parse_config(
            f'[storage]\npath = "{path}"\n[http]\nbind = "127.0.0.1:0"\n' + toml,
            source_path="test.toml",
        )

    world: ApiWorld = trio.run(
        populate, make_config, 60, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    return world


@asynccontextmanager
async def served(world: ApiWorld) -> AsyncIterator[str]:
    """The app on hypercorn (trio worker) at 127.0.0.1, its clock at the data's time."""
    app = create_app(world.config, FixedClock(world.now_ms))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve_http, world.config, FixedClock(world.now_ms), app=app)
        )
        url = f"http://127.0.0.1:{port}"
        _APIS[url] = app.state.api
        yield url
        nursery.cancel_scope.cancel()


def http_client(url: str, token: str) -> Client:
    headers = {"Authorization": f"Bearer {token}"}
    return Client(
        streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers))
    )


def structured(result: types.CallToolResult) -> Any:
    assert not result.is_error, result.content
    text = result.content[0]
    assert isinstance(text, types.TextContent)
    assert json.loads(text.text) == result.structured_content
    return result.structured_content


def refusal(result: types.CallToolResult) -> str:
    assert result.is_error
    assert result.structured_content is None
    text = result.content[0]
    assert isinstance(text, types.TextContent)
    return text.text


async def route_answer(world: ApiWorld, method: str, path: str, token: str, **kw: Any) -> Any:
    """What the HTTP route answers for the same request (same data, same clock)."""
    app = create_app(world.config, FixedClock(world.now_ms))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.request(method, path, headers=world.auth(token), **kw)
    assert r.status_code == 200, r.text
    return r.json()


# --- streamable HTTP at /mcp ------------------------------------------------------------------


async def test_the_tools_are_listed_with_the_apis_schemas(world: ApiWorld) -> None:
    with trio.fail_after(10):
        async with served(world) as url, http_client(url, world.alice) as client:
            listed = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert tool.annotations is not None and tool.annotations.read_only_hint
    latest = tools["latest_context"]
    assert latest.input_schema["required"] == ["clone_id", "symbol"]
    assert set(latest.input_schema["properties"]) == {
        "clone_id",
        "symbol",
        "include",
        "max_markets",
        "max_subjects",
        "verbose",
    }
    candles = tools["candles"].input_schema["properties"]
    assert candles["interval"]["enum"] == ["1m", "1h"]
    assert set(tools["search_markets"].input_schema["properties"]) >= {"q", "asset", "status"}
    assert set(tools["search_subjects"].input_schema["properties"]) >= {"q", "kind", "asset"}
    # The output schemas are the response Structs' (msgspec), as in /openapi.json.
    assert tools["health"].output_schema == mcp_module.struct_schema(HealthResponse)
    assert tools["candles"].output_schema == mcp_module.struct_schema(CandlePage)
    assert tools["latest_context"].output_schema == mcp_module.struct_schema(LATEST_DATA)


async def test_every_tool_answers_what_its_route_answers_and_runs_on_trio(
    world: ApiWorld,
) -> None:
    calls = [
        ("latest_context", {"clone_id": "c1", "symbol": "BTC"}),
        ("latest_context", {"clone_id": "c1", "symbol": "eth", "include": ["execution_price"]}),
        ("candles", {"symbol": "BTC", "interval": "1m", "limit": 5}),
        ("search_markets", {"q": "bitcoin", "status": "all"}),
        ("search_subjects", {"q": "ethereum", "kind": "chain"}),
        ("health", {}),
    ]
    libraries: list[str] = []
    answers: list[Any] = []
    with trio.fail_after(15):
        async with served(world) as url:
            # Every tool call goes through one of these Api methods; record the event loop
            # each runs on (the SDK is anyio's: it must be running on trio here).
            api = mcp_module_api(url)
            for name in ("read_latest", "read_candles", "read_source", "read_health"):
                spy(api, name, libraries)
            async with http_client(url, world.alice) as client:
                for name, arguments in calls:
                    answers.append(structured(await client.call_tool(name, arguments)))
    assert libraries and set(libraries) == {"trio"}
    btc, eth, bars, markets, subjects, health = answers
    assert (btc["clone_id"], btc["symbol"]) == ("c1", "BTC")
    assert btc["execution_price"]["price"] > 0 and btc["candle_1m"]["close"] > 0
    assert set(eth) >= {"clone_id", "symbol", "execution_price"} and "features" not in eth
    assert 1 <= len(bars["bars"]) <= 5 and bars["interval"] == "1m"
    assert markets["markets"] and subjects["subjects"]
    assert {(c["source"], c["channel"]) for c in health["channels"]} >= {
        ("hyperliquid", "candles"),
        ("polymarket", "immediate_markets"),
    }
    # The same answers as the HTTP routes (one schema, one code path).
    alice = world.alice
    assert btc == await route_answer(
        world, "POST", "/api/v1/clones/c1/assets/BTC/latest-data", alice
    )
    assert bars == await route_answer(
        world, "GET", "/api/v1/candles/BTC", alice, params={"interval": "1m", "limit": "5"}
    )
    assert markets == await route_answer(
        world, "GET", "/api/v1/polymarket/markets/search", alice, params={"q": "bitcoin"}
    )
    assert health == await route_answer(world, "GET", "/api/v1/ingestion/health", alice)


_APIS: dict[str, Any] = {}


def mcp_module_api(url: str) -> Any:
    return _APIS[url]


def spy(api: Any, name: str, libraries: list[str]) -> None:
    original = getattr(api, name)

    async def recorded(*args: Any) -> Any:
        libraries.append(sniffio.current_async_library())
        return await original(*args)

    setattr(api, name, recorded)


async def test_a_non_owner_and_bad_arguments_get_tool_errors_not_data(world: ApiWorld) -> None:
    with trio.fail_after(10):
        async with served(world) as url, http_client(url, world.bob) as client:
            other = await client.call_tool("latest_context", {"clone_id": "c1", "symbol": "BTC"})
            own = await client.call_tool("latest_context", {"clone_id": "c2", "symbol": "SOL"})
            unknown = await client.call_tool("latest_context", {"clone_id": "nope", "symbol": "X"})
            bad = await client.call_tool("candles", {"symbol": "BTC", "interval": "5m"})
            extra = await client.call_tool("health", {"verbose": True})
    assert refusal(other) == "forbidden: clone 'c1' belongs to another user"
    assert structured(own)["symbol"] == "SOL"
    assert refusal(unknown) == "not_found: no clone 'nope'"
    assert refusal(bad).startswith("invalid_parameter: interval")
    assert refusal(extra) == "invalid_parameter: verbose: unknown argument"


@pytest.mark.parametrize("case", ["none", "revoked", "wrong", "malformed"])
async def test_mcp_without_a_valid_token_is_401_before_any_mcp_traffic(
    world: ApiWorld, case: str
) -> None:
    header = {
        "none": None,
        "revoked": f"Bearer {world.revoked}",
        "wrong": f"Bearer {world.alice[:-4]}AAAA",
        "malformed": "Basic abc",
    }[case]
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    with trio.fail_after(10):
        async with served(world) as url:
            async with httpx.AsyncClient(base_url=url) as c:
                headers = {"Accept": "application/json, text/event-stream"}
                if header is not None:
                    headers["Authorization"] = header
                r = await c.post("/mcp", json=initialize, headers=headers)
                if case == "none":
                    # With a token: no stream to open, no session to end.
                    for method in ("GET", "DELETE"):
                        other = await c.request(method, "/mcp", headers=world.auth(world.alice))
                        assert other.status_code == 405, other.text
                        assert other.headers["allow"] == "POST"
                    metrics = (await c.get("/metrics")).text
                    # Label names in the exposition's order (prometheus-client sorts them).
                    assert 'method="POST",route="/mcp",status="401"' in metrics
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthorized"
            if case == "wrong":
                # The SDK's client gets no session either.
                with pytest.raises(BaseException) as refused:
                    async with http_client(url, world.alice[:-4] + "AAAA") as client:
                        await client.list_tools()
                assert "Server returned an error response" in repr(refused.value)


# --- stdio: bin/marketmem mcp -----------------------------------------------------------------


def stdio_config(world: ApiWorld, tmp_path: Path) -> Path:
    path = tmp_path / "marketmem.toml"
    path.write_text(f'[storage]\npath = "{world.config.database()}"\n')
    return path


def stdio_server(world: ApiWorld, tmp_path: Path, token: str) -> StdioServerParameters:
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "marketmem",
            "--config",
            str(stdio_config(world, tmp_path)),
            "--log-level",
            "WARNING",
            "mcp",
            "--token-file",
            str(token_file),
        ],
        cwd=str(ROOT),
    )


async def test_stdio_lists_and_calls_every_tool_as_the_tokens_user(
    world: ApiWorld, tmp_path: Path
) -> None:
    with trio.fail_after(20):
        async with Client(stdio_server(world, tmp_path, world.alice)) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS
            latest = structured(
                await client.call_tool("latest_context", {"clone_id": "c1", "symbol": "BTC"})
            )
            # The service's clock here, not the data's: the page may hold no bar of today.
            page = structured(await client.call_tool("candles", {"symbol": "BTC"}))
            markets = structured(await client.call_tool("search_markets", {"q": "bitcoin"}))
            subjects = structured(
                await client.call_tool("search_subjects", {"q": "ethereum", "asset": "ETH"})
            )
            health = structured(await client.call_tool("health", {}))
            not_hers = await client.call_tool("latest_context", {"clone_id": "c2", "symbol": "SOL"})
    assert (latest["clone_id"], latest["symbol"]) == ("c1", "BTC")
    assert latest["execution_price"]["price"] > 0
    assert page["symbol"] == "BTC" and "bars" in page
    assert markets["markets"] and subjects["subjects"] and health["channels"]
    assert refusal(not_hers) == "forbidden: clone 'c2' belongs to another user"


def test_stdio_refuses_to_start_with_a_revoked_token(world: ApiWorld, tmp_path: Path) -> None:
    config = stdio_config(world, tmp_path)
    env = {**os.environ, "MARKETMEM_TOKEN": world.revoked}
    done = subprocess.run(
        [sys.executable, "-m", "marketmem", "--config", str(config), "mcp"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "marketmem: cannot start: token refused: invalid or revoked bearer token"
    )
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        (None, 2, "marketmem: no token: give --token-file PATH or set MARKETMEM_TOKEN"),
        ("", 2, "marketmem: --token-file: {file} is empty"),
        (
            "mm_0123456789abcdef_" + "A" * 43,
            1,
            "marketmem: cannot start: token refused: invalid or revoked bearer token",
        ),
        (
            "not a token",
            1,
            "marketmem: cannot start: token refused: invalid or revoked bearer token",
        ),
    ],
)
def test_stdio_without_a_valid_token_is_one_line_and_an_exit_code(
    world: ApiWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str | None,
    code: int,
    message: str,
) -> None:
    monkeypatch.delenv("MARKETMEM_TOKEN", raising=False)
    argv = ["--config", str(stdio_config(world, tmp_path)), "mcp"]
    token_file = tmp_path / "token"
    if token is not None:
        token_file.write_text(token)
        argv += ["--token-file", str(token_file)]
    assert main(argv) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == message.format(file=token_file)
