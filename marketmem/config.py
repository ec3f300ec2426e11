"""Configuration: one TOML file decoded into frozen msgspec Structs.

Unknown keys are refused, every cadence must be positive, and a bad file becomes a
``ConfigError`` whose message names the file, the key path and what was expected, so the CLI
can print one line and exit 2. ``--config PATH`` or ``MARKETMEM_CONFIG`` picks the file;
``MARKETMEM_DB`` overrides ``[storage] path`` (or ``url``, when it is a ``postgresql://`` URL).

The sections of the sources are not written here: each source declares its own Struct next
to it (``marketmem/sources/<name>/config.py``) and its channels in its ``Source`` object, and
``config_type`` builds the Config Struct from the tuple of sources. Each source that records
runs gets a ``channels`` table with one entry per declared channel; a channel that is not
listed keeps its default: enabled, at its declared cadence (``enabled = false`` turns it off).
"""

from __future__ import annotations

import functools
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from marketmem.source import Channel, Source

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "marketmem.toml"

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ChannelConfig(Base):
    # Every channel runs unless the file turns it off: a key left out keeps its default.
    enabled: bool = True
    # Left out in a file (0 here, never accepted from a file): parse_config fills in the
    # channel's own declared cadence.
    cadence_s: PositiveSeconds = 0.0


class StorageConfig(Base):
    # The SQLite file (relative: to the project folder), unless ``url`` is set.
    path: str = "data/marketmem.db"
    # A ``postgresql://`` URL selects PostgreSQL instead of the SQLite file.
    url: str = ""
    # The writer commits when a batch reaches this many rows or has gathered this long.
    writer_max_rows: PositiveInt = 20_000
    writer_max_gather_s: PositiveSeconds = 0.005
    writer_buffer: PositiveInt = 10_000
    busy_timeout_ms: PositiveInt = 5_000
    # The writer checkpoints the WAL after a commit once it holds this many frames (SQLite's
    # default); 0 = never, when Litestream runs beside marketmem and owns checkpointing.
    wal_autocheckpoint: Annotated[int, msgspec.Meta(ge=0)] = 1000
    # SQLite: the writer's page cache (readers keep SQLite's 2 MiB). A day of 1-minute
    # candles and its indexes stay in memory while a backfill upserts them coin by coin.
    writer_cache_mib: Annotated[int, msgspec.Meta(ge=1, le=65536)] = 64


class HttpConfig(Base):
    bind: str = "127.0.0.1:8080"
    enabled: bool = True
    # latest-data: the latest mid is the execution price while younger than this, else the
    # latest 1-minute candle close is.
    max_mid_age_s: PositiveSeconds = 30.0
    # Search results per page at most (larger `limit` values are capped).
    max_limit: PositiveInt = 100
    # Worker threads (each with its own read-only connection) serving requests.
    read_threads: PositiveInt = 8
    # Token and clone checks and composed latest data are reused this long (0: never), so a
    # revoked token or changed clone takes effect within it.
    cache_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    # The dashboard page fetches its tables and charts again this often.
    dashboard_refresh_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 10.0
    # /api/v1/stream: streams one token may hold open at once (429 beyond), and the events
    # queued for one stream client before the oldest are dropped (and counted to it).
    stream_max_per_token: PositiveInt = 4
    stream_buffer: PositiveInt = 1000


class ServiceConfig(Base):
    # This instance's name in ``ingestion_runs`` and ``status`` (and its PostgreSQL
    # sessions); empty: host:pid.
    name: str = ""
    # With several instances on PostgreSQL: how often a standby asks for the leases it lacks;
    # 0 derives it from each channel's stale threshold (a quarter of it, at most 30 s).
    standby_poll_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0

    def instance(self) -> str:
        return self.name or f"{socket.gethostname()}:{os.getpid()}"


