"""The API served for real: Hypercorn's trio worker on a port, request bodies over raw
sockets, and the dashboard page rendered by headless Chromium from that server."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio
from httpkit import T0_MS, World, run_events, seed
from starlette.responses import Response

from marketmem.clock import FixedClock
from marketmem.config import Config
from marketmem.http.body import MAX_BODY_BYTES
from marketmem.http.bodylimit import BodyLimit
from marketmem.http.server import serve_http


def served_config(make_config: Callable[..., Config]) -> Config:
    return make_config(
        '[http]\nbind = "127.0.0.1:0"\n'
        "[hyperliquid.channels]\n"
        "candles = { enabled = true, cadence_s = 60 }\n"
        "funding_pressure = { enabled = true, cadence_s = 300 }\n"
        "[defillama.channels]\n"
        "capital_flows = { enabled = true, cadence_s = 3600 }\n"
    )


def served(world: World) -> Config:
    return msgspec.structs.replace(
        world.config, http=msgspec.structs.replace(world.config.http, bind="127.0.0.1:0")
    )


@pytest.mark.engines
@pytest.mark.parametrize("token_kind", ["none", "alice"])
async def test_serve_http_binds_reports_its_port_and_answers(world: World, token_kind: str) -> None:
    config = served(world)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, config, world.clock)
            assert port > 0
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                headers = world.auth(world.alice) if token_kind == "alice" else {}
                r = await c.get("/api/v1/ingestion/health", headers=headers)
                assert r.status_code == (200 if token_kind == "alice" else 401)
            nursery.cancel_scope.cancel()


# --- request bodies over a raw connection ------------------------------------------------------

LATEST = "/api/v1/clones/c1/assets/BTC/latest-data"
CHUNK = 64 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(method: str, path: str, token: str, body: bytes, framing: str) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
    if framing == "none":
        return (head + "\r\n").encode()
    if framing == "content-length":
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + wire


class Connection:
    """One client connection: raw bytes out, whole answers (they carry Content-Length) in."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def send(self, data: bytes) -> None:
        # A server that closes the connection mid-body makes the rest unsendable: fine here.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            for i in range(0, len(data), CHUNK):
                await self.stream.send_all(data[i : i + CHUNK])

    async def _fill(self) -> bool:
        try:
            data = await self.stream.receive_some(CHUNK)
        except trio.BrokenResourceError:  # reset by the server
            return False
        self.buffer += data
        return bool(data)

    async def answer(self) -> Answer | None:
        """The next answer, or None when the server closed the connection instead."""
        while b"\r\n\r\n" not in self.buffer:
            if not await self._fill():
                assert not self.buffer, self.buffer[:200]
                return None
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            assert await self._fill(), ("the connection closed inside an answer", head, self.buffer)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(int(status_line.split()[1]), headers, body)


async def two_requests(port: int, first: bytes, second: bytes) -> tuple[Answer | None, ...]:
    """``first`` then ``second`` on one connection, sent while the answers are read (as a
    client streaming a body does); the two answers, None where the connection was closed."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        conn = Connection(stream)

        async def send_both() -> None:
            await conn.send(first)
            await conn.send(second)

        nursery.start_soon(send_both)
        answers = (await conn.answer(), await conn.answer())
        nursery.cancel_scope.cancel()
    return answers


BIG = 5_000_000
SMALL = 1_000


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize(
    ("method", "path", "size", "status"),
    [
        pytest.param("GET", "/api/v1/assets", BIG, 413, id="GET-assets-5MB"),
        pytest.param("GET", "/api/v1/assets", SMALL, 200, id="GET-assets-1kB"),
        pytest.param("GET", "/api/v1/ingestion/dashboard", BIG, 413, id="GET-dashboard-5MB"),
        pytest.param("GET", "/api/v1/nothing", SMALL, 404, id="GET-unknown-1kB"),
        pytest.param("POST", LATEST, BIG, 413, id="POST-latest-5MB"),
        pytest.param("POST", LATEST, MAX_BODY_BYTES + 1, 413, id="POST-latest-64kB+1"),
        pytest.param("POST", LATEST, SMALL, 422, id="POST-latest-1kB"),
    ],
)
async def test_a_request_body_never_stalls_the_connection(
    world: World, method: str, path: str, size: int, status: int, framing: str
) -> None:
    """The answer arrives; then the next request on the connection is answered, or the
    connection is closed: it is never left hanging."""
    first = request_bytes(method, path, world.alice, b"x" * size, framing)
    second = request_bytes("GET", "/api/v1/assets", world.alice, b"", "none")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, served(world), world.clock)
            answer, after = await two_requests(port, first, second)
            nursery.cancel_scope.cancel()
    assert answer is not None, "no answer to the request with a body"
    assert answer.status == status, answer
    if status == 413:
        assert msgspec.json.decode(answer.body)["error"]["code"] == "body_too_large"
    assert after is None or after.status == 200, after


async def answers_unread(scope: Any, receive: Any, send: Any) -> None:
    """An app that answers without reading the body."""
    await Response(b"ok")(scope, receive, send)


async def serve_guarded(nursery: trio.Nursery, world: World, **limits: Any) -> int:
    app = BodyLimit(answers_unread, limit=SMALL, **limits)
    port: int = await nursery.start(partial(serve_http, served(world), world.clock, app=app))
    return port


def declaring(size: int) -> bytes:
    """A request head that declares a body of ``size`` bytes."""
    head = request_bytes("GET", "/", "t", b"", "none")[:-2]
    return head + f"Content-Length: {size}\r\n\r\n".encode()


async def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed(
    world: World,
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await serve_guarded(nursery, world, timeout_s=0.3)
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                conn = Connection(stream)
                await conn.send(declaring(SMALL) + b"x" * 10)  # and then nothing
                answer, closed = await conn.answer(), await conn.answer()
            nursery.cancel_scope.cancel()
    assert answer is not None and answer.status == 408, answer
    assert msgspec.json.decode(answer.body)["error"] == {
        "code": "body_timeout",
        "message": "request body not received within 0.3 s",
    }
    assert closed is None


async def test_a_refused_body_that_keeps_coming_is_cut_off_after_lingering(
    world: World,
) -> None:
    """The 413 goes out at once; the body is read for ``linger_s`` more, then the
    connection is closed."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await serve_guarded(nursery, world, linger_s=0.3)
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                conn = Connection(stream)

                async def trickle() -> None:
                    await conn.send(declaring(BIG))
                    while True:
                        await conn.send(b"x" * 1000)
                        await trio.sleep(0.01)

                nursery.start_soon(trickle)
                started = trio.current_time()
                answer = await conn.answer()
                answered = trio.current_time() - started
                closed = await conn.answer()
                lingered = trio.current_time() - started
            nursery.cancel_scope.cancel()
    assert answer is not None and answer.status == 413, answer
    assert msgspec.json.decode(answer.body)["error"]["message"] == (
        f"request body over {SMALL} bytes"
    )
    assert closed is None
    assert answered < 0.3 <= lingered < 5


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
