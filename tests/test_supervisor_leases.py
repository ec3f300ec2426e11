"""Several instances: each group of channels and its feeding actors runs on one instance at a
time, and a standby takes over when the holder's lease ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio
import trio.testing

from marketmem.clock import TrioWallClock
from marketmem.config import Config
from marketmem.executors import inline_executor
from marketmem.health import stale_after_s
from marketmem.pipeline import open_pipeline
from marketmem.plugins import parse_config
from marketmem.runs import RunContext
from marketmem.runtime import ActorSpec, ChannelSpec
from marketmem.shards import Shard
from marketmem.source import open_sources
from marketmem.supervisor import enabled_specs, held_groups, run_service, source_shards
from tests.conftest import T0_MS
from tests.test_leases import LockTable, TableLeases

HYPERLIQUID_CHANNELS = (
    "registry",
    "candles",
    "mids",
    "technical_indicators",
    "funding_pressure",
    "liquidity_profiles",
    "volatility_profiles",
    "positioning_pressure",
)


async def test_an_actor_runs_with_the_channels_it_feeds(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    every = "\n".join(f"{c} = {{ enabled = true }}" for c in HYPERLIQUID_CHANNELS)
    cfg = make_config(f"[hyperliquid.channels]\n{every}\n")
    async with open_pipeline(cfg, executor=inline_executor) as rt, open_sources(rt) as built:
        channels, actors = enabled_specs(rt, list(built))
        groups = {
            g.key: ({c.channel for c in g.channels}, {a.name for a in g.actors})
            for g in held_groups(channels, actors)
        }
    # The window keeper with the candle channels, the context poller and feed with the
    # snapshot channels, the stream with candles and mids: never apart.
    assert groups["hyperliquid/technical_indicators"] == (
        {"technical_indicators", "volatility_profiles"},
        {"hyperliquid.features.windows"},
    )
    assert groups["hyperliquid/funding_pressure"] == (
        {"funding_pressure", "liquidity_profiles", "positioning_pressure"},
        {"hyperliquid.context", "hyperliquid.features.context"},
    )
    assert groups["hyperliquid/candles"] == (set(), {"hyperliquid.stream"})
    assert groups["hyperliquid/registry"] == ({"registry"}, set())
    # Every enabled channel is in exactly one group.
    listed = [c for chans, _ in groups.values() for c in chans]
    assert sorted(listed) == sorted(c.channel for c in channels)


async def test_the_leases_of_a_sharded_source_name_its_shard(
    make_config: Callable[..., Config], autojump_clock: object
) -> None:
    every = "\n".join(f"{c} = {{ enabled = true }}" for c in HYPERLIQUID_CHANNELS)
    cfg = make_config(f'[hyperliquid]\nshard = "2/3"\n[hyperliquid.channels]\n{every}\n')
    assert source_shards(cfg) == {"hyperliquid": Shard(2, 3)}
    async with open_pipeline(cfg, executor=inline_executor) as rt, open_sources(rt) as built:
        channels, actors = enabled_specs(rt, list(built))
        keys = {g.key for g in held_groups(channels, actors, source_shards(cfg))}
        whole = {g.key for g in held_groups(channels, actors)}
    assert "hyperliquid/candles#2/3" in keys and "hyperliquid/registry#2/3" in keys
    assert keys == {f"{k}#2/3" for k in whole}


async def test_one_instance_ingests_and_a_standby_takes_over_within_a_stale_threshold(
    make_config: Callable[..., Config],
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    cadence = 10.0
    runs: list[tuple[str, float]] = []
    actor_up: list[tuple[str, float]] = []

    def specs(name: str) -> list[ChannelSpec | ActorSpec]:
        async def job(ctx: RunContext) -> None:
            runs.append((name, trio.current_time()))

        async def feeder() -> None:
            actor_up.append((name, trio.current_time()))
            await trio.sleep_forever()

        return [
            ChannelSpec("hyperliquid", "registry", cadence, job),
            ActorSpec(f"feeder-{name}", feeder, source="hyperliquid", channels=("registry",)),
        ]

    table = LockTable()
    a, b = TableLeases(table, "a"), TableLeases(table, "b")
    extra = f"[hyperliquid.channels]\nregistry = {{ enabled = true, cadence_s = {cadence} }}\n"

    def config(name: str) -> Config:
        text = f'[storage]\npath = "{tmp_path / name}.db"\n[http]\nenabled = false\n' + extra
        return parse_config(text)

    async def instance(name: str, leases: TableLeases) -> None:
        await run_service(
            config(name),
            clock=TrioWallClock(T0_MS),
            executor=inline_executor,
            handle_signals=False,
            specs=specs(name),
            leases=leases,
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(instance, "a", a)
        await trio.sleep(1)
        nursery.start_soon(instance, "b", b)
        await trio.sleep(100)
        assert {n for n, _ in runs} == {"a"} and [n for n, _ in actor_up] == ["a"]
        a.die()  # the holder's session ends (a crash, a cut connection)
        died = trio.current_time()
        await trio.sleep(stale_after_s(cadence))
        nursery.cancel_scope.cancel()
    b_runs = [t for n, t in runs if n == "b"]
    assert b_runs and b_runs[0] - died <= stale_after_s(cadence)
    assert not [t for n, t in runs if n == "a" and t > died + 1]  # a stopped at once
    assert [n for n, _ in actor_up] == ["a", "b"]  # the feeder moved with its channel
