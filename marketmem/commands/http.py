"""HTTP API commands: ``serve`` (the API alone), ``mcp`` (the MCP tools over stdio),
``tokens create|revoke|list`` and ``clones add|list|remove``.

Tokens and clones are written like everything else: as events through the bus to the storage
writer (``open_pipeline``). The command waits for its event's commit (``writer.execute``), so
it can tell whether the token or clone it named existed. Lists read a read-only connection.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TypeVar

import msgspec
import trio

from marketmem.clock import SystemClock
from marketmem.commands.core import format_table, iso
from marketmem.commands.database import need_database, unreadable
from marketmem.config import Config
from marketmem.events import (
    ApiTokenCreated,
    ApiTokensRevoked,
    CloneRemoved,
    CloneSaved,
    Event,
)
from marketmem.heap import settle_heap
from marketmem.http.access import list_clones, list_tokens
from marketmem.http.app import Api, api_error_of
from marketmem.http.auth import issue_token, token_id_of, valid_name
from marketmem.http.feed import db_feed
from marketmem.http.server import serve_http
from marketmem.pipeline import open_pipeline
from marketmem.storage import engine
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.reads import Connection
from marketmem.storage.writer import CommitRejected
from marketmem.usage import CannotStart, UsageError

T = TypeVar("T")

log = logging.getLogger(__name__)

COMMIT_TIMEOUT_S = 30.0
SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@:_-./")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API alone (read-only; no ingestion)")
    p.add_argument("--bind", metavar="HOST:PORT", help="override [http] bind")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the MCP tools over stdio (for desktop agents; read-only)")
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="file holding the bearer token (default: $MARKETMEM_TOKEN)",
    )
    p.set_defaults(func=cmd_mcp)

    tokens = sub.add_parser("tokens", help="API bearer tokens").add_subparsers(
        dest="tokens_command", metavar="ACTION", required=True
    )
    p = tokens.add_parser("create", help="issue a token for a user (printed once, last line)")
    p.add_argument("--user", required=True)
    p.set_defaults(func=cmd_tokens_create)
    p = tokens.add_parser("revoke", help="revoke one token (--id or --token) or a user's tokens")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="token_id", help="token id (as `tokens list` shows)")
    which.add_argument("--token", help="the token itself")
    which.add_argument("--user", help="every active token of this user")
    p.set_defaults(func=cmd_tokens_revoke)
    p = tokens.add_parser("list", help="token ids, users and times (never the tokens)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tokens_list)

    clones = sub.add_parser("clones", help="clones allowed to read latest data").add_subparsers(
        dest="clones_command", metavar="ACTION", required=True
    )
    p = clones.add_parser("add", help="add a clone, or replace its owner and symbols")
    p.add_argument("--id", dest="clone_id", required=True)
    p.add_argument("--owner", required=True, help="the user whose tokens may read it")
    p.add_argument("--symbols", required=True, help="comma-separated, e.g. BTC,ETH")
    p.set_defaults(func=cmd_clones_add)
    p = clones.add_parser("list", help="every clone with owner and symbols")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clones_list)
    p = clones.add_parser("remove", help="remove a clone")
    p.add_argument("--id", dest="clone_id", required=True)
    p.set_defaults(func=cmd_clones_remove)


# --- pure checks ---------------------------------------------------------------------------


def check_name(what: str, value: str) -> str:
    if not valid_name(value):
        raise UsageError(
            f"{what} {value!r}: use 1-64 letters, digits and _.@- (starting with a letter or digit)"
        )
    return value


def parse_symbols(text: str) -> list[str]:
    """``"BTC, eth,BTC"`` -> ``["BTC", "eth"]``: trimmed, de-duplicated, order kept."""
    out: list[str] = []
    for part in text.split(","):
        symbol = part.strip()
        if not symbol:
            continue
        if len(symbol) > 40 or not set(symbol) <= SYMBOL_CHARS:
            raise UsageError(f"symbol {symbol[:40]!r}: use letters, digits and @:_-./ only")
        if symbol not in out:
            out.append(symbol)
    if not out:
        raise UsageError("--symbols: give at least one symbol, e.g. BTC,ETH")
    return out


# --- writing through the pipeline ----------------------------------------------------------


async def commit_event(config: Config, event: Event) -> dict[str, int]:
    """Publish ``event`` and wait for the writer to commit it; returns rows changed per table."""
    async with open_pipeline(config) as rt:
        assert rt.writer is not None
        with trio.move_on_after(COMMIT_TIMEOUT_S):
            try:
                return (await rt.writer.execute(event)).counts
            except CommitRejected as exc:
                raise UsageError(f"{type(event).__name__} was not stored: {exc}") from None
        failing = f": {rt.writer.failure}" if rt.writer.failure else " (see the log above)"
    raise UsageError(
        f"the writer did not commit {type(event).__name__} within {COMMIT_TIMEOUT_S:g}s{failing}"
    )


def run_commit(config: Config, event: Event) -> dict[str, int]:
    result: dict[str, int] = trio.run(commit_event, config, event)
    return result


def _now_ms() -> int:
    return SystemClock().now_ms()


# --- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    if args.bind:
        host, sep, port = args.bind.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise UsageError(f"--bind: expected HOST:PORT, got {args.bind!r}")
        config = msgspec.structs.replace(
            config, http=msgspec.structs.replace(config.http, bind=args.bind)
        )
    # Read-only: it never creates the database, and refuses to serve one that is not there
    # (a wrong path would otherwise answer 503 for ever; see README, Errors).
    need_database(config, write=False, starting=True)
    trio.run(serve_until_signal, config)
    return 0


async def serve_until_signal(config: Config) -> None:
    """The API alone. Its live stream polls the database (``http.feed.DbFeed``): this process
    has no bus, and the ``run`` instance writing the database may be another process."""
    clock = SystemClock()
    hub, feed = db_feed(config, clock)
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await nursery.start(hub.run)
            nursery.start_soon(feed.run)
            port = await nursery.start(partial(serve_http, config, clock, streams=hub))
            settle_heap()
            host = config.http.bind.rpartition(":")[0]
            print(f"marketmem API on http://{host}:{port} (Ctrl-C to stop)", flush=True)
            async for _ in signals:
                hub.close()
                nursery.cancel_scope.cancel()
                break


# --- mcp -----------------------------------------------------------------------------------


def mcp_token(token_file: str | None, environ: Mapping[str, str]) -> str:
    """The token of ``--token-file``, else of ``MARKETMEM_TOKEN``; a usage error without one."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--token-file: cannot read {token_file}: {exc}") from None
        if not token:
            raise UsageError(f"--token-file: {token_file} is empty")
        return token
    token = environ.get("MARKETMEM_TOKEN", "").strip()
    if not token:
        raise UsageError("no token: give --token-file PATH or set MARKETMEM_TOKEN")
    return token


