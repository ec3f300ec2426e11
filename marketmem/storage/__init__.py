"""Storage: tables declared without SQL and rendered for SQLite (``declare``, ``sqlite``),
SQLite connections, schema migrations, the single writer and read helpers."""
