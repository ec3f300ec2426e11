"""The Source contract: how a source of data (or a part derived from one) plugs in.

A ``Source`` is one typed object that says everything the rest of marketmem needs to know:

- ``channels``: the source/channel pairs it records runs for, with their default cadences
  (``[<source>.channels]`` in the config may enable, disable or re-time them);
- ``settings``: where its config section lives and its Struct (defaults live there);
- ``tables``: its tables, declared without SQL (``marketmem.storage.declare``), and the write
  function of each event type it stores;
- ``open``: an async context manager that opens what it needs to run (HTTP clients, budgets),
  yields its poll channels and actors, and closes them again; the supervisor enters it;
- ``routes``: read routes the HTTP API serves for it (bearer-authenticated, read-only);
- ``commands``: its one-off CLI commands (``discover polymarket``, ``maintain``).

The service knows its sources only through ``marketmem.plugins.SOURCES``, one static tuple of
imported ``Source`` objects: no module paths, no registries filled at import time.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from marketmem.shards import Shard
from marketmem.storage.sqlite import ddl as sqlite_ddl

if TYPE_CHECKING:
    from marketmem.config import Config
    from marketmem.query import Param
    from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
    from marketmem.storage.declare import Index, Table
    from marketmem.storage.reads import Connection
    from marketmem.storage.tables import AfterWrite, Upsert, WriteFn

S = TypeVar("S", bound=msgspec.Struct)


@dataclass(frozen=True)
class Channel:
    """A channel whose runs are recorded: ``source/name`` in health, status and the config."""

    source: str
    name: str
    cadence_s: float  # the default; ``[<source>.channels] <name> = { cadence_s = ... }``
    summary: str = ""


@dataclass(frozen=True)
class Section(Generic[S]):
    """A config section: ``[hyperliquid]`` is ``Section(("hyperliquid",), HyperliquidConfig)``,
    ``[hyperliquid.features]`` is ``Section(("hyperliquid", "features"), FeaturesConfig)``."""

    path: tuple[str, ...]
    type: type[S]

    def of(self, config: Config) -> S:
        """This section of ``config`` (a config built with the source's tuple)."""
        value: Any = config
        for key in self.path:
            value = getattr(value, key)
        assert isinstance(value, self.type), f"config section {'.'.join(self.path)} missing"
        return value


@dataclass(frozen=True, eq=False)
class Tables:
    """Tables of one source: the declared ``tables``; per event type the function the storage
    writer calls inside its transaction; every ``Upsert`` those functions use (the storage
    checks their columns against the tables at start); ``after_writes``: bookkeeping run after
    another source's events are written; and ``indexes``: per table another source declares,
    the indexes this one adds to it."""

    tables: Sequence[Table] = ()
    writers: Mapping[type, WriteFn] = field(default_factory=dict)
    upserts: Sequence[Upsert] = ()
    after_writes: Mapping[type, AfterWrite] = field(default_factory=dict)
    indexes: Mapping[str, Sequence[Index]] = field(default_factory=dict)

    @cached_property
    def ddl(self) -> list[str]:
        """These tables as SQLite statements (``CREATE ... IF NOT EXISTS``), in order."""
        return sqlite_ddl.statements(self.tables, self.indexes)


@dataclass(frozen=True)
class ReadContext:
    """What a read route's function gets, on a reader thread: a read-only connection, which
    it hands to the storage's read functions (``marketmem.storage.reads``)."""

    conn: Connection
    config: Config
    now_ms: int


@dataclass(frozen=True, eq=False)
class ReadRoute:
    """``GET path`` behind a bearer token: ``read(ctx, params)`` returns the response Struct.

    ``params`` are validated before the call (unknown or bad ones are a 422 naming them); a
    ``ValueError`` the function raises for input it refuses is a 422 with its message.
    """

    path: str
    operation_id: str
    summary: str
    params: tuple[Param, ...]
    response: type[msgspec.Struct]
    read: Callable[[ReadContext, dict[str, Any]], msgspec.Struct]


Specs = Sequence["ChannelSpec | ActorSpec"]
Opener = Callable[["Runtime"], AbstractAsyncContextManager[Specs]]
Commands = Callable[[argparse._SubParsersAction], None]
Routes = Callable[["Config"], Sequence[ReadRoute]]


@dataclass(frozen=True, eq=False)
class Source:
    """One source (or derived part) of marketmem; see the module docstring."""

    name: str
    channels: tuple[Channel, ...] = ()
    settings: Section[Any] | None = None
    tables: Tables = field(default_factory=Tables)
    open: Opener | None = None
    routes: Routes | None = None
    commands: Commands | None = None
    # The coin shard this instance ingests of the source (``[<source>] shard``); its
    # channels' leases are per shard.
    shard: Callable[[Config], Shard] | None = None
    # Its channels read an outside API (a venue): when the first run of every such source
    # finds its venue unreachable, the supervisor suggests the offline demo.
    venue: bool = False


@asynccontextmanager
async def open_sources(rt: Runtime) -> AsyncIterator[list[ChannelSpec | ActorSpec]]:
    """Enter every source of ``rt.config`` (in order) and yield all their specs; on exit each
    source closes what it opened, the last opened first."""
    async with AsyncExitStack() as stack:
        specs: list[ChannelSpec | ActorSpec] = []
        for src in rt.config.SOURCES:
            if src.open is not None:
                specs.extend(await stack.enter_async_context(src.open(rt)))
        yield specs


def opener(build: Callable[[Runtime], Specs]) -> Opener:
    """An ``open`` for a source that holds no resource of its own: just its specs."""

    @asynccontextmanager
    async def open_specs(rt: Runtime) -> AsyncIterator[Specs]:
        yield build(rt)

    return open_specs
