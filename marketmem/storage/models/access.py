"""Read models of the HTTP API's tables: bearer tokens (never the token, and its hash only
for checking one) and clones."""

from __future__ import annotations

import msgspec


class ActiveToken(msgspec.Struct, frozen=True, gc=False):
    """An unrevoked token: whose it is, and the hash to check a presented token against."""

    user: str
    token_hash: str


class TokenInfo(msgspec.Struct, frozen=True, gc=False):
    """A token as ``tokens list`` shows it: its id, user and times."""

    token_id: str
    user: str
    created_at_ms: int
    revoked_at_ms: int | None


class Clone(msgspec.Struct, frozen=True):
    """A clone: its owner and the symbols it trades."""

    clone_id: str
    owner: str
    symbols: tuple[str, ...]

    def symbol(self, requested: str) -> str | None:
        """The clone's own spelling of ``requested`` (exact first, then case-insensitive)."""
        if requested in self.symbols:
            return requested
        low = requested.lower()
        return next((s for s in self.symbols if s.lower() == low), None)
