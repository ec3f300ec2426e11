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
    # Left out in a file (0 here, never accepted from a file): parse_config fills in the
    # channel's own DESIGN.md cadence.
    cadence_s: PositiveSeconds = 0.0


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
    # The writer checkpoints the WAL after a commit once it holds this many frames (SQLite's
    # default); 0 = never, when Litestream runs beside marketmem and owns checkpointing.
    wal_autocheckpoint: Annotated[int, msgspec.Meta(ge=0)] = 1000


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


class HyperliquidFeatures(Base):
    """``[hyperliquid.features]``: the five derived feature channels."""

    # 1-minute / 1-hour bars per technical-indicator window (VWAP and range span all of it).
    technical_bars_1m: PositiveInt = 240
    technical_bars_1h: PositiveInt = 72
    # Candle-based values are NULL (stale) when the latest bar ended longer ago than this.
    candle_stale_s: PositiveSeconds = 900.0
    # Volatility regime: Parkinson volatility of the last N closed hours ranked against the
    # coin's own hourly history; percentile cut-offs low < high < extreme.
    regime_window_hours: PositiveInt = 4
    regime_min_history: PositiveInt = 48
    regime_low_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.2
    regime_high_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.8
    regime_extreme_pct: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.95
    # Funding: |hourly rate| at or below this is "neutral" (default: the interest-only floor).
    funding_neutral_rate: Annotated[float, msgspec.Meta(ge=0)] = 0.0000125
    funding_zscore_min_points: PositiveInt = 24
    # fundingHistory requests per run at most (weight 20+ each; histories refresh hourly).
    funding_history_requests_per_run: PositiveInt = 30
    # Liquidity: impact sizes walked through the book (USD), and the pause between two l2Book
    # requests (shortened so one run's requests fit in 80% of the cadence).
    impact_notionals_usd: list[Annotated[float, msgspec.Meta(gt=0)]] = msgspec.field(
        default_factory=lambda: [10_000.0, 100_000.0, 1_000_000.0]
    )
    l2_request_spacing_s: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    # A liquidity run gives up after this many l2Book failures in a row with no success.
    l2_max_consecutive_failures: PositiveInt = 5
    # Positioning: moves smaller than these (percent) label the quadrant "neutral".
    quadrant_price_pct: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    quadrant_oi_pct: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    # One metaAndAssetCtxs answer is shared by the channels that run within this many seconds.
    ctx_max_age_s: PositiveSeconds = 60.0
    # The first candle-based pass after start waits at most this long for the stream's first
    # backfill to give every coin a recent bar.
    first_run_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0


class HyperliquidConfig(Base):
    info_url: str = "https://api.hyperliquid.xyz"
    ws_url: str = "wss://api.hyperliquid.xyz/ws"
    # Coins to stream: a list of perp names, or ["*"] for every listed (not delisted) perp.
    coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH", "SOL", "HYPE"])
    # `run --local`: at most `local_max_coins` coins, taken from `local_coins`.
    local_coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH"])
    local_max_coins: PositiveInt = 3
    features: HyperliquidFeatures = msgspec.field(default_factory=HyperliquidFeatures)
    # Retention (rows older than this are deleted by the maintenance channel).
    retention_mids_s: PositiveSeconds = 1800.0
    retention_candles_1m_s: PositiveSeconds = 86_400.0
    retention_candles_1h_s: PositiveSeconds = 604_800.0
    retention_features_s: PositiveSeconds = 604_800.0
    # Maintenance: rows per delete transaction, hours per rollup transaction, free pages
    # left for reuse and pages released per vacuum step, wait for the writer per command.
    retention_chunk_rows: PositiveInt = 5000
    retention_rollup_chunk_hours: PositiveInt = 500
    retention_vacuum_slack_pages: Annotated[int, msgspec.Meta(ge=0)] = 1024
    retention_vacuum_chunk_pages: PositiveInt = 2048
    retention_command_timeout_s: PositiveSeconds = 120.0
    channels: HyperliquidChannels = msgspec.field(default_factory=HyperliquidChannels)
    # Info endpoint: the per-IP weight budget every caller shares, timeout, attempts.
    info_weight_per_minute: PositiveInt = 1200
    info_timeout_s: PositiveSeconds = 10.0
    info_attempts: PositiveInt = 4
    # WebSocket: heartbeat, stall escalation, reconnect backoff (capped, jittered). A socket
    # silent (no data, no pong) for `ws_resubscribe_after_s` is resubscribed in place; still
    # silent at `ws_silence_timeout_s` it is a dead link and reconnected (resubscribe >= silence
    # timeout: no resubscribe step).
    ws_ping_interval_s: PositiveSeconds = 30.0
    ws_resubscribe_after_s: PositiveSeconds = 45.0
    ws_silence_timeout_s: PositiveSeconds = 60.0
    ws_backoff_initial_s: PositiveSeconds = 1.0
    ws_backoff_max_s: PositiveSeconds = 60.0
    # Per-IP limits: connections, subscriptions, client messages per minute, new connections
    # per minute (kept below the venue's 10 / 1000 / 2000 / 30).
    ws_max_connections: PositiveInt = 10
    ws_subscriptions_per_connection: PositiveInt = 100
    ws_max_subscriptions: PositiveInt = 1000
    ws_messages_per_minute: PositiveInt = 1800
    ws_connects_per_minute: PositiveInt = 25
    # With coins = ["*"]: read `meta` this often and follow the listing (new perps are
    # subscribed and backfilled, delisted ones dropped; only the connections concerned reconnect).
    ws_replan_interval_s: PositiveSeconds = 3600.0
    # Candles: a bar with no push for its end + this grace is closed.
    candle_close_grace_s: PositiveSeconds = 5.0
    # Gap backfill reaches back at most this many 1m bars (24 h: the 1m retention; the venue
    # keeps 5000).
    backfill_max_bars: PositiveInt = 1440
    # A gap whose candleSnapshot keeps failing is retried with backoff capped at this; still
    # failing `backfill_retry_budget_s` after its link came back, it fails the candles channel
    # until it heals.
    backfill_retry_max_s: PositiveSeconds = 30.0
    backfill_retry_budget_s: PositiveSeconds = 120.0
    # Mids: bucket size; extra allMids keys kept besides perps ("@107", "@*", "#*", "PURR/USDC").
    mid_bucket_ms: PositiveInt = 5000
    extra_mid_keys: list[str] = msgspec.field(default_factory=list)
    # Execution price: a mid older than this falls back to the latest candle close.
    mid_max_age_ms: PositiveInt = 15_000
    # Stream runs: one recorded run per window while rows arrive.
    run_window_s: PositiveSeconds = 60.0
    # Asset categories (relative paths are from the repository root).
    taxonomy_path: str = "config/hyperliquid_taxonomy.toml"
    # `run --local`: short reconnect delays.
    local_backoff_initial_s: PositiveSeconds = 0.2
    local_backoff_max_s: PositiveSeconds = 2.0


