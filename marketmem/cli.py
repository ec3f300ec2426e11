"""The ``marketmem`` command line: global options, config loading, subcommand dispatch.

Each subcommand lives in a module of ``marketmem.commands`` listed in ``COMMAND_MODULES``;
the module's ``register(subparsers)`` adds its parser and sets ``func(args, config) -> int``.
A bad config exits 2 with one line; no traceback reaches the user for expected errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from marketmem.config import ConfigError, load_config
from marketmem.logs import setup_logging

COMMAND_MODULES: tuple[str, ...] = (
    "marketmem.commands.core",
    "marketmem.commands.http",
    "marketmem.commands.polymarket",
    "marketmem.commands.maintain",
    "marketmem.commands.ops",
    "marketmem.commands.demo",
)


class UsageError(Exception):
    """A command-line mistake the user can fix; printed as one line, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketmem", description="Market memory of a crypto trading backend."
    )
    parser.add_argument(
        "--config", help="config file (default: $MARKETMEM_CONFIG or config/marketmem.toml)"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"marketmem: bad config: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = args.func(args, config)
    except (UsageError, ConfigError) as exc:
        print(f"marketmem: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BaseExceptionGroup as group:
        # Errors raised inside a trio nursery arrive wrapped; a group made only of usage
        # errors is still a usage error.
        usage, rest = group.split((UsageError, ConfigError))
        if rest is not None or usage is None:
            raise
        for leaf in _leaves(usage):
            print(f"marketmem: {leaf}", file=sys.stderr)
        return 2
    return code


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
