"""4xx answers go to DEBUG, with one INFO line a minute counting them per status and route;
5xx stay WARNING/ERROR (``marketmem.http.clienterrors``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import trio
import trio.testing
from httpkit import World

from marketmem.http.app import create_app
from marketmem.http.clienterrors import ClientErrors
from marketmem.storage.reads import hyperliquid as hl_reads

SUMMARY = "marketmem.http.clienterrors"


def infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]


async def test_each_4xx_is_debug_and_a_minute_of_them_is_one_info_line(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SUMMARY)
    errors = ClientErrors()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(errors.run)
        await trio.sleep(5)
        for _ in range(3):
            errors.record(401, "GET", "/api/v1/assets", "unauthorized", "no token")
        errors.record(404, "GET", "(no route)", "not_found", "no such route")
        await trio.sleep(30)
        errors.record(401, "GET", "/api/v1/assets", "unauthorized", "no token")
        debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
        assert len(debug) == 5
        assert debug[0].getMessage() == "GET /api/v1/assets -> 401 unauthorized: no token"
        assert infos(caplog) == []  # not before the minute is up
        await trio.sleep(31)  # past 60 s after the first 4xx of the window
        assert infos(caplog) == [
            "HTTP 4xx answers in the last 60 s: 401 GET /api/v1/assets x4, 404 GET (no route) x1"
        ]
        await trio.sleep(600)  # a quiet minute writes nothing
        assert len(infos(caplog)) == 1
        errors.record(422, "GET", "/api/v1/assets/{symbol}/candles", "invalid_parameter", "x")
        await trio.sleep(61)
        assert infos(caplog)[-1] == (
            "HTTP 4xx answers in the last 60 s: 422 GET /api/v1/assets/{symbol}/candles x1"
        )
        nursery.cancel_scope.cancel()


async def test_without_its_clock_a_due_window_is_written_by_the_next_4xx(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SUMMARY)
    errors = ClientErrors()
    errors.record(401, "GET", "/a")
    await trio.sleep(61)
    errors.record(403, "GET", "/a")
    assert infos(caplog) == ["HTTP 4xx answers in the last 61 s: 401 GET /a x1"]
    assert errors.counts == {(403, "GET /a"): 1}


async def test_the_api_counts_its_4xx_by_route_template_and_logs_them_at_debug(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(world.config, world.clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/api/v1/ingestion/health")).status_code == 401
        assert (await c.get("/nowhere")).status_code == 404
        big = b"x" * (2 * 1024 * 1024)
        url = "/api/v1/clones/c1/assets/BTC/latest-data"
        assert (await c.post(url, content=big, headers=world.auth(world.alice))).status_code == 413
        r = await c.get("/api/v1/clones/c1/assets/BTC/latest-data")  # POST only
        assert r.status_code == 405
    errors = app.state.client_errors
    assert isinstance(errors, ClientErrors)
    template = "/api/v1/clones/{clone_id}/assets/{symbol}/latest-data"
    assert errors.counts == {
        (401, "GET /api/v1/ingestion/health"): 1,
        (404, "GET (no route)"): 1,
        (413, f"POST {template}"): 1,
        (405, f"GET {template}"): 1,
    }
    loud = [r for r in caplog.records if r.levelno >= logging.INFO and "->" in r.getMessage()]
    assert loud == []


async def test_a_500_is_still_an_error_with_its_traceback(
    make_client: Callable[..., httpx.AsyncClient],
    world: World,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(hl_reads, "list_assets", broken)
    caplog.set_level(logging.INFO)
    async with make_client() as c:
        r = await c.get("/api/v1/assets", headers=world.auth(world.alice))
    assert r.status_code == 500
    (error,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert error.levelno == logging.ERROR and error.exc_info is not None
