"""The storage's failures as the layers above catch them, whatever the engine.

``except STORAGE_ERROR`` catches any failure of the database (each a tuple of exception
classes, to use in ``except``); ``missing_table(exc)`` tells a database made before a table
existed from other failures; ``RETRYABLE_WRITE`` are the conditions a write may wait out.
"""

from __future__ import annotations

from marketmem.storage.postgres import errors as postgres
from marketmem.storage.sqlite import errors as sqlite

STORAGE_ERROR = sqlite.ERROR + postgres.ERROR
CANNOT_OPEN = sqlite.CANNOT_OPEN + postgres.CANNOT_OPEN
BUSY = sqlite.BUSY + postgres.BUSY
REOPEN = sqlite.REOPEN + postgres.REOPEN
RETRYABLE_WRITE = sqlite.RETRYABLE_WRITE + postgres.RETRYABLE_WRITE


def missing_table(exc: BaseException) -> bool:
    return sqlite.missing_table(exc) or postgres.missing_table(exc)