def cmd_mcp(args: argparse.Namespace, config: Config) -> int:
    token = mcp_token(args.token_file, os.environ)
    trio.run(serve_mcp_stdio, config, token)
    return 0


async def serve_mcp_stdio(config: Config, token: str) -> None:
    """The MCP tools over stdin/stdout as the token's user, who is checked first: a wrong or
    revoked token (or a database that cannot be read) refuses to start."""
    # Imported here: the SDK takes seconds to import, which no other command should pay.
    from mcp.server.stdio import stdio_server

    from marketmem.http.mcp import build_server

    api = Api(config, SystemClock())
    try:
        now = api.clock.now_ms()

        def check(conn: Connection) -> str:
            user: str = api.access.authenticate(conn, token, now)
            return user

        try:
            user = await api.pool.run(check)
        except Exception as exc:
            error = api_error_of(exc)
            if error is None:
                raise
            raise CannotStart(f"token refused: {error.message}") from None
        log.info("MCP over stdio for user %s", user)
        server = build_server(api, lambda ctx: token)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await trio.to_thread.run_sync(api.pool.close)


# --- tokens --------------------------------------------------------------------------------


def cmd_tokens_create(args: argparse.Namespace, config: Config) -> int:
    user = check_name("user", args.user)
    issued = issue_token()
    event = ApiTokenCreated(
        token_id=issued.token_id,
        user=user,
        token_hash=issued.token_hash,
        created_at_ms=_now_ms(),
    )
    need_database(config, write=True, create=True)
    run_commit(config, event)
    print(f"token {issued.token_id} created for user {user}; it is shown only once:")
    print(issued.token)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, config: Config) -> int:
    token_id: str | None = args.token_id
    if args.token is not None:
        token_id = token_id_of(args.token.strip())
        if token_id is None:
            raise UsageError("--token: not a marketmem token (mm_<id>_<secret>)")
    user = check_name("user", args.user) if args.user is not None else None
    event = ApiTokensRevoked(token_id=token_id, user=user, revoked_at_ms=_now_ms())
    need_database(config, write=True)
    changed = run_commit(config, event).get("api_tokens", 0)
    target = f"user {user}" if user is not None else f"token {token_id}"
    if changed == 0:
        print(f"no active token for {target}", file=sys.stderr)
        return 1
    print(f"revoked {changed} token(s) of {target}")
    return 0


