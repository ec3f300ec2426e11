"""Progress: one rate-limited \\r line on a terminal, nothing at all elsewhere."""

from __future__ import annotations

import io
import os

import pytest

from marketmem.progress import Progress


class FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self.tty

    def fileno(self) -> int:
        # No real terminal behind it: Progress falls back to 80 columns.
        raise io.UnsupportedOperation("fileno")


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def frames(out: str) -> list[str]:
    """What each redraw left on screen (padding stripped)."""
    return [f.rstrip() for f in out.split("\r")[1:]]


def test_not_a_terminal_writes_nothing_at_all() -> None:
    stream = FakeStream(tty=False)
    with Progress(10, label="backfill", stream=stream) as p:
        for _ in range(10):
            p.advance()
        p.set_total(20)
        p.set_label("backfill ETH")
    assert stream.getvalue() == ""


def test_terminal_draws_rate_limited_and_ends_with_a_newline() -> None:
    stream, clock = FakeStream(tty=True), FakeClock()
    p = Progress(1000, label="discovery", unit="pages", stream=stream, clock=clock)
    for _ in range(500):
        p.advance()  # no time passes: only the first call draws
    assert stream.getvalue().count("\r") == 1
    assert "\n" not in stream.getvalue()
    clock.t += 0.05
    p.advance(100)
    assert stream.getvalue().count("\r") == 1  # still within min_interval_s
    clock.t += 0.06
    p.advance(400)
    assert stream.getvalue().count("\r") == 2
    clock.t += 10
    p.close()
    p.close()  # idempotent
    out = stream.getvalue()
    assert out.endswith("\n") and out.count("\n") == 1
    final = frames(out)[-1]
    assert final.startswith("discovery: 1000/1000 pages (100%)")
    assert "\n" not in final.rstrip("\n")


def test_line_shows_rate_eta_and_elapsed() -> None:
    clock = FakeClock()
    p = Progress(100, label="maintain", stream=FakeStream(tty=False), clock=clock)
    clock.t += 10
    p.advance(50)
    assert p.line() == "maintain: 50/100 (50%) 5.0/s eta 10s 10s"


def test_unknown_total_shows_a_count() -> None:
    stream, clock = FakeStream(tty=True), FakeClock()
    with Progress(label="backfill", unit="bars", stream=stream, clock=clock) as p:
        p.advance(7)
    assert frames(stream.getvalue())[-1].startswith("backfill: 7 bars")
    assert "%" not in stream.getvalue()


def test_set_total_later_turns_the_count_into_a_fraction() -> None:
    stream, clock = FakeStream(tty=True), FakeClock()
    with Progress(label="x", stream=stream, clock=clock) as p:
        p.advance(3)
        clock.t += 1
        p.set_total(12)
    assert frames(stream.getvalue())[-1].startswith("x: 3/12 (25%)")


def test_a_shorter_line_blanks_the_rest_of_the_longer_one() -> None:
    stream, clock = FakeStream(tty=True), FakeClock()
    p = Progress(label="a very long label for the first item", stream=stream, clock=clock)
    p.advance()
    clock.t += 1
    p.set_label("b")
    drawn = stream.getvalue().split("\r")[1:]
    assert len(drawn) == 2
    assert len(drawn[1]) >= len(drawn[0])
    assert drawn[1].rstrip().startswith("b: 1")


def test_long_lines_are_cut_to_the_terminal_width() -> None:
    stream = FakeStream(tty=True)
    with Progress(label="x" * 300, stream=stream) as p:
        p.advance()
    assert all(len(f) <= 79 for f in stream.getvalue().strip("\n").split("\r")[1:])


def test_an_error_inside_still_ends_the_line() -> None:
    stream = FakeStream(tty=True)
    with pytest.raises(ValueError), Progress(5, label="job", stream=stream) as p:
        p.advance()
        raise ValueError("boom")
    assert stream.getvalue().endswith("\n")


def test_a_closed_or_odd_stream_disables_progress() -> None:
    stream = FakeStream(tty=True)
    stream.close()  # isatty() on a closed stream raises ValueError
    p = Progress(3, stream=stream)
    assert not p.enabled
    p.advance()
    p.close()


def test_a_terminal_that_reports_no_width_gets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pty nobody sized (ssh -T, some CI runners) reports 0 columns.
    monkeypatch.setattr(
        "marketmem.progress.os.get_terminal_size", lambda fd: os.terminal_size((0, 0))
    )

    class SizedStream(FakeStream):
        def fileno(self) -> int:
            return 99

    stream = SizedStream(tty=True)
    with Progress(label="x" * 300, stream=stream) as p:
        p.advance()
    drawn = stream.getvalue().strip("\n").split("\r")[1:]
    assert drawn and all(len(f) == 79 for f in drawn)
