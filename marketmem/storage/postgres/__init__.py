"""The PostgreSQL dialect of the storage: declared tables rendered as PostgreSQL statements
(``ddl``). Writer, reads and migrations of this engine are still to come."""
