"""The Source contract proved from outside: a source defined here, in the test, plugs in.

``tides`` is a minimal source (one poll channel, one table, one read route, a config section)
that no module of marketmem knows. It is added to the built-in tuple only in this test, and
gets everything a built-in source gets: its config section and channel settings, its table
created and written by the storage writer, its runs recorded with health rows (``status``,
``/api/v1/ingestion/health``), and its read route served, authenticated and documented.
README's "Adding a source" is written from this file.

The service run and the read route run on both engines (``engines``): a source's declared
table is rendered, written and read on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec
import pytest
import trio
import trio.testing

from marketmem.clock import TrioWallClock
from marketmem.commands.core import health_report
from marketmem.config import Base, ConfigError, parse_config
from marketmem.events import ApiTokenCreated, Row, RowBatch
from marketmem.executors import inline_executor
from marketmem.http.app import create_app
from marketmem.http.auth import issue_token
from marketmem.pipeline import open_pipeline
from marketmem.plugins import SOURCES
from marketmem.query import Param
from marketmem.runs import RunContext
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.source import Channel, ReadContext, ReadRoute, Section, Source, Tables, opener
from marketmem.storage import engine
from marketmem.storage.declare import Table, row_columns
from marketmem.storage.tables import Upsert, rows_writer
from marketmem.supervisor import run_service
from tests.configs import channels_off
from tests.conftest import T0_MS

# --- the source, as its own package would define it --------------------------------------------


class TidesConfig(Base):
    """``[tides]``: which station, and how many readings one run takes."""

    station: str = "brest"
    readings_per_run: Annotated[int, msgspec.Meta(gt=0)] = 3


SETTINGS = Section(("tides",), TidesConfig)


class TideReading(Row):
    station: str
    at_ms: int
    height_m: float


class TideReadings(RowBatch):
    rows: list[TideReading]


READINGS = Upsert("tide_readings", TideReading, key=("station", "at_ms"))
TABLE = Table("tide_readings", row_columns(TideReading), primary_key=("station", "at_ms"))


async def readings_job(ctx: RunContext) -> None:
    cfg = SETTINGS.of(ctx.rt.config)
    now = ctx.rt.clock.now_ms()
    rows = [
        TideReading(station=cfg.station, at_ms=now + i, height_m=4.0 + i / 10)
        for i in range(cfg.readings_per_run)
    ]
    await ctx.publish(TideReadings(rows=rows))


def build(rt: Runtime) -> Sequence[ChannelSpec | ActorSpec]:
    cadence = rt.config.channel("tides", "readings").cadence_s
    return [ChannelSpec("tides", "readings", cadence, readings_job)]


class TideReadingsResponse(msgspec.Struct, kw_only=True):
    station: str
    readings: list[TideReading]


def read_readings(ctx: ReadContext, p: dict[str, Any]) -> TideReadingsResponse:
    station = p["station"] or SETTINGS.of(ctx.config).station
    rows = ctx.conn.execute(
        "SELECT station, at_ms, height_m FROM tide_readings WHERE station=? ORDER BY at_ms",
        (station,),
    ).fetchall()
    return TideReadingsResponse(
        station=station,
        readings=[TideReading(station=s, at_ms=t, height_m=h) for s, t, h in rows],
    )


def routes(config: Any) -> Sequence[ReadRoute]:
    return (
        ReadRoute(
            "/api/v1/tides/readings",
            "listTideReadings",
            "Tide heights of one station",
            params=(Param("station", "string", "the station (default: [tides] station)"),),
            response=TideReadingsResponse,
            read=read_readings,
        ),
    )


TIDES = Source(
    name="tides",
    channels=(Channel("tides", "readings", 60, "tide heights"),),
    settings=SETTINGS,
    tables=Tables((TABLE,), {TideReadings: rows_writer(READINGS)}),
    open=opener(build),
    routes=routes,
)

# --- what the rest of marketmem gives it ------------------------------------------------------

WITH_TIDES = (*SOURCES, TIDES)


def tides_config(tmp_path: Path, database: Path | str | None = None, extra: str = "") -> Any:
    """The config of an installation with the tides source; its database is ``database``
    (a SQLite file or a PostgreSQL URL), by default a file in ``tmp_path``."""
    location = database or tmp_path / "t.db"
    where = f'url = "{location}"' if engine.is_postgres(location) else f'path = "{location}"'
    text = (
        f"[storage]\n{where}\n[http]\nenabled = false\n"
        '[tides]\nstation = "roscoff"\n'
        "[tides.channels]\nreadings = { enabled = true, cadence_s = 30 }\n" + extra
    )
    # Only the tides channel (and what extra enables): the real sources would call out.
    return parse_config(
        channels_off(text, WITH_TIDES), source_path="tides.toml", sources=WITH_TIDES
    )


def test_its_config_section_and_channel_settings_are_decoded_and_checked(
    tmp_path: Path,
) -> None:
    config = tides_config(tmp_path)
    tides = SETTINGS.of(config)
    assert isinstance(tides, TidesConfig)
    assert (tides.station, tides.readings_per_run) == ("roscoff", 3)
    assert config.channel("tides", "readings").cadence_s == 30
    assert ("tides", "readings") in {(s, c) for s, c, _ in config.enabled_channels()}
    with pytest.raises(ConfigError, match=r"tides\.readings_per_run"):
        parse_config("[tides]\nreadings_per_run = 0\n", sources=WITH_TIDES)
    with pytest.raises(ConfigError, match=r"tides\.channels\.tidal_wave: unknown key"):
        parse_config("[tides.channels]\ntidal_wave = { enabled = true }\n", sources=WITH_TIDES)
    # Without the source in the tuple, its section is an unknown key like any other.
    with pytest.raises(ConfigError, match=r"tides: unknown key"):
        parse_config("[tides]\nstation = 'x'\n", sources=SOURCES)


@pytest.mark.engines
async def test_the_service_runs_its_channel_writes_its_table_and_records_health(
    tmp_path: Path, database: Path | str, autojump_clock: trio.testing.MockClock
) -> None:
    config = tides_config(tmp_path, database)
    with trio.move_on_after(95):
        await run_service(
            config,
            clock=TrioWallClock(T0_MS),
            executor=inline_executor,
            handle_signals=False,
            http=False,
        )
    conn = engine.open_ro(config.database())
    try:
        readings = tuple(
            conn.execute("SELECT count(*), min(station) FROM tide_readings").fetchone()
        )
        runs = engine.query(
            conn, "SELECT status, rows_written FROM ingestion_runs WHERE source='tides'"
        )
    finally:
        conn.close()
    # Runs at 0, 30, 60 and 90 s, three readings each.
    assert readings == (12, "roscoff")
    assert runs == [{"status": "ok", "rows_written": 3}] * 4
    (row,) = [r.health for r in health_report(config, T0_MS + 95_000) if r.health.source == "tides"]
    assert (row.channel, row.enabled, row.status, row.cadence_s) == (
        "readings",
        True,
        "ok",
        30,
    )


@pytest.mark.engines
async def test_its_read_route_is_served_authenticated_and_documented(
    tmp_path: Path, database: Path | str, autojump_clock: trio.testing.MockClock
) -> None:
    config = tides_config(tmp_path, database)
    token = issue_token()
    clock = TrioWallClock(T0_MS)
    async with open_pipeline(config, clock=clock, executor=inline_executor) as rt:
        await rt.bus.publish(
            ApiTokenCreated(
                token_id=token.token_id, user="u", token_hash=token.token_hash, created_at_ms=0
            )
        )
        await rt.bus.publish(
            TideReadings(rows=[TideReading(station="roscoff", at_ms=1, height_m=5.5)])
        )
    app = create_app(config, clock)
    auth = {"Authorization": f"Bearer {token.token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/api/v1/tides/readings", headers=auth)
        other = await c.get("/api/v1/tides/readings", params={"station": "nowhere"}, headers=auth)
        bad = await c.get("/api/v1/tides/readings", params={"statoin": "x"}, headers=auth)
        anonymous = await c.get("/api/v1/tides/readings")
        health = await c.get("/api/v1/ingestion/health", headers=auth)
        spec = (await c.get("/openapi.json")).json()
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "station": "roscoff",
        "readings": [{"station": "roscoff", "at_ms": 1, "height_m": 5.5}],
    }
    assert other.json() == {"station": "nowhere", "readings": []}
    assert bad.status_code == 422 and "statoin" in bad.json()["error"]["message"]
    assert anonymous.status_code == 401
    channels = {(h["source"], h["channel"]) for h in health.json()["channels"]}
    assert ("tides", "readings") in channels
    operation = spec["paths"]["/api/v1/tides/readings"]["get"]
    assert operation["operationId"] == "listTideReadings"
    assert [p["name"] for p in operation["parameters"]] == ["station"]
