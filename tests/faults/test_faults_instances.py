"""Two ``marketmem run`` instances on one PostgreSQL database, and a SIGKILL of the holder.

Both run the same config against the local Hyperliquid venue (its own process), each under
its own ``[service] name``. While both live, each channel is ingested by one of them: every
run of a channel names the same instance. After SIGKILL of the instance holding the candles,
the standby takes its leases (the server releases a dead session's advisory locks), starts
the stream, backfills from the last stored closed bar, and from then on the runs name it.
The closed 1-minute candles of every coin have no hole across the takeover.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketmem.storage import engine
from tests.configs import channels_off
from tests.faults.storage_helpers import Venue, hard_stop, start_service, start_venue

COINS = ("BTC", "ETH")
CHANNELS = ("registry", "candles", "mids")
TIMEOUT_S = 60.0
MINUTE_MS = 60_000


def write_config(tmp_path: Path, venue: Venue, url: str, name: str) -> Path:
    conf = tmp_path / f"{name}.toml"
    conf.write_text(
        channels_off(
            f"[storage]\nurl = {json.dumps(url)}\nwriter_max_gather_s = 0.02\n"
            "[http]\nenabled = false\n"
            f"[service]\nname = {json.dumps(name)}\nstandby_poll_s = 0.5\n"
            "[hyperliquid]\n"
            f"info_url = {json.dumps(venue.info_url)}\n"
            f"ws_url = {json.dumps(venue.ws_url)}\n"
            f"coins = {json.dumps(list(COINS))}\n"
            "ws_backoff_initial_s = 0.2\nws_backoff_max_s = 1.0\nrun_window_s = 1.0\n"
            "[hyperliquid.channels]\n"
            "registry = { enabled = true, cadence_s = 5 }\n"
            "candles = { enabled = true, cadence_s = 2 }\n"
            "mids = { enabled = true, cadence_s = 2 }\n"
        )
    )
    return conf


def rows(url: str, sql: str) -> list[dict[str, Any]]:
    conn = engine.open_ro(url)
    try:
        return engine.query(conn, sql)
    finally:
        conn.close()


def runs_by_channel(url: str) -> dict[str, list[dict[str, Any]]]:
    if not rows(url, "SELECT 1 FROM information_schema.tables WHERE table_name='ingestion_runs'"):
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows(
        url,
        "SELECT channel, instance, status, started_at_ms FROM ingestion_runs "
        "WHERE source = 'hyperliquid' ORDER BY started_at_ms",
    ):
        out.setdefault(r["channel"], []).append(r)
    return out


def wait_until(what: str, ready: Callable[[], bool], procs: list[subprocess.Popen[Any]]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not ready():
        for p in procs:
            assert p.poll() is None, f"an instance exited ({p.returncode}) while waiting: {what}"
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.3)


def closed_minutes(url: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {c: [] for c in COINS}
    for r in rows(
        url,
        "SELECT coin, open_time_ms FROM hyperliquid_candles WHERE interval = '1m' AND closed "
        "ORDER BY coin, open_time_ms",
    ):
        out[r["coin"]].append(r["open_time_ms"])
    return out


@pytest.mark.slow
def test_a_standby_takes_over_after_sigkill_with_no_hole_in_the_candles(
    tmp_path: Path, pg_database: str
) -> None:
    venue = start_venue()
    procs: list[subprocess.Popen[Any]] = [venue.proc]
    try:
        confs = {n: write_config(tmp_path, venue, pg_database, n) for n in ("alpha", "beta")}
        started = {n: start_service(c, tmp_path / f"{n}.log") for n, c in confs.items()}
        procs += started.values()

        def every_channel_ran() -> bool:
            runs = runs_by_channel(pg_database)
            return all(len(runs.get(c, [])) >= 2 for c in CHANNELS)

        wait_until("both instances up, every channel run twice", every_channel_ran, procs)
        # Each channel is one instance's: all its runs name the same instance.
        runs = runs_by_channel(pg_database)
        owners = {c: {r["instance"] for r in runs[c]} for c in CHANNELS}
        assert all(len(o) == 1 for o in owners.values()), owners
        holder = next(iter(owners["candles"]))
        standby = "beta" if holder == "alpha" else "alpha"
        wait_until(
            "a closed minute stored for every coin",
            lambda: all(closed_minutes(pg_database).values()),
            procs,
        )

        killed_at_ms = int(time.time() * 1000)
        started[holder].send_signal(signal.SIGKILL)
        assert started[holder].wait(timeout=10) == -signal.SIGKILL

        def standby_streams() -> bool:
            runs = runs_by_channel(pg_database)
            return any(
                r["instance"] == standby and r["started_at_ms"] > killed_at_ms
                for c in ("candles", "mids")
                for r in runs.get(c, [])
            )

        wait_until("the standby runs the stream", standby_streams, [venue.proc, started[standby]])
        # The bar open when the holder died closes at the next minute: the standby stores it.
        kill_minute = killed_at_ms // MINUTE_MS * MINUTE_MS
        wait_until(
            "the bar of the kill's minute closed, for every coin",
            lambda: all(m and m[-1] >= kill_minute for m in closed_minutes(pg_database).values()),
            [venue.proc, started[standby]],
        )
        for coin, minutes in closed_minutes(pg_database).items():
            holes = [(a, b) for a, b in itertools.pairwise(minutes) if b - a != MINUTE_MS]
            assert holes == [], f"{coin}: holes in the closed 1m candles {holes}"
        after = [
            r
            for c in CHANNELS
            for r in runs_by_channel(pg_database)[c]
            if r["started_at_ms"] > killed_at_ms + 1000
        ]
        assert after and {r["instance"] for r in after} == {standby}
    finally:
        for p in procs:
            hard_stop(p)
