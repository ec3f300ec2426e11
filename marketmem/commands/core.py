"""Core commands: ``run``, ``status``, ``check``, ``cadence`` and one-off ``ingest``."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import trio

from marketmem.clock import SystemClock
from marketmem.commands.database import need_database, unreadable
from marketmem.commands.demo import start_demo
from marketmem.config import Config
from marketmem.health import Status, healthy, stale_after_s
from marketmem.pipeline import open_pipeline
from marketmem.runtime import ChannelSpec
from marketmem.source import open_sources
from marketmem.storage import engine
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.models.hyperliquid import CandleGap
from marketmem.storage.models.runs import ChannelHealth
from marketmem.storage.reads import hyperliquid as hl_reads
from marketmem.storage.reads.runs import channel_health
from marketmem.supervisor import run_channels_once, run_service
from marketmem.usage import CannotStart, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the service: every enabled channel and the HTTP API")
    p.add_argument("--local", action="store_true", help="bounded run: few coins, short delays")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--no-http", action="store_true", help="do not start the HTTP server")
    p.add_argument("--demo", action="store_true", help="the offline demo (same as `demo`)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="health of every source/channel")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("check", help="exit 0 when every enabled channel is ok or running")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("cadence", help="every source/channel with its cadence and stale threshold")
    p.set_defaults(func=cmd_cadence)

    p = sub.add_parser("ingest", help="run the channels of one source once (e.g. ingest defillama)")
    p.add_argument("source")
    p.add_argument("channel", nargs="?", help="only this channel")
    p.set_defaults(func=cmd_ingest)


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    if getattr(args, "demo", False):
        if args.local:
            raise UsageError("--demo and --local cannot be combined")
        return start_demo(config, duration_s=args.duration, http=not args.no_http)
    if not config.enabled_channels():
        raise CannotStart(
            f"no channel is enabled: {config.source_path} turns every one off (enabled = false)"
        )
    need_database(config, write=True, create=True, starting=True)
    trio.run(
        lambda: run_service(
            config, local=args.local, duration_s=args.duration, http=not args.no_http
        )
    )
    return 0


# --- status / check / cadence ------------------------------------------------------------


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class ChannelReport:
    """One channel's health, with the candle gaps pending (the candles channel's only)."""

    health: ChannelHealth
    gaps: list[CandleGap]


def health_report(config: Config, now_ms: int) -> list[ChannelReport]:
    """Every channel's health; the candles row also lists the candle gaps pending."""
    path = config.database()
    conn = engine.open_ro(path, busy_timeout_ms=config.storage.busy_timeout_ms)
    try:
        rows = channel_health(conn, config, now_ms)
        gaps = hl_reads.candle_gaps(conn)
    finally:
        conn.close()
    candles = ("hyperliquid", "candles")
    return [ChannelReport(h, gaps if (h.source, h.channel) == candles else []) for h in rows]


def status_json_rows(rows: list[ChannelReport]) -> list[dict[str, Any]]:
    return [
        {
            "source": r.health.source,
            "channel": r.health.channel,
            "enabled": r.health.enabled,
            "status": r.health.status,
            "cadence_s": r.health.cadence_s,
            "stale_after_s": r.health.stale_after_s,
            "last_started_at": iso(r.health.last_started_at_ms),
            "last_finished_at": iso(r.health.last_finished_at_ms),
            "last_success_at": iso(r.health.last_success_at_ms),
            "rows_written": r.health.rows_written,
            "error": r.health.error,
            "instance": r.health.instance,
            "gaps": [
                {
                    "coin": g.coin,
                    "first_open_time": iso(g.first_open_ms),
                    "last_open_time": iso(g.last_open_ms),
                    "detected_at": iso(g.detected_at_ms),
                    "reason": g.reason,
                    "failed_attempts": g.attempts,
                    "last_error": g.last_error,
                }
                for g in r.gaps
            ],
        }
        for r in rows
    ]


