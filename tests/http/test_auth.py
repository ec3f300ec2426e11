"""Token issuing, hashing, parsing and verification (pure)."""

from __future__ import annotations

import pytest

from marketmem.http.auth import (
    MalformedAuthorization,
    bearer_token,
    hash_token,
    issue_token,
    token_id_of,
    valid_name,
    verify_token,
)


def test_issued_token_verifies_and_only_its_hash_is_kept() -> None:
    issued = issue_token()
    assert issued.token.startswith(f"mm_{issued.token_id}_")
    assert issued.token_hash == hash_token(issued.token)
    assert issued.token not in issued.token_hash
    assert token_id_of(issued.token) == issued.token_id
    assert verify_token(issued.token, issued.token_hash)


def test_tokens_are_unique() -> None:
    tokens = {issue_token().token for _ in range(50)}
    assert len(tokens) == 50


def test_wrong_secret_and_missing_row_do_not_verify() -> None:
    a, b = issue_token(), issue_token()
    assert not verify_token(a.token, b.token_hash)
    assert not verify_token(a.token, None)
    # A forged token with a known id and a different secret fails as well.
    forged = a.token[:-1] + ("A" if a.token[-1] != "A" else "B")
    assert token_id_of(forged) == a.token_id
    assert not verify_token(forged, a.token_hash)


@pytest.mark.parametrize(
    "token",
    ["", "mm_abc_def", "mm_0123456789abcdef_short", "xx_0123456789abcdef_" + "a" * 43, "mm_" * 30],
)
def test_malformed_tokens_have_no_id(token: str) -> None:
    assert token_id_of(token) is None


def test_token_with_trailing_newline_is_malformed() -> None:
    assert token_id_of(issue_token().token + "\n") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        # RFC 6750: "Bearer" 1*SP b64token, so more than one space is still one token.
        ("BEARER   abc  ", "abc"),
        ("Bearer mm_0123456789abcdef_A-b_c", "mm_0123456789abcdef_A-b_c"),
        ("Bearer abc+/==", "abc+/=="),
        (None, None),
    ],
)
def test_bearer_header_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("Basic xyz", "its scheme is not Bearer"),
        ("Token abc", "its scheme is not Bearer"),
        ("abc", "its scheme is not Bearer"),
        ("Bearer", "no token after Bearer"),
        ("Bearer ", "no token after Bearer"),
        ("Bearer  ", "no token after Bearer"),
        ("Bearer abc extra", "more than one word after Bearer"),
        ("Bearer a  b", "more than one word after Bearer"),
        ("Bearer abc,def", "the token has characters no bearer token has"),
        ("Bearer abc=def", "the token has characters no bearer token has"),
        ('Bearer "abc"', "the token has characters no bearer token has"),
    ],
)
def test_a_malformed_header_is_told_apart_from_a_missing_one(header: str, why: str) -> None:
    with pytest.raises(MalformedAuthorization) as info:
        bearer_token(header)
    assert str(info.value) == why


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("alice", True),
        ("clone-1.a_b@x", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("", False),
        ("-lead", False),
        ("has space", False),
        ("slash/no", False),
        ("tab\n", False),
    ],
)
def test_valid_names(name: str, ok: bool) -> None:
    assert valid_name(name) is ok
