"""The ``marketmem`` command line: global options, config loading, subcommand dispatch.

The core commands live in ``marketmem.commands`` (``core``, ``http``, ``ops``, ``demo``); a
source adds its one-offs through ``Source.commands`` (``discover polymarket``, ``maintain``).
Each ``register(subparsers)`` adds its parsers and sets ``func(args, config) -> int``. A bad
config exits 2 with one line; no traceback reaches the user for expected errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from marketmem.commands import core, demo, http, ops
from marketmem.config import ConfigError
from marketmem.logs import setup_logging
from marketmem.plugins import SOURCES, load_config
from marketmem.usage import Refused, UsageError

CORE_COMMANDS = (core.register, http.register, ops.register, demo.register)


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
    for register in CORE_COMMANDS:
        register(sub)
    for source in SOURCES:
        if source.commands is not None:
            source.commands(sub)
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
    except Refused as exc:
        print(f"marketmem: {exc.prefix}{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseExceptionGroup as group:
        # Errors raised inside a trio nursery arrive wrapped; a group made only of usage
        # errors (or refusals) is still one line per error.
        refused, rest = group.split((UsageError, ConfigError, Refused))
        if rest is not None or refused is None:
            raise
        leaves = _leaves(refused)
        # The same refusal met by several tasks is still said once.
        lines = (f"{leaf.prefix if isinstance(leaf, Refused) else ''}{leaf}" for leaf in leaves)
        for line in dict.fromkeys(lines):
            print(f"marketmem: {line}", file=sys.stderr)
        return 1 if all(isinstance(leaf, Refused) for leaf in leaves) else 2
    return code


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
