"""Tables declared without SQL: what a table is, for each storage engine to render.

An area declares each of its tables as a ``Table``: its ``Column``s, primary key, ``Index``es
and optionally a full-text ``Search``. The engines turn a declaration into their statements
(``marketmem.storage.sqlite.ddl``, ``marketmem.storage.postgres.ddl``); nothing here knows an
engine. Most tables mirror a ``Row`` struct (an ``Upsert`` writes its fields as the columns):
``row_columns`` derives their columns from its annotations.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from marketmem.events import Row


class ColumnType(enum.Enum):
    """What a column holds, whatever an engine stores it as."""

    INT = "int"  # 64-bit signed; every *_ms column is milliseconds since the Unix epoch
    REAL = "real"  # 64-bit float
    TEXT = "text"
    BOOL = "bool"
    JSON = "json"  # a JSON document, written as its encoded text


INT = ColumnType.INT
REAL = ColumnType.REAL
TEXT = ColumnType.TEXT
BOOL = ColumnType.BOOL
JSON = ColumnType.JSON

Value = int | float | str | bool


def _fits(value: Value, type_: ColumnType) -> bool:
    if type_ is BOOL:
        return isinstance(value, bool)
    if type_ is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ is REAL:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


@dataclass(frozen=True)
class Column:
    """One column.

    ``allowed``: the only values it may hold (a CHECK); ``default``: its value when an insert
    leaves it out; ``unique``: no two rows share a value (the key of a table whose key is not
    its primary key); ``case_insensitive``: compared, and kept unique, regardless of case.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    allowed: tuple[Value, ...] | None = None
    default: Value | None = None
    unique: bool = False
    case_insensitive: bool = False

    def __post_init__(self) -> None:
        if self.case_insensitive and self.type is not TEXT:
            raise ValueError(f"column {self.name}: only TEXT can be case-insensitive")
        if self.allowed is not None and not self.allowed:
            raise ValueError(f"column {self.name}: allowed values must not be empty")
        for value in (*(self.allowed or ()), *([] if self.default is None else [self.default])):
            if not _fits(value, self.type):
                raise ValueError(f"column {self.name}: {value!r} is not {self.type.name}")


@dataclass(frozen=True)
class Index:
    """A secondary index over ``columns``, in that order."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Search:
    """Full-text search over some TEXT or JSON columns of a table.

    SQLite keeps an FTS5 external-content table ``<table>_fts`` in step with three triggers;
    PostgreSQL a generated ``tsvector`` column with a GIN index. The other fields say how the
    SQLite objects of the release are spelled: a database keeps the triggers it has, and a
    new name would add a second set beside them.
    """

    columns: tuple[str, ...]
    # Names of the insert, delete and update triggers: ``<table>_fts_<suffix>``.
    trigger_suffixes: tuple[str, str, str] = ("ai", "ad", "au")
    # Re-index a row on an update of any column, not only of the searched ones.
    reindex_on_any_update: bool = False
    # The FTS5 tokenizer named in the CREATE statement; None names none (FTS5's default,
    # unicode61, either way).
    tokenizer: str | None = None


@dataclass(frozen=True)
class Table:
    """A table: its columns in order, its primary key (natural key), its secondary indexes
    and its full-text search.

    ``clustered``: rows are stored in primary-key order with no row id of their own (SQLite's
    ``WITHOUT ROWID``). A table without a primary key, or with a ``Search`` (the FTS5 index of
    SQLite refers to rows by row id), is not clustered.

    ``partition_by_day``: an INT ``*_ms`` column of the primary key by whose UTC day the rows
    are kept apart, so that a whole day can be removed at once (PostgreSQL: a table
    partitioned by range of that column, one partition per day and a DEFAULT one; SQLite
    ignores it). No column of such a table may be ``unique`` on its own: every key must
    contain the partition column.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    search: Search | None = None
    clustered: bool = True
    partition_by_day: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        problems = []
        if not names:
            problems.append("has no columns")
        if len(set(names)) != len(names):
            problems.append("names a column twice")
        if len({i.name for i in self.indexes}) != len(self.indexes):
            problems.append("names an index twice")
        used = [
            *self.primary_key,
            *(c for i in self.indexes for c in i.columns),
            *(self.search.columns if self.search else ()),
        ]
        problems += [f"has no column {c}" for c in dict.fromkeys(used) if c not in names]
        if self.search is not None:
            problems += [
                f"cannot search {c.name} ({c.type.name})"
                for c in self.columns
                if c.name in self.search.columns and c.type not in (TEXT, JSON)
            ]
        if self.clustered and (not self.primary_key or self.search is not None):
            problems.append("cannot be clustered without a primary key or with a search")
        problems += self._partition_problems(names)
        if problems:
            raise ValueError(f"table {self.name}: {'; '.join(problems)}")

    def _partition_problems(self, names: list[str]) -> list[str]:
        by = self.partition_by_day
        if by is None:
            return []
        if by not in names:
            return [f"cannot be partitioned by {by}: no such column"]
        problems = []
        if self.column(by).type is not INT:
            problems.append(f"cannot be partitioned by {by}: not INT")
        if by not in self.primary_key:
            problems.append(f"cannot be partitioned by {by}: not in the primary key")
        problems += [
            f"cannot be partitioned with {c.name} unique alone" for c in self.columns if c.unique
        ]
        return problems

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_PYTHON_TYPES: dict[Any, ColumnType] = {int: INT, float: REAL, str: TEXT, bool: BOOL}


def _optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` as (X, True); any other annotation as (it, False)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return rest[0], True
    return annotation, False


def _column_type(annotation: Any) -> ColumnType | None:
    if typing.get_origin(annotation) in (list, dict):
        return JSON
    return _PYTHON_TYPES.get(annotation)


def row_columns(row_type: type[Row], **overrides: Column | ColumnType) -> tuple[Column, ...]:
    """The columns of a table that stores ``row_type``: one per field, in field order, typed
    from its annotation (int INT, float REAL, str TEXT, bool BOOL, a list or dict JSON;
    ``X | None`` nullable). An override replaces a field's column, or only its type."""
    fields = row_type.__struct_fields__
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"{row_type.__name__} has no field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(row_type)
    columns = []
    for name in fields:
        override = overrides.get(name)
        if isinstance(override, Column):
            if override.name != name:
                raise ValueError(f"{row_type.__name__}.{name}: override names {override.name}")
            columns.append(override)
            continue
        annotation, nullable = _optional(hints[name])
        type_ = override or _column_type(annotation)
        if type_ is None:
            raise TypeError(f"{row_type.__name__}.{name}: no column type for {hints[name]}")
        columns.append(Column(name, type_, nullable=nullable))
    return tuple(columns)
