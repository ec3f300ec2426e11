"""Who may read what: bearer token lookup and clone ownership, over the storage's reads of
``api_tokens`` and ``clones`` (``storage.reads.access``) on a read-only connection; the
CLI's ``list`` commands use the same reads, named here.
"""

from __future__ import annotations

from marketmem.http.auth import hash_token, token_id_of, verify_token
from marketmem.http.cache import KeyedTtlCache
from marketmem.http.errors import ApiError, not_found, unauthorized
from marketmem.storage.models.access import Clone
from marketmem.storage.reads import Connection
from marketmem.storage.reads.access import active_token, get_clone
from marketmem.storage.reads.access import list_clones as list_clones
from marketmem.storage.reads.access import list_tokens as list_tokens


def authenticate(conn: Connection, token: str | None) -> str:
    """The user of a valid, unrevoked token; raises 401 otherwise."""
    if token is None:
        raise unauthorized("missing bearer token (Authorization: Bearer <token>)")
    token_id = token_id_of(token)
    row = active_token(conn, token_id) if token_id else None
    if not verify_token(token, row.token_hash if row else None) or row is None:
        raise unauthorized("invalid or revoked bearer token")
    return row.user


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
        self.users: KeyedTtlCache[str, str] = KeyedTtlCache(ttl_ms)  # by token hash
        self.clones: KeyedTtlCache[str, Clone] = KeyedTtlCache(ttl_ms)

    def cached_user(self, token_hash: str, now_ms: int) -> str | None:
        """The user of the token hashed ``token_hash`` (``hash_token``) when its check is kept."""
        return self.users.peek(token_hash, now_ms)

    def cached_clone(self, clone_id: str, now_ms: int) -> Clone | None:
        return self.clones.peek(clone_id, now_ms)

    def authenticate(self, conn: Connection, token: str | None, now_ms: int) -> str:
        if token is None:
            return authenticate(conn, token)  # 401
        token_hash = hash_token(token)
        user = self.users.peek(token_hash, now_ms)
        if user is None:
            user = authenticate(conn, token)
            self.users.put(token_hash, user, now_ms)
        return user

    def clone(self, conn: Connection, clone_id: str, now_ms: int) -> Clone | None:
        clone = self.cached_clone(clone_id, now_ms)
        if clone is None:
            clone = get_clone(conn, clone_id)
            if clone is not None:
                self.clones.put(clone_id, clone, now_ms)
        return clone

    def recheck_user(self, conn: Connection, token: str, now_ms: int) -> None:
        """Check ``token`` again: kept while it is valid, forgotten once it is not."""
        token_hash = hash_token(token)
        try:
            user = authenticate(conn, token)
        except ApiError:
            self.users.drop(token_hash)
            return
        self.users.put(token_hash, user, now_ms)

    def recheck_clone(self, conn: Connection, clone_id: str, now_ms: int) -> None:
        """Read ``clone_id`` again: kept while it exists, forgotten once it does not."""
        clone = get_clone(conn, clone_id)
        if clone is None:
            self.clones.drop(clone_id)
        else:
            self.clones.put(clone_id, clone, now_ms)