# --- hyperliquid: end ------------------------------------------------------------------------


# --- polymarket ------------------------------------------------------------------------------


class PolymarketChannels(Base):
    discovery: ChannelConfig = _default(3600)
    immediate_markets: ChannelConfig = _default(300)
    later_markets: ChannelConfig = _default(1800)
    recently_closed: ChannelConfig = _default(3600)


class PolymarketConfig(Base):
    gamma_url: str = "https://gamma-api.polymarket.com"
    # Asset search terms and false friends; relative paths are relative to the repo.
    terms_file: str = "config/polymarket_assets.toml"
    # Open markets ending within this horizon are "immediate", later ones "later".
    immediate_horizon_s: PositiveSeconds = 86_400.0
    # Markets closed (or ended) within this window are "recently closed".
    recently_closed_window_s: PositiveSeconds = 604_800.0
    # Keyset page size (the server clamps it to 100) and the cap on pages per listing.
    page_size: PositiveInt = 100
    max_pages: PositiveInt = 300
    # Client-side limits per 10 s, below Gamma's (/events 500, /markets 300).
    events_per_10s: PositiveInt = 400
    markets_per_10s: PositiveInt = 240
    timeout_s: PositiveSeconds = 20.0
    # Tries per request (first included) on timeouts, connection errors, 429 and 5xx.
    http_attempts: PositiveInt = 4
    channels: PolymarketChannels = msgspec.field(default_factory=PolymarketChannels)

    def terms_path(self) -> Path:
        p = Path(self.terms_file)
        return p if p.is_absolute() else ROOT / p


# --- polymarket: end -------------------------------------------------------------------------


# --- defillama -------------------------------------------------------------------------------


class DefillamaChannels(Base):
    capital_base: ChannelConfig = _default(3600)
    capital_flows: ChannelConfig = _default(3600)
    economic_throughput: ChannelConfig = _default(3600)


DefillamaCount = Annotated[int, msgspec.Meta(ge=0)]


class DefillamaConfig(Base):
    api_url: str = "https://api.llama.fi"
    stablecoins_url: str = "https://stablecoins.llama.fi"
    # Bridges are DefiLlama Pro: "{api_key}" is replaced by the key; no key, no bridge flows.
    bridges_url: str = "https://pro-api.llama.fi/{api_key}/bridges"
    # DefiLlama Pro key (or the DEFILLAMA_API_KEY environment variable); "" = bridges off.
    api_key: str = ""
    # Asset link overrides (relative to the repo); "" = none.
    subjects_file: str = "config/defillama_subjects.toml"
    # Subject policy: the top N by TVL / circulating supply, plus every subject linked to a
    # tracked asset. tracked_assets empty = the Hyperliquid coins of [hyperliquid] coins.
    top_chains: DefillamaCount = 20
    top_protocols: DefillamaCount = 25
    top_stablecoins: DefillamaCount = 10
    tracked_assets: list[str] = msgspec.field(default_factory=list)
    timeout_s: PositiveSeconds = 30.0
    # Tries per request (first included) on timeouts, connection errors, 429 and 5xx.
    http_attempts: PositiveInt = 4
    # Policy inputs (/protocols, /v2/chains, /stablecoins) are shared by the channels of one
    # process for this long; 0 = fetch every time.
    cache_ttl_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0
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
    cfg = _fill_default_cadences(cfg)
    _check(cfg)
    return cfg


def _fill_default_cadences(cfg: Config) -> Config:
    """``{ enabled = true }`` without ``cadence_s`` keeps the channel's default cadence."""
    changes: dict[str, object] = {}
    for source in SOURCES:
        section = getattr(cfg, source)
        chans = section.channels
        defaults = type(chans)()
        filled = {
            name: msgspec.structs.replace(
                getattr(chans, name), cadence_s=getattr(defaults, name).cadence_s
            )
            for name in chans.__struct_fields__
            if getattr(chans, name).cadence_s == 0
        }
        if filled:
            changes[source] = msgspec.structs.replace(
                section, channels=msgspec.structs.replace(chans, **filled)
            )
    return msgspec.structs.replace(cfg, **changes) if changes else cfg


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
