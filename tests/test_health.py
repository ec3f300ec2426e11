"""Health rules: every state and its boundaries."""

from __future__ import annotations

import pytest

from marketmem.health import RunHistory, Status, channel_status, healthy, stale_after_s

MIN = 60_000
NOW = 10_000 * MIN


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [(60, 360), (300, 600), (1800, 3600), (3600, 7200), (1, 301), (300.5, 601)],
)
def test_stale_threshold(cadence: float, expected: float) -> None:
    assert stale_after_s(cadence) == expected


def test_missing_when_never_ran() -> None:
    assert channel_status(RunHistory(), 60, NOW) is Status.MISSING


def test_running_while_latest_run_is_going() -> None:
    h = RunHistory(latest_status="running", latest_started_ms=NOW - MIN)
    assert channel_status(h, 60, NOW) is Status.RUNNING
    # Even after a failure: the newest fact is that a run is going.
    h = RunHistory(latest_status="running", latest_started_ms=NOW, last_finished_status="failed")
    assert channel_status(h, 60, NOW) is Status.RUNNING


def test_a_run_stuck_running_past_the_threshold_is_not_running() -> None:
    stuck = RunHistory(latest_status="running", latest_started_ms=NOW - 360_001)
    assert channel_status(stuck, 60, NOW) is Status.STALE
    edge = RunHistory(latest_status="running", latest_started_ms=NOW - 360_000)
    assert channel_status(edge, 60, NOW) is Status.RUNNING


def test_failed_when_last_finished_run_failed() -> None:
    h = RunHistory(
        latest_status="failed",
        latest_started_ms=NOW - MIN,
        last_finished_status="failed",
        last_success_ms=NOW - 2 * MIN,
    )
    assert channel_status(h, 60, NOW) is Status.FAILED


def test_ok_until_exactly_the_stale_threshold() -> None:
    def at(success_age_ms: int) -> Status:
        h = RunHistory(
            latest_status="ok",
            latest_started_ms=NOW - success_age_ms - 1000,
            last_finished_status="ok",
            last_success_ms=NOW - success_age_ms,
        )
        return channel_status(h, 300, NOW)

    assert at(0) is Status.OK
    assert at(600_000) is Status.OK
    assert at(600_001) is Status.STALE


def test_stale_uses_cadence_plus_300_for_short_cadences() -> None:
    h = RunHistory(
        latest_status="ok",
        latest_started_ms=NOW,
        last_finished_status="ok",
        last_success_ms=NOW - 200_000,
    )
    # 2 x 60 s = 120 s would call it stale; cadence + 300 s = 360 s does not.
    assert channel_status(h, 60, NOW) is Status.OK


def test_healthy_states() -> None:
    assert healthy(Status.OK) and healthy(Status.RUNNING)
    assert not any(healthy(s) for s in (Status.MISSING, Status.FAILED, Status.STALE))
