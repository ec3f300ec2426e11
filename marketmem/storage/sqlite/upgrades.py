"""What the declarations cannot say, for SQLite only: the work that brings a database of an
earlier release to the current schema.

Each piece names what the PostgreSQL engine does instead. PostgreSQL has no database of an
earlier release: its schema starts at the declarations of the version that added it, so it
needs none of this (a tool that copies an SQLite database into PostgreSQL would).

- ``drop_not_null``: schema migration 2 (Polymarket numbers nullable), a table rebuild;
- ``drop_rollup_triggers``: schema migration 3 (rollup hours marked in the write path);
- ``add_column``: schema migration 4 (``ingestion_runs.instance``);
- ``mark_unmarked_minutes``: hours of minutes stored before hours were marked, marked once.
"""

from __future__ import annotations

import re

import apsw

from marketmem.clock import HOUR_MS

MINUTES_TABLE = "hyperliquid_candles"
HOURS_TABLE = "hyperliquid_candles_1h"
PENDING_TABLE = "hyperliquid_rollup_pending"


def add_column(conn: apsw.Connection, table: str, column: str, sql_type: str) -> None:
    """Add a nullable ``column`` to ``table`` unless it has it (a table the declarations
    created at this version already does).

    TODO(postgres): ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    if have and column not in have:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


def drop_not_null(conn: apsw.Connection, table: str, columns: tuple[str, ...]) -> None:
    """Make ``columns`` of ``table`` nullable, keeping every row (with its rowid), index and
    trigger. SQLite cannot drop NOT NULL in place: a copy of the table is created from its
    stored CREATE statement without the constraint, filled, swapped in under the old name, and
    the table's indexes and triggers are created again. A table whose columns are already
    nullable (or that does not exist) is left as it is.

    TODO(postgres): nothing; a column that becomes nullable there is
    ``ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL``, in place."""
    found = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None:
        return
    create = str(found[0])
    changed = 0
    for column in columns:
        create, n = re.subn(
            rf"\b({column}\s+REAL)\s+NOT\s+NULL\b", r"\1", create, flags=re.IGNORECASE
        )
        changed += n
    if not changed:
        return
    copy = f"{table}__rebuild"
    create = re.sub(
        rf"^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{table}\b",
        f"CREATE TABLE {copy}",
        create,
        flags=re.IGNORECASE,
    )
    dependents = [
        str(r[0])
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL",
            (table,),
        )
    ]
    names = ", ".join(f'"{r[1]}"' for r in conn.execute(f"PRAGMA table_info({table})"))
    # The rowid is the key of an FTS5 external-content index: it must survive the copy.
    cols = names if "WITHOUT ROWID" in create.upper() else f"rowid, {names}"
    conn.execute(create)
    conn.execute(f"INSERT INTO {copy} ({cols}) SELECT {cols} FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {copy} RENAME TO {table}")
    for sql in dependents:
        conn.execute(sql)


def drop_rollup_triggers(conn: apsw.Connection) -> None:
    """The triggers of schema 2 that marked rollup hours on every candle insert or update go.

    TODO(postgres): nothing; it never had them (hours are marked by retention's after-write)."""
    for op in ("insert", "update"):
        conn.execute(f"DROP TRIGGER IF EXISTS {MINUTES_TABLE}_mark_hour_on_{op}")


# Minutes stored before hours were marked (a database of an early release): their hours are
# marked once, while no hour has been rolled up yet; afterwards nothing is scanned.
MARK_UNMARKED_MINUTES = f"""
    INSERT OR IGNORE INTO {PENDING_TABLE} (hour_ms, coin)
    SELECT DISTINCT open_time_ms - open_time_ms % {HOUR_MS}, coin FROM {MINUTES_TABLE}
    WHERE interval = '1m' AND NOT EXISTS (SELECT 1 FROM {HOURS_TABLE})
"""


def mark_unmarked_minutes(conn: apsw.Connection, declared: set[str]) -> None:
    """Run after the declared tables are created (as the release did, on every start), when
    the rollup tables are among ``declared`` (the names of the declared tables).

    TODO(postgres): nothing; every minute it stores is marked by the write path. A copy of an
    SQLite database into PostgreSQL marks the hours of its minutes the same way, with
    ``INSERT ... SELECT DISTINCT ... ON CONFLICT DO NOTHING``."""
    if {MINUTES_TABLE, HOURS_TABLE, PENDING_TABLE} <= declared:
        conn.execute(MARK_UNMARKED_MINUTES)
