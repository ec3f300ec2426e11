"""The SQLite dialect of the storage: declared tables rendered as SQLite statements (``ddl``)
and the SQLite-only work of bringing older databases up to date (``upgrades``)."""
