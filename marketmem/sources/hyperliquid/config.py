"""``[hyperliquid]``: endpoints, coins, the WebSocket and info limits, candles, retention.

``[hyperliquid.channels]`` and ``[hyperliquid.features]`` are added to this section by the
config builder from the declared channels and the features' own section.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from marketmem.config import Base, PositiveInt, PositiveSeconds
from marketmem.shards import Shard
from marketmem.source import Section


class HyperliquidConfig(Base):
    info_url: str = "https://api.hyperliquid.xyz"
    ws_url: str = "wss://api.hyperliquid.xyz/ws"
    # Coins to stream: a list of perp names, or ["*"] for every listed (not delisted) perp.
    coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH", "SOL", "HYPE"])
    # `run --local`: at most `local_max_coins` coins, taken from `local_coins`.
    local_coins: list[str] = msgspec.field(default_factory=lambda: ["BTC", "ETH"])
    local_max_coins: PositiveInt = 3
    # This instance's coin shard, "i/n": it ingests the coins of shard i of n (by a hash of
    # the name, the same on every machine); "1/1" ingests every coin. Instances with the
    # same shard share its leases on PostgreSQL: one ingests, the others stand by.
    shard: str = "1/1"
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

    def __post_init__(self) -> None:
        try:
            Shard.parse(self.shard)
        except ValueError as exc:
            raise ValueError(f"shard: {exc}") from None

    def coin_shard(self) -> Shard:
        return Shard.parse(self.shard)


SECTION = Section(("hyperliquid",), HyperliquidConfig)
