"""Online backups: a consistent copy of the live database while the writer keeps committing.

The copy is made with SQLite's backup API (apsw ``Connection.backup``) from a read-only
connection, a few pages per step with a short pause between steps so the copy does not hog
the disk. In WAL mode (marketmem's mode) the source connection holds one read transaction
for the whole copy: the copy is the database exactly as of that moment (every committed
transaction fully in, every later one fully out), and the writer is never blocked, because
WAL readers do not block writers. NOTE: without that pinned snapshot SQLite restarts the
copy whenever another connection commits, so under a busy writer it would never finish.
A database that is not in WAL mode is copied in one step instead (writers wait meanwhile).

The copy is written to a temporary file in the target's folder, converted to a plain
single-file database (``journal_mode=DELETE``: no ``-wal``/``-shm`` beside it; marketmem
turns WAL back on when it opens a restored copy), checked with ``PRAGMA integrity_check``,
synced, and only then moved onto the target name, so a failed or interrupted backup never
leaves a partial file under that name. Expected failures raise ``BackupError`` (one line).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from marketmem.storage import db

DEFAULT_STEP_PAGES = 1024
DEFAULT_PAUSE_S = 0.005

# Called after each step with (pages copied, pages in the database).
OnStep = Callable[[int, int], None]


class BackupError(Exception):
    """A backup that could not be made; the message is one line for the user."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    page_size: int
    size_bytes: int
    steps: int
    elapsed_s: float
    wal_snapshot: bool  # True: copied from one pinned WAL snapshot


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _check_paths(source: Path, target: Path, force: bool) -> None:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give the path of the file to write")
    if not target.parent.is_dir():
        if target.parent.exists():
            raise BackupError(f"{target.parent} is not a folder")
        raise BackupError(f"folder {target.parent} does not exist")
    if target.exists() or target.is_symlink():
        if target.exists() and os.path.samefile(source, target):
            raise BackupError(f"{target} is the live database itself")
        if not force:
            raise BackupError(f"{target} exists; use --force to replace it")
    for suffix in ("-wal", "-shm"):
        side = Path(f"{target}{suffix}")
        if side.exists():
            # SQLite would apply a stale WAL to the new file and corrupt it.
            raise BackupError(
                f"{side} exists ({target} looks open in WAL mode); stop its user and remove it"
            )


def _remove_temp(tmp: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{tmp}{suffix}")


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pragma(conn: apsw.Connection, name: str) -> str:
    row = conn.execute(f"PRAGMA {name}").fetchone()
    return str(row[0]) if row else ""


def _copy(
    source: Path,
    tmp: Path,
    *,
    step_pages: int,
    pause_s: float,
    busy_timeout_ms: int,
    on_step: OnStep | None,
    sleep: Callable[[float], None],
) -> tuple[int, int, int, bool]:
    """Copy ``source`` into ``tmp``; returns (pages, page size, steps, from a WAL snapshot)."""
    src = db.open_ro(source, busy_timeout_ms=busy_timeout_ms)
    try:
        wal = _pragma(src, "journal_mode").lower() == "wal"
        dest = apsw.Connection(str(tmp))
        try:
            if wal:
                # Pin one snapshot for the whole copy (see the module docstring).
                src.execute("BEGIN")
                src.execute("SELECT count(*) FROM sqlite_schema").fetchall()
            steps = 0
            with dest.backup("main", src, "main") as job:
                while True:
                    job.step(step_pages if wal else -1)
                    steps += 1
                    if on_step is not None:
                        on_step(job.page_count - job.remaining, job.page_count)
                    if job.done:
                        break
                    if pause_s > 0:
                        sleep(pause_s)
                pages = job.page_count
            if wal:
                src.execute("COMMIT")
            # The copied header says WAL; make the copy one self-contained file.
            dest.execute("PRAGMA journal_mode=DELETE").fetchall()
            page_size = int(_pragma(dest, "page_size"))
            return pages, page_size, steps, wal
        finally:
            dest.close()
    finally:
        src.close()


def _verify(tmp: Path) -> None:
    conn = apsw.Connection(str(tmp), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if rows != ["ok"]:
        raise BackupError(f"the copy failed integrity_check: {rows[0] if rows else 'no answer'}")


def _place(tmp: Path, target: Path, force: bool) -> None:
    """Move ``tmp`` onto ``target`` atomically; without ``force`` never replace a file."""
    if force:
        os.replace(tmp, target)
        return
    try:
        # link() fails if the target appeared meanwhile: no window in which it is clobbered.
        os.link(tmp, target)
    except FileExistsError:
        raise BackupError(f"{target} exists; use --force to replace it") from None
    except OSError:
        # A file system without hard links: check, then rename (a small race, stated).
        if target.exists():
            raise BackupError(f"{target} exists; use --force to replace it") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def backup_database(
    source: str | Path,
    target: str | Path,
    *,
    force: bool = False,
    step_pages: int = DEFAULT_STEP_PAGES,
    pause_s: float = DEFAULT_PAUSE_S,
    busy_timeout_ms: int = db.DEFAULT_BUSY_TIMEOUT_MS,
    verify: bool = True,
    on_step: OnStep | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackupResult:
    """Copy the database at ``source`` to ``target`` while it is in use (blocking)."""
    if step_pages < 1:
        raise ValueError("step_pages must be at least 1")
    source, target = Path(source), Path(target)
    _check_paths(source, target, force)
    started = time.monotonic()
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BackupError(f"cannot write in {target.parent}: {_describe(exc)}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        pages, page_size, steps, wal = _copy(
            source,
            tmp,
            step_pages=step_pages,
            pause_s=pause_s,
            busy_timeout_ms=busy_timeout_ms,
            on_step=on_step,
            sleep=sleep,
        )
        if verify:
            _verify(tmp)
        _fsync_path(tmp)
        _place(tmp, target, force)
        with contextlib.suppress(OSError):  # not every file system syncs a folder
            _fsync_path(target.parent, directory=True)
    except apsw.Error as exc:
        raise BackupError(f"copy of {source} failed: {_describe(exc)}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {_describe(exc)}") from None
    finally:
        _remove_temp(tmp)
    return BackupResult(
        path=target,
        pages=pages,
        page_size=page_size,
        size_bytes=target.stat().st_size,
        steps=steps,
        elapsed_s=time.monotonic() - started,
        wal_snapshot=wal,
    )
