"""Supervisor: crashed actors are recorded and restarted with backoff; the rest goes on."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import trio
import trio.testing

from marketmem.bus import Policy
from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.events import RunFinished
from marketmem.executors import inline_executor
from marketmem.runs import RunContext
from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.storage import db
from marketmem.supervisor import enabled_specs, run_service, supervise
from tests.conftest import T0_MS


async def test_crashing_actor_is_restarted_with_growing_backoff(
    runtime: Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    runs = runtime.bus.subscribe("t", [RunFinished], buffer=100, policy=Policy.LOSSLESS)
    starts: list[float] = []
    t0 = trio.current_time()

    async def flaky() -> None:
        starts.append(trio.current_time() - t0)
        if len(starts) < 4:
            raise ConnectionError("socket closed")
        await trio.sleep_forever()

    spec = ActorSpec(
        "stream", flaky, source="hyperliquid", channel="candles", channels=("candles", "mids")
    )
    rng = random.Random(1)
    with trio.move_on_after(100):
        await supervise(runtime, spec, initial_backoff_s=1, max_backoff_s=60, rng=rng)
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Jittered in [0.5, 1] x 1, 2, 4 seconds.
    assert 0.5 <= gaps[0] <= 1 and 1 <= gaps[1] <= 2 and 2 <= gaps[2] <= 4
    failed = []
    while True:
        try:
            failed.append(runs.receive_nowait())
        except trio.WouldBlock:
            break
    # Each crash is a failed run of both channels the actor serves.
    assert len(failed) == 6
    assert {r.channel for r in failed} == {"candles", "mids"}
    assert all(r.status == "failed" and "socket closed" in (r.error or "") for r in failed)


def test_only_enabled_specs_start(make_config) -> None:  # type: ignore[no-untyped-def]
    cfg: Config = make_config(
        "[hyperliquid.channels]\nregistry = { enabled = true }\nmids = { enabled = true }\n"
    )
    rt = Runtime(config=cfg, bus=None)  # type: ignore[arg-type]

    async def job(ctx: RunContext) -> None: ...

    async def actor() -> None: ...

    specs: list[ChannelSpec | ActorSpec] = [
        ChannelSpec("hyperliquid", "registry", 1, job),
        ChannelSpec("hyperliquid", "funding_pressure", 1, job),
        ActorSpec(
            "stream", actor, source="hyperliquid", channel="candles", channels=("candles", "mids")
        ),
        ActorSpec("candles-only", actor, source="hyperliquid", channel="candles"),
        ActorSpec("observer", actor),
    ]
    channels, actors = enabled_specs(rt, specs)
    assert [c.channel for c in channels] == ["registry"]
    assert [a.name for a in actors] == ["stream", "observer"]


async def test_service_runs_channels_and_stops_cleanly(
    make_config,
    autojump_clock: trio.testing.MockClock,  # type: ignore[no-untyped-def]
) -> None:
    cfg: Config = make_config(
        "[http]\nenabled = false\n[hyperliquid.channels]\nregistry = { enabled = true, cadence_s = 10 }\n"
    )
    calls = 0

    async def job(ctx: RunContext) -> None:
        nonlocal calls
        calls += 1

    async def crashing() -> None:
        raise RuntimeError("boom")

    extra: list[ChannelSpec | ActorSpec] = [
        ChannelSpec("hyperliquid", "registry", 10, job),
        ActorSpec("bad", crashing, source="hyperliquid", channel="registry"),
    ]
    await run_service(
        cfg,
        clock=TrioWallClock(T0_MS),
        executor=inline_executor,
        duration_s=35,
        handle_signals=False,
        specs=extra,
    )
    assert calls == 4  # 0, 10, 20, 30: the crashing actor did not stop the schedule
    conn = db.open_ro(Path(cfg.db_path()))
    rows = db.query(conn, "SELECT status, error FROM ingestion_runs WHERE channel='registry'")
    assert sum(r["status"] == "ok" for r in rows) == 4
    assert any(r["status"] == "failed" and "actor bad crashed" in r["error"] for r in rows)
    assert not any(r["status"] == "running" for r in rows)
