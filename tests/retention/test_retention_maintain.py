"""``marketmem maintain``: one pass from the command line, its report and its progress line
(the report on both engines; the command line and the progress line on SQLite)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing
from retention_helpers import H0, minute

from marketmem import cli
from marketmem.clock import HOUR_MS, MINUTE_MS, TrioWallClock
from marketmem.config import Config
from marketmem.events import CandleBatch, MidBatch, MidPrice
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.retention import command as maintain
from tests.conftest import stored_tuples


@pytest.mark.engines
async def test_maintain_prints_rollups_and_deletes_per_table(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config()
    clock = TrioWallClock(H0 + 25 * HOUR_MS)
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        await rt.bus.publish(
            CandleBatch(
                rows=[minute(c, H0 + m * MINUTE_MS) for c in ("BTC", "ETH") for m in range(120)]
            )
        )
        await rt.bus.publish(
            MidBatch(rows=[MidPrice(coin="BTC", bucket_ms=H0, price=1.0, observed_at_ms=H0)])
        )
    out = io.StringIO()
    code = await maintain.maintain_once(config, out=out, clock=clock, executor=inline_executor)
    text = out.getvalue()
    assert code == 0
    assert text.startswith("hyperliquid/maintenance: ok in ")
    assert "rolled up: 4 hour(s) written to hyperliquid_candles_1h (4 examined" in text
    lines = {
        line.split()[0]: line.split()[1] for line in text.splitlines() if line.startswith("    ")
    }
    # One full hour of minutes is older than 24 h (+ the first minute of the second hour).
    assert lines["hyperliquid_candles"] == "120"
    assert lines["hyperliquid_mid_prices"] == "1"
    assert lines["hyperliquid_candles_1h"] == "0"
    assert "free page(s) released" in text
    assert stored_tuples(
        config.database(), "SELECT source, channel, status, rows_written FROM ingestion_runs"
    ) == [("hyperliquid", "maintenance", "ok", 4 + 120 + 1)]


def test_bin_marketmem_maintain_runs_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "m.db"}"\nwriter_max_gather_s = 0.001\n')
    assert cli.main(["--config", str(path), "maintain"]) == 0
    out = capsys.readouterr().out
    assert "hyperliquid/maintenance: ok" in out
    assert re.search(r"^ +hyperliquid_candles +0$", out, re.MULTILINE)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_shows_each_step_on_a_terminal_only(
    make_config: Callable[..., Config], autojump_clock: trio.testing.MockClock
) -> None:
    config = make_config("[hyperliquid]\nretention_chunk_rows = 10\n")
    clock = TrioWallClock(H0 + 2 * HOUR_MS)
    old_mids = MidBatch(
        rows=[
            MidPrice(coin="BTC", bucket_ms=H0 + i * 5000, price=1.0, observed_at_ms=H0)
            for i in range(25)
        ]
    )

    async def maintain_with_old_mids(stream: io.StringIO) -> None:
        async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
            await rt.bus.publish(old_mids)
        await maintain.maintain_once(
            config, out=io.StringIO(), progress_stream=stream, clock=clock, executor=inline_executor
        )

    piped, tty = io.StringIO(), FakeTerminal()
    await maintain_with_old_mids(piped)
    await maintain_with_old_mids(tty)
    assert piped.getvalue() == ""
    frames = [f.strip() for f in tty.getvalue().split("\r") if f.strip()]
    assert any(f.startswith("delete hyperliquid_mid_prices: ") for f in frames), frames
    assert tty.getvalue().endswith("\n")
