"""Storage: tables declared without SQL and rendered per engine (``declare``, ``sqlite``,
``postgres``), SQLite connections, schema migrations, the single writer and read helpers."""
