"""Whether a path can hold the SQLite database, said in one line before anything opens it.

SQLite's own errors do not say why (``unable to open database file`` for a directory, a
missing folder or a read-only one), and a file it may not write it opens read-only without a
word, so the storage writer would retry its first commit for ever. ``problem`` asks the file
system instead: a directory, a folder that is a file, a file that is not SQLite, a file or
folder that cannot be written, a read-only file system. Nothing is created or changed.
"""

from __future__ import annotations

import os
from pathlib import Path

# Every SQLite database file starts with these 16 bytes (an empty file is an empty database).
HEADER = b"SQLite format 3\x00"


def problem(path: Path, *, write: bool) -> str | None:
    """Why the database at ``path`` cannot be used (read, or also written when ``write``;
    a missing file is then created, so its folder must take one), in one line; else None."""
    try:
        if path.is_dir():
            return f"database {path} is a directory, not a SQLite file"
        if path.exists():
            return _file_problem(path, write=write)
        folder = _nearest_existing(path.parent)
    except OSError as exc:
        return f"database {path} cannot be reached: {exc.strerror or exc}"
    if not folder.is_dir():
        return f"database {path} cannot be created: {folder} is not a directory"
    if not write:
        return None
    if _read_only_fs(folder):
        return f"database {path} cannot be created: {folder} is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"database {path} cannot be created: folder {folder} is not writable"
    return None


def _file_problem(path: Path, *, write: bool) -> str | None:
    try:
        with path.open("rb") as f:
            head = f.read(len(HEADER))
    except OSError as exc:
        return f"database {path} cannot be read: {exc.strerror or exc}"
    if head and head != HEADER:
        return f"{path} is not a SQLite database (it does not start with SQLite's header)"
    if not write:
        return None
    if _read_only_fs(path):
        return f"database {path} is on a read-only file system"
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        return f"database {path} is not writable: {exc.strerror or exc}"
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        # The -wal, -shm (and the instance lock) files live beside the database.
        return (
            f"database {path}: its folder {folder} is not writable "
            "(SQLite keeps its -wal and -shm files beside the database)"
        )
    return None


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists (as a file or a directory)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
