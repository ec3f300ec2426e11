"""apsw's exceptions, sorted into what the layers above tell apart (``storage.errors``).
PostgreSQL's are in ``storage.postgres.errors``.
"""

from __future__ import annotations

import apsw

ERROR: tuple[type[Exception], ...] = (apsw.Error,)
CANNOT_OPEN: tuple[type[Exception], ...] = (apsw.CantOpenError,)
BUSY: tuple[type[Exception], ...] = (apsw.BusyError, apsw.LockedError)
# The file was replaced or damaged under an open connection: open it again.
REOPEN: tuple[type[Exception], ...] = (apsw.CantOpenError, apsw.NotADBError, apsw.CorruptError)
# A write may wait these out: a full disk, a read-only file, a lock, an I/O error.
RETRYABLE_WRITE: tuple[type[Exception], ...] = (
    apsw.FullError,
    apsw.ReadOnlyError,
    apsw.BusyError,
    apsw.LockedError,
    apsw.IOError,
    apsw.CantOpenError,
)


def missing_table(exc: BaseException) -> bool:
    return isinstance(exc, apsw.SQLError) and "no such table" in str(exc)
