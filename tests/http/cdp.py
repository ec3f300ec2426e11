"""Headless Chromium driven over the DevTools protocol, with no library but trio-websocket.

``open_page(chromium, url, profile)`` starts Debian's chromium with a DevTools port, opens one
page on ``url`` and yields a ``Page``: ``evaluate`` runs a JavaScript expression and returns its
value, ``screenshot`` returns the whole page as PNG bytes. The browser is killed on exit.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
START_TIMEOUT_S = 20
MAX_MESSAGE = 64 * 1024 * 1024  # a full-page screenshot is one message


_IDS = itertools.count(1)  # one numbering for every session on the socket


class CdpError(Exception):
    pass


class Page:
    """A DevTools session (``session`` empty: the browser itself)."""

    def __init__(self, ws: WebSocketConnection, session: str = "") -> None:
        self.ws = ws
        self.session = session

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One command; its result (events in between are ignored)."""
        sent = next(_IDS)
        message: dict[str, Any] = {"id": sent, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        await self.ws.send_message(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.get_message())
            if reply.get("id") == sent:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise CdpError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        """The whole page (not only the viewport) as PNG."""
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = await self.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
        )
        return base64.b64decode(shot["data"])


async def _browser_url(stderr: trio.abc.ReceiveStream) -> str:
    seen = b""
    while True:
        chunk = await stderr.receive_some(4096)
        if not chunk:
            raise CdpError(f"chromium exited before DevTools listened: {seen[-2000:]!r}")
        seen += chunk
        found = LISTENING.search(seen)
        if found:
            return found.group(1).decode()


async def _drain(stream: trio.abc.ReceiveStream) -> None:
    # Chromium logs to stderr all along; a full pipe would stall it.
    while await stream.receive_some(65536):
        pass


@asynccontextmanager
async def open_page(
    chromium: str, url: str, profile: Path, *, width: int = 1280, height: int = 900
) -> AsyncIterator[Page]:
    process = await trio.lowlevel.open_process(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        async with trio.open_nursery() as nursery:
            with trio.fail_after(START_TIMEOUT_S):
                browser = await _browser_url(process.stderr)
            nursery.start_soon(_drain, process.stderr)
            async with open_websocket_url(browser, max_message_size=MAX_MESSAGE) as ws:
                browser_session = Page(ws)
                target = await browser_session.call("Target.createTarget", url="about:blank")
                attached = await browser_session.call(
                    "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                page = Page(ws, attached["sessionId"])
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await page.call("Page.enable")
                await page.call("Page.navigate", url=url)
                yield page
            nursery.cancel_scope.cancel()
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
