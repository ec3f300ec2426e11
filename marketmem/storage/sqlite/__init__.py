"""The SQLite dialect of the storage: declared tables rendered as SQLite statements (``ddl``)."""
