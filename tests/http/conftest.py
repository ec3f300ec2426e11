"""HTTP test fixtures: a database seeded through the real writer, tokens, clones, a client, and
Debian's chromium for the browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from httpkit import CHANNELS_TOML, T0_MS, World, registry, seed

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.events import ApiTokenCreated, ApiTokensRevoked, CloneSaved, Event
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token


@pytest.fixture
def http_config(make_config: Callable[..., Config]) -> Config:
    return make_config(CHANNELS_TOML)


@pytest.fixture
async def world(http_config: Config) -> World:
    alice, bob, carol = issue_token(), issue_token(), issue_token()
    events: list[Event] = [
        ApiTokenCreated(
            token_id=t.token_id, user=user, token_hash=t.token_hash, created_at_ms=T0_MS
        )
        for t, user in ((alice, "alice"), (bob, "bob"), (carol, "carol"))
    ]
    events += [
        ApiTokensRevoked(token_id=carol.token_id, revoked_at_ms=T0_MS),
        CloneSaved(clone_id="c1", owner="alice", symbols=["BTC", "ETH"], saved_at_ms=T0_MS),
        CloneSaved(clone_id="c2", owner="bob", symbols=["SOL"], saved_at_ms=T0_MS),
        registry("BTC", "ETH", "SOL", "kPEPE", delisted=("LUNA",)),
    ]
    await seed(http_config, *events)
    return World(
        config=http_config,
        clock=FixedClock(T0_MS),
        alice=alice.token,
        bob=bob.token,
        revoked=carol.token,
    )


@pytest.fixture
def make_client(world: World) -> Callable[..., Any]:
    def make(**kwargs: Any) -> httpx.AsyncClient:
        app = create_app(world.config, world.clock, **kwargs)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    return make


@pytest.fixture
async def client(make_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed when missing (as root); skipped only if that fails."""
    if not os.path.exists(CHROMIUM):
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            pytest.skip("chromium is missing and cannot be installed (needs apt-get as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", "chromium"]
        done = subprocess.run(install, env=env, capture_output=True, timeout=900)
        if done.returncode != 0:
            subprocess.run([apt, "update", "-q"], env=env, capture_output=True, timeout=600)
            done = subprocess.run(install, env=env, capture_output=True, timeout=900)
        if done.returncode != 0 or not os.path.exists(CHROMIUM):
            tail = done.stderr.decode(errors="replace")[-300:]
            pytest.skip(f"could not install chromium with apt-get: {tail}")
    return CHROMIUM