def _read(config: Config, fn: Callable[[Connection], list[T]]) -> list[T]:
    need_database(config, write=False)
    path = config.database()
    try:
        conn = engine.open_ro(path, busy_timeout_ms=config.storage.busy_timeout_ms)
    except STORAGE_ERROR as exc:
        raise unreadable(config, exc) from None
    try:
        return fn(conn)
    except STORAGE_ERROR as exc:
        raise unreadable(config, exc) from None
    finally:
        conn.close()


def cmd_tokens_list(args: argparse.Namespace, config: Config) -> int:
    rows = _read(config, list_tokens)
    if args.json:
        print(msgspec.json.encode(rows).decode())
        return 0
    table = [
        [r.token_id, r.user, iso(r.created_at_ms) or "-", iso(r.revoked_at_ms) or "-"] for r in rows
    ]
    print(format_table(["ID", "USER", "CREATED", "REVOKED"], table))
    return 0


# --- clones --------------------------------------------------------------------------------


def cmd_clones_add(args: argparse.Namespace, config: Config) -> int:
    clone_id = check_name("clone id", args.clone_id)
    owner = check_name("owner", args.owner)
    symbols = parse_symbols(args.symbols)
    event = CloneSaved(
        clone_id=clone_id,
        owner=owner,
        symbols=symbols,
        saved_at_ms=_now_ms(),
    )
    need_database(config, write=True, create=True)
    run_commit(config, event)
    print(f"clone {clone_id} saved: owner {owner}, symbols {', '.join(symbols)}")
    return 0


def cmd_clones_list(args: argparse.Namespace, config: Config) -> int:
    clones = _read(config, list_clones)
    if args.json:
        out = [{"id": c.clone_id, "owner": c.owner, "symbols": list(c.symbols)} for c in clones]
        print(msgspec.json.encode(out).decode())
        return 0
    table = [[c.clone_id, c.owner, ",".join(c.symbols)] for c in clones]
    print(format_table(["ID", "OWNER", "SYMBOLS"], table))
    return 0


def cmd_clones_remove(args: argparse.Namespace, config: Config) -> int:
    clone_id = check_name("clone id", args.clone_id)
    need_database(config, write=True)
    changed = run_commit(config, CloneRemoved(clone_id=clone_id)).get("clones", 0)
    if changed == 0:
        print(f"no clone {clone_id}", file=sys.stderr)
        return 1
    print(f"clone {clone_id} removed")
    return 0
