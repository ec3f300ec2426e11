"""Progress of long one-off jobs (backfill, discovery, maintain, backup) on a terminal.

``Progress`` redraws one status line with ``\\r`` when its stream is a terminal, at most every
``min_interval_s``, and ends that line with a newline when it closes. When the stream is not
a terminal (a pipe, a file, journald) it writes nothing at all, so logs and captured output
stay clean. It has no dependencies and does no I/O besides writing to its stream.

NOTE: not thread-safe; call it from one thread (the trio thread, or the one worker thread
that runs a blocking job).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

DEFAULT_MIN_INTERVAL_S = 0.1
DEFAULT_WIDTH = 80


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _width(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return DEFAULT_WIDTH
    return columns if columns > 0 else DEFAULT_WIDTH  # a pty with no size set says 0


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """``with Progress(total, label=...) as p: p.advance(n)``; see the module docstring."""

    def __init__(
        self,
        total: int | None = None,
        *,
        label: str = "",
        unit: str = "",
        stream: TextIO | None = None,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream)
        self.total = total
        self.label = label
        self.unit = unit
        self.done = 0
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._started = clock()
        self._last_draw: float | None = None
        self._drawn_len = 0
        self._closed = False

    # --- what jobs call ----------------------------------------------------------------

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done (negative when a job starts a part over)."""
        self.done += n
        self._maybe_draw()

    def set_total(self, total: int | None) -> None:
        """The total once known (or when it changes); None shows a plain count."""
        self.total = total
        self._maybe_draw()

    def set_label(self, label: str) -> None:
        """What is being worked on now (e.g. ``"backfill BTC"``)."""
        self.label = label
        self._maybe_draw()

    def close(self) -> None:
        """Draw the final state and end the line (terminal only); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Also on errors: the message that follows then starts on a line of its own.
        self.close()

    # --- drawing -----------------------------------------------------------------------

    def line(self) -> str:
        """The status line as it would be drawn now."""
        elapsed = max(0.0, self._clock() - self._started)
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{self.label}:" if self.label else ""]
        if self.total is not None and self.total > 0:
            pct = min(100.0, max(0.0, 100.0 * self.done / self.total))
            parts.append(f"{self.done}/{self.total}{unit} ({pct:.0f}%)")
        else:
            parts.append(f"{self.done}{unit}")
        if elapsed > 0 and self.done > 0:
            rate = self.done / elapsed
            parts.append(f"{rate:.1f}/s" if rate < 10 else f"{rate:.0f}/s")
            if self.total is not None and self.total > self.done:
                parts.append(f"eta {_duration((self.total - self.done) / rate)}")
        parts.append(_duration(elapsed))
        return " ".join(p for p in parts if p)

    def _maybe_draw(self) -> None:
        if not self.enabled or self._closed:
            return
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self.min_interval_s:
            return
        self._draw()

    def _draw(self) -> None:
        self._last_draw = self._clock()
        text = self.line()[: max(1, _width(self.stream) - 1)]
        # Pad over the rest of a longer previous line instead of relying on ANSI codes.
        pad = " " * max(0, self._drawn_len - len(text))
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._drawn_len = len(text)
