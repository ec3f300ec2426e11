"""The CLI: status --json schema, check exit codes, cadence, run start/stop, ingest errors.

``status`` and ``check`` read the database: on both engines (``engines``; "without a
database" is no SQLite file yet, or a PostgreSQL database the writer has not initialised).
Starting and stopping ``run`` (processes, signals) stays on SQLite: its storage is the
writer's, tested on both engines in test_writer.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marketmem import cli
from marketmem.clock import SystemClock
from marketmem.plugins import SOURCES
from marketmem.storage import engine, schema

ROOT = Path(__file__).resolve().parent.parent

STATUS_KEYS = {
    "source",
    "channel",
    "enabled",
    "status",
    "cadence_s",
    "stale_after_s",
    "last_started_at",
    "last_finished_at",
    "last_success_at",
    "rows_written",
    "error",
    "gaps",
}


Location = Path | str


def write_config(tmp_path: Path, channels: str = "", database: Location | None = None) -> Path:
    """A config file; its database is ``database`` (a SQLite file or a PostgreSQL URL), by
    default ``tmp_path/"m.db"``."""
    location = database or tmp_path / "m.db"
    where = f'url = "{location}"' if engine.is_postgres(location) else f'path = "{location}"'
    conf = tmp_path / "c.toml"
    conf.write_text(
        f"[storage]\n{where}\n[http]\nenabled = false\n[hyperliquid.channels]\n{channels}"
    )
    return conf


def seed_runs(
    path: Location, rows: list[tuple[str, str, str, int, int | None, str | None]]
) -> None:
    conn = engine.open_writer(path)
    schema.migrate(conn, SOURCES)
    with conn:
        for i, (source, channel, status, started, finished, error) in enumerate(rows):
            conn.execute(
                "INSERT INTO ingestion_runs VALUES (?, ?, ?, ?, ?, ?, 3, ?, NULL)",
                (f"{channel}-{started}-{i}", source, channel, started, finished, status, error),
            )
    conn.close()


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.engines
def test_status_json_schema(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write_config(tmp_path, "registry = { enabled = true }\n", database)
    now = SystemClock().now_ms()
    seed_runs(
        database,
        [
            ("hyperliquid", "registry", "ok", now - 5000, now - 4000, None),
            ("hyperliquid", "candles", "failed", now - 3000, now - 2000, "HttpStatusError: 422"),
        ],
    )
    code, out, _ = run_cli(["--config", str(conf), "status", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 16 and all(set(r) == STATUS_KEYS for r in rows)
    by = {(r["source"], r["channel"]): r for r in rows}
    reg = by[("hyperliquid", "registry")]
    assert reg["status"] == "ok" and reg["enabled"] is True and reg["rows_written"] == 3
    assert reg["last_success_at"].endswith("Z") and reg["stale_after_s"] == 7200
    assert by[("hyperliquid", "candles")]["status"] == "failed"
    assert by[("hyperliquid", "candles")]["error"] == "HttpStatusError: 422"
    assert by[("polymarket", "discovery")]["status"] == "missing"


@pytest.mark.engines
def test_status_table_without_database(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write_config(tmp_path, database=database)
    code, out, _ = run_cli(["--config", str(conf), "status"], capsys)
    assert code == 0
    assert "hyperliquid/registry" in out and "missing" in out


@pytest.mark.engines
def test_check_exit_codes(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    now = SystemClock().now_ms()
    conf = write_config(tmp_path, "registry = { enabled = true }\n", database)
    # Enabled channel never ran: 1.
    code, out, _ = run_cli(["--config", str(conf), "check"], capsys)
    assert code == 1 and "hyperliquid/registry: missing" in out
    seed_runs(database, [("hyperliquid", "registry", "ok", now - 2000, now - 1000, None)])
    code, out, _ = run_cli(["--config", str(conf), "check"], capsys)
    assert code == 0 and out.startswith("ok")
    # A disabled failing channel does not count; an enabled one does.
    conf2 = write_config(
        tmp_path, "registry = { enabled = true }\ncandles = { enabled = true }\n", database
    )
    seed_runs(database, [("hyperliquid", "candles", "failed", now - 500, now - 100, "boom")])
    code, out, _ = run_cli(["--config", str(conf2), "check"], capsys)
    assert code == 1 and "hyperliquid/candles: failed: boom" in out
    assert "registry" not in out


def test_check_with_nothing_enabled_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["--config", str(write_config(tmp_path)), "check"], capsys)
    assert code == 1 and "no channel is enabled" in err


def test_cadence_lists_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--config", str(write_config(tmp_path)), "cadence"], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("hyperliquid/candles "))
    assert line.split()[2:] == ["60s", "360s"]


def test_ingest_unknown_source_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["--config", str(write_config(tmp_path)), "ingest", "nosuch"], capsys)
    assert code == 2 and "no one-off channel nosuch" in err


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MARKETMEM_CONFIG"] = str(write_config(tmp_path))
    env["MARKETMEM_DB"] = str(tmp_path / "env.db")
    return env


def test_run_duration_starts_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "marketmem", "run", "--duration", "1"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env.db").exists()  # MARKETMEM_DB honoured
    status = subprocess.run(
        [sys.executable, "-m", "marketmem", "status", "--json"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0 and len(json.loads(status.stdout)) == 16


def test_sigterm_stops_run_within_5_seconds(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketmem", "run"],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "env.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert code == 0
        assert time.monotonic() - sent < 5
        assert "shutting down" in (proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.engines
def test_status_lists_pending_candle_gaps(
    tmp_path: Path, database: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write_config(tmp_path, "candles = { enabled = true }\n", database)
    now = SystemClock().now_ms()
    seed_runs(database, [("hyperliquid", "candles", "ok", now - 5000, now - 4000, None)])
    conn = engine.open_writer(database)
    with conn:
        conn.execute(
            "INSERT INTO hyperliquid_candle_gaps VALUES ('BTC', ?, ?, 'reconnect', ?, 4, ?, ?)",
            (1_795_564_800_000, 1_795_565_100_000, now - 300_000, "HTTP 500 from /info", now),
        )
        conn.execute(
            "INSERT INTO hyperliquid_candle_gaps VALUES ('ETH', ?, NULL, 'start-up', ?, 0, NULL, ?)",
            (1_795_564_800_000, now - 60_000, now),
        )
    conn.close()
    code, out, _ = run_cli(["--config", str(conf), "status", "--json"], capsys)
    assert code == 0
    by = {(r["source"], r["channel"]): r for r in json.loads(out)}
    gaps = by[("hyperliquid", "candles")]["gaps"]
    assert [(g["coin"], g["failed_attempts"]) for g in gaps] == [("BTC", 4), ("ETH", 0)]
    assert gaps[0]["first_open_time"] == "2026-11-25T00:00:00.000Z"
    assert gaps[1]["last_open_time"] is None
    assert by[("hyperliquid", "registry")]["gaps"] == []
    code, out, _ = run_cli(["--config", str(conf), "status"], capsys)
    assert "hyperliquid/candles: 2 candle gap(s) pending" in out
    assert "BTC: from 2026-11-25T00:00:00.000Z to 2026-11-25T00:05:00.000Z, after reconnect" in out
    assert "4 failed attempt(s): HTTP 500 from /info" in out
    assert "ETH: from 2026-11-25T00:00:00.000Z link down, after start-up" in out
