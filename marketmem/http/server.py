"""Serving the API with Hypercorn's trio worker on ``[http] bind``.

``serve_http(config, clock, *, shutdown_trigger, task_status)`` is what ``bin/marketmem run``
(the supervisor) and ``bin/marketmem serve`` start: it binds, reports the bound port through
``task_status.started(port)`` and serves until cancelled or until its shutdown trigger fires
(hypercorn then drains the requests under way within ``graceful_timeout``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.http.app import create_app
from marketmem.http.stream import StreamHub

log = logging.getLogger(__name__)


def hypercorn_config(bind: str) -> HypercornConfig:
    cfg = HypercornConfig()
    cfg.bind = [bind]
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("hypercorn.error")
    cfg.graceful_timeout = 2.0
    cfg.keep_alive_timeout = 30.0
    return cfg


def bound_port(binds: list[str]) -> int:
    # Hypercorn reports binds as "http://HOST:PORT".
    return int(binds[0].rsplit(":", 1)[1])


async def serve_http(
    config: Config,
    clock: WallClock,
    *,
    app: Any = None,
    streams: StreamHub | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API on ``config.http.bind`` until cancelled, or until ``shutdown_trigger``
    returns: then no new request is taken and those under way get ``graceful_timeout`` to
    finish. Reports the bound port. ``streams`` serves ``/api/v1/stream`` (503 without)."""
    asgi: Any = app if app is not None else create_app(config, clock, streams=streams)
    hc = hypercorn_config(config.http.bind)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(serve, asgi, hc, mode="asgi", shutdown_trigger=shutdown_trigger)
        )
        port = bound_port(binds)
        log.info("HTTP API on %s", binds[0])
        task_status.started(port)
