"""Helpers of the storage and crash fault tests.

- SQLite faults made on the storage writer's own connection (``run_pragma``): a full disk
  (``max_page_count``) and a read-only database (``query_only``); file permissions cannot
  make either for root.
- Rows with unique keys, so "nothing lost" is an exact count.
- A recorder of what the writer reports (``CommitFailed``/``Committed``) and of finished runs.
- The subprocess plumbing of the kill -9 test: the local Hyperliquid venue, the service, a
  read-only snapshot of what is committed, and hard stops of every process started.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from marketmem.bus import Bus, Policy
from marketmem.clock import WallClock
from marketmem.events import (
    Candle,
    CandleBatch,
    CommitFailed,
    Committed,
    MidBatch,
    MidPrice,
    RunFinished,
)
from marketmem.storage import db
from marketmem.storage.writer import StorageWriter
from tests.configs import channels_off

ROOT = Path(__file__).resolve().parent.parent.parent

# SQLite's largest max_page_count: "no limit" again after a simulated full disk.
UNLIMITED_PAGES = 4_294_967_294


# --- storage faults on the writer's connection --------------------------------------------


async def fill_disk(writer: StorageWriter) -> None:
    """From now on the file cannot grow: a commit needing a new page raises FullError."""
    (pages,) = (await writer.run_pragma("page_count"))[0]
    assert (await writer.run_pragma(f"max_page_count={pages}")) == [(pages,)]


async def free_disk(writer: StorageWriter) -> None:
    await writer.run_pragma(f"max_page_count={UNLIMITED_PAGES}")


async def make_read_only(writer: StorageWriter) -> None:
    await writer.run_pragma("query_only=1")


async def make_writable(writer: StorageWriter) -> None:
    await writer.run_pragma("query_only=0")


@dataclass(frozen=True)
class StorageFault:
    name: str
    # What the writer reports while the fault lasts: "<apsw exception>: <SQLite message>".
    error: str
    apply: Callable[[StorageWriter], Awaitable[None]]
    clear: Callable[[StorageWriter], Awaitable[None]]


DISK_FULL = StorageFault("disk-full", "FullError: database or disk is full", fill_disk, free_disk)
READ_ONLY = StorageFault(
    "read-only",
    "ReadOnlyError: attempt to write a readonly database",
    make_read_only,
    make_writable,
)


# --- rows with unique keys -------------------------------------------------------------------


@dataclass
class RowSource:
    """Makes candles and mids that never repeat a key, and remembers every key it made."""

    candle_keys: set[tuple[str, int]] = field(default_factory=set)
    mid_keys: set[tuple[str, int]] = field(default_factory=set)
    _next_candle: int = 0
    _next_bucket: int = 0

    def candles(self, n: int, coin: str = "BTC") -> CandleBatch:
        rows = []
        for _ in range(n):
            t = self._next_candle * 60_000
            self._next_candle += 1
            rows.append(
                Candle(
                    coin=coin,
                    interval="1m",
                    open_time_ms=t,
                    close_time_ms=t + 59_999,
                    open=1.0,
                    high=2.0,
                    low=0.5,
                    close=1.5,
                    volume=3.0,
                    trades=4,
                    closed=True,
                    updated_at_ms=t + 60_000,
                )
            )
            self.candle_keys.add((coin, t))
        return CandleBatch(rows=rows)

    def mids(self, coins: tuple[str, ...] = ("BTC", "ETH")) -> MidBatch:
        bucket = self._next_bucket * 5000
        self._next_bucket += 1
        rows = [
            MidPrice(coin=c, bucket_ms=bucket, price=100.0 + i, observed_at_ms=bucket + 1)
            for i, c in enumerate(coins)
        ]
        self.mid_keys.update((c, bucket) for c in coins)
        return MidBatch(rows=rows)


# --- what the writer reports ------------------------------------------------------------------


@dataclass
class WriterOutcomes:
    """Records the writer's CommitFailed/Committed and every RunFinished, with trio time.

    Subscribes lossy (DROP_NEWEST, large buffer) so it never holds a publisher up; ``dropped``
    stays 0 in these tests. ``collect`` ends when the bus closes.
    """

    bus: Bus
    clock: WallClock
    failures: list[tuple[float, CommitFailed]] = field(default_factory=list)
    commits: list[tuple[float, Committed]] = field(default_factory=list)
    runs: list[RunFinished] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rx = self.bus.subscribe(
            "fault-outcomes",
            [CommitFailed, Committed, RunFinished],
            buffer=100_000,
            policy=Policy.DROP_NEWEST,
        )

    async def collect(self) -> None:
        async for event in self._rx:
            now = trio.current_time()
            if isinstance(event, CommitFailed):
                self.failures.append((now, event))
            elif isinstance(event, Committed):
                self.commits.append((now, event))
            elif isinstance(event, RunFinished):
                self.runs.append(event)

    def recovered_at(self) -> float:
        """Trio time of the first commit after the last failure."""
        last = self.failures[-1][0]
        return next(t for t, _ in self.commits if t > last)


# --- reading the database ----------------------------------------------------------------------


def read_rows(path: str | Path, sql: str) -> list[dict[str, Any]]:
    conn = db.open_ro(path)
    try:
        return db.query(conn, sql)
    finally:
        conn.close()


def count_rows(path: str | Path, table: str) -> int:
    return int(read_rows(path, f"SELECT count(*) AS n FROM {table}")[0]["n"])


# The natural key of each table the kill test checks.
KEYS = {
    "hyperliquid_candles": "coin, interval, open_time_ms",
    "hyperliquid_mid_prices": "coin, bucket_ms",
    "hyperliquid_assets": "coin",
    "hyperliquid_liquidity_profiles": "coin, computed_at_ms",
    "hyperliquid_liquidity_impacts": "coin, computed_at_ms, notional_usd, side",
    "ingestion_runs": "run_id",
}


@dataclass(frozen=True)
class Snapshot:
    """Keys of the rows committed at one moment (per table), and the runs then running."""

    keys: dict[str, frozenset[tuple[Any, ...]]]
    running: frozenset[str]

    @property
    def size(self) -> int:
        return sum(len(k) for k in self.keys.values())

    def new_in(self, table: str, before: Snapshot) -> bool:
        return bool(self.keys[table] - before.keys[table])

    def missing_from(self, now: Snapshot) -> dict[str, int]:
        """How many of these keys each table of ``now`` lacks (all zeros when none is lost)."""
        return {t: len(keys - now.keys[t]) for t, keys in self.keys.items()}

    def merge(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            keys={t: k | other.keys[t] for t, k in self.keys.items()},
            running=self.running | other.running,
        )


EMPTY = Snapshot(keys={t: frozenset() for t in KEYS}, running=frozenset())


def snapshot(path: Path) -> Snapshot:
    """Read every key through a read-only connection, in one read transaction."""
    conn = db.open_ro(path)
    try:
        with conn:
            keys = {
                t: frozenset(map(tuple, conn.execute(f"SELECT {cols} FROM {t}").fetchall()))
                for t, cols in KEYS.items()
            }
            running = conn.execute(
                "SELECT run_id FROM ingestion_runs WHERE status = 'running'"
            ).fetchall()
    finally:
        conn.close()
    return Snapshot(keys=keys, running=frozenset(str(r) for (r,) in running))


def has_tables(path: Path) -> bool:
    """Whether the service created its schema yet (the file may exist before that)."""
    if not path.exists():
        return False
    try:
        rows = read_rows(path, "SELECT name FROM sqlite_master WHERE name = 'ingestion_runs'")
    except Exception:
        return False
    return bool(rows)


# --- processes for the kill -9 test ---------------------------------------------------------


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MARKETMEM_DB", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def hard_stop(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process this test started (if still alive) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


@dataclass
class Venue:
    proc: subprocess.Popen[bytes]
    info_url: str
    ws_url: str


def start_venue(seed: int = 7, timeout_s: float = 20.0) -> Venue:
    """``python -m marketmem.venues.hyperliquid`` on free 127.0.0.1 ports; reads its URLs.

    ``--port 0`` lets the OS pick both ports (no race for a guessed free port); the venue
    prints ``info_url = "..."`` and ``ws_url = "..."`` once it listens.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketmem.venues.hyperliquid", "--port", "0", "--seed", str(seed)],
        cwd=ROOT,
        env=_python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    urls: dict[str, str] = {}
    out = b""
    deadline = time.monotonic() + timeout_s
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while len(urls) < 2:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"the local venue did not report its URLs: {out!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                out += os.read(fd, 4096)
            for line in out.decode().splitlines():
                key, sep, value = line.partition(" = ")
                if sep and key in ("info_url", "ws_url"):
                    urls[key] = json.loads(value)
    except BaseException:
        hard_stop(proc)
        raise
    for url in urls.values():
        assert "127.0.0.1" in url, url
    return Venue(proc=proc, info_url=urls["info_url"], ws_url=urls["ws_url"])


