"""4xx answers: each one at DEBUG, and one INFO line a minute with their counts.

A client's mistakes (a bad token, an unknown route, a parameter out of range) are the client's
to fix; logged one by one they bury the service's own lines, and a scanner can make them
thousands. So each 4xx is a DEBUG line (method, route, status, code, message) and is counted
per (status, route template); a minute after the first 4xx of a window, one INFO line gives
the window's counts, e.g.::

    HTTP 4xx answers in the last 60 s: 401 GET /api/v1/assets x12, 404 GET (no route) x3

5xx answers are not counted here: they stay ERROR (500, with the traceback) or WARNING (503).
The minute is trio's clock (``MockClock`` in tests). ``run`` (started beside the server by
``serve_http``) writes the line on time; ``record`` also writes a window that is due, so an app
served without ``run`` (tests on ``ASGITransport``) still gets its summaries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

log = logging.getLogger(__name__)

WINDOW_S = 60.0
# Distinct (status, route) counted per window at most; the rest count as "(other)". Routes
# are templates, so only an unknown path's "(no route)" could grow; this bounds even that.
MAX_KEYS = 64
NO_ROUTE = "(no route)"


def _now() -> float:
    try:
        return trio.current_time()
    except RuntimeError:  # not under trio (a test driving the app some other way)
        return time.monotonic()


def route_resolver(routes: list[BaseRoute]) -> Callable[[Scope], str]:
    """``scope`` -> the template of the route it names (``NO_ROUTE`` when none does), for
    answers given before routing (the body limit) or by it (404, 405)."""

    def route_of(scope: Scope) -> str:
        for route in routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return str(getattr(route, "path", NO_ROUTE))
        return NO_ROUTE

    return route_of


class ClientErrors:
    """Counts of the 4xx answers of one app; see the module docstring."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self.counts: dict[tuple[int, str], int] = {}
        self._since: float | None = None
        self._first = trio.Event()

    def record(
        self, status: int, method: str, route: str, code: str = "", message: str = ""
    ) -> None:
        """One 4xx answer: a DEBUG line, and counted."""
        log.debug("%s %s -> %d %s: %s", method, route, status, code, message)
        now = _now()
        if self._since is not None and now - self._since >= self.window_s:
            self.flush()
        if self._since is None:
            self._since = now
            self._first.set()
        key = (status, f"{method} {route}")
        if key not in self.counts and len(self.counts) >= MAX_KEYS:
            key = (status, "(other)")
        self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self) -> None:
        """Write the window's INFO line (nothing when it had no 4xx) and start a new one."""
        if self.counts and self._since is not None:
            elapsed = _now() - self._since
            parts = ", ".join(
                f"{status} {route} x{n}" for (status, route), n in sorted(self.counts.items())
            )
            log.info("HTTP 4xx answers in the last %.0f s: %s", elapsed, parts)
        self.counts.clear()
        self._since = None
        self._first = trio.Event()

    async def run(self) -> None:
        """Write each window's line when its minute is up; until cancelled (then the last)."""
        try:
            while True:
                await self._first.wait()
                since = self._since
                if since is not None:
                    await trio.sleep_until(since + self.window_s)
                if self._since == since:
                    self.flush()
        finally:
            self.flush()
