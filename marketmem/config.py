"""Configuration: one TOML file decoded into frozen msgspec Structs.

Unknown keys are refused, every cadence must be positive, and a bad file becomes a
``ConfigError`` whose message names the file, the key path and what was expected, so the CLI
can print one line and exit 2. ``--config PATH`` or ``MARKETMEM_CONFIG`` picks the file;
``MARKETMEM_DB`` overrides ``[storage] path``.

Each source has a ``channels`` table with one entry per channel of DESIGN.md; a channel that
is not listed keeps its default (its DESIGN.md cadence, disabled unless built).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import msgspec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "marketmem.toml"

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ChannelConfig(Base):
    enabled: bool = False
    cadence_s: PositiveSeconds = 3600.0


def _ch(cadence_s: float, enabled: bool = False) -> ChannelConfig:
    return ChannelConfig(enabled=enabled, cadence_s=cadence_s)


def _default(cadence_s: float) -> ChannelConfig:
    # msgspec needs a factory for struct defaults.
    return msgspec.field(default_factory=lambda: _ch(cadence_s))


class StorageConfig(Base):
    path: str = "data/marketmem.db"
    # The writer commits when a batch reaches this many rows or has gathered this long.
    writer_max_rows: PositiveInt = 20_000
    writer_max_gather_s: PositiveSeconds = 0.05
    writer_buffer: PositiveInt = 10_000
    busy_timeout_ms: PositiveInt = 5_000


class HttpConfig(Base):
    bind: str = "127.0.0.1:8080"
    enabled: bool = True


# --- hyperliquid -----------------------------------------------------------------------------


class HyperliquidChannels(Base):
    registry: ChannelConfig = _default(3600)
    candles: ChannelConfig = _default(60)
    mids: ChannelConfig = _default(60)
    technical_indicators: ChannelConfig = _default(300)
    funding_pressure: ChannelConfig = _default(300)
    liquidity_profiles: ChannelConfig = _default(300)
    volatility_profiles: ChannelConfig = _default(300)
    positioning_pressure: ChannelConfig = _default(300)
    maintenance: ChannelConfig = _default(60)


class HyperliquidConfig(Base):
    info_url: str = "https://api.hyperliquid.xyz"
    ws_url: str = "wss://api.hyperliquid.xyz/ws"
    # Coins to stream: a list of perp names, or ["*"] for every listed (not delisted) perp.
    coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH", "SOL", "HYPE"])
    # `run --local`: at most this many coins, taken from `local_coins`.
    local_coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH"])
    channels: HyperliquidChannels = msgspec.field(default_factory=HyperliquidChannels)


# --- hyperliquid: end ------------------------------------------------------------------------


# --- polymarket ------------------------------------------------------------------------------


class PolymarketChannels(Base):
    discovery: ChannelConfig = _default(3600)
    immediate_markets: ChannelConfig = _default(300)
    later_markets: ChannelConfig = _default(1800)
    recently_closed: ChannelConfig = _default(3600)


class PolymarketConfig(Base):
    gamma_url: str = "https://gamma-api.polymarket.com"
    channels: PolymarketChannels = msgspec.field(default_factory=PolymarketChannels)


# --- polymarket: end -------------------------------------------------------------------------


# --- defillama -------------------------------------------------------------------------------


class DefillamaChannels(Base):
    capital_base: ChannelConfig = _default(3600)
    capital_flows: ChannelConfig = _default(3600)
    economic_throughput: ChannelConfig = _default(3600)


class DefillamaConfig(Base):
    api_url: str = "https://api.llama.fi"
    stablecoins_url: str = "https://stablecoins.llama.fi"
    bridges_url: str = "https://bridges.llama.fi"
    channels: DefillamaChannels = msgspec.field(default_factory=DefillamaChannels)


# --- defillama: end --------------------------------------------------------------------------


class Config(Base):
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    hyperliquid: HyperliquidConfig = msgspec.field(default_factory=HyperliquidConfig)
    polymarket: PolymarketConfig = msgspec.field(default_factory=PolymarketConfig)
    defillama: DefillamaConfig = msgspec.field(default_factory=DefillamaConfig)
    # Set at load time: the file this config came from (for messages and relative paths).
    source_path: str = ""

    def channels(self) -> list[tuple[str, str, ChannelConfig]]:
        """Every (source, channel, settings) in DESIGN.md order."""
        out: list[tuple[str, str, ChannelConfig]] = []
        for source in SOURCES:
            chans = getattr(self, source).channels
            for name in chans.__struct_fields__:
                out.append((source, name, getattr(chans, name)))
        return out

    def channel(self, source: str, channel: str) -> ChannelConfig:
        try:
            chans = getattr(self, source).channels
            if channel not in chans.__struct_fields__:
                raise AttributeError(channel)
            result: ChannelConfig = getattr(chans, channel)
            return result
        except AttributeError:
            raise KeyError(f"unknown channel {source}/{channel}") from None

    def enabled_channels(self) -> list[tuple[str, str, ChannelConfig]]:
        return [c for c in self.channels() if c[2].enabled]

    def db_path(self) -> Path:
        p = Path(self.storage.path)
        if not p.is_absolute():
            p = ROOT / p
        return p


SOURCES: tuple[str, ...] = ("hyperliquid", "polymarket", "defillama")


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


def parse_config(text: str, *, source_path: str = "<string>") -> Config:
    try:
        cfg = msgspec.toml.decode(text.encode(), type=Config)
    except msgspec.ValidationError as exc:
        key, what = _describe(exc)
        raise ConfigError(f"{source_path}: {key}: {what}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source_path}: not valid TOML: {exc}") from None
    cfg = msgspec.structs.replace(cfg, source_path=source_path)
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    host, sep, port = cfg.http.bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"{cfg.source_path}: http.bind: expected HOST:PORT, got {cfg.http.bind!r}"
        )


def config_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("MARKETMEM_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG


def load_config(explicit: str | None = None) -> Config:
    """Load the config file (``--config``, else MARKETMEM_CONFIG, else the default)."""
    path = config_path(explicit)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    cfg = parse_config(text, source_path=str(path))
    db = os.environ.get("MARKETMEM_DB")
    if db:
        cfg = msgspec.structs.replace(cfg, storage=msgspec.structs.replace(cfg.storage, path=db))
    return cfg
