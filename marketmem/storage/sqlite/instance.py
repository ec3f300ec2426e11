"""One ``run`` per SQLite file: an exclusive lock on ``<file>.instance`` while it runs.

SQLite serves one ingesting instance per database (one writer; a second one would duplicate
every stream and poll). ``hold_instance`` takes a non-blocking ``flock`` on a file beside the
database and writes this instance's name and pid into it; the lock ends with the process,
however it ends, so a crashed instance never blocks the next start. A second ``run`` finds the
lock taken and stops with one line naming the instance that holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marketmem.usage import CannotStart


class InstanceRunning(CannotStart):
    """Another ``run`` holds the database."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".instance")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return f"{info['instance']} (pid {info['pid']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def hold_instance(database: Path, name: str) -> Iterator[None]:
    """Hold the database for instance ``name`` until exit; ``InstanceRunning`` if held."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InstanceRunning(
                f"{database} is in use by the running instance {_holder(path)}; stop it, or "
                "give this one another [storage] path (several instances need PostgreSQL)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"instance": name, "pid": os.getpid()}).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
