"""When no venue answers at start: one line that suggests the offline demo.

A machine without network (or behind a firewall) sees every venue fail at once: the first run
of each venue source (``Source.venue``) finds it unreachable (connection refused, unknown
host, timeouts). ``FirstRound`` watches those first runs (and actor crashes) and, when every
enabled venue source's first run failed so, logs one WARNING line naming each cause and
``offline? try bin/marketmem demo``. One venue that answers, or fails for another reason (an
HTTP status, a bad payload: it did answer), and nothing is said.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterable

import httpx
import trio_websocket

from marketmem.config import Config
from marketmem.events import RunFinished
from marketmem.runs import describe_error

log = logging.getLogger(__name__)

HINT = "offline? try bin/marketmem demo"

_NO_ANSWER_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
    }
)


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says nothing answered at all: refused, unknown host, timed out."""
    if isinstance(exc, BaseExceptionGroup):
        return bool(exc.exceptions) and all(unreachable(e) for e in exc.exceptions)
    flag = getattr(exc, "unreachable", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | trio_websocket.ConnectionTimeout
    ):
        return True
    if isinstance(exc, socket.gaierror | TimeoutError):
        return True
    if isinstance(exc, OSError) and exc.errno in _NO_ANSWER_ERRNOS:
        return True
    # trio-websocket and the clients wrap the OS error: look at what caused it.
    inner = exc.__cause__ or exc.__context__
    return inner is not None and inner is not exc and unreachable(inner)


# Each venue's cause is cut to this many characters in the one line.
MAX_CAUSE_CHARS = 200


def _cause(exc: BaseException) -> str:
    """The failure in short: the last attempt's error of a client that gave up."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    cause = getattr(exc, "cause", None)
    text = cause if isinstance(cause, str) and cause else describe_error(exc)
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."


class FirstRound:
    """Watches the first run of each enabled venue source (see the module docstring)."""

    def __init__(self, config: Config, enabled: Iterable[tuple[str, str]]) -> None:
        on = set(enabled)
        # (source, channel) -> the venue source that owns it (its ``Source.name``).
        self._owner = {
            (ch.source, ch.name): src.name
            for src in config.SOURCES
            if src.venue
            for ch in src.channels
            if (ch.source, ch.name) in on
        }
        self._pending = set(self._owner.values())
        self._order = [s.name for s in config.SOURCES if s.name in self._pending]
        self._causes: dict[str, str] = {}
        self.done = not self._pending

    def run_ended(self, run: RunFinished, failure: Exception | None) -> None:
        """``Runtime.on_run``: a poll run ended, with what its job raised."""
        self.report(run.source, run.channel, failure)

    def report(self, source: str, channel: str, failure: BaseException | None) -> None:
        """The end of a run (or an actor's crash) of ``source/channel``."""
        owner = self._owner.get((source, channel))
        if self.done or owner is None or owner not in self._pending:
            return
        self._pending.discard(owner)
        if failure is None or not unreachable(failure):
            self.done = True  # it answered: the machine is online
            return
        self._causes[owner] = _cause(failure)
        if not self._pending:
            self.done = True
            causes = "; ".join(f"{name}: {self._causes[name]}" for name in self._order)
            log.warning("no venue answered (%s); %s", causes, HINT)
