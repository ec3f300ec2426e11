"""The HTTP API: Starlette routes served by Hypercorn's trio worker, reading read-only SQLite."""
