"""apsw's exceptions, sorted into what the layers above tell apart (``storage.errors``).

PostgreSQL will add psycopg's: ``OperationalError`` for a server it cannot reach,
``errors.LockNotAvailable`` / ``SerializationFailure`` for busy, ``errors.UndefinedTable``.
"""

from __future__ import annotations

import apsw

ERROR: tuple[type[Exception], ...] = (apsw.Error,)
CANNOT_OPEN: tuple[type[Exception], ...] = (apsw.CantOpenError,)
BUSY: tuple[type[Exception], ...] = (apsw.BusyError, apsw.LockedError)
# The file was replaced or damaged under an open connection: open it again.
REOPEN: tuple[type[Exception], ...] = (apsw.CantOpenError, apsw.NotADBError, apsw.CorruptError)


def missing_table(exc: BaseException) -> bool:
    return isinstance(exc, apsw.SQLError) and "no such table" in str(exc)
