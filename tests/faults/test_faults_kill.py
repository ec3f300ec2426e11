"""kill -9 of ``marketmem run`` during sustained ingestion, again and again.

The local Hyperliquid venue runs as its own process; the service streams candles and mids
from it and polls registry and liquidity profiles. Each round starts the service, waits until
it has committed rows of its own (a new 5-second mid bucket) while a run is open, remembers
every committed key through a read-only connection, and SIGKILLs it. After each kill the file
passes ``PRAGMA integrity_check`` and holds every key confirmed so far; each restart closes
the runs the kill left ``running`` as failed (interrupted). A last start stops cleanly, and
``status --json`` shows no channel running.

``MARKETMEM_KILL_ROUNDS`` sets the number of kills (default 3, what CI runs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketmem.storage.core_tables import INTERRUPTED
from tests.faults.storage_helpers import (
    EMPTY,
    KEYS,
    Snapshot,
    hard_stop,
    has_tables,
    integrity,
    read_rows,
    run_cli,
    snapshot,
    start_service,
    start_venue,
    write_service_config,
)

KILL_ROUNDS = int(os.environ.get("MARKETMEM_KILL_ROUNDS", "3"))
# Three coins keep restarts (meta, backfill) and liquidity runs well inside the venue's per-IP
# weight budget (1200/min), which a restarted process cannot know it already spent.
COINS = ("BTC", "ETH", "SOL")
ROUND_TIMEOUT_S = 20.0
# A restarted process starts with a full weight budget, yet the venue remembers what the killed
# one spent (~130 per start: two meta, three candleSnapshot, one metaAndAssetCtxs); at most one
# start per MIN_ROUND_S keeps any number of rounds under 1200/min.
MIN_ROUND_S = 7.0
ENABLED = {"registry", "candles", "mids", "liquidity_profiles"}
NOTHING_MISSING = dict.fromkeys(KEYS, 0)


def wait_for(
    proc: subprocess.Popen[Any],
    db_path: Path,
    log: Path,
    ready: Callable[[Snapshot], bool],
) -> Snapshot:
    """Poll read-only snapshots of the service until ``ready`` (not before MIN_ROUND_S after
    it started); fail with its log when it makes no progress."""
    not_before = time.monotonic() + MIN_ROUND_S
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the service exited ({proc.returncode}):\n{tail(log)}"
        if time.monotonic() >= not_before and has_tables(db_path):
            snap = snapshot(db_path)
            if ready(snap):
                return snap
        time.sleep(0.05)
    raise AssertionError(f"the service made no progress in {ROUND_TIMEOUT_S}s:\n{tail(log)}")


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def runs_by_id(db_path: Path) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in read_rows(db_path, "SELECT * FROM ingestion_runs")}


@pytest.mark.slow
def test_kill_9_during_ingestion_loses_no_committed_row(tmp_path: Path) -> None:
    assert KILL_ROUNDS >= 1
    started = time.monotonic()
    venue = start_venue()
    procs: list[subprocess.Popen[Any]] = [venue.proc]
    db_path, log = tmp_path / "kill.db", tmp_path / "service.log"
    conf = write_service_config(tmp_path, venue, COINS)
    confirmed = EMPTY
    interrupted: set[str] = set()
    try:
        for _ in range(KILL_ROUNDS):
            proc = start_service(conf, log)
            procs.append(proc)
            before = confirmed

            def progressed(snap: Snapshot, before: Snapshot = before) -> bool:
                # Rows of this process (a mid bucket never seen before) and an open run.
                return snap.new_in("hyperliquid_mid_prices", before) and bool(snap.running)

            snap = wait_for(proc, db_path, log, progressed)
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL

            # This start closed what the previous kill left running, before writing anything.
            runs = runs_by_id(db_path)
            for run_id in interrupted:
                assert (runs[run_id]["status"], runs[run_id]["error"]) == ("failed", INTERRUPTED)
            interrupted |= snap.running
            confirmed = confirmed.merge(snap)
            assert integrity(db_path) == ["ok"]
            assert confirmed.missing_from(snapshot(db_path)) == NOTHING_MISSING

        # A last start: it closes the last kill's open runs, ingests, and stops cleanly.
        proc = start_service(conf, log)
        procs.append(proc)
        wait_for(proc, db_path, log, lambda snap: snap.new_in("hyperliquid_mid_prices", confirmed))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, tail(log)

        final = snapshot(db_path)
        assert integrity(db_path) == ["ok"]
        assert confirmed.missing_from(final) == NOTHING_MISSING
        assert not final.running
        runs = runs_by_id(db_path)
        assert len(interrupted) >= KILL_ROUNDS
        for run_id in interrupted:
            assert (runs[run_id]["status"], runs[run_id]["error"]) == ("failed", INTERRUPTED)

        status = run_cli(conf, "status", "--json")
        assert status.returncode == 0, status.stderr
        rows = json.loads(status.stdout)
        assert not [r for r in rows if r["status"] == "running"]
        ours = {r["channel"]: r for r in rows if r["source"] == "hyperliquid"}
        for channel in ENABLED:
            assert ours[channel]["enabled"] and ours[channel]["status"] != "missing", ours[channel]
        assert all(confirmed.keys.values())  # every checked table had rows to lose
        counts = ", ".join(f"{t} {len(k)}" for t, k in confirmed.keys.items())
        print(
            f"{KILL_ROUNDS} kills, {confirmed.size} confirmed keys checked ({counts}), "
            f"{len(interrupted)} interrupted runs closed, {time.monotonic() - started:.1f}s"
        )
    finally:
        for p in reversed(procs):
            hard_stop(p)
