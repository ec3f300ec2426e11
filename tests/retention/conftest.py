"""Fixtures of the retention tests (helpers live in retention_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from retention_helpers import Store


@pytest.fixture
def store(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated database: a SQLite file, or a new PostgreSQL database where the test runs on
    that engine (a module marked ``engines`` runs each test on both)."""
    location = (
        request.getfixturevalue("pg_database") if engine == "postgresql" else tmp_path / "r.db"
    )
    s = Store(location)
    try:
        yield s
    finally:
        s.close()