def age(now_ms: int, ms: int | None) -> str:
    if ms is None:
        return "-"
    s = max(0, (now_ms - ms) // 1000)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


# ``status`` wraps its last column to the terminal, or to this when not writing to one.
PIPE_WIDTH = 100
# The last column keeps at least this much room, however wide the others are.
MIN_LAST_COLUMN = 20


def output_width() -> int:
    """The terminal's width when stdout is one, else ``PIPE_WIDTH``."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return PIPE_WIDTH


def format_wrapped_table(headers: list[str], rows: list[list[str]], width: int) -> str:
    """``format_table`` with the last column whole, wrapped to ``width``: its continuation
    lines are indented under the column."""
    fixed = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
        for i, h in enumerate(headers[:-1])
    ]
    indent = sum(fixed) + 2 * len(fixed)
    room = max(MIN_LAST_COLUMN, width - indent)

    def line(cells: list[str], last: str) -> str:
        left = "  ".join(c.ljust(w) for c, w in zip(cells, fixed, strict=True))
        return f"{left}  {last}".rstrip()

    lines = [line(headers[:-1], headers[-1])]
    for r in rows:
        pieces = textwrap.wrap(r[-1], room, break_long_words=True, break_on_hyphens=False)
        lines.append(line(r[:-1], pieces[0] if pieces else ""))
        lines.extend(" " * indent + piece for piece in pieces[1:])
    return "\n".join(lines)


def _report_or_exit(config: Config) -> list[ChannelReport]:
    need_database(config, write=False)
    try:
        return health_report(config, SystemClock().now_ms())
    except STORAGE_ERROR as exc:
        raise unreadable(config, exc) from None


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    rows = _report_or_exit(config)
    if args.json:
        sys.stdout.write(msgspec.json.encode(status_json_rows(rows)).decode() + "\n")
        return 0
    now = SystemClock().now_ms()
    table = [
        [
            f"{h.source}/{h.channel}",
            "yes" if h.enabled else "no",
            h.status,
            age(now, h.last_success_at_ms),
            h.instance or "-",
            h.error or "",
        ]
        for h in (r.health for r in rows)
    ]
    headers = ["CHANNEL", "ENABLED", "STATUS", "LAST OK", "INSTANCE", "LAST ERROR"]
    print(format_wrapped_table(headers, table, output_width()))
    for r in rows:
        if r.gaps:
            print(f"\n{r.health.source}/{r.health.channel}: {len(r.gaps)} candle gap(s) pending")
            for g in r.gaps:
                print("  " + gap_line(g, now))
    return 0


def gap_line(g: CandleGap, now_ms: int) -> str:
    span = "link down" if g.last_open_ms is None else f"to {iso(g.last_open_ms)}"
    line = (
        f"{g.coin}: from {iso(g.first_open_ms)} {span}, after {g.reason}, "
        f"detected {age(now_ms, g.detected_at_ms)} ago"
    )
    if g.attempts:
        line += f", {g.attempts} failed attempt(s): {g.last_error}"
    return line


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    rows = [r.health for r in _report_or_exit(config)]
    offenders = [h for h in rows if h.enabled and not healthy(Status(h.status))]
    if not any(h.enabled for h in rows):
        print("no channel is enabled", file=sys.stderr)
        return 1
    for h in offenders:
        detail = f": {h.error}" if h.error and h.status == "failed" else ""
        print(f"{h.source}/{h.channel}: {h.status}{detail}")
    if not offenders:
        print(f"ok: {sum(h.enabled for h in rows)} enabled channel(s) healthy")
    return 1 if offenders else 0


def cmd_cadence(args: argparse.Namespace, config: Config) -> int:
    table = [
        [
            f"{s}/{c}",
            "yes" if ch.enabled else "no",
            f"{ch.cadence_s:g}s",
            f"{stale_after_s(ch.cadence_s):g}s",
        ]
        for s, c, ch in config.channels()
    ]
    print(format_table(["CHANNEL", "ENABLED", "CADENCE", "STALE AFTER"], table))
    return 0


# --- ingest ------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    need_database(config, write=True, create=True)
    return trio.run(ingest_once, config, args.source, args.channel)


async def ingest_once(config: Config, source: str, channel: str | None) -> int:
    """Run the ChannelSpecs of ``source`` (or one channel) once; print runs and rows per table."""
    failed = 0
    async with open_pipeline(config) as rt, open_sources(rt) as built:
        polled = [s for s in built if isinstance(s, ChannelSpec)]
        specs = [s for s in polled if s.source == source]
        if channel is not None:
            specs = [s for s in specs if s.channel == channel]
        if not specs:
            known = sorted({f"{s.source} {s.channel}" for s in polled})
            raise UsageError(
                f"no one-off channel {source}{' ' + channel if channel else ''}; "
                f"known: {', '.join(known) or 'none'}"
            )
        for spec, result in zip(specs, await run_channels_once(rt, built, specs), strict=True):
            failed += result.status != "ok"
            line = f"{spec.source}/{spec.channel}: {result.status}, {result.rows_written} row(s)"
            if result.error:
                line += f" ({result.error})"
            print(line)
        writer = rt.writer
        assert writer is not None
    totals = writer.stats.rows_by_table
    for table in sorted(totals):
        if table != "ingestion_runs":
            print(f"  {table}: {totals[table]} row(s) committed")
    return 1 if failed else 0
