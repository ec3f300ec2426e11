"""Issue 18, "one line, never a traceback": every case below ends with a non-zero exit and
exactly one stderr line naming the cause (``marketmem: ...``), never a traceback.

Each case runs ``cli.main`` in-process (as the user's command would), except where only a
separate process can make the condition (noted in the test).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.plugins import parse_config
from tests.configs import channels_off

ROOT = Path(__file__).resolve().parent.parent


def one_line(code: int, err: str, expected_code: int) -> str:
    """Assert the exit code and a single stderr line without a traceback; return the line."""
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("marketmem: ")
    return lines[0]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(args)
    return code, capsys.readouterr().err


# --- the config file ---------------------------------------------------------------------


def test_a_config_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "latin1.toml"
    conf.write_bytes('[service]\nname = "Zürich"\n'.encode("latin-1"))
    line = one_line(*run_cli(["--config", str(conf), "status"], capsys), 2)
    assert line == (
        f"marketmem: bad config: {conf}: not UTF-8 text (byte 0xfc at offset 19); "
        "TOML files are UTF-8"
    )


def test_relative_config_and_database_paths_are_the_current_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "here.toml").write_text("[http]\nenabled = false\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKETMEM_DB", "rel/m.db")
    code, _ = run_cli(["--config", "here.toml", "tokens", "create", "--user", "u"], capsys)
    assert code == 0
    assert (tmp_path / "rel" / "m.db").is_file()
    assert not (ROOT / "rel").exists()


def test_bin_marketmem_runs_in_the_callers_directory(tmp_path: Path) -> None:
    """bin/marketmem used to cd into the repository, so a relative --config was the repo's."""
    (tmp_path / "mine.toml").write_text("[hyperliquid.channels]\nregistry = { enabled = false }\n")
    done = subprocess.run(
        [str(ROOT / "bin" / "marketmem"), "--config", "mine.toml", "cadence"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    registry = next(line for line in done.stdout.splitlines() if "hyperliquid/registry" in line)
    assert registry.split()[1] == "no"


# --- channels ----------------------------------------------------------------------------


def test_a_config_that_lists_no_channel_runs_every_one_at_its_cadence() -> None:
    """The README: every key is optional, the default applies; a channel's is on."""
    cfg = parse_config("[hyperliquid.channels]\ncandles = { cadence_s = 30 }\n")
    enabled = {(s, c): ch.cadence_s for s, c, ch in cfg.enabled_channels()}
    assert len(enabled) == len(cfg.channels()) == 16
    assert enabled["hyperliquid", "candles"] == 30
    assert enabled["polymarket", "later_markets"] == 1800
    off = parse_config("[defillama.channels]\ncapital_flows = { enabled = false }\n")
    assert [f"{s}/{c}" for s, c, ch in off.channels() if not ch.enabled] == [
        "defillama/capital_flows"
    ]


def test_run_with_no_channel_enabled_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "off.toml"
    conf.write_text(channels_off(f'[storage]\npath = "{tmp_path / "m.db"}"\n'))
    line = one_line(*run_cli(["--config", str(conf), "run", "--duration", "1"], capsys), 1)
    assert line == (
        f"marketmem: cannot start: no channel is enabled: {conf} turns every one off "
        "(enabled = false)"
    )
    assert not (tmp_path / "m.db").exists()


# --- the database --------------------------------------------------------------------------

# Every command that opens the database, with what it is given (HTTP off, so `run` and
# `demo` stop at the database; `serve` binds no port before it).
DATABASE_COMMANDS = {
    "run": ["run", "--duration", "1"],
    "demo": ["demo", "--duration", "1", "--no-http"],
    "serve": ["serve", "--bind", "127.0.0.1:0"],
    "tokens create": ["tokens", "create", "--user", "u"],
    "tokens list": ["tokens", "list"],
    "tokens revoke": ["tokens", "revoke", "--user", "u"],
    "clones add": ["clones", "add", "--id", "c", "--owner", "u", "--symbols", "BTC"],
    "clones list": ["clones", "list"],
    "clones remove": ["clones", "remove", "--id", "c"],
}
STARTING = {"run", "demo", "serve"}
# ... and those that only read health.
COMMANDS = {**DATABASE_COMMANDS, "status": ["status"], "check": ["check"]}


def config_file(tmp_path: Path) -> Path:
    conf = tmp_path / "c.toml"
    conf.write_text("[http]\nenabled = false\n")
    return conf


def refused(
    tmp_path: Path,
    database: str | Path,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """The one line ``command`` gives on ``database``, without its ``marketmem: `` prefix
    (nor ``cannot start: ``, which exactly the commands that start a service have)."""
    monkeypatch.setenv("MARKETMEM_DB", str(database))
    args = ["--config", str(config_file(tmp_path)), *COMMANDS[command]]
    line = one_line(*run_cli(args, capsys), 1).removeprefix("marketmem: ")
    assert line.startswith("cannot start: ") == (command in STARTING), line
    return line.removeprefix("cannot start: ")


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_database_path_that_is_a_directory(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "m.db"
    folder.mkdir()
    line = refused(tmp_path, folder, command, monkeypatch, capsys)
    assert line == f"database {folder} is a directory, not a SQLite file"


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_database_that_is_not_a_sqlite_file(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n")
    line = refused(tmp_path, text, command, monkeypatch, capsys)
    assert line == f"{text} is not a SQLite database (it does not start with SQLite's header)"
    assert text.read_text() == "these are my notes, not a database\n"


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_database_path_under_a_regular_file(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not writable: as root no permission bit stops a write, so a folder that is a file
    (and, below, an immutable file or folder) makes the path that cannot be written."""
    (tmp_path / "plain").write_text("x")
    path = tmp_path / "plain" / "m.db"
    line = refused(tmp_path, path, command, monkeypatch, capsys)
    if command in ("run", "demo", "tokens create", "clones add"):
        assert line == f"database {path} cannot be created: {tmp_path / 'plain'} is not a directory"
    else:
        assert line == f"no database at {path} (run `bin/marketmem run` or `demo` first)"


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """``chattr +i`` (root cannot write an immutable file either); skips where the file
    system has no such attribute. Undone after the test so tmp_path can be removed."""
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not available here: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def seeded_database(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "m.db"
    path.parent.mkdir()
    assert (
        cli.main(["--config", str(config_file(tmp_path)), "tokens", "create", "--user", "u"]) == 0
    )
    return path


WRITING = ["run", "demo", "tokens create", "tokens revoke", "clones add", "clones remove"]


@pytest.mark.parametrize("command", WRITING)
def test_a_database_file_that_cannot_be_written(
    command: str,
    tmp_path: Path,
    immutable: Callable[[Path], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite opens a file it may not write read-only without a word (the writer would then
    retry its first commit for ever); the command says so before it starts."""
    monkeypatch.setenv("MARKETMEM_DB", str(tmp_path / "data" / "m.db"))
    path = seeded_database(tmp_path)
    immutable(path)
    line = refused(tmp_path, path, command, monkeypatch, capsys)
    assert line == f"database {path} is not writable: Operation not permitted"


@pytest.mark.parametrize("command", ["run", "tokens create"])
def test_a_database_folder_that_cannot_be_written(
    command: str,
    tmp_path: Path,
    immutable: Callable[[Path], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARKETMEM_DB", str(tmp_path / "data" / "m.db"))
    path = seeded_database(tmp_path)
    immutable(path.parent)
    line = refused(tmp_path, path, command, monkeypatch, capsys)
    assert line == (
        f"database {path}: its folder {path.parent} is not writable "
        "(SQLite keeps its -wal and -shm files beside the database)"
    )
    new = path.parent / "new.db"
    line = refused(tmp_path, new, command, monkeypatch, capsys)
    assert line == f"database {new} cannot be created: folder {path.parent} is not writable"


def test_a_database_on_a_read_only_file_system(tmp_path: Path) -> None:
    """A read-only mount needs its own mount namespace (``unshare -m``, as root), so the
    commands run in a subprocess inside one (one interpreter for the three); skips where
    that is not allowed."""
    data = tmp_path / "data"
    data.mkdir()
    conf = config_file(tmp_path)
    commands = [
        ["run", "--duration", "1"],
        ["tokens", "create", "--user", "u"],
        ["clones", "add", "--id", "c", "--owner", "u", "--symbols", "BTC"],
    ]
    program = (
        "import sys\nfrom marketmem import cli\n"
        f"for argv in {commands!r}:\n"
        f"    print('rc=%d' % cli.main(['--config', {str(conf)!r}, *argv]), flush=True)\n"
    )
    script = (
        f"mount --bind {data} {data} && mount -o remount,bind,ro {data} || exit 99\n"
        f'exec {sys.executable} -c "$0"\n'
    )
    env = {**os.environ, "MARKETMEM_DB": str(data / "m.db")}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, program], capture_output=True, text=True, env=env
    )
    if done.returncode == 99 or "unshare failed" in done.stderr:
        pytest.skip(f"no read-only mount can be made here: {done.stderr.strip()}")
    assert done.stdout.split() == ["rc=1"] * 3, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    why = f"database {data}/m.db cannot be created: {data} is on a read-only file system"
    assert lines == [f"marketmem: cannot start: {why}", f"marketmem: {why}", f"marketmem: {why}"]
    assert not (data / "m.db").exists()


# --- no database yet ----------------------------------------------------------------------

NEEDS_ONE = ["serve", "tokens list", "tokens revoke", "clones list", "clones remove"]


@pytest.mark.parametrize("command", ["status", "check", *NEEDS_ONE])
def test_a_database_that_does_not_exist_is_never_created(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: `status` listed every channel `missing`, `tokens list` an empty table (exit
    0), and `tokens revoke` created the file."""
    path = tmp_path / "none" / "m.db"
    line = refused(tmp_path, path, command, monkeypatch, capsys)
    assert line == f"no database at {path} (run `bin/marketmem run` or `demo` first)"
    assert not (tmp_path / "none").exists()


# --- PostgreSQL --------------------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "command", ["run", "serve", "tokens create", "tokens list", "clones add", "clones list"]
)
def test_an_unreachable_postgresql_server(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = closed_port()
    url = f"postgresql://marketmem:s3cret@127.0.0.1:{port}/marketmem"
    line = refused(tmp_path, url, command, monkeypatch, capsys)
    shown = f"postgresql://marketmem:***@127.0.0.1:{port}/marketmem"
    assert line.startswith(f"cannot reach PostgreSQL at {shown}: "), line
    assert "Connection refused" in line and "s3cret" not in line


def test_status_and_check_on_an_unreachable_postgresql_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARKETMEM_DB", f"postgresql://u:p@127.0.0.1:{closed_port()}/m")
    for command in ("status", "check"):
        line = one_line(*run_cli(["--config", str(config_file(tmp_path)), command], capsys), 1)
        assert line.startswith("marketmem: cannot reach PostgreSQL at postgresql://u:***@")


# --- the HTTP address ----------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 another socket listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def service_config(tmp_path: Path, bind: str) -> Path:
    """HTTP on ``bind`` and the one channel that needs no network (retention)."""
    conf = tmp_path / "svc.toml"
    conf.write_text(
        channels_off(
            f'[storage]\npath = "{tmp_path / "m.db"}"\n[http]\nbind = "{bind}"\n'
            "[hyperliquid.channels]\nmaintenance = { enabled = true }\n"
        )
    )
    return conf


IN_USE = (
    "Address already in use (another process listens there: stop it, or choose another [http] bind)"
)


def test_run_on_a_port_in_use(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = service_config(tmp_path, f"127.0.0.1:{taken_port}")
    line = one_line(*run_cli(["--config", str(conf), "run", "--duration", "5"], capsys), 1)
    assert line == f"marketmem: cannot start: cannot listen on 127.0.0.1:{taken_port}: {IN_USE}"


def test_serve_on_a_port_in_use(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = service_config(tmp_path, "127.0.0.1:0")
    assert cli.main(["--config", str(conf), "tokens", "create", "--user", "u"]) == 0
    argv = ["--config", str(conf), "serve", "--bind", f"127.0.0.1:{taken_port}"]
    line = one_line(*run_cli(argv, capsys), 1)
    assert line == f"marketmem: cannot start: cannot listen on 127.0.0.1:{taken_port}: {IN_USE}"


def test_demo_on_a_port_in_use(
    tmp_path: Path,
    taken_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARKETMEM_DB", str(tmp_path / "demo.db"))
    conf = service_config(tmp_path, "127.0.0.1:0")
    argv = ["--config", str(conf), "demo", "--duration", "5", "--port", str(taken_port)]
    line = one_line(*run_cli(argv, capsys), 1)
    assert line == f"marketmem: cannot start: cannot listen on 127.0.0.1:{taken_port}: {IN_USE}"


@pytest.mark.parametrize(
    ("bind", "why"),
    [
        # The resolver's words (offline it cannot even ask).
        (
            "no-such-host.invalid:8080",
            {"Name or service not known", "Temporary failure in name resolution"},
        ),
        # TEST-NET-1 (RFC 5737): no interface of this machine has it.
        ("192.0.2.1:8080", {"Cannot assign requested address"}),
    ],
)
def test_an_address_that_cannot_be_bound(
    bind: str, why: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = service_config(tmp_path, bind)
    line = one_line(*run_cli(["--config", str(conf), "run", "--duration", "5"], capsys), 1)
    prefix = f"marketmem: cannot start: cannot listen on {bind}: "
    assert line.startswith(prefix) and line.removeprefix(prefix) in why, line
