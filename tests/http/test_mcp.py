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
import msgspec
import pytest
import sniffio
import trio
import trio.testing
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

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
        port = await nursery.start(partial(serve_http, world.config, FixedClock(world.now_ms), app=app))
        yield f"http://127.0.0.1:{port}"
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


async def test_smoke(world: ApiWorld) -> None:
    with trio.fail_after(15):
        async with served(world) as url, http_client(url, world.alice) as client:
            listed = await client.list_tools()
            print([t.name for t in listed.tools])
            r = await client.call_tool("health", {})
            print(r)
