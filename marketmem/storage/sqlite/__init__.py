"""What only SQLite can say, kept apart from the portable reads: the catalog
(``sqlite_master``), ``PRAGMA`` page counts, FTS5 search and apsw's error classes.

Each module notes what PostgreSQL will do instead.
"""
