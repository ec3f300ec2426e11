"""Tables of the HTTP API: ``api_tokens`` (hashes of bearer tokens) and ``clones``.

Both are written by the storage writer from the ``# --- http ---`` events; every write is
idempotent (a replayed create changes nothing, a second revoke keeps the first time). Each
write function returns the rows it changed, so a command learns from ``StorageWriter.execute``
whether its token or clone existed.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketmem.events import ApiTokenCreated, ApiTokensRevoked, CloneRemoved, CloneSaved
from marketmem.source import Tables
from marketmem.storage.declare import INT, JSON, TEXT, Column, Index, Table
from marketmem.storage.engine import Connection
from marketmem.storage.tables import WriteFn

TOKENS = Table(
    "api_tokens",
    (
        Column("token_id", TEXT),
        Column("user", TEXT),
        Column("token_hash", TEXT),
        Column("created_at_ms", INT),
        Column("revoked_at_ms", INT, nullable=True),
    ),
    primary_key=("token_id",),
    indexes=(Index("api_tokens_by_user", ("user",)),),
)
CLONES = Table(
    "clones",
    (
        Column("clone_id", TEXT),
        Column("owner", TEXT),
        Column("symbols", JSON),
        Column("created_at_ms", INT),
        Column("updated_at_ms", INT),
    ),
    primary_key=("clone_id",),
)

_json = msgspec.json.Encoder()


def _token_created(conn: Connection, ev: Any) -> dict[str, int]:
    conn.execute(
        'INSERT INTO api_tokens (token_id, "user", token_hash, created_at_ms) VALUES (?, ?, ?, ?) '
        "ON CONFLICT(token_id) DO NOTHING",
        (ev.token_id, ev.user, ev.token_hash, ev.created_at_ms),
    )
    return {"api_tokens": conn.changes()}


def _tokens_revoked(conn: Connection, ev: Any) -> dict[str, int]:
    if ev.token_id is not None:
        where, key = "token_id=?", ev.token_id
    elif ev.user is not None:
        where, key = '"user"=?', ev.user
    else:
        raise ValueError("ApiTokensRevoked needs token_id or user")
    conn.execute(
        f"UPDATE api_tokens SET revoked_at_ms=? WHERE {where} AND revoked_at_ms IS NULL",
        (ev.revoked_at_ms, key),
    )
    return {"api_tokens": conn.changes()}


def _clone_saved(conn: Connection, ev: Any) -> dict[str, int]:
    conn.execute(
        "INSERT INTO clones (clone_id, owner, symbols, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(clone_id) DO UPDATE SET owner=excluded.owner, "
        "symbols=excluded.symbols, updated_at_ms=excluded.updated_at_ms",
        (ev.clone_id, ev.owner, _json.encode(ev.symbols).decode(), ev.saved_at_ms, ev.saved_at_ms),
    )
    return {"clones": conn.changes()}


def _clone_removed(conn: Connection, ev: Any) -> dict[str, int]:
    conn.execute("DELETE FROM clones WHERE clone_id=?", (ev.clone_id,))
    return {"clones": conn.changes()}


WRITERS: dict[type, WriteFn] = {
    ApiTokenCreated: _token_created,
    ApiTokensRevoked: _tokens_revoked,
    CloneSaved: _clone_saved,
    CloneRemoved: _clone_removed,
}
TABLES = Tables((TOKENS, CLONES), WRITERS)
