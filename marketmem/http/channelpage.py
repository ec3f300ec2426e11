"""The page of one channel, ``/dashboard/channels/{source}/{channel}`` (bearer token): its
health, its run outcomes over 24 h and rows written per minute, and its latest runs with their
full error texts, which the public dashboard never shows.

``read_channel_page`` gathers it on a read-only connection; ``render_channel_page`` is pure
(every value escaped). The page has no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from marketmem.config import Config
from marketmem.http.charts import CHART_CSS, seconds
from marketmem.http.page import PAGE_CSS
from marketmem.http.panels import ChannelRuns, runs_row, strip_start, utc
from marketmem.query import limit_param
from marketmem.storage.models.runs import ChannelHealth, Run, RunMinute
from marketmem.storage.reads import Connection
from marketmem.storage.reads.runs import channel_health, recent_runs, run_minutes

LIMIT = limit_param(100, 1000)
PARAMS = (LIMIT,)


@dataclass(frozen=True)
class ChannelPage:
    health: ChannelHealth
    runs: list[Run]
    minutes: list[RunMinute]
    now_ms: int


def read_channel_page(
    conn: Connection, config: Config, source: str, channel: str, now_ms: int, *, limit: int
) -> ChannelPage | None:
    """The channel's page; None when the config has no such channel."""
    health = next(
        (
            h
            for h in channel_health(conn, config, now_ms)
            if (h.source, h.channel) == (source, channel)
        ),
        None,
    )
    if health is None:
        return None
    return ChannelPage(
        health=health,
        runs=recent_runs(conn, source, channel, limit=limit),
        minutes=run_minutes(conn, source, channel, strip_start(now_ms)),
        now_ms=now_ms,
    )


def _iso(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _error(text: str | None) -> str:
    return "" if text is None else f'<pre class="error">{escape(text)}</pre>'


def _run_row(run: Run) -> str:
    took = (
        "-"
        if run.finished_at_ms is None
        else seconds((run.finished_at_ms - run.started_at_ms) / 1000)
    )
    status = escape(run.status)
    return (
        f'<tr data-run-id="{escape(run.run_id)}" data-status="{status}">'
        f"<td><code>{escape(run.run_id)}</code></td><td>{_iso(run.started_at_ms)}</td>"
        f'<td>{_iso(run.finished_at_ms)}</td><td class="num">{escape(took)}</td>'
        f'<td class="{status}">{status}</td><td class="num">{run.rows_written}</td>'
        f"<td>{_error(run.error)}</td></tr>"
    )


def render_channel_page(
    page: ChannelPage,
    skips: Sequence[tuple[int, int]] | None,
    *,
    limit: int,
    skips_since_ms: int | None = None,
) -> str:
    """The whole document. ``skips`` None: this process does not run the scheduler; else
    they were counted from ``skips_since_ms``."""
    h = page.health
    name = f"{h.source}/{h.channel}"
    status = escape(h.status if h.enabled else "disabled")
    facts = [
        ("status", f'<span class="{status}">{status}</span>'),
        ("cadence", escape(seconds(h.cadence_s))),
        ("stale after", escape(seconds(h.stale_after_s))),
        ("last started", _iso(h.last_started_at_ms)),
        ("last finished", _iso(h.last_finished_at_ms)),
        ("last success", _iso(h.last_success_at_ms)),
        ("rows (last run)", "-" if h.rows_written is None else str(h.rows_written)),
        ("last error", _error(h.error) or "-"),
    ]
    health = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    row = runs_row(ChannelRuns(h.source, h.channel, h.enabled, page.minutes), skips, page.now_ms)
    runs = "".join(_run_row(r) for r in page.runs)
    shown = (
        f"the latest {len(page.runs)} (at most {limit}; ?limit= for more)"
        if page.runs
        else "none yet"
    )
    skipped = (
        "counted by the process that runs the scheduler; not here" if skips is None else "shown"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>marketmem · {escape(name)}</title>
<style>{PAGE_CSS}{CHART_CSS}</style>
</head>
<body data-channel="{escape(name)}">
<p><a href="../../../dashboard">dashboard</a></p>
<h1>{escape(name)}</h1>
<p class="note">as of {escape(utc(page.now_ms))}</p>
<table class="health">{health}</table>
<h2>Runs over 24 h and rows written per minute</h2>
<p class="legend"><span class="key ok"></span>ok <span class="key failed"></span>failed
<span class="key skipped"></span>skipped (skipped ticks: {escape(skipped)})</p>
<table class="runs"><tbody>{row}</tbody></table>
<h2>Runs: {escape(shown)}</h2>
<table class="history"><thead><tr><th>run</th><th>started</th><th>finished</th><th>took</th>
<th>status</th><th>rows</th><th>error or note</th></tr></thead><tbody>{runs}</tbody></table>
</body>
</html>
"""
