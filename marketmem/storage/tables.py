"""How rows reach a table: idempotent upserts and the write functions built from them.

Every module that owns tables (``marketmem.storage.core_tables`` and each area's ``tables``
module) hands the storage one ``Tables`` (``marketmem.source``; a source's is its
``Source.tables``), built from:

- its tables, declared without SQL (``marketmem.storage.declare``; each engine renders them);
- ``WRITERS``: a dict from event type to a ``WriteFn``, which the storage writer calls inside
  its transaction and which returns rows written per table;
- ``UPSERTS``: every ``Upsert`` its write functions use; at start the storage checks that
  each row type's columns are all in its table (``schema.check_columns``);
- optionally ``AFTER_WRITES``: per event type of another area, an ``AfterWrite`` the writer
  runs in the same transaction once that event's rows are written.

Keys (primary, or a unique column) are natural keys, so every write is an
``INSERT ... ON CONFLICT DO UPDATE``: replays and duplicates never create a second row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import msgspec

from marketmem.events import Row
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.postgres.staging import STAGED_MIN_ROWS, write_staged

if TYPE_CHECKING:
    from marketmem.storage.engine import Connection

# Write functions take a connection of either engine (``storage.engine.Connection``) and run
# statements written for both (see ``storage.reads``).
WriteFn = Callable[["Connection", Any], dict[str, int]]
# Bookkeeping of one area over the events another area's WriteFn just wrote, in the same
# transaction (retention marks the hours of the minutes written); its rows count for no run.
AfterWrite = Callable[["Connection", Sequence[Any]], None]


def greater(a: str, b: str) -> str:
    """The larger of two SQL expressions, on both engines (SQLite's ``max(a, b)`` is
    PostgreSQL's ``GREATEST``); ``b`` when either is NULL."""
    return f"CASE WHEN {a} >= {b} THEN {a} ELSE {b} END"


@dataclass(frozen=True)
class Upsert:
    """An idempotent upsert of ``Row`` structs into ``table`` keyed by ``key``.

    Columns are the row struct's fields in order. ``update`` overrides the SET expression of
    a column on conflict (default ``excluded.<col>``); ``keep`` lists columns never updated.
    """

    table: str
    row_type: type[Row]
    key: tuple[str, ...]
    update: Mapping[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] = ()

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row_type.__struct_fields__)

    @cached_property
    def conflict(self) -> str:
        """The ``ON CONFLICT`` clause: what a row whose key is stored already does."""
        sets = [
            f"{c}={self.update.get(c, f'excluded.{c}')}"
            for c in self.columns
            if c not in self.key and c not in self.keep
        ]
        return f"ON CONFLICT({', '.join(self.key)}) " + (
            f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
        )

    @cached_property
    def sql(self) -> str:
        cols = self.columns
        return (
            f"INSERT INTO {self.table} ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)}) {self.conflict}"
        )

    def write(self, conn: Connection, rows: Sequence[Row]) -> int:
        """Upsert ``rows`` in order (a later row of a key updates the earlier one); returns
        how many rows were given. On PostgreSQL a batch of ``STAGED_MIN_ROWS`` or more goes
        through ``COPY`` and one ``INSERT ... SELECT`` with the same conflict clause
        (``storage.postgres.staging``), which writes the same."""
        if not rows:
            return 0
        astuple = msgspec.structs.astuple
        tuples = [astuple(r) for r in rows]
        if isinstance(conn, PostgresConnection) and len(tuples) >= STAGED_MIN_ROWS:
            write_staged(conn, self, tuples)
        else:
            conn.executemany(self.sql, tuples)
        return len(rows)


class RowsWriter:
    """The WriteFn of batch events that carry their rows in ``.rows``.

    The writer merges consecutive events handled by the same RowsWriter into one
    ``executemany`` (``write_many``), which is what makes small stream batches cheap.
    """

    def __init__(self, upsert: Upsert) -> None:
        self.upsert = upsert
        self.__name__ = f"write_{upsert.table}"

    def __call__(self, conn: Connection, event: Any) -> dict[str, int]:
        return {self.upsert.table: self.upsert.write(conn, event.rows)}

    def write_many(self, conn: Connection, events: Sequence[Any]) -> dict[str, int]:
        rows = [row for event in events for row in event.rows]
        return {self.upsert.table: self.upsert.write(conn, rows)}


def rows_writer(upsert: Upsert) -> RowsWriter:
    """A WriteFn for batch events that carry their rows in ``.rows``."""
    return RowsWriter(upsert)


def _where(columns: Sequence[str]) -> str:
    return " AND ".join(f'"{c}" = ?' for c in columns)


def delete_rows(
    conn: Connection, table: str, columns: Sequence[str], keys: Sequence[Sequence[Any]]
) -> int:
    """Delete the rows of ``table`` whose ``columns`` equal one of ``keys``; rows deleted."""
    if not keys:
        return 0
    sql = f"DELETE FROM {table} WHERE {_where(columns)}"
    if len(keys) == 1:
        conn.execute(sql, tuple(keys[0]))
    else:
        conn.executemany(sql, [tuple(k) for k in keys])
    return conn.changes()


def delete_all(conn: Connection, table: str) -> int:
    """Empty ``table`` (a set replaced whole, inside the writer's transaction)."""
    conn.execute(f"DELETE FROM {table}")
    return conn.changes()


def stored_value(conn: Connection, table: str, column: str, key: Mapping[str, Any]) -> Any:
    """``column`` of the row of ``table`` with ``key`` (column -> value); None when absent."""
    row = conn.execute(
        f'SELECT "{column}" FROM {table} WHERE {_where(list(key))}', tuple(key.values())
    ).fetchone()
    return None if row is None else row[0]