def write_service_config(tmp_path: Path, venue: Venue, coins: tuple[str, ...]) -> Path:
    """Registry, candles, mids and liquidity profiles against the venue; no HTTP server.

    The liquidity channel (one ``l2Book`` per coin, 0.8 s apart, every 4 s) keeps a run open
    most of the time, so a kill usually leaves one ``running`` for the next start to close.
    """
    conf = tmp_path / "kill.toml"
    coin_list = ", ".join(json.dumps(c) for c in coins)
    conf.write_text(
        channels_off(
            f"[storage]\npath = {json.dumps(str(tmp_path / 'kill.db'))}\n"
            "writer_max_gather_s = 0.02\n"
            "[http]\nenabled = false\n"
            "[hyperliquid]\n"
            f"info_url = {json.dumps(venue.info_url)}\n"
            f"ws_url = {json.dumps(venue.ws_url)}\n"
            f"coins = [{coin_list}]\n"
            "ws_backoff_initial_s = 0.2\n"
            "ws_backoff_max_s = 1.0\n"
            "run_window_s = 1.0\n"
            "[hyperliquid.features]\n"
            "l2_request_spacing_s = 0.8\n"
            "[hyperliquid.channels]\n"
            "registry = { enabled = true }\n"
            "candles = { enabled = true }\n"
            "mids = { enabled = true }\n"
            "liquidity_profiles = { enabled = true, cadence_s = 4 }\n"
        )
    )
    return conf


def service_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "marketmem", *args]


def start_service(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    """``marketmem run`` from the repository root, its output appended to ``log``."""
    env = _python_env()
    env["MARKETMEM_CONFIG"] = str(conf)
    with log.open("ab") as out:
        return subprocess.Popen(
            service_command("run"), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def run_cli(conf: Path, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    env = _python_env()
    env["MARKETMEM_CONFIG"] = str(conf)
    return subprocess.run(
        service_command(*args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` through a read-only connection (``["ok"]`` when intact)."""
    return [str(r["integrity_check"]) for r in read_rows(path, "PRAGMA integrity_check")]
