"""Typed reads of the stored data, one module per area (``runs``, ``hyperliquid``, ...).

Every read function takes a read-only ``Connection`` and returns read models
(``marketmem.storage.models``). The SQL is written to run on SQLite and PostgreSQL alike,
with ``?`` placeholders and explicit column lists; what only one engine can say (catalog
lookups, full-text search, pages) is in that engine's package (``storage.sqlite``,
``storage.postgres``), reached through ``storage.catalog`` and ``storage.search``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import msgspec

from marketmem.storage import engine

# What every read takes: a connection of either engine (``storage.engine.open_ro``).
Connection: TypeAlias = engine.Connection

T = TypeVar("T")
Params = tuple[Any, ...] | dict[str, Any]


def columns(model: type[msgspec.Struct], alias: str = "") -> str:
    """The select list of a row model: its fields in order (``alias.`` before each)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + f for f in model.__struct_fields__)


def fetch(conn: Connection, build: Callable[..., T], sql: str, params: Params = ()) -> list[T]:
    """Every row of ``sql``, each passed positionally to ``build`` (a row model)."""
    return [build(*row) for row in conn.execute(sql, params)]


def fetch_one(conn: Connection, build: Callable[..., T], sql: str, params: Params = ()) -> T | None:
    """The first row of ``sql`` built by ``build``, or None when there is none."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else build(*row)


def scalar(conn: Connection, sql: str, params: Params = ()) -> Any:
    """The first column of the first row (None when there is no row)."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def first_column(conn: Connection, sql: str, params: Params = ()) -> list[Any]:
    return [row[0] for row in conn.execute(sql, params)]