class Config(Base):
    """The core settings; the sections of the sources are added by ``config_type``.

    A config is always decoded with a tuple of sources (``marketmem.plugins.SOURCES`` unless
    told otherwise): each source's section (``[hyperliquid]``, ``[hyperliquid.features]``) and
    a ``channels`` table per source with one entry per declared channel.
    """

    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    service: ServiceConfig = msgspec.field(default_factory=ServiceConfig)
    # Set at load time: the file this config came from (for messages and relative paths).
    source_path: str = ""

    # The sources this config type was built for, and every channel they declare, in order.
    SOURCES: ClassVar[tuple[Source, ...]] = ()
    CHANNELS: ClassVar[tuple[Channel, ...]] = ()

    def channels(self) -> list[tuple[str, str, ChannelConfig]]:
        """Every (source, channel, settings) in the order the sources declare them."""
        return [(c.source, c.name, self.channel(c.source, c.name)) for c in self.CHANNELS]

    def channel(self, source: str, channel: str) -> ChannelConfig:
        section = getattr(self, source, None)
        chans = getattr(section, "channels", None)
        if chans is None or channel not in chans.__struct_fields__:
            raise KeyError(f"unknown channel {source}/{channel}")
        result: ChannelConfig = getattr(chans, channel)
        return result

    def enabled_channels(self) -> list[tuple[str, str, ChannelConfig]]:
        return [c for c in self.channels() if c[2].enabled]

    def db_path(self) -> Path:
        """The SQLite file (whatever ``url`` says)."""
        p = Path(self.storage.path)
        if not p.is_absolute():
            p = ROOT / p
        return p

    def database(self) -> str | Path:
        """Where the data lives: the ``[storage] url`` when set, else the SQLite file."""
        return self.storage.url or self.db_path()


def _struct(name: str, fields: list[tuple[str, Any, Any]], base: type) -> type:
    return msgspec.defstruct(
        name,
        fields,
        bases=(base,),
        frozen=True,
        kw_only=True,
        forbid_unknown_fields=True,
    )


def _factory(value: Callable[[], Any]) -> Any:
    # msgspec needs a factory for struct defaults.
    return msgspec.field(default_factory=value)


