"""What a command needs of the database, checked before it does anything: one line when it
cannot have it (exit 1), instead of a traceback from the driver or a silent empty answer.

Reading commands (``status``, ``check``, ``tokens list``, ``clones list``, ``serve``) and those
that change what must already be there (``tokens revoke``, ``clones remove``) need a database
that exists: ``no database at <path> (run `bin/marketmem run` or `demo` first)``, and nothing
is created. The others may create the SQLite file, so its folder must take one. Why a file or
a server cannot be used is the storage's to say (``storage.engine.unusable``).
"""

from __future__ import annotations

from marketmem.config import Config
from marketmem.storage import engine
from marketmem.usage import CannotStart, Refused

NO_DATABASE = "no database at {where} (run `bin/marketmem run` or `demo` first)"


def need_database(
    config: Config, *, write: bool, create: bool = False, starting: bool = False
) -> None:
    """Refuse (``CannotStart`` when ``starting`` a service) unless the database can be used:
    read, or also written when ``write``; ``create``: a missing SQLite file will be made."""
    location = config.database()
    refusal = CannotStart if starting else Refused
    if not create and not engine.exists(location):
        raise refusal(NO_DATABASE.format(where=engine.display(location)))
    why = engine.unusable(location, write=write)
    if why is not None:
        raise refusal(why)


def unreadable(config: Config, exc: BaseException) -> Refused:
    """The refusal for a read that failed with the storage error ``exc``."""
    location = config.database()
    if engine.is_postgres(location):
        return Refused(engine.open_failure(location, exc))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return Refused(f"cannot read {engine.display(location)}: {type(exc).__name__}: {first}")
