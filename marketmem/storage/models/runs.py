"""Read models of runs and health: one ``ingestion_runs`` row, a channel's health, and its
finished runs counted per minute (the dashboard's charts)."""

from __future__ import annotations

import msgspec


class Run(msgspec.Struct, frozen=True, gc=False):
    """One ``ingestion_runs`` row."""

    run_id: str
    source: str
    channel: str
    started_at_ms: int
    finished_at_ms: int | None
    status: str
    rows_written: int
    error: str | None
    # The instance that ran it (``[service] name``; None for runs of releases before 4).
    instance: str | None = None


class ChannelHealth(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One source/channel of the config with its health (``marketmem.health``): times of
    its latest run, last finished run and last success; rows and error of its last finished
    run (of its latest run while none finished). Cadences are as configured (int or float)."""

    source: str
    channel: str
    enabled: bool
    status: str
    cadence_s: float
    stale_after_s: float
    last_started_at_ms: int | None
    last_finished_at_ms: int | None
    last_success_at_ms: int | None
    rows_written: int | None
    error: str | None
    # The instance that ran the latest run (several instances may share a database).
    instance: str | None = None


class RunMinute(msgspec.Struct, frozen=True, gc=False):
    """The finished runs of one channel with one status (ok or failed) whose finish falls in
    the minute starting at ``minute_ms``: how many, and the rows they wrote."""

    minute_ms: int
    status: str
    runs: int
    rows_written: int
