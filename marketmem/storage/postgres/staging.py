"""Large upserts on PostgreSQL: ``COPY`` into a staging table, then one ``INSERT ... SELECT``.

``executemany`` of an upsert sends one bind and one execution per row (pipelined, but the
server still plans and runs a statement per row: about 15,000 rows/s into the candle table).
For a batch of at least ``STAGED_MIN_ROWS`` rows, ``Upsert.write`` calls ``write_staged``
instead: the rows go into a temporary table of the session with ``COPY`` (binary when every
column is an integer, a float, text or a boolean whose Python annotation says so, else text),
and a single ``INSERT INTO <table> (...) SELECT ... FROM <staging> <the same ON CONFLICT
clause>`` upserts them; the staging table is emptied in the same savepoint.

It writes exactly what ``executemany`` writes, in the same transaction:

- The same ``ON CONFLICT ... DO UPDATE SET`` clause, text for text (``Upsert.conflict``), so
  ``excluded.*``, ``greater(...)``, ``CASE`` and ``keep`` mean what they meant.
- ``executemany`` applies the rows in order, and a row whose key an earlier row of the batch
  wrote updates that row. One ``INSERT ... SELECT`` cannot touch a row twice (PostgreSQL
  refuses: "ON CONFLICT DO UPDATE command cannot affect row a second time"), so a batch
  holding a key more than once is split into rounds: round k holds the k-th row of every key,
  and the rounds run in order. Rows of different keys never affect each other (the update
  expressions read only the stored row and ``excluded``), so the result is the same.
- Whatever the staged path cannot take as ``executemany`` would (two keys equal only under a
  case-insensitive collation, a value that does not parse as its column's type), it rolls
  back to its savepoint and the batch goes through ``executemany``, which writes it or fails
  as before. Other errors (a constraint the rows break, a lost connection) propagate as
  ``executemany``'s would.

Binary COPY sends each value by its column's type (int8, float8, text, bool), as executemany
binds a value of the type the row's annotation names; so it is used only where every column's
type is the one its annotation names. (msgspec does not check annotations when a row is
built. A row that breaks its own declaration can be stored differently: a ``bool`` given for
an ``int`` or ``float`` field is stored as 1 where executemany refuses it, and in text COPY a
``bool`` for a ``str`` field as ``t`` where executemany stores ``true``. Rows of the declared
types are stored the same, which tests/storage/test_staged_upsert.py checks for every upsert.)

The staging tables (``pg_temp.marketmem_stage_<n>``) belong to the writer's session: created
on first use with ``CREATE TEMPORARY TABLE IF NOT EXISTS`` (so a rolled-back creation is made
again), holding nothing between writes, gone with the connection. Reads never see them.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors

from marketmem.storage.declare import row_columns
from marketmem.storage.postgres.connection import PostgresConnection
from marketmem.storage.postgres.ddl import TYPES, ident

if TYPE_CHECKING:
    from marketmem.storage.tables import Upsert

log = logging.getLogger(__name__)

# From this many rows a batch is staged; below it executemany is as fast (measured on the
# candle table: bench/writer.py, BENCHMARKS.md).
STAGED_MIN_ROWS = 64
# PostgreSQL types binary COPY writes the same as executemany binds them, from the Python
# type the row's annotation names (a JSON column stays text: its values are encoded text,
# which binary jsonb would store as one JSON string).
BINARY_SAFE = frozenset({"bigint", "double precision", "text", "boolean"})
# What the staged path may fail on where executemany would not; the batch then goes through
# executemany, which writes it or fails with its own error.
REFUSED = (
    errors.CardinalityViolation,  # keys equal under a collation, not in Python
    psycopg.DataError,  # a value COPY does not parse as its column's type
    TypeError,  # a value the binary dumper of its column does not take
    ValueError,
    OverflowError,
)


@dataclass(frozen=True)
class Staging:
    """The staging table of one upsert on one connection, and its statements."""

    name: str
    create: str
    copy: str
    insert: str
    empty: str
    binary: bool
    types: tuple[int, ...]


# Per connection, per upsert statement (two upserts of one table differ in their conflict
# clause; a connection opened again starts afresh).
_staging: weakref.WeakKeyDictionary[PostgresConnection, dict[str, Staging]] = (
    weakref.WeakKeyDictionary()
)


def _annotated_types(upsert: Upsert) -> list[str] | None:
    try:
        columns = row_columns(upsert.row_type)
    except (TypeError, ValueError, NameError):
        return None
    return [TYPES[c.type].lower() for c in columns]  # as format_type() spells them


def _staging_for(conn: PostgresConnection, upsert: Upsert) -> Staging:
    known = _staging.setdefault(conn, {})
    staging = known.get(upsert.sql)
    if staging is not None:
        conn.execute(staging.create)
        return staging
    name = f"pg_temp.{ident(f'marketmem_stage_{len(known) + 1}')}"
    cols = ", ".join(upsert.columns)
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} AS "
        f"SELECT {cols} FROM {upsert.table} WITH NO DATA"
    )
    conn.execute(create)
    rows: Any = conn.execute(
        "SELECT a.atttypid, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (name,),
    ).fetchall()
    names = [r[1] for r in rows]
    binary = set(names) <= BINARY_SAFE and _annotated_types(upsert) == names
    staging = Staging(
        name=name,
        create=create,
        copy=f"COPY {name} ({cols}) FROM STDIN" + (" (FORMAT BINARY)" if binary else ""),
        insert=f"INSERT INTO {upsert.table} ({cols}) SELECT {cols} FROM {name} {upsert.conflict}",
        empty=f"TRUNCATE {name}",
        binary=binary,
        types=tuple(int(r[0]) for r in rows),
    )
    known[upsert.sql] = staging
    return staging


def rounds(keys: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[Sequence[Sequence[Any]]]:
    """``rows`` split so that no round holds a key twice: round k holds the k-th row of each
    key, in the order of ``rows`` (``keys[i]`` is the key of ``rows[i]``)."""
    if len(set(keys)) == len(keys):
        return [rows]
    seen: dict[Any, int] = {}
    out: list[list[Sequence[Any]]] = []
    for key, row in zip(keys, rows, strict=True):
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k == len(out):
            out.append([])
        out[k].append(row)
    return list(out)  # typed as the rounds they are


def write_staged(conn: PostgresConnection, upsert: Upsert, rows: Sequence[Sequence[Any]]) -> None:
    """Upsert ``rows`` (tuples in ``upsert.columns`` order) as ``conn.executemany(upsert.sql,
    rows)`` would, through the staging table. ``conn.changes()`` is then what the last
    ``INSERT`` changed: the whole batch's rows inserted or updated, unless it held a key twice
    (then the last round's)."""
    positions = [upsert.columns.index(c) for c in upsert.key]
    key = itemgetter(*positions)
    batches = rounds(list(map(key, rows)), rows)
    try:
        with conn:  # a savepoint in the writer's transaction
            for batch in batches:
                _stage_and_insert(conn, upsert, batch)
    except REFUSED as exc:
        log.debug(
            "staged upsert into %s refused (%s: %s); executemany",
            upsert.table,
            type(exc).__name__,
            exc,
        )
        conn.executemany(upsert.sql, rows)


def _stage_and_insert(
    conn: PostgresConnection, upsert: Upsert, rows: Sequence[Sequence[Any]]
) -> None:
    staging = _staging_for(conn, upsert)
    with conn.raw.cursor() as cur:
        with cur.copy(staging.copy) as copy:
            if staging.binary:
                copy.set_types(staging.types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        conn.execute(staging.insert)
        cur.execute(staging.empty)
