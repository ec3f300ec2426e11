"""The ``demo`` command (and ``run --demo``): the whole service against local venues.

The database is ``MARKETMEM_DB`` when set, else ``data/demo.db`` (never the production file).

NOTE: ``marketmem.demo`` (and with it the local venues and simulators) is imported only when
the demo runs: every other command stays off the fakes.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import msgspec
import trio

from marketmem.commands.database import need_database
from marketmem.config import Config
from marketmem.health import Status, healthy
from marketmem.storage import engine
from marketmem.usage import UsageError

if TYPE_CHECKING:
    from marketmem.demo import DemoSummary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="offline demo: local venues, every channel, the HTTP API (no network needed)",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--port", type=int, default=0, help="HTTP API port (default: any free port)")
    p.add_argument("--no-http", action="store_true", help="do not start the HTTP server")
    p.add_argument("--seed", type=int, help="simulator seed (default: the demo's own)")
    p.set_defaults(func=cmd_demo)


def demo_storage(config: Config) -> Config:
    """The demo's database: ``MARKETMEM_DB`` (already applied by load_config), else DEMO_DB."""
    from marketmem.demo import DEMO_DB

    if os.environ.get("MARKETMEM_DB"):
        return config
    return msgspec.structs.replace(
        config, storage=msgspec.structs.replace(config.storage, path=DEMO_DB)
    )


def all_healthy(summary: DemoSummary) -> bool:
    return all(healthy(Status(c.status)) for c in summary.channels if c.enabled)


def start_demo(
    config: Config,
    *,
    duration_s: float | None,
    http: bool = True,
    port: int = 0,
    seed: int | None = None,
) -> int:
    """Run the demo until Ctrl-C or ``duration_s``; exit 0 when every channel ended healthy."""
    from marketmem.demo import DEMO_SEED, run_demo

    if duration_s is not None and duration_s <= 0:
        raise UsageError("--duration must be positive")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: expected 0-65535, got {port}")
    config = demo_storage(config)
    need_database(config, write=True, create=True, starting=True)
    summary: DemoSummary = trio.run(
        lambda: run_demo(
            config,
            duration_s=duration_s,
            http=http,
            http_port=port,
            seed=DEMO_SEED if seed is None else seed,
        )
    )
    db = engine.display(config.database())
    print(f"health later: MARKETMEM_DB={db} bin/marketmem status")
    if not all_healthy(summary):
        print("some channels did not end healthy (see above)", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    return start_demo(
        config, duration_s=args.duration, http=not args.no_http, port=args.port, seed=args.seed
    )
