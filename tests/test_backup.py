"""Online backup: consistent snapshot beside a live writer, atomic placement, clear failures."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import apsw
import pytest
import trio

from marketmem import cli
from marketmem.bus import Bus
from marketmem.events import Candle, CandleBatch
from marketmem.plugins import SOURCES
from marketmem.storage import db, schema
from marketmem.storage.backup import BackupError, backup_database
from marketmem.storage.writer import StorageWriter

ROWS = 40  # candles per batch; batch k holds open times k*ROWS .. k*ROWS+ROWS-1 minutes


def batch(k: int) -> CandleBatch:
    return CandleBatch(
        rows=[
            Candle(
                coin="BTC",
                interval="1m",
                open_time_ms=(k * ROWS + i) * 60_000,
                close_time_ms=(k * ROWS + i) * 60_000 + 59_999,
                open=1.0,
                high=2.0,
                low=0.5,
                close=1.5,
                volume=3.0,
                trades=4,
                closed=True,
                updated_at_ms=k,
            )
            for i in range(ROWS)
        ]
    )


def batches_in(path: Path) -> dict[int, int]:
    """Batch id -> rows of it, read from the database at ``path``."""
    conn = db.open_ro(path)
    try:
        rows = conn.execute(
            "SELECT open_time_ms / 60000 / ? AS b, count(*) FROM hyperliquid_candles GROUP BY b",
            (ROWS,),
        ).fetchall()
    finally:
        conn.close()
    return {int(b): int(n) for b, n in rows}


def assert_prefix(found: dict[int, int]) -> int:
    """Batches 0..k, each complete; returns k + 1."""
    assert sorted(found) == list(range(len(found))), "a hole: a later batch without an earlier"
    assert set(found.values()) == {ROWS}, "a batch split across the snapshot"
    return len(found)


def integrity(path: Path) -> list[str]:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def seed(path: Path, batches: int) -> apsw.Connection:
    conn = db.open_rw(path)
    schema.migrate(conn, SOURCES)
    writers = schema.writers(SOURCES)
    for k in range(batches):
        with conn:
            writers[CandleBatch](conn, batch(k))
    return conn


# --- consistency beside a live writer --------------------------------------------------------


async def test_backup_while_the_storage_writer_commits_is_a_consistent_snapshot(
    tmp_path: Path,
) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    bus = Bus()
    writer = StorageWriter(
        source, bus, sources=SOURCES
    )  # default thread executor: real concurrency
    seeded = 400
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            for k in range(seeded):
                await bus.publish(batch(k))
            while writer.stats.events < seeded:
                await trio.sleep(0.005)

            published = seeded
            stop = trio.Event()

            async def keep_writing() -> None:
                nonlocal published
                while not stop.is_set():
                    await bus.publish(batch(published))
                    published += 1
                    await trio.sleep(0.001)

            nursery.start_soon(keep_writing)
            while writer.stats.events <= seeded:
                await trio.sleep(0.001)
            commits_before = writer.stats.transactions
            progress: list[tuple[int, int]] = []
            give_up = time.monotonic() + 10

            def on_step(done: int, total: int) -> None:
                # A copy SQLite keeps restarting would never end; the thread cannot be
                # cancelled, so stop it here rather than hang the test.
                if time.monotonic() > give_up:
                    raise TimeoutError("backup did not finish beside the writer")
                progress.append((done, total))

            result = await trio.to_thread.run_sync(
                lambda: backup_database(
                    source, target, step_pages=4, pause_s=0.002, on_step=on_step
                )
            )
            commits_during = writer.stats.transactions - commits_before
            stop.set()
            await trio.sleep(0.05)
            bus.close()

    assert result.wal_snapshot and result.steps > 10  # stepped, with pauses
    assert commits_during >= 3, "the writer kept committing while the copy ran"
    assert progress[-1][0] == progress[-1][1] == result.pages
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert integrity(target) == ["ok"]
    in_copy = assert_prefix(batches_in(target))
    assert in_copy > seeded  # includes what was committed before it started
    assert assert_prefix(batches_in(source)) > in_copy  # the writer went on after the snapshot
    assert result.size_bytes == target.stat().st_size == result.pages * result.page_size


def test_commits_during_the_copy_are_left_out_and_never_restart_it(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    conn = seed(source, 300)
    writers = schema.writers(SOURCES)
    committed = [300]

    def commit_between_steps(_: float) -> None:
        # Another connection commits between every two steps (SQLite would restart an
        # unpinned copy each time, and never finish).
        with conn:
            writers[CandleBatch](conn, batch(committed[0]))
        committed[0] += 1

    result = backup_database(source, target, step_pages=2, sleep=commit_between_steps)
    assert result.steps > 20 and committed[0] - 300 == result.steps - 1
    assert assert_prefix(batches_in(target)) == 300
    assert assert_prefix(batches_in(source)) == committed[0]
    conn.close()


def test_the_copy_is_one_plain_file_that_marketmem_opens(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    seed(source, 5).close()
    backup_database(source, target)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("copy")] == ["copy.db"]
    conn = apsw.Connection(str(target), flags=apsw.SQLITE_OPEN_READONLY)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()
    restored = db.open_rw(target)
    assert restored.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema.migrate(restored, SOURCES) == schema.SCHEMA_VERSION
    restored.close()


def test_a_database_not_in_wal_mode_is_copied_in_one_step(tmp_path: Path) -> None:
    source, target = tmp_path / "plain.db", tmp_path / "copy.db"
    conn = apsw.Connection(str(source))
    conn.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
    conn.close()
    result = backup_database(source, target, step_pages=1)
    assert not result.wal_snapshot and result.steps == 1
    assert integrity(target) == ["ok"]


# --- placement and failures -------------------------------------------------------------------


def test_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    seed(source, 3).close()
    target.write_bytes(b"precious")
    with pytest.raises(BackupError, match="exists; use --force"):
        backup_database(source, target)
    assert target.read_bytes() == b"precious"
    backup_database(source, target, force=True)
    assert assert_prefix(batches_in(target)) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_refuses_a_target_with_a_stale_wal_beside_it(tmp_path: Path) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    seed(source, 1).close()
    target.write_bytes(b"old")
    Path(f"{target}-wal").write_bytes(b"stale")
    with pytest.raises(BackupError, match=r"copy\.db-wal exists"):
        backup_database(source, target, force=True)


@pytest.mark.parametrize(
    ("make_target", "message"),
    [
        (lambda d: d / "missing" / "copy.db", "folder .*missing does not exist"),
        (lambda d: d / "file.txt" / "copy.db", "file.txt is not a folder"),
        (lambda d: d, "is a folder"),
        (lambda d: d / "live.db", "is the live database itself"),
    ],
)
def test_bad_targets_fail_with_one_line(
    tmp_path: Path, make_target: Callable[[Path], Path], message: str
) -> None:
    source = tmp_path / "live.db"
    seed(source, 1).close()
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BackupError, match=message) as info:
        backup_database(source, make_target(tmp_path), force=True)
    assert "\n" not in str(info.value)


def test_missing_or_broken_source(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        backup_database(tmp_path / "none.db", tmp_path / "copy.db")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackupError, match="NotADBError"):
        backup_database(bad, tmp_path / "copy.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db"]  # no temp file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder(tmp_path: Path) -> None:
    source, folder = tmp_path / "live.db", tmp_path / "ro"
    seed(source, 1).close()
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(BackupError, match=r"cannot write in .*ro: Permission denied"):
            backup_database(source, folder / "copy.db")
    finally:
        folder.chmod(0o700)


def test_a_temp_file_that_cannot_be_created_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "live.db"
    seed(source, 1).close()

    def denied(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("marketmem.storage.backup.tempfile.mkstemp", denied)
    with pytest.raises(BackupError, match=r"^cannot write in .*: Permission denied$"):
        backup_database(source, tmp_path / "copy.db")


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_backup_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    source, target = tmp_path / "live.db", tmp_path / "copy.db"
    seed(source, 10).close()
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\npath = "{source}"\n')
    base = ["--config", str(conf), "backup"]

    assert cli.main([*base, str(target)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"backup {target}: ") and " pages copied, " in out
    assert f"({target.stat().st_size} bytes)" in out and "integrity_check ok" in out
    assert err == ""  # not a terminal: no progress output

    assert cli.main([*base, str(target)]) == 1
    out, err = capsys.readouterr()
    assert err == f"marketmem: backup failed: {target} exists; use --force to replace it\n"

    assert cli.main([*base, "--force", "--no-verify", str(target)]) == 0
    assert "not verified" in capsys.readouterr().out

    conf.write_text(f'[storage]\npath = "{tmp_path / "none.db"}"\n')
    assert cli.main([*base, str(tmp_path / "other.db")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no database at" in err and "Traceback" not in err

    assert cli.main([*base, "--step-pages", "0", str(tmp_path / "x.db")]) == 2
    assert capsys.readouterr().err == "marketmem: --step-pages must be at least 1\n"


def test_backup_of_a_postgres_database_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """The copy is of the SQLite file; with a PostgreSQL url it would copy a file the
    service does not use (or fail on its absence): the command points at pg_dump."""
    stale = tmp_path / "old.db"
    seed(stale, 1).close()
    conf = tmp_path / "c.toml"
    conf.write_text(f'[storage]\npath = "{stale}"\nurl = "postgresql://mm:secret@127.0.0.1:1/mm"\n')
    target = tmp_path / "copy.db"
    assert cli.main(["--config", str(conf), "backup", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and not target.exists()
    assert err == (
        "marketmem: backup failed: the database is PostgreSQL "
        "(postgresql://mm:***@127.0.0.1:1/mm); back it up with pg_dump "
        "(backup copies the SQLite file)\n"
    )
