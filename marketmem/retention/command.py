"""``maintain``: one maintenance pass (rollups, retention, vacuum) from the command line.

It opens its own pipeline (bus + writer) and runs the same job as the ``hyperliquid/
maintenance`` channel, recorded as a run of that channel, then prints what it rolled up and
deleted per table. Its progress (``marketmem.progress``) shows on stderr when that is a
terminal.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import trio

from marketmem.clock import WallClock
from marketmem.config import Config
from marketmem.executors import Executor
from marketmem.pipeline import open_pipeline
from marketmem.progress import Progress
from marketmem.retention.actor import Maintainer, PassReport
from marketmem.retention.policy import HOURS_TABLE
from marketmem.runs import execute_run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "maintain", help="run one maintenance pass: 1-hour rollups, retention deletes, vacuum"
    )
    p.set_defaults(func=cmd_maintain)


def cmd_maintain(args: argparse.Namespace, config: Config) -> int:
    code: int = trio.run(maintain_once, config)
    return code


async def maintain_once(
    config: Config,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    clock: WallClock | None = None,
    executor: Executor | None = None,
) -> int:
    """Run one pass and print its report; 0 when the run succeeded, 1 when it failed.

    Progress (stage and units done) goes to ``progress_stream`` (stderr) when it is a terminal.
    """
    out = out or sys.stdout
    with Progress(label="maintenance", stream=progress_stream) as progress:

        def tell(stage: str, n: int) -> None:
            progress.set_label(stage)
            progress.advance(n)

        async with open_pipeline(config, clock=clock, executor=executor) as rt:
            maintainer = Maintainer(rt, progress=tell)
            started = trio.current_time()
            result = await execute_run(rt, "hyperliquid", "maintenance", maintainer.job)
            elapsed = trio.current_time() - started
    line = f"hyperliquid/maintenance: {result.status} in {elapsed:.2f}s"
    if result.error:
        line += f" ({result.error})"
    print(line, file=out)
    if maintainer.last_report is not None:
        print(format_report(maintainer.last_report), file=out)
    return 0 if result.status == "ok" else 1


def format_report(report: PassReport) -> str:
    kept = report.hours_examined - report.hours_rolled_up
    lines = [
        f"  rolled up: {report.hours_rolled_up} hour(s) written to {HOURS_TABLE} "
        f"({report.hours_examined} examined, {kept} unchanged or skipped)",
        "  deleted:",
    ]
    names = [*report.deleted, *report.absent]
    width = max((len(n) for n in names), default=0)
    for table, n in report.deleted.items():
        lines.append(f"    {table.ljust(width)}  {n}")
    for table in report.absent:
        lines.append(f"    {table.ljust(width)}  - (table absent)")
    if report.days_prepared:
        lines.append(f"  days: {report.days_prepared} day partition(s) made ahead")
    mib = 1024 * 1024
    lines.append(
        f"  space: {report.pages_released} free page(s) released, {report.free_pages} left "
        f"for reuse; file {report.file_pages * report.page_size / mib:.1f} MiB"
    )
    return "\n".join(lines)
