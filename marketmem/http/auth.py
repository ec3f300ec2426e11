"""Bearer tokens as pure functions: issuing, hashing, parsing and constant-time verification.

A token reads ``mm_<id>_<secret>``: the id (public, shown by ``tokens list``) finds the row,
the secret carries 256 random bits. Only ``sha256(token)`` is stored. The token is random, not
a password, so a fast hash is enough; the comparison is constant-time, and an unknown id is
compared against a dummy hash so it takes the same path as a wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "mm"
_TOKEN_RE = re.compile(r"mm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# RFC 6750's b64token: what a bearer token may be made of.
_B64TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_DUMMY_HASH = hashlib.sha256(b"marketmem-no-such-token").hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token() -> IssuedToken:
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return IssuedToken(token_id=token_id, token=token, token_hash=hash_token(token))


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token, else None."""
    match = _TOKEN_RE.fullmatch(token)
    return match.group(1) if match else None


class MalformedAuthorization(ValueError):
    """An Authorization header that is there but is not ``Bearer <token>``; says what is wrong."""


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None when there is no header.

    As RFC 6750 has it, the scheme is case-insensitive and spaces separate it from the one
    token. Any other header raises ``MalformedAuthorization``.
    """
    if header is None:
        return None
    words = header.split()
    if not words:
        raise MalformedAuthorization("it is empty")
    if words[0].lower() != "bearer":
        raise MalformedAuthorization("its scheme is not Bearer")
    if len(words) == 1:
        raise MalformedAuthorization("no token after Bearer")
    if len(words) > 2:
        raise MalformedAuthorization("more than one word after Bearer")
    if not _B64TOKEN_RE.fullmatch(words[1]):
        raise MalformedAuthorization("the token has characters no bearer token has")
    return words[1]


def verify_token(token: str, stored_hash: str | None) -> bool:
    """True when ``token`` hashes to ``stored_hash``; constant-time, also when there is no row."""
    ok = hmac.compare_digest(hash_token(token), stored_hash or _DUMMY_HASH)
    return ok and stored_hash is not None


def valid_name(name: str) -> bool:
    """User names and clone ids: 1-64 of letters, digits and ``_.@-``, not starting with one."""
    return bool(_NAME_RE.fullmatch(name))
