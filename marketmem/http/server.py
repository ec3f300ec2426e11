"""Serving the API with Hypercorn's trio worker on ``[http] bind``.

``serve_http(config, clock, *, telemetry, shutdown_trigger, task_status)`` is what
``bin/marketmem run`` (the supervisor, with its telemetry) and ``bin/marketmem serve`` start: it binds, reports the bound port through
``task_status.started(port)`` and serves until cancelled or until its shutdown trigger fires
(hypercorn then drains the requests under way within ``graceful_timeout``).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.http.app import create_app
from marketmem.http.clienterrors import ClientErrors
from marketmem.http.stream import StreamHub
from marketmem.telemetry import Telemetry
from marketmem.usage import CannotStart

log = logging.getLogger(__name__)


def hypercorn_config(bind: str) -> HypercornConfig:
    cfg = HypercornConfig()
    cfg.bind = [bind]
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("hypercorn.error")
    cfg.graceful_timeout = 2.0
    cfg.keep_alive_timeout = 30.0
    return cfg


class CannotListen(CannotStart):
    """The API's address cannot be bound: the port is taken, the host is not this one's."""


def bind_failure(exc: BaseException) -> str | None:
    """What the operating system said when binding failed (``exc`` an OSError, or a group of
    them as hypercorn's nurseries raise it); None for anything else."""
    leaves: list[BaseException] = [exc]
    while any(isinstance(e, BaseExceptionGroup) for e in leaves):
        leaves = [
            x for e in leaves for x in (e.exceptions if isinstance(e, BaseExceptionGroup) else (e,))
        ]
    if not leaves or not all(isinstance(e, OSError) for e in leaves):
        return None
    first = leaves[0]
    assert isinstance(first, OSError)
    why = first.strerror or str(first)
    if first.errno == errno.EADDRINUSE:
        why += " (another process listens there: stop it, or choose another [http] bind)"
    return why


def bound_port(binds: list[str]) -> int:
    # Hypercorn reports binds as "http://HOST:PORT".
    return int(binds[0].rsplit(":", 1)[1])


async def serve_http(
    config: Config,
    clock: WallClock,
    *,
    app: Any = None,
    telemetry: Telemetry | None = None,
    streams: StreamHub | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API on ``config.http.bind`` until cancelled, or until ``shutdown_trigger``
    returns: then no new request is taken and those under way get ``graceful_timeout`` to
    finish. Reports the bound port. ``telemetry``: the in-process statistics of the service
    this process runs, for the dashboard (None: the API alone); ``streams`` serves
    ``/api/v1/stream`` (503 without)."""
    asgi: Any = (
        app if app is not None else create_app(config, clock, telemetry=telemetry, streams=streams)
    )
    hc = hypercorn_config(config.http.bind)
    client_errors = getattr(getattr(asgi, "state", None), "client_errors", None)

    async def serving(task_status: trio.TaskStatus[list[str]]) -> None:
        await serve(
            asgi, hc, mode="asgi", shutdown_trigger=shutdown_trigger, task_status=task_status
        )
        nursery.cancel_scope.cancel()  # the server is done: so is the 4xx summary's clock

    async with trio.open_nursery() as nursery:
        try:
            binds = await nursery.start(serving)
        except (OSError, BaseExceptionGroup) as exc:
            why = bind_failure(exc)
            if why is None:
                raise
            raise CannotListen(f"cannot listen on {config.http.bind}: {why}") from None
        if isinstance(client_errors, ClientErrors):
            nursery.start_soon(client_errors.run)
        port = bound_port(binds)
        log.info("HTTP API on %s", binds[0])
        task_status.started(port)
