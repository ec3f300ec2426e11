"""Declared tables as PostgreSQL statements.

A ``Table`` becomes its ``CREATE TABLE`` and one ``CREATE INDEX`` per index, all
``IF NOT EXISTS``. Types: INT ``BIGINT``, REAL ``DOUBLE PRECISION``, TEXT ``TEXT``, BOOL
``BOOLEAN``, JSON ``JSONB`` (the server checks that a value is JSON, and lists such as tags
can be queried and indexed). A ``Search`` is a generated ``tsvector`` column
``search_vector`` over the searched columns, ``to_tsvector('simple', ...)`` of each column's
text as FTS5's unicode61 tokenizer sees it (``search_text``: lower-cased, diacritics removed,
split at every character that is not a letter or a digit; not stemmed), labelled by column
position (``setweight``: A, B, C, then D) so that a query weighs columns as bm25 does, with a
GIN index ``<table>_search``. A case-insensitive column takes the ICU collation
``marketmem_nocase`` (nondeterministic: keys and ``=`` ignore case, as SQLite's NOCASE does),
which the first statement creates when a table needs it. Clustering means nothing here: rows
live in a heap, the primary key is an index. Identifiers are always quoted (``user`` is a
keyword).

A table declared ``partition_by_day`` is ``PARTITION BY RANGE`` of that column, with a
``DEFAULT`` partition ``<table>_default`` for rows of a day that has no partition of its own;
the day partitions are ``storage.postgres.partitions``' work. Its indexes are created on the
partitioned table, so every partition has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from marketmem.storage.declare import (
    BOOL,
    INT,
    JSON,
    REAL,
    TEXT,
    Column,
    ColumnType,
    Index,
    Table,
    Value,
)

TYPES: dict[ColumnType, str] = {
    INT: "BIGINT",
    REAL: "DOUBLE PRECISION",
    TEXT: "TEXT",
    BOOL: "BOOLEAN",
    JSON: "JSONB",
}
SEARCH_COLUMN = "search_vector"
SEARCH_CONFIG = "simple"
# ICU's root locale, which initdb imports: lower() and [:alnum:] that know every script.
SEARCH_COLLATION = "und-x-icu"
SEARCH_LABELS = "ABCD"
NOCASE = "marketmem_nocase"
CREATE_NOCASE = (
    f'CREATE COLLATION IF NOT EXISTS "{NOCASE}" '
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def column_definition(column: Column) -> str:
    parts = [ident(column.name), TYPES[column.type]]
    if not column.nullable:
        parts.append("NOT NULL")
    if column.unique:
        parts.append("UNIQUE")
    if column.case_insensitive:
        parts.append(f"COLLATE {ident(NOCASE)}")
    if column.default is not None:
        parts.append(f"DEFAULT {literal(column.default)}")
    if column.allowed is not None:
        values = ", ".join(literal(v) for v in column.allowed)
        parts.append(f"CHECK ({ident(column.name)} IN ({values}))")
    return " ".join(parts)


def search_index(table: Table) -> str:
    """The name of the GIN index of ``table``'s search."""
    return f"{table.name}_search"


def search_text(value: str) -> str:
    """The SQL of the text expression ``value`` as the words FTS5's unicode61 finds in it:
    lower-cased in every script (an ICU collation: the database's own may be C), diacritics
    removed (NFD, then the combining marks U+0300 to U+036F dropped), and every run of
    characters that are not letters or digits made one space, so that the parser of
    ``to_tsvector`` finds neither hyphenated words, numbers with decimals, hosts nor quotes
    inside words, only the words. ``normalize`` needs a UTF8 database."""
    lowered = f"lower({value} COLLATE {ident(SEARCH_COLLATION)})"
    bare = f"regexp_replace(normalize({lowered}, NFD), '[\\u0300-\\u036f]+', '', 'g')"
    return f"regexp_replace({bare}, '[^[:alnum:]]+', ' ', 'g')"


def search_label(position: int) -> str:
    """The weight label of the searched column at ``position`` (0: A, 1: B, 2: C, then D)."""
    return SEARCH_LABELS[min(position, len(SEARCH_LABELS) - 1)]


def search_definition(table: Table) -> str:
    """The generated ``tsvector`` column of ``table``'s search."""
    assert table.search is not None
    vectors = []
    for position, name in enumerate(table.search.columns):
        column = table.column(name)
        value = ident(name)
        if column.type is JSON:
            value = f"{value}::text"  # its words, as SQLite's JSON text holds them
        if column.nullable:
            value = f"coalesce({value}, '')"
        words = f"to_tsvector('{SEARCH_CONFIG}', {search_text(value)})"
        vectors.append(f"setweight({words}, '{search_label(position)}')")
    return f"{ident(SEARCH_COLUMN)} tsvector GENERATED ALWAYS AS ({' || '.join(vectors)}) STORED"


def create_table(table: Table) -> str:
    if table.search is not None and SEARCH_COLUMN in {c.name for c in table.columns}:
        raise ValueError(f"table {table.name}: {SEARCH_COLUMN} is the search column's name")
    lines = [column_definition(c) for c in table.columns]
    if table.search is not None:
        lines.append(search_definition(table))
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(ident(c) for c in table.primary_key)})")
    body = ",\n    ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {ident(table.name)} (\n    {body}\n){partitioning(table)}"


def partitioning(table: Table) -> str:
    """The clause that partitions ``table`` by day ('' when it is not)."""
    if table.partition_by_day is None:
        return ""
    return f" PARTITION BY RANGE ({ident(table.partition_by_day)})"


def default_partition(table_name: str) -> str:
    """The name of the partition that holds the rows no day partition takes."""
    return f"{table_name}_default"


def partition_statements(table: Table) -> list[str]:
    """The DEFAULT partition of a table partitioned by day (none for another table)."""
    if table.partition_by_day is None:
        return []
    name = default_partition(table.name)
    return [f"CREATE TABLE IF NOT EXISTS {ident(name)} PARTITION OF {ident(table.name)} DEFAULT"]


def create_index(table: str, index: Index, *, using: str = "") -> str:
    method = f" USING {using}" if using else ""
    cols = ", ".join(ident(c) for c in index.columns)
    return f"CREATE INDEX IF NOT EXISTS {ident(index.name)} ON {ident(table)}{method} ({cols})"


def table_statements(table: Table) -> list[str]:
    """Everything that creates ``table``: the table, its indexes, its search index (the
    collation a case-insensitive column uses comes first, from ``statements``)."""
    out = [create_table(table), *partition_statements(table)]
    out += [create_index(table.name, i) for i in table.indexes]
    if table.search is not None:
        search = Index(search_index(table), (SEARCH_COLUMN,))
        out.append(create_index(table.name, search, using="GIN"))
    return out


def statements(
    tables: Sequence[Table], indexes: Mapping[str, Sequence[Index]] | None = None
) -> list[str]:
    """The statements of ``tables`` in order, then ``indexes`` (per table name: indexes an area
    adds to a table another area declares)."""
    out = []
    if any(c.case_insensitive for t in tables for c in t.columns):
        out.append(CREATE_NOCASE)
    out += [stmt for table in tables for stmt in table_statements(table)]
    for table_name, extra in (indexes or {}).items():
        out += [create_index(table_name, i) for i in extra]
    return out
