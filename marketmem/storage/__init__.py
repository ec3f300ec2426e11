"""SQLite storage: connections, schema migrations, the single writer and read helpers."""
