"""Opening SQLite connections the way marketmem needs them.

One read-write connection (the storage writer's) and any number of read-only ones. Every
connection gets a busy timeout; the database runs in WAL mode with ``synchronous=NORMAL``
(durable across process crashes, the trade-off Litestream also expects) and incremental
auto-vacuum so retention can hand freed pages back to the file system. The writer's
automatic WAL checkpoints can be turned off (``wal_autocheckpoint=0``) for Litestream, which
then does all checkpointing itself.
"""

from __future__ import annotations

from pathlib import Path

import apsw

from marketmem.config import StorageConfig

# The defaults are the config's (``[storage]``); a connection opened without a config uses them.
DEFAULT_BUSY_TIMEOUT_MS = StorageConfig().busy_timeout_ms
DEFAULT_WAL_AUTOCHECKPOINT = StorageConfig().wal_autocheckpoint


def open_rw(
    path: str | Path,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    wal_autocheckpoint: int = DEFAULT_WAL_AUTOCHECKPOINT,
    cache_mib: int | None = None,
) -> apsw.Connection:
    """The read-write connection. Creates the file (and its folder) when missing.

    ``wal_autocheckpoint``: checkpoint after a commit once the WAL holds this many frames;
    0 disables them (read-only connections never run automatic checkpoints). ``cache_mib``:
    the page cache of this connection (None: SQLite's default, 2 MiB).
    """
    p = Path(path)
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(p))
    conn.set_busy_timeout(busy_timeout_ms)
    # auto_vacuum must be chosen before the first table exists; it is a no-op afterwards.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.wal_autocheckpoint(wal_autocheckpoint)
    if cache_mib is not None:
        # A negative size is in KiB rather than pages.
        conn.execute(f"PRAGMA cache_size={-1024 * cache_mib}")
    return conn


def open_ro(path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> apsw.Connection:
    """A read-only connection (HTTP API, CLI). Raises apsw.CantOpenError when there is no file."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    conn.set_busy_timeout(busy_timeout_ms)
    return conn


def query(conn: apsw.Connection, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Run a read and return rows as dicts keyed by column name."""
    cur = conn.execute(sql, params)
    try:
        names = [d[0] for d in cur.getdescription()]
    except apsw.ExecutionCompleteError:
        return []
    return [dict(zip(names, row, strict=True)) for row in cur]


def open_reader(
    path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> apsw.Connection:
    """A read-only connection that has already read the file: a read-only open succeeds
    lazily, so a missing or damaged file fails here instead of at the first read."""
    conn = open_ro(path, busy_timeout_ms=busy_timeout_ms)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except apsw.Error:
        conn.close()
        raise
    return conn
