"""The API served for real: Hypercorn's trio worker on a port, and the dashboard page rendered
by headless Chromium from that server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
import pytest
import trio
from httpkit import T0_MS, World, run_events, seed

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.http.server import serve_http

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


def served_config(make_config: Callable[..., Config]) -> Config:
    return make_config(
        '[http]\nbind = "127.0.0.1:0"\n'
        "[hyperliquid.channels]\n"
        "candles = { enabled = true, cadence_s = 60 }\n"
        "funding_pressure = { enabled = true, cadence_s = 300 }\n"
        "[defillama.channels]\n"
        "capital_flows = { enabled = true, cadence_s = 3600 }\n"
    )


@pytest.mark.parametrize("token_kind", ["none", "alice"])
async def test_serve_http_binds_reports_its_port_and_answers(world: World, token_kind: str) -> None:
    config = msgspec.structs.replace(
        world.config, http=msgspec.structs.replace(world.config.http, bind="127.0.0.1:0")
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, config, world.clock)
            assert port > 0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                headers = world.auth(world.alice) if token_kind == "alice" else {}
                r = await c.get("/api/v1/ingestion/health", headers=headers)
                assert r.status_code == (200 if token_kind == "alice" else 401)
            nursery.cancel_scope.cancel()


async def test_dashboard_page_in_headless_chromium_shows_every_enabled_channel(
    chromium: str, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = served_config(make_config)
    await seed(config, *run_events("hyperliquid", "candles", finished_ms=T0_MS - 5_000))
    enabled = [f"{s}/{c}" for s, c, ch in config.channels() if ch.enabled]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, config, FixedClock(T0_MS))
            done = await trio.run_process(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    f"--user-data-dir={tmp_path / 'chromium'}",
                    "--virtual-time-budget=3000",
                    "--dump-dom",
                    f"http://127.0.0.1:{port}/dashboard",
                ],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            nursery.cancel_scope.cancel()
    dom = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert 'data-loaded="true"' in dom, dom[-2000:]
    rows = dict(re.findall(r'data-channel="([^"]+)" data-enabled="(true|false)"', dom))
    assert len(rows) == len(config.channels())
    for channel in enabled:
        assert rows.get(channel) == "true", f"{channel} not shown as enabled"
    assert re.search(r'data-channel="hyperliquid/candles"[^>]*data-status="ok"', dom)
    assert re.search(r'data-channel="hyperliquid/funding_pressure"[^>]*data-status="missing"', dom)
