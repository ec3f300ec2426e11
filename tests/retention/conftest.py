"""Fixtures of the retention tests (helpers live in retention_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from retention_helpers import Store


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:
    """A migrated database of the test's engine (``database``), written as the writer does."""
    s = Store(database)
    try:
        yield s
    finally:
        s.close()
