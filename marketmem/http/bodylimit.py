"""Every request body read to its end before the route runs, or refused.

Hypercorn hands a body to the app through a queue of ten chunks. When a route does not read
its body (every GET, and a POST refused before reading it), a larger body fills that queue
and Hypercorn, ending the answer, waits for good to put ``http.disconnect`` behind it: the
answer goes out, then the connection hangs, neither reused nor closed. So ``BodyLimit``, in
front of every route:

- reads a body of up to ``limit`` bytes to its end and hands it to the app whole; a route
  that takes no body ignores it and the connection stays usable (nginx and Go's net/http
  also read and drop a small unread body rather than lose the connection);
- answers a larger one (declared or counted) with 413 at once, then reads and drops the
  rest for at most ``linger_s``: the connection is reused if the body ended by then, and
  closed otherwise;
- answers a body that is not all there after ``timeout_s`` with 408 and closes the
  connection, so a client cannot hold a request open by trickling its body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketmem.http import metrics
from marketmem.http.clienterrors import ClientErrors
from marketmem.http.errors import error_response

log = logging.getLogger(__name__)

BODY_TIMEOUT_S = 10.0
LINGER_S = 2.0


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        timeout_s: float = BODY_TIMEOUT_S,
        linger_s: float = LINGER_S,
        client_errors: ClientErrors | None = None,
        route_of: Callable[[Scope], str] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s
        self.linger_s = linger_s
        # Where a refusal is counted (the app's 4xx summary), by the route it was meant for.
        self.client_errors = client_errors
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if not declared and not chunked:
            await self.app(scope, receive, send)
            return
        if declared is not None and declared > self.limit:
            await self._refuse(413, "body_too_large", self._too_large, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        with trio.move_on_after(self.timeout_s):
            while more and size <= self.limit:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left: nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                chunks.append(chunk)
                more = message.get("more_body", False)
        if size > self.limit:
            await self._refuse(413, "body_too_large", self._too_large, scope, receive, send)
        elif more:
            late = f"request body not received within {self.timeout_s:g} s"
            await self._refuse(408, "body_timeout", late, scope, receive, send)
        else:
            await self.app(scope, _replay(b"".join(chunks), receive), send)

    @property
    def _too_large(self) -> str:
        return f"request body over {self.limit} bytes"

    async def _refuse(
        self, status: int, code: str, message: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if self.client_errors is not None:
            route = self.route_of(scope) if self.route_of is not None else scope["path"][:200]
            self.client_errors.record(status, scope["method"], route, code, message)
        else:
            path = scope["path"][:200]
            log.debug("%s %s -> %d %s: %s", scope["method"], path, status, code, message)
        metrics.ERRORS.inc(code=code)
        response = error_response(status, code, message)
        ended = trio.Event()

        async def discard_body() -> None:
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    ended.set()
                    return

        # The answer goes out whole first, then the rest of the body is read and dropped for
        # at most ``linger_s`` (a lingering close, as nginx does) before the answer is ended:
        # a socket closed with unread bytes is reset, which can lose an answer on its way.
        # Hypercorn then reuses the connection if the body ended, or else closes it. (No
        # ``Connection: close`` header: with it, a client that sends its next request right
        # after the body makes Hypercorn close the socket in the middle of the answer.) The
        # body keeps being read while the answer ends, because Hypercorn's last step puts
        # ``http.disconnect`` on the body queue and would wait for room forever.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(discard_body)
            start = {"type": "http.response.start", "status": status}
            await send({**start, "headers": response.raw_headers})
            await send({"type": "http.response.body", "body": response.body, "more_body": True})
            with trio.move_on_after(self.linger_s if status == 413 else 0):
                await ended.wait()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None without one) and whether the body is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.strip().isdigit():
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the whole body once, then whatever the server sends next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
