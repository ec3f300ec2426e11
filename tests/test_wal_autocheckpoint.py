"""[storage] wal_autocheckpoint: 0 leaves every checkpoint to Litestream; N checkpoints at N."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from marketmem.clock import TrioWallClock
from marketmem.config import Config, ConfigError
from marketmem.events import Candle, CandleBatch
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.storage import db
from tests.conftest import T0_MS


def wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


def test_open_rw_sets_the_threshold(tmp_path: Path) -> None:
    default = db.open_rw(tmp_path / "a.db")
    off = db.open_rw(tmp_path / "b.db", wal_autocheckpoint=0)
    assert default.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert off.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    default.close()
    off.close()


def test_zero_lets_the_wal_grow_until_someone_else_checkpoints(tmp_path: Path) -> None:
    sizes = {}
    for n in (0, 8):
        path = tmp_path / f"w{n}.db"
        conn = db.open_rw(path, wal_autocheckpoint=n)
        conn.execute("CREATE TABLE t(x BLOB)")
        for _ in range(100):
            with conn:
                conn.execute("INSERT INTO t VALUES (randomblob(3000))")
        sizes[n] = wal_bytes(path)
        if n == 0:
            # What Litestream does in its own time.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            assert wal_bytes(path) == 0
        conn.close()
    assert sizes[0] > 100 * 4096  # every committed page is still in the WAL
    assert sizes[0] > 4 * sizes[8]  # checkpointed and reused from the start


def test_config_rejects_a_negative_threshold(make_config: Callable[..., Config]) -> None:
    assert make_config().storage.wal_autocheckpoint == 1000
    with pytest.raises(ConfigError, match=r"storage\.wal_autocheckpoint"):
        make_config("wal_autocheckpoint = -1\n")


@pytest.mark.parametrize(("threshold", "grows"), [(0, True), (4, False)])
async def test_the_pipeline_writer_uses_the_config(
    make_config: Callable[..., Config],
    tmp_path: Path,
    autojump_clock: object,
    threshold: int,
    grows: bool,
) -> None:
    config = make_config(f"wal_autocheckpoint = {threshold}\n")
    path, first = tmp_path / "test.db", 0
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        writer = rt.writer
        for k in range(40):
            rows = [
                Candle(
                    coin="BTC",
                    interval="1m",
                    open_time_ms=(k * 100 + i) * 60_000,
                    close_time_ms=(k * 100 + i) * 60_000 + 59_999,
                    open=1.0,
                    high=1.0,
                    low=1.0,
                    close=1.0,
                    volume=1.0,
                    trades=1,
                    closed=True,
                    updated_at_ms=k,
                )
                for i in range(100)
            ]
            await rt.bus.publish(CandleBatch(rows=rows))
            while writer.stats.events <= k:  # one transaction per batch
                await trio.sleep(0.01)
            if k == 0:
                first = wal_bytes(path)  # the schema's transaction makes the WAL this big
        # Measured while the writer is open: closing the last connection checkpoints.
        last = wal_bytes(path)
    if grows:
        assert last > first + 39 * 2 * 4096  # every batch's pages are still in the WAL
    else:
        assert last == first  # checkpointed after each commit and reused from the start
