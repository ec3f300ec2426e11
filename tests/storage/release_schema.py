"""The SQLite schema of the current release, frozen: schema version 3, as ``main`` created it
at commit b697df3 (2026-12), when each area still declared its tables as DDL strings.

These are those strings, copied once from ``storage/core_tables.py``,
``storage/access_tables.py``, ``sources/hyperliquid/tables.py``, ``features/tables.py`` (as
it generated them), ``retention/tables.py``, ``sources/polymarket/tables.py`` and
``sources/defillama/tables.py``, in the order the writer ran them. They are the schema every
database of this release has; never edit them. Tests build a database from them to compare
with one built from the declarations, and to upgrade a database of the release in place.
Retention's list ends with its one-off backlog ``INSERT`` (not schema; a no-op on an empty
database), as the release ran it.
"""

from __future__ import annotations

# The ``PRAGMA user_version`` a database of the release has.
RELEASE_VERSION = 3

CORE = [
    """
    CREATE TABLE IF NOT EXISTS ingestion_runs (
        run_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        channel TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        rows_written INTEGER NOT NULL DEFAULT 0,
        error TEXT
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS ingestion_runs_by_channel ON ingestion_runs (source, channel, started_at_ms)
    """,
    """
    CREATE INDEX IF NOT EXISTS ingestion_runs_success ON ingestion_runs (source, channel, status, finished_at_ms)
    """,
]

