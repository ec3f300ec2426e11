"""Who may read what: bearer token lookup and clone ownership, read from ``api_tokens`` and
``clones`` on a read-only connection (the CLI's ``list`` commands use the same reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import msgspec

from marketmem.http.auth import hash_token, token_id_of, verify_token
from marketmem.http.cache import KeyedTtlCache
from marketmem.http.errors import ApiError, not_found, unauthorized
from marketmem.storage.db import query


@dataclass(frozen=True)
class Clone:
    clone_id: str
    owner: str
    symbols: tuple[str, ...]

    def symbol(self, requested: str) -> str | None:
        """The clone's own spelling of ``requested`` (exact first, then case-insensitive)."""
        if requested in self.symbols:
            return requested
        low = requested.lower()
        return next((s for s in self.symbols if s.lower() == low), None)


def authenticate(conn: apsw.Connection, token: str | None) -> str:
    """The user of a valid, unrevoked token; raises 401 otherwise."""
    if token is None:
        raise unauthorized("missing bearer token (Authorization: Bearer <token>)")
    token_id = token_id_of(token)
    rows = (
        query(
            conn,
            "SELECT user, token_hash FROM api_tokens WHERE token_id=? AND revoked_at_ms IS NULL",
            (token_id,),
        )
        if token_id
        else []
    )
    row = rows[0] if rows else None
    if not verify_token(token, row["token_hash"] if row else None) or row is None:
        raise unauthorized("invalid or revoked bearer token")
    user: str = row["user"]
    return user


def _clone(row: dict[str, Any]) -> Clone:
    symbols = msgspec.json.decode(row["symbols"], type=list[str])
    return Clone(clone_id=row["clone_id"], owner=row["owner"], symbols=tuple(symbols))


def get_clone(conn: apsw.Connection, clone_id: str) -> Clone | None:
    rows = query(conn, "SELECT clone_id, owner, symbols FROM clones WHERE clone_id=?", (clone_id,))
    return _clone(rows[0]) if rows else None


def check_clone(clone: Clone | None, user: str, clone_id: str, symbol: str) -> str:
    """The clone's spelling of ``symbol``: 404 unknown clone, 403 not the owner, 404 not a
    symbol the clone trades."""
    if clone is None:
        raise not_found(f"no clone {clone_id!r}")
    if clone.owner != user:
        raise ApiError(403, "forbidden", f"clone {clone_id!r} belongs to another user")
    own = clone.symbol(symbol)
    if own is None:
        traded = ", ".join(clone.symbols)
        raise not_found(f"clone {clone_id!r} does not trade {symbol!r} (it trades {traded})")
    return own


class CachedAccess:
    """Token and clone checks reused for ``ttl_ms`` (only successes are kept), so a revoked
    token or a changed clone takes effect within that time. Tokens are kept by hash."""

    def __init__(self, ttl_ms: int) -> None:
        self._users: KeyedTtlCache[str, str] = KeyedTtlCache(ttl_ms)
        self._clones: KeyedTtlCache[str, Clone] = KeyedTtlCache(ttl_ms)

    def cached_user(self, token: str | None, now_ms: int) -> str | None:
        return None if token is None else self._users.peek(hash_token(token), now_ms)

    def cached_clone(self, clone_id: str, now_ms: int) -> Clone | None:
        return self._clones.peek(clone_id, now_ms)

    def authenticate(self, conn: apsw.Connection, token: str | None, now_ms: int) -> str:
        user = self.cached_user(token, now_ms)
        if user is None:
            user = authenticate(conn, token)
            assert token is not None
            self._users.put(hash_token(token), user, now_ms)
        return user

    def clone(self, conn: apsw.Connection, clone_id: str, now_ms: int) -> Clone | None:
        clone = self.cached_clone(clone_id, now_ms)
        if clone is None:
            clone = get_clone(conn, clone_id)
            if clone is not None:
                self._clones.put(clone_id, clone, now_ms)
        return clone


def list_clones(conn: apsw.Connection) -> list[Clone]:
    rows = query(conn, "SELECT clone_id, owner, symbols FROM clones ORDER BY clone_id")
    return [_clone(r) for r in rows]


def list_tokens(conn: apsw.Connection) -> list[dict[str, Any]]:
    """Every token's id, user and times (never the hash)."""
    return query(
        conn,
        "SELECT token_id, user, created_at_ms, revoked_at_ms FROM api_tokens "
        "ORDER BY user, created_at_ms",
    )
