"""Health rules, as pure functions: the status of one source/channel from its run history.

- ``missing``: never ran.
- ``running``: the latest run is still going (and started within the stale threshold).
- ``failed``: the last finished run failed.
- ``stale``: the last success is older than ``max(2 x cadence, cadence + 300 s)``
  (or there is no success and nothing newer to say).
- ``ok``: otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    MISSING = "missing"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    STALE = "stale"


def stale_after_s(cadence_s: float) -> float:
    return max(2 * cadence_s, cadence_s + 300)


@dataclass(frozen=True)
class RunHistory:
    """What health needs to know of a channel's runs (times in ms; None when there is none)."""

    latest_status: str | None = None  # status of the most recently started run
    latest_started_ms: int | None = None
    last_finished_status: str | None = None  # "ok" | "failed"
    last_success_ms: int | None = None  # finished_at of the last ok run


def channel_status(history: RunHistory, cadence_s: float, now_ms: int) -> Status:
    if history.latest_status is None:
        return Status.MISSING
    stale_ms = stale_after_s(cadence_s) * 1000
    if (
        history.latest_status == "running"
        and history.latest_started_ms is not None
        and now_ms - history.latest_started_ms <= stale_ms
    ):
        return Status.RUNNING
    if history.last_finished_status == "failed":
        return Status.FAILED
    if history.last_success_ms is not None and now_ms - history.last_success_ms <= stale_ms:
        return Status.OK
    return Status.STALE


def healthy(status: Status) -> bool:
    """What ``check`` accepts for an enabled channel."""
    return status in (Status.OK, Status.RUNNING)
