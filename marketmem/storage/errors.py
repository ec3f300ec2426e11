"""The storage's failures as the layers above catch them, whatever the engine.

``except STORAGE_ERROR`` catches any failure of the database (each a tuple of exception
classes, to use in ``except``); ``missing_table(exc)`` tells a database made before a table
existed from other failures.
"""

from __future__ import annotations

from marketmem.storage.sqlite import errors as sqlite

STORAGE_ERROR = sqlite.ERROR
CANNOT_OPEN = sqlite.CANNOT_OPEN
BUSY = sqlite.BUSY
REOPEN = sqlite.REOPEN
missing_table = sqlite.missing_table
