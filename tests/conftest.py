"""Shared test helpers: recorded fixtures from ../shared/fixtures, configs, pipelines, the
PostgreSQL fixtures of tests/pg.py (pg_url, pg_database, pg_schema), and test artefacts
(``save_artifact``).

The storage contract: a test module marked ``engines`` (``pytestmark = pytest.mark.engines``),
or a test marked so itself, runs every test that builds its config with
``make_config``/``config``/``runtime``, or takes the ``database`` fixture, once per storage
engine: on a SQLite file in tmp_path and on a new, empty PostgreSQL schema (``pg_schema``:
a schema of its own in a database the session shares, as isolated as a database for tables
and far cheaper to make; the ``engine`` fixture says which engine; the PostgreSQL run is
marked ``pg``). ``database`` is the location such a test hands the storage writer itself:
``tmp_path/"test.db"``, or that PostgreSQL URL (the same location ``config.database()``
names). A test about what PostgreSQL keeps per database (advisory locks, sessions, database
settings) takes ``pg_database`` instead. Such a test reads what was stored with
``storage.engine.open_ro(location)`` and ``engine.query``, in SQL both engines run
(``WHERE closed``, not ``closed = 1``; ``"user"`` quoted).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import Candle
from marketmem.executors import inline_executor
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.runtime import Runtime
from marketmem.storage import engine as storage_engine
from tests.configs import channels_off
from tests.pg import ENGINES, mark_pg_tests
from tests.pg import pg_database as pg_database
from tests.pg import pg_schema as pg_schema
from tests.pg import pg_shared_database as pg_shared_database
from tests.pg import pg_url as pg_url

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
# What tests leave to look at (screenshots); git-ignored, listed at the end of the run.
ARTIFACTS = ROOT / "test-artifacts"

# 2026-11-25T00:00:00Z, a fixed start for wall clocks under MockClock.
T0_MS = 1_795_564_800_000


_STARTED = pytest.StashKey[float]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_pg_tests(items)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("engines") and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The storage engine of the test's database: SQLite, or each in turn in a module marked
    ``engines``."""
    return str(getattr(request, "param", "sqlite"))


def save_artifact(name: str, data: bytes) -> Path:
    """Write ``data`` to ``test-artifacts/name``; its path is printed when the run ends."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    return path


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    # By time, not by a list: a test module may import this file under another name.
    started = config.stash.get(_STARTED, time.time())
    if ARTIFACTS.is_dir():
        for path in sorted(ARTIFACTS.iterdir()):
            if path.stat().st_mtime >= started:
                terminalreporter.write_line(f"test artefact: {path}")


def fixture_path(source: str, name: str) -> Path:
    """Path of a recorded payload; skips the test with a clear reason when it is absent."""
    path = FIXTURES / source / name
    if not path.exists():
        pytest.skip(f"recorded fixture {path} is absent (../shared/fixtures not beside the repo)")
    return path


def minute_candle(
    minute: int, *, coin: str = "BTC", close: float = 1.5, closed: bool = True
) -> Candle:
    """A 1-minute bar opening at ``minute`` minutes after the epoch (updated_at_ms = minute)."""
    return Candle(
        coin=coin,
        interval="1m",
        open_time_ms=minute * 60_000,
        close_time_ms=minute * 60_000 + 59_999,
        open=1.0,
        high=2.0,
        low=0.5,
        close=close,
        volume=3.0,
        trades=4,
        closed=closed,
        updated_at_ms=minute,
    )


def needs_fixtures(source: str) -> pytest.MarkDecorator:
    """Skip (with the reason) when a source's recorded fixtures are absent.

    For async tests: a skip raised inside trio.run loses its reason, so decide at collection.
    """
    folder = FIXTURES / source
    return pytest.mark.skipif(
        not folder.is_dir(),
        reason=f"recorded fixtures {folder} are absent (../shared/fixtures not beside the repo)",
    )


def fixture_files(source: str, pattern: str = "*") -> list[Path]:
    folder = FIXTURES / source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if p.name != "SOURCES.md")


@pytest.fixture
def database(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> str | Path:
    """The test's database: the SQLite file ``tmp_path/"test.db"``, or the URL of a new
    PostgreSQL schema (``pg_schema``) when the test runs on that engine."""
    if engine == "postgresql":
        return str(request.getfixturevalue("pg_schema"))
    return tmp_path / "test.db"


def stored(
    location: str | Path, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
) -> list[dict[str, Any]]:
    """The rows of ``sql`` on the database at ``location`` (either engine), as dicts."""
    conn = storage_engine.open_ro(location)
    try:
        return storage_engine.query(conn, sql, params)
    finally:
        conn.close()


def stored_tuples(
    location: str | Path, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the database at ``location`` (either engine), as tuples."""
    conn = storage_engine.open_ro(location)
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


@pytest.fixture
def make_config(tmp_path: Path, database: str | Path) -> Callable[..., Config]:
    """Build a Config from TOML text, with the database in tmp_path (a SQLite file), or a new
    PostgreSQL schema when the test runs on that engine (``database``). Every channel the text
    does not enable (or disable) itself is off (``tests.configs.channels_off``)."""
    url = database if isinstance(database, str) else ""

    def make(toml: str = "") -> Config:
        text = f'[storage]\npath = "{tmp_path / "test.db"}"\nurl = "{url}"\n' + toml
        return parse_config(channels_off(text), source_path="test.toml")

    return make


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
async def runtime(config: Config, autojump_clock: object) -> AsyncIterator[Runtime]:
    """A pipeline (bus + writer): inline SQLite, wall clock from trio time.

    NOTE: pytest-trio picks the clock from the *test function's* arguments only, so a test
    using this fixture must also take ``autojump_clock`` itself to run on MockClock.
    """
    if not isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
        pytest.fail("a test using the `runtime` fixture must take `autojump_clock` itself")
    async with open_pipeline(config, clock=TrioWallClock(T0_MS), executor=inline_executor) as rt:
        yield rt
