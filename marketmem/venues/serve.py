"""Serving a local venue's ASGI app with Hypercorn's trio worker on 127.0.0.1."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve


async def answer_lifespan(receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol for a plain ASGI venue that has nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def hypercorn_config(bind: str) -> HypercornConfig:
    cfg = HypercornConfig()
    cfg.bind = [bind]
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("hypercorn.error")
    cfg.graceful_timeout = 1.0
    return cfg


def _port_of(binds: list[str]) -> int:
    # Hypercorn reports binds as "http://127.0.0.1:PORT".
    return int(binds[0].rsplit(":", 1)[1])


async def serve_asgi(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until cancelled; ``task_status.started(port)`` with the bound port."""
    cfg = hypercorn_config(f"{host}:{port}")
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, cfg, mode="asgi"))
        task_status.started(_port_of(binds))
