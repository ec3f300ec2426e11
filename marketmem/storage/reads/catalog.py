"""Which tables a database has, and how many rows each holds (the dashboard, the demo)."""

from __future__ import annotations

from marketmem.storage import catalog
from marketmem.storage.reads import Connection, scalar

has_table = catalog.has_table


def table_row_counts(conn: Connection) -> dict[str, int]:
    """Rows per table of marketmem's data, by table name (full-text index tables and the
    engine's own left out)."""
    counts: dict[str, int] = {}
    for name in catalog.data_tables(conn):
        counts[name] = int(scalar(conn, f'SELECT count(*) FROM "{name}"') or 0)
    return counts
