"""The storage: connections, schema migrations, the single writer, and the typed reads
(``reads``, answering ``models``); what only SQLite can do is in ``sqlite``."""
