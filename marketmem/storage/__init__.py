"""The storage: tables declared without SQL and rendered per engine (``declare``,
``sqlite``, ``postgres``), connections, schema migrations, the single writer, and the typed
reads (``reads``, answering ``models``)."""