ACCESS = [
    """
    CREATE TABLE IF NOT EXISTS api_tokens (
        token_id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS api_tokens_by_user ON api_tokens (user)",
    """
    CREATE TABLE IF NOT EXISTS clones (
        clone_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        symbols TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
]

HYPERLIQUID = [
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_candles (
        coin TEXT NOT NULL,
        interval TEXT NOT NULL,
        open_time_ms INTEGER NOT NULL,
        close_time_ms INTEGER NOT NULL,
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        trades INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (coin, interval, open_time_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_mid_prices (
        coin TEXT NOT NULL,
        bucket_ms INTEGER NOT NULL,
        price REAL NOT NULL,
        observed_at_ms INTEGER NOT NULL,
        PRIMARY KEY (coin, bucket_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_mid_prices_by_bucket ON hyperliquid_mid_prices (bucket_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_assets (
        coin TEXT NOT NULL PRIMARY KEY,
        asset_index INTEGER NOT NULL,
        sz_decimals INTEGER NOT NULL,
        max_leverage INTEGER NOT NULL,
        margin_table_id INTEGER,
        margin_tiers TEXT,
        is_delisted INTEGER NOT NULL,
        only_isolated INTEGER NOT NULL,
        margin_mode TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_asset_category_taxonomy (
        category_id TEXT NOT NULL PRIMARY KEY,
        label TEXT NOT NULL,
        description TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_asset_categories (
        coin TEXT NOT NULL,
        category_id TEXT NOT NULL,
        PRIMARY KEY (coin, category_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_asset_categories_by_category ON hyperliquid_asset_categories (category_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_candle_gaps (
        coin TEXT NOT NULL PRIMARY KEY,
        first_open_ms INTEGER NOT NULL,
        last_open_ms INTEGER,
        reason TEXT NOT NULL,
        detected_at_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        updated_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
]

FEATURES = [
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_technical_indicators (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        window_start_ms INTEGER,
        window_end_ms INTEGER,
        m1_close REAL,
        m1_sma_20 REAL,
        m1_sma_50 REAL,
        m1_ema_20 REAL,
        m1_ema_50 REAL,
        m1_rsi_14 REAL,
        m1_macd REAL,
        m1_macd_signal REAL,
        m1_macd_hist REAL,
        m1_bb_upper REAL,
        m1_bb_middle REAL,
        m1_bb_lower REAL,
        m1_bb_pct_b REAL,
        m1_bb_bandwidth REAL,
        m1_atr_14 REAL,
        m1_vwap REAL,
        m1_roc_12 REAL,
        m1_high REAL,
        m1_low REAL,
        m1_range_pct REAL,
        m1_range_position REAL,
        h1_close REAL,
        h1_sma_20 REAL,
        h1_sma_50 REAL,
        h1_ema_20 REAL,
        h1_ema_50 REAL,
        h1_rsi_14 REAL,
        h1_macd REAL,
        h1_macd_signal REAL,
        h1_macd_hist REAL,
        h1_bb_upper REAL,
        h1_bb_middle REAL,
        h1_bb_lower REAL,
        h1_bb_pct_b REAL,
        h1_bb_bandwidth REAL,
        h1_atr_14 REAL,
        h1_vwap REAL,
        h1_roc_12 REAL,
        h1_high REAL,
        h1_low REAL,
        h1_range_pct REAL,
        h1_range_position REAL,
        null_reasons TEXT,
        PRIMARY KEY (coin, computed_at_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_technical_indicators_by_time ON hyperliquid_technical_indicators (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_funding_pressure (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        window_start_ms INTEGER,
        window_end_ms INTEGER,
        funding_rate REAL,
        funding_annualized REAL,
        premium REAL,
        mark_px REAL,
        oracle_px REAL,
        basis_bps REAL,
        predicted_funding_rate REAL,
        next_funding_time_ms INTEGER,
        binance_funding_hourly REAL,
        bybit_funding_hourly REAL,
        funding_mean_7d REAL,
        funding_std_7d REAL,
        funding_zscore_7d REAL,
        funding_history_points INTEGER,
        open_interest REAL,
        oi_notional_usd REAL,
        funding_x_oi_usd_hourly REAL,
        direction TEXT,
        null_reasons TEXT,
        PRIMARY KEY (coin, computed_at_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_funding_pressure_by_time ON hyperliquid_funding_pressure (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_liquidity_profiles (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        window_start_ms INTEGER,
        window_end_ms INTEGER,
        best_bid REAL,
        best_ask REAL,
        mid_px REAL,
        spread_bps REAL,
        bid_depth_10bps REAL,
        ask_depth_10bps REAL,
        bid_depth_25bps REAL,
        ask_depth_25bps REAL,
        bid_depth_50bps REAL,
        ask_depth_50bps REAL,
        bid_depth_100bps REAL,
        ask_depth_100bps REAL,
        bid_depth_visible REAL,
        ask_depth_visible REAL,
        bid_reach_bps REAL,
        ask_reach_bps REAL,
        imbalance_10bps REAL,
        imbalance_visible REAL,
        venue_impact_bid_px REAL,
        venue_impact_ask_px REAL,
        venue_impact_spread_bps REAL,
        day_ntl_vlm REAL,
        null_reasons TEXT,
        PRIMARY KEY (coin, computed_at_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_liquidity_profiles_by_time ON hyperliquid_liquidity_profiles (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_volatility_profiles (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        window_start_ms INTEGER,
        window_end_ms INTEGER,
        close REAL,
        rv_1h REAL,
        rv_4h REAL,
        rv_24h REAL,
        rv_7d REAL,
        parkinson_24h REAL,
        garman_klass_24h REAL,
        parkinson_7d REAL,
        garman_klass_7d REAL,
        atr_pct_1m REAL,
        atr_pct_1h REAL,
        regime_percentile REAL,
        regime TEXT,
        null_reasons TEXT,
        PRIMARY KEY (coin, computed_at_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_volatility_profiles_by_time ON hyperliquid_volatility_profiles (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_positioning_pressure (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        window_start_ms INTEGER,
        window_end_ms INTEGER,
        mark_px REAL,
        open_interest REAL,
        oi_notional_usd REAL,
        day_ntl_vlm REAL,
        oi_to_volume_24h REAL,
        oi_change_pct_5m REAL,
        oi_change_pct_1h REAL,
        oi_change_pct_24h REAL,
        price_change_pct_5m REAL,
        price_change_pct_1h REAL,
        price_change_pct_24h REAL,
        quadrant_5m TEXT,
        quadrant_1h TEXT,
        quadrant_24h TEXT,
        null_reasons TEXT,
        PRIMARY KEY (coin, computed_at_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_positioning_pressure_by_time ON hyperliquid_positioning_pressure (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_liquidity_impacts (
        coin TEXT NOT NULL,
        computed_at_ms INTEGER NOT NULL,
        notional_usd REAL NOT NULL,
        side TEXT NOT NULL,
        avg_px REAL,
        worst_px REAL,
        slippage_bps REAL,
        null_reason TEXT,
        PRIMARY KEY (coin, computed_at_ms, notional_usd, side)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_liquidity_impacts_by_time ON hyperliquid_liquidity_impacts (computed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_asset_ctx_snapshots (
        coin TEXT NOT NULL,
        snapshot_ms INTEGER NOT NULL,
        mark_px REAL,
        oracle_px REAL,
        mid_px REAL,
        funding REAL,
        premium REAL,
        open_interest REAL,
        prev_day_px REAL,
        day_ntl_vlm REAL,
        day_base_vlm REAL,
        impact_bid_px REAL,
        impact_ask_px REAL,
        PRIMARY KEY (coin, snapshot_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_asset_ctx_snapshots_by_time ON hyperliquid_asset_ctx_snapshots (snapshot_ms)
    """,
]

RETENTION = [
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_candles_1h (
        coin TEXT NOT NULL,
        open_time_ms INTEGER NOT NULL,
        close_time_ms INTEGER NOT NULL,
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        trades INTEGER NOT NULL,
        minute_count INTEGER NOT NULL,
        rolled_up_at_ms INTEGER NOT NULL,
        PRIMARY KEY (coin, open_time_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_candles_1h_by_open_time ON hyperliquid_candles_1h (open_time_ms)
    """,
    """
    CREATE INDEX IF NOT EXISTS hyperliquid_candles_by_open_time ON hyperliquid_candles (open_time_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS hyperliquid_rollup_pending (
        hour_ms INTEGER NOT NULL,
        coin TEXT NOT NULL,
        PRIMARY KEY (hour_ms, coin)
    ) WITHOUT ROWID
    """,
    """
    INSERT OR IGNORE INTO hyperliquid_rollup_pending (hour_ms, coin)
    SELECT DISTINCT open_time_ms - open_time_ms % 3600000, coin FROM hyperliquid_candles
    WHERE interval = '1m' AND NOT EXISTS (SELECT 1 FROM hyperliquid_candles_1h)
    """,
]

POLYMARKET = [
    """
    CREATE TABLE IF NOT EXISTS polymarket_events (
        event_id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        title TEXT NOT NULL,
        start_ms INTEGER,
        end_ms INTEGER,
        closed_time_ms INTEGER,
        active INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        volume REAL,
        volume_24h REAL,
        liquidity REAL,
        tags TEXT NOT NULL,
        updated_at_ms INTEGER,
        fetched_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_markets (
        market_id TEXT NOT NULL UNIQUE,
        condition_id TEXT NOT NULL,
        event_id TEXT,
        event_title TEXT NOT NULL,
        slug TEXT NOT NULL,
        question TEXT NOT NULL,
        outcomes TEXT NOT NULL,
        outcome_prices TEXT,
        clob_token_ids TEXT NOT NULL,
        volume REAL,
        volume_24h REAL,
        liquidity REAL,
        best_bid REAL,
        best_ask REAL,
        last_trade_price REAL,
        start_ms INTEGER,
        end_ms INTEGER,
        closed_time_ms INTEGER,
        active INTEGER NOT NULL,
        closed INTEGER NOT NULL,
        archived INTEGER NOT NULL,
        resolution TEXT NOT NULL,
        resolved_outcome INTEGER,
        tags TEXT NOT NULL,
        updated_at_ms INTEGER,
        fetched_at_ms INTEGER NOT NULL
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS polymarket_markets_by_end ON polymarket_markets (closed, end_ms)
    """,
    "CREATE INDEX IF NOT EXISTS polymarket_markets_by_event ON polymarket_markets (event_id)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS polymarket_markets_fts USING fts5(
        question, event_title, slug, tags,
        content='polymarket_markets', content_rowid='rowid', tokenize='unicode61'
    )
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_ai AFTER INSERT ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (rowid, question, event_title, slug, tags)
        VALUES (new.rowid, new.question, new.event_title, new.slug, new.tags);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_ad AFTER DELETE ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (polymarket_markets_fts, rowid, question,
            event_title, slug, tags)
        VALUES ('delete', old.rowid, old.question, old.event_title, old.slug, old.tags);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS polymarket_markets_fts_au
    AFTER UPDATE OF question, event_title, slug, tags ON polymarket_markets
    BEGIN
        INSERT INTO polymarket_markets_fts (polymarket_markets_fts, rowid, question,
            event_title, slug, tags)
        VALUES ('delete', old.rowid, old.question, old.event_title, old.slug, old.tags);
        INSERT INTO polymarket_markets_fts (rowid, question, event_title, slug, tags)
        VALUES (new.rowid, new.question, new.event_title, new.slug, new.tags);
    END
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_market_asset_links (
        market_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        term TEXT NOT NULL,
        field TEXT NOT NULL,
        score REAL NOT NULL,
        linked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (market_id, asset)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS polymarket_market_asset_links_by_asset ON polymarket_market_asset_links (asset, market_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_asset_terms (
        term TEXT NOT NULL,
        asset TEXT NOT NULL,
        ambiguous INTEGER NOT NULL,
        PRIMARY KEY (term, asset)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_immediate_markets (
            market_id TEXT PRIMARY KEY,
            question TEXT NOT NULL,
            slug TEXT NOT NULL,
            outcomes TEXT NOT NULL,
            outcome_prices TEXT,
            best_bid REAL,
            best_ask REAL,
            last_trade_price REAL,
            volume REAL,
            volume_24h REAL,
            liquidity REAL,
            end_ms INTEGER,
            closed_time_ms INTEGER,
            resolution TEXT NOT NULL,
            resolved_outcome INTEGER,
            refreshed_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_later_markets (
            market_id TEXT PRIMARY KEY,
            question TEXT NOT NULL,
            slug TEXT NOT NULL,
            outcomes TEXT NOT NULL,
            outcome_prices TEXT,
            best_bid REAL,
            best_ask REAL,
            last_trade_price REAL,
            volume REAL,
            volume_24h REAL,
            liquidity REAL,
            end_ms INTEGER,
            closed_time_ms INTEGER,
            resolution TEXT NOT NULL,
            resolved_outcome INTEGER,
            refreshed_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS polymarket_recently_closed_markets (
            market_id TEXT PRIMARY KEY,
            question TEXT NOT NULL,
            slug TEXT NOT NULL,
            outcomes TEXT NOT NULL,
            outcome_prices TEXT,
            best_bid REAL,
            best_ask REAL,
            last_trade_price REAL,
            volume REAL,
            volume_24h REAL,
            liquidity REAL,
            end_ms INTEGER,
            closed_time_ms INTEGER,
            resolution TEXT NOT NULL,
            resolved_outcome INTEGER,
            refreshed_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
]

DEFILLAMA = [
    """
    CREATE TABLE IF NOT EXISTS defillama_subjects (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        name TEXT NOT NULL,
        slug TEXT,
        symbol TEXT,
        gecko_id TEXT,
        category TEXT,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, subject_id)
    )
    """,
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS defillama_subjects_fts USING fts5(
        name, symbol, slug, content='defillama_subjects', content_rowid='rowid'
    )
    """,
    """
    CREATE TRIGGER IF NOT EXISTS defillama_subjects_fts_insert
    AFTER INSERT ON defillama_subjects BEGIN
        INSERT INTO defillama_subjects_fts (rowid, name, symbol, slug)
        VALUES (new.rowid, new.name, new.symbol, new.slug);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS defillama_subjects_fts_delete
    AFTER DELETE ON defillama_subjects BEGIN
        INSERT INTO defillama_subjects_fts (defillama_subjects_fts, rowid, name, symbol, slug)
        VALUES ('delete', old.rowid, old.name, old.symbol, old.slug);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS defillama_subjects_fts_update
    AFTER UPDATE ON defillama_subjects BEGIN
        INSERT INTO defillama_subjects_fts (defillama_subjects_fts, rowid, name, symbol, slug)
        VALUES ('delete', old.rowid, old.name, old.symbol, old.slug);
        INSERT INTO defillama_subjects_fts (rowid, name, symbol, slug)
        VALUES (new.rowid, new.name, new.symbol, new.slug);
    END
    """,
    """
    CREATE TABLE IF NOT EXISTS defillama_subject_assets (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        asset TEXT NOT NULL COLLATE NOCASE,
        origin TEXT NOT NULL,
        PRIMARY KEY (kind, subject_id, asset)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS defillama_subject_assets_by_asset ON defillama_subject_assets (asset)
    """,
    """
    CREATE TABLE IF NOT EXISTS defillama_capital_base (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        bucket_ms INTEGER NOT NULL,
        observed_at_ms INTEGER NOT NULL,
        value_usd REAL,
        PRIMARY KEY (kind, subject_id, metric, bucket_ms)
    ) WITHOUT ROWID
    """,
    """
    CREATE INDEX IF NOT EXISTS defillama_capital_base_by_metric ON defillama_capital_base (kind, metric, observed_at_ms)
    """,
    """
    CREATE TABLE IF NOT EXISTS defillama_capital_flows (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        period TEXT NOT NULL,
        observed_at_ms INTEGER NOT NULL,
        from_ms INTEGER,
        to_ms INTEGER,
        current_usd REAL,
        previous_usd REAL,
        change_usd REAL,
        change_pct REAL,
        inflow_usd REAL,
        outflow_usd REAL,
        basis TEXT,
        PRIMARY KEY (kind, subject_id, metric, period)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS defillama_economic_throughput (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        period TEXT NOT NULL,
        observed_at_ms INTEGER NOT NULL,
        value_usd REAL,
        change_pct REAL,
        PRIMARY KEY (kind, subject_id, metric, period)
    ) WITHOUT ROWID
    """,
]

# Every statement of the release, in the order it ran them.
RELEASE_DDL = [*CORE, *ACCESS, *HYPERLIQUID, *FEATURES, *RETENTION, *POLYMARKET, *DEFILLAMA]
