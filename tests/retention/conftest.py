"""Fixtures of the retention tests (helpers live in retention_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from retention_helpers import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "r.db")
    try:
        yield s
    finally:
        s.close()
