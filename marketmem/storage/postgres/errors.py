"""psycopg's exceptions, sorted as ``storage.errors`` tells them apart.

``OperationalError`` is a server that cannot be reached or went away (its connection is
opened again), a full disk, a lock or serialization conflict: all may clear. A read-only
server (a streaming replica, or ``default_transaction_read_only``) may be promoted.
"""

from __future__ import annotations

import psycopg
from psycopg import errors

ERROR: tuple[type[Exception], ...] = (psycopg.Error,)
CANNOT_OPEN: tuple[type[Exception], ...] = (psycopg.OperationalError,)
BUSY: tuple[type[Exception], ...] = (errors.LockNotAvailable, errors.SerializationFailure)
REOPEN: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
RETRYABLE_WRITE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    errors.ReadOnlySqlTransaction,
)


def missing_table(exc: BaseException) -> bool:
    return isinstance(exc, errors.UndefinedTable)
