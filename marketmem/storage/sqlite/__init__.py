"""What only SQLite can say: declared tables rendered as SQLite statements (``ddl``), the
work of bringing older databases up to date (``upgrades``), the catalog (``sqlite_master``),
``PRAGMA`` page counts, FTS5 search and apsw's error classes. Each module notes what
PostgreSQL does instead.
"""