@functools.cache
def config_type(sources: tuple[Source, ...]) -> type[Config]:
    """The Config Struct for ``sources``: a field per top-level section, each with its
    sub-sections and, for a source that records runs, a ``channels`` table of its channels."""
    sections: dict[str, type] = {}
    children: dict[str, list[tuple[str, type]]] = {}
    for src in sources:
        if src.settings is None:
            continue
        path = src.settings.path
        if len(path) == 1:
            if path[0] in sections:
                raise ValueError(f"two sources configure [{path[0]}]")
            sections[path[0]] = src.settings.type
        elif len(path) == 2:
            children.setdefault(path[0], []).append((path[1], src.settings.type))
        else:
            raise ValueError(f"config section {'.'.join(path)}: at most two levels")
    channels: dict[str, list[Channel]] = {}
    for src in sources:
        for ch in src.channels:
            channels.setdefault(ch.source, []).append(ch)
    top: list[tuple[str, Any, Any]] = []
    for key in dict.fromkeys([*sections, *children, *channels]):
        if key in Config.__struct_fields__:
            raise ValueError(f"a source may not configure [{key}]")
        fields: list[tuple[str, Any, Any]] = [
            (name, kind, _factory(kind)) for name, kind in children.get(key, [])
        ]
        if key in channels:
            chans = _struct(
                f"{key.title()}Channels",
                [
                    (
                        c.name,
                        ChannelConfig,
                        _factory(functools.partial(ChannelConfig, cadence_s=c.cadence_s)),
                    )
                    for c in channels[key]
                ],
                Base,
            )
            fields.append(("channels", chans, _factory(chans)))
        kind = _struct(f"{key.title()}Section", fields, sections.get(key, Base))
        top.append((key, kind, _factory(kind)))
    built = _struct("Config", top, Config)
    built.SOURCES = sources  # type: ignore[attr-defined]
    built.CHANNELS = tuple(c for chans in channels.values() for c in chans)  # type: ignore[attr-defined]
    return built


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line for the user."""


_PATH_RE = re.compile(r"at `\$\.?([^`]*)`")


def _describe(exc: msgspec.ValidationError | msgspec.DecodeError) -> tuple[str, str]:
    msg = str(exc)
    match = _PATH_RE.search(msg)
    key = match.group(1) if match else ""
    what = _PATH_RE.sub("", msg).strip().rstrip("-").strip()
    if what.startswith("Object contains unknown field"):
        field = what.split("`")[1] if "`" in what else "?"
        key = f"{key}.{field}" if key else field
        what = "unknown key (not a known setting, source or channel)"
    return key or "(top level)", what


def parse_config(
    text: str, *, sources: tuple[Source, ...], source_path: str = "<string>"
) -> Config:
    """The config ``text`` for a build with ``sources`` (``marketmem.plugins`` binds the
    installation's own)."""
    kind = config_type(sources)
    try:
        cfg = msgspec.toml.decode(text.encode(), type=kind)
    except msgspec.ValidationError as exc:
        key, what = _describe(exc)
        raise ConfigError(f"{source_path}: {key}: {what}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source_path}: not valid TOML: {exc}") from None
    cfg = msgspec.structs.replace(cfg, source_path=source_path)
    cfg = _fill_default_cadences(cfg)
    _check(cfg)
    return cfg


def _fill_default_cadences(cfg: Config) -> Config:
    """``{ enabled = true }`` without ``cadence_s`` keeps the channel's declared cadence."""
    declared = {(c.source, c.name): c.cadence_s for c in cfg.CHANNELS}
    changes: dict[str, object] = {}
    for source in dict.fromkeys(c.source for c in cfg.CHANNELS):
        section = getattr(cfg, source)
        chans = section.channels
        filled = {
            name: msgspec.structs.replace(getattr(chans, name), cadence_s=declared[source, name])
            for name in chans.__struct_fields__
            if getattr(chans, name).cadence_s == 0
        }
        if filled:
            changes[source] = msgspec.structs.replace(
                section, channels=msgspec.structs.replace(chans, **filled)
            )
    return msgspec.structs.replace(cfg, **changes) if changes else cfg


POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def _check(cfg: Config) -> None:
    url = cfg.storage.url
    if url and not url.startswith(POSTGRES_PREFIXES):
        raise ConfigError(
            f"{cfg.source_path}: storage.url: expected a postgresql:// URL, got {url.split(':')[0]!r}"
            " (a SQLite file goes in storage.path)"
        )
    host, sep, port = cfg.http.bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"{cfg.source_path}: http.bind: expected HOST:PORT, got {cfg.http.bind!r}"
        )


def config_path(explicit: str | None = None) -> Path:
    """``--config``, else ``MARKETMEM_CONFIG``, else the shipped file; a relative path is
    taken from the current directory (``bin/marketmem`` runs where it was called)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MARKETMEM_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG


def load_config(explicit: str | None = None, *, sources: tuple[Source, ...]) -> Config:
    """Load the config file (``--config``, else MARKETMEM_CONFIG, else the default)."""
    path = config_path(explicit)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "TOML files are UTF-8"
        ) from None
    cfg = parse_config(text, source_path=str(path), sources=sources)
    db = os.environ.get("MARKETMEM_DB")
    if db:
        cfg = with_database(cfg, _from_here(db))
    return cfg


def _from_here(location: str) -> str:
    """A relative SQLite path given on the command line's side (``MARKETMEM_DB``) is taken
    from the current directory, as every command-line tool does; a URL is kept as it is."""
    if location.startswith(POSTGRES_PREFIXES) or location == ":memory:":
        return location
    return str(Path(location).absolute())


def with_database(cfg: Config, location: str) -> Config:
    """``cfg`` storing at ``location``: a ``postgresql://`` URL, or a SQLite file path (which
    then wins over a ``url`` of the file)."""
    if location.startswith(POSTGRES_PREFIXES):
        storage = msgspec.structs.replace(cfg.storage, url=location)
    else:
        storage = msgspec.structs.replace(cfg.storage, path=location, url="")
    return msgspec.structs.replace(cfg, storage=storage)
