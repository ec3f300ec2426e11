"""``tokens`` and ``clones`` commands: written through the writer, read back by the API, on
both engines (``engines``; a list before any database is empty: no SQLite file yet, or no
tables yet in the PostgreSQL database); argument errors on SQLite only."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from marketmem.cli import UsageError, main
from marketmem.commands.http import parse_symbols
from marketmem.http.access import authenticate, list_clones
from marketmem.http.errors import ApiError
from marketmem.plugins import load_config
from marketmem.storage import engine


@pytest.fixture
def config_file(tmp_path: Path, database: Path | str) -> str:
    path = tmp_path / "marketmem.toml"
    where = f'url = "{database}"' if engine.is_postgres(database) else f'path = "{database}"'
    path.write_text(f"[storage]\n{where}\nwriter_max_gather_s = 0.001\n")
    return str(path)


def run(config_file: str, *argv: str) -> int:
    return main(["--config", config_file, *argv])


@pytest.mark.engines
def test_token_lifecycle(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config_file, "tokens", "create", "--user", "alice") == 0
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    assert token.startswith("mm_") and " " not in token
    token_id = token.split("_")[1]
    conn = engine.open_ro(load_config(config_file).database())
    try:
        assert authenticate(conn, token) == "alice"
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchall()
        assert token not in repr(stored)

        assert run(config_file, "tokens", "list", "--json") == 0
        listed = msgspec.json.decode(capsys.readouterr().out)
        assert [(t["token_id"], t["user"], t["revoked_at_ms"]) for t in listed] == [
            (token_id, "alice", None)
        ]
        assert "token_hash" not in listed[0]

        assert run(config_file, "tokens", "revoke", "--token", token) == 0
        with pytest.raises(ApiError) as info:
            authenticate(conn, token)
        assert info.value.status == 401
        # Revoking again changes nothing and says so.
        assert run(config_file, "tokens", "revoke", "--id", token_id) == 1
        assert "no active token" in capsys.readouterr().err
    finally:
        conn.close()


@pytest.mark.engines
def test_revoke_every_token_of_a_user(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert run(config_file, "tokens", "create", "--user", "bob") == 0
    capsys.readouterr()
    assert run(config_file, "tokens", "revoke", "--user", "bob") == 0
    assert "revoked 2 token(s)" in capsys.readouterr().out


@pytest.mark.engines
def test_clone_lifecycle(config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            config_file,
            "clones",
            "add",
            "--id",
            "c1",
            "--owner",
            "alice",
            "--symbols",
            "BTC, ETH,BTC",
        )
        == 0
    )
    assert (
        run(config_file, "clones", "add", "--id", "c1", "--owner", "bob", "--symbols", "SOL") == 0
    )
    conn = engine.open_ro(load_config(config_file).database())
    try:
        [clone] = list_clones(conn)
        assert (clone.clone_id, clone.owner, clone.symbols) == ("c1", "bob", ("SOL",))
    finally:
        conn.close()
    capsys.readouterr()
    assert run(config_file, "clones", "list", "--json") == 0
    assert msgspec.json.decode(capsys.readouterr().out) == [
        {"id": "c1", "owner": "bob", "symbols": ["SOL"]}
    ]
    assert run(config_file, "clones", "remove", "--id", "c1") == 0
    assert run(config_file, "clones", "remove", "--id", "c1") == 1
    assert "no clone c1" in capsys.readouterr().err


def test_lists_before_any_database_say_there_is_none(
    config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (("clones", "list", "--json"), ("tokens", "list")):
        assert run(config_file, *argv) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("marketmem: no database at ")
        assert err.endswith(" (run `bin/marketmem run` or `demo` first)\n")


@pytest.mark.parametrize(
    "argv",
    [
        ("tokens", "create", "--user", "bad name"),
        ("clones", "add", "--id", "c/1", "--owner", "alice", "--symbols", "BTC"),
        ("clones", "add", "--id", "c1", "--owner", "alice", "--symbols", " , "),
        ("tokens", "revoke", "--token", "not-a-token"),
        ("serve", "--bind", "nowhere"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    config_file: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    assert run(config_file, *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("marketmem: ") and "\n" not in err


def test_parse_symbols_keeps_order_and_refuses_junk() -> None:
    assert parse_symbols("BTC, eth,BTC,,kPEPE") == ["BTC", "eth", "kPEPE"]
    assert parse_symbols("xyz:TSLA") == ["xyz:TSLA"]
    with pytest.raises(UsageError):
        parse_symbols("BTC;DROP")
    with pytest.raises(UsageError):
        parse_symbols("")
