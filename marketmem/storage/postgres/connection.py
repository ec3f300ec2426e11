"""A psycopg 3 connection that reads and writes the way the storage's SQL is written.

The storage's statements are written once for both engines, in SQLite's parameter style
(``?`` positional, ``:name`` named) and run on an apsw connection as they are. A
``PostgresConnection`` offers the part of apsw's interface the storage uses (``execute``
returning an iterable cursor, ``executemany``, ``changes``, ``with conn:`` for a transaction,
nested ones as savepoints) and rewrites each statement once into psycopg's style (``%s``,
``%(name)s``, a literal ``%`` doubled), skipping quoted text and ``::`` casts.

The connection is in autocommit mode outside ``with conn:``, as apsw's is, so a reader never
sits idle in a transaction. JSON columns come back as their text (as SQLite returns them), not
as decoded lists, so every read decodes them the same way on both engines.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import psycopg
from psycopg.types.string import TextLoader

CONNECT_TIMEOUT_S = 10
# What a name after ':' may be (an identifier), and what may stand before it: a second ':'
# makes a cast ("x::text"), a word character a time literal or array slice.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql`` with SQLite's placeholders in psycopg's style."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # an escaped quote
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        elif ch == ":":
            if sql.startswith("::", i):
                out.append("::")
                i += 2
                continue
            name = _NAME.match(sql, i + 1)
            before = sql[i - 1] if i else " "
            if name and not (before.isalnum() or before == "_"):
                out.append(f"%({name.group()})s")
                i = name.end()
            else:
                out.append(ch)
                i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _params(params: Sequence[Any] | dict[str, Any] | None) -> Any:
    if params is None:
        return ()
    return params


def configure(conn: psycopg.Connection[Any]) -> None:
    """What every connection of the storage needs: JSON read back as text."""
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)


def connect(url: str, *, application_name: str = "marketmem") -> psycopg.Connection[Any]:
    conn = psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name=application_name[:63],
    )
    configure(conn)
    return conn


class PostgresConnection:
    """apsw's connection interface, as the storage uses it, over one psycopg connection."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn
        self._changes = 0
        self._transactions: list[AbstractContextManager[Any]] = []

    @classmethod
    def open(cls, url: str, *, application_name: str = "marketmem") -> PostgresConnection:
        return cls(connect(url, application_name=application_name))

    def execute(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> psycopg.Cursor[Any]:
        cur = self.raw.execute(translate(sql), _params(params))
        self._changes = max(cur.rowcount, 0)
        return cur

    def executemany(self, sql: str, seq: Iterable[Sequence[Any] | dict[str, Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql), seq)
            self._changes = max(cur.rowcount, 0)

    def changes(self) -> int:
        """Rows the last statement inserted, updated or deleted."""
        return self._changes

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PostgresConnection:
        tx = self.raw.transaction()
        tx.__enter__()
        self._transactions.append(tx)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tx = self._transactions.pop()
        tx.__exit__(exc_type, exc, tb)
