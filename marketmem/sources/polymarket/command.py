"""``discover polymarket``: run Polymarket discovery once and print what it found."""

from __future__ import annotations

import argparse
import sys

import trio

from marketmem.config import Config
from marketmem.pipeline import open_pipeline
from marketmem.runs import execute_run
from marketmem.sources.polymarket.jobs import (
    SOURCE,
    DiscoverySummary,
    PolymarketShared,
    discovery_job,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "discover", help="run discovery of a source once (discover polymarket) and print counts"
    )
    p.add_argument("source", choices=["polymarket"])
    p.set_defaults(func=main)


def _progress(route: str, pages: int, objects: int) -> None:
    sys.stderr.write(f"\r{route}: {pages} page(s), {objects} object(s)   ")
    sys.stderr.flush()


def main(args: argparse.Namespace, config: Config) -> int:
    return trio.run(discover_polymarket, config)


async def discover_polymarket(config: Config) -> int:
    summary = DiscoverySummary()
    progress = _progress if sys.stderr.isatty() else None
    async with open_pipeline(config) as rt:
        result = await execute_run(
            rt, SOURCE, "discovery", discovery_job(PolymarketShared.of(config), summary, progress)
        )
    if progress is not None:
        sys.stderr.write("\n")
    print(format_summary(result.status, result.error, summary))
    return 0 if result.status == "ok" else 1


def format_summary(status: str, error: str | None, summary: DiscoverySummary) -> str:
    lines = [f"polymarket/discovery: {status}" + (f" ({error})" if error else "")]
    if status == "ok":
        lines.append(f"  events:  {summary.events}")
        lines.append(f"  markets: {summary.markets}")
        links = sum(summary.links_per_asset.values())
        lines.append(f"  links:   {links}")
        for asset, n in summary.links_per_asset.items():
            lines.append(f"    {asset:<6} {n}")
        if summary.skipped:
            lines.append(f"  skipped: {summary.skipped} (see the run's notes)")
    return "\n".join(lines)
