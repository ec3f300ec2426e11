"""[storage] writer_cache_mib: the SQLite writer's page cache; readers keep SQLite's default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import apsw
import pytest

from marketmem.clock import TrioWallClock
from marketmem.config import Config, ConfigError
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.storage import db
from tests.conftest import T0_MS

SQLITE_DEFAULT_KIB = 2000  # PRAGMA cache_size answers -2000 on a connection left alone


def cache_kib(conn: apsw.Connection) -> int:
    (size,) = conn.execute("PRAGMA cache_size").fetchone()
    return -int(size)


def test_open_rw_sizes_the_cache_in_mib(tmp_path: Path) -> None:
    sized = db.open_rw(tmp_path / "a.db", cache_mib=8)
    plain = db.open_rw(tmp_path / "b.db")
    reader = db.open_ro(tmp_path / "a.db")
    assert cache_kib(sized) == 8 * 1024
    assert cache_kib(plain) == SQLITE_DEFAULT_KIB
    assert cache_kib(reader) == SQLITE_DEFAULT_KIB
    for conn in (sized, plain, reader):
        conn.close()


@pytest.mark.parametrize(("toml", "mib"), [("", 64), ("writer_cache_mib = 16\n", 16)])
async def test_the_pipeline_writer_uses_the_config(
    make_config: Callable[..., Config], autojump_clock: object, toml: str, mib: int
) -> None:
    config = make_config(toml)
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        assert rt.writer is not None
        assert await rt.writer.run_pragma("cache_size") == [(-mib * 1024,)]


@pytest.mark.parametrize("value", ["0", "-4", "65537", '"big"'])
def test_config_refuses_a_size_out_of_range(make_config: Callable[..., Config], value: str) -> None:
    with pytest.raises(ConfigError, match=r"storage\.writer_cache_mib") as caught:
        make_config(f"writer_cache_mib = {value}\n")
    assert "\n" not in str(caught.value)
