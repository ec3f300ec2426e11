"""Reads of ``api_tokens`` and ``clones``: the token behind a bearer token, and clones.

``user`` is quoted: it is a reserved word of PostgreSQL (``SELECT user`` there names the
session's role). The list reads are empty before their table exists.
"""

from __future__ import annotations

import msgspec

from marketmem.storage.catalog import has_table
from marketmem.storage.models.access import ActiveToken, Clone, TokenInfo
from marketmem.storage.reads import Connection, fetch, fetch_one

TOKENS = "api_tokens"
CLONES = "clones"

_symbols = msgspec.json.Decoder(list[str])


def active_token(conn: Connection, token_id: str) -> ActiveToken | None:
    """The unrevoked token ``token_id``, or None."""
    return fetch_one(
        conn,
        ActiveToken,
        f'SELECT "user", token_hash FROM {TOKENS} WHERE token_id = ? AND revoked_at_ms IS NULL',
        (token_id,),
    )


def list_tokens(conn: Connection) -> list[TokenInfo]:
    """Every token's id, user and times (never the hash), by user then creation."""
    if not has_table(conn, TOKENS):
        return []
    return fetch(
        conn,
        TokenInfo,
        f'SELECT token_id, "user", created_at_ms, revoked_at_ms FROM {TOKENS} '
        'ORDER BY "user", created_at_ms',
    )


def _clone(clone_id: str, owner: str, symbols: str) -> Clone:
    return Clone(clone_id, owner, tuple(_symbols.decode(symbols)))


def get_clone(conn: Connection, clone_id: str) -> Clone | None:
    return fetch_one(
        conn,
        _clone,
        f"SELECT clone_id, owner, symbols FROM {CLONES} WHERE clone_id = ?",
        (clone_id,),
    )


def list_clones(conn: Connection) -> list[Clone]:
    if not has_table(conn, CLONES):
        return []
    return fetch(conn, _clone, f"SELECT clone_id, owner, symbols FROM {CLONES} ORDER BY clone_id")
