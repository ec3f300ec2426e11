"""Every event that travels on the bus, as frozen, tagged msgspec Structs.

Sources convert their wire types into these at their boundary; nothing downstream sees raw
JSON. Hot streams publish batches (``CandleBatch``, ``MidBatch``), not one event per row.
Row structs (``Candle``, ``MidPrice``, ...) list their fields in the column order of the table
they are stored in, so the storage writer can turn them into parameter tuples directly.

Times are integer milliseconds since the Unix epoch (``*_ms``) everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec


class Row(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every stored row; field order is column order."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of every bus event; the tag is the class name.

    ``run_id`` names the recorded run an event belongs to ("" for none): the storage writer
    counts what it commits (and rejects) of each run's events, and records that as the run's
    ``rows_written`` (and failure) when the run's ``RunFinished`` reaches it.
    """

    # One transaction of its own in the writer (commands that may hold the write lock long).
    solo: ClassVar[bool] = False

    run_id: str = ""

    def weight(self) -> int:
        """Rows this event stands for, to bound the writer's transaction size."""
        return 1


class RowBatch(Event, kw_only=True):
    """An event carrying stored rows in ``rows`` (one table's upserts)."""

    rows: Sequence[Row]

    def weight(self) -> int:
        return len(self.rows)


class Command(Event, kw_only=True):
    """An instruction the storage writer executes in a transaction of its own; whoever sends
    one learns what it changed from ``StorageWriter.execute``."""

    solo: ClassVar[bool] = True


# --- runs and storage --------------------------------------------------------------------


class RunStarted(Event):
    run_id: str
    source: str
    channel: str
    started_at_ms: int
    instance: str | None = None  # the instance that runs it (``[service] name``)


class RunFinished(Event):
    run_id: str
    source: str
    channel: str
    started_at_ms: int
    finished_at_ms: int
    status: str  # "ok" | "failed"
    rows_written: int = 0
    error: str | None = None
    instance: str | None = None


class Committed(Event):
    """Published by the storage writer after each transaction it committed."""

    events: int
    rows_by_table: dict[str, int]
    latency_s: float


class CommitFailed(Event):
    """Published by the storage writer when a transaction could not be committed (retried
    while ``will_retry``; otherwise its events were rejected for good)."""

    events: int
    error: str
    will_retry: bool


# --- hyperliquid ---------------------------------------------------------------------------


class Candle(Row):
    """One OHLCV bar; key (coin, interval, open_time_ms). Prices are the venue's decimals."""

    coin: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    closed: bool
    updated_at_ms: int


class CandleBatch(RowBatch):
    rows: list[Candle]


class MidPrice(Row):
    """Last mid seen in a 5-second bucket; key (coin, bucket_ms)."""

    coin: str
    bucket_ms: int
    price: float
    observed_at_ms: int


class MidBatch(RowBatch):
    rows: list[MidPrice]


class CandleGap(Row):
    """1-minute bars of a coin that may be missing or partial until a ``candleSnapshot``
    heals them; key coin (one pending gap per coin). ``last_open_ms`` is None while the link
    is down."""

    coin: str
    first_open_ms: int
    last_open_ms: int | None
    reason: str
    detected_at_ms: int
    attempts: int
    last_error: str | None
    updated_at_ms: int


class CandleGapBatch(RowBatch):
    rows: list[CandleGap]


class CandleGapsHealed(Event):
    """The gaps of these coins are healed (or fell past the backfill horizon)."""

    coins: list[str]


class HyperliquidAsset(Row):
    """One perp of ``meta.universe``; key coin. ``asset_index`` is its slot (delisted keep it)."""

    coin: str
    asset_index: int
    sz_decimals: int
    max_leverage: int
    margin_table_id: int | None
    # JSON list of {"lower_bound": "<decimal>", "max_leverage": n}; None when unknown.
    margin_tiers: str | None
    is_delisted: bool
    only_isolated: bool
    margin_mode: str | None
    first_seen_ms: int
    last_seen_ms: int


class AssetCategoryDef(Row):
    """A category of the taxonomy file; key category_id."""

    category_id: str
    label: str
    description: str


class AssetCategoryLink(Row):
    """Coin to category; key (coin, category_id)."""

    coin: str
    category_id: str


class AssetRegistryBatch(Event):
    """One registry run: every asset (upserted), and the whole taxonomy and category map,
    which replace the stored ones in the same transaction."""

    assets: list[HyperliquidAsset]
    taxonomy: list[AssetCategoryDef]
    categories: list[AssetCategoryLink]

    def weight(self) -> int:
        return len(self.assets) + len(self.taxonomy) + len(self.categories)


# --- hyperliquid: the context poller ------------------------------------------------------
# What ``sources.hyperliquid.context`` fetches from ``/info`` for the feature channels, typed
# at the source boundary (Decimals become floats: features are statistics, not accounting).
# None of these is stored (no writer subscribes to them) and none belongs to a recorded run
# (``run_id`` stays ""): the feature runs that use them record what they made of them.
# ``tick_ms`` is the wall time of the poller tick that fetched an event; a feature run at T
# uses the inputs of its own tick (see ``features.feed``). ``KIND`` names the info request.


class AssetCtxSnapshot(Row):
    """One coin's ``metaAndAssetCtxs`` context at one fetch; key (coin, snapshot_ms).

    Stored (``hyperliquid_asset_ctx_snapshots``) by the positioning run that used it."""

    coin: str
    snapshot_ms: int
    mark_px: float | None
    oracle_px: float | None
    mid_px: float | None
    funding: float | None
    premium: float | None
    open_interest: float | None
    prev_day_px: float | None
    day_ntl_vlm: float | None
    day_base_vlm: float | None
    impact_bid_px: float | None
    impact_ask_px: float | None


class AssetContexts(Event):
    """One ``metaAndAssetCtxs`` answer: the context of every listed perp, and the delisted
    names. Every context's ``snapshot_ms`` is ``tick_ms``."""

    KIND: ClassVar[str] = "metaAndAssetCtxs"

    tick_ms: int
    by_coin: dict[str, AssetCtxSnapshot]
    delisted: frozenset[str] = frozenset()

    def weight(self) -> int:
        return len(self.by_coin)


class PredictedFunding(msgspec.Struct, frozen=True, gc=False):
    """Predicted next funding of one coin; the CEX rates normalised to one hour."""

    hl_rate: float | None
    hl_next_time_ms: int | None
    binance_hourly: float | None
    bybit_hourly: float | None


class PredictedFundings(Event):
    """One ``predictedFundings`` answer, by coin."""

    KIND: ClassVar[str] = "predictedFundings"

    tick_ms: int
    by_coin: dict[str, PredictedFunding]

    def weight(self) -> int:
        return len(self.by_coin)


class FundingHistory(Event):
    """The hourly funding the poller holds after one incremental ``fundingHistory`` refresh.

    ``points``: (settlement time, rate) of the last 7 days per coin, ascending, for every coin
    held (not only those fetched this time); ``failures``: coin -> error of the fetches of this
    refresh that failed."""

    KIND: ClassVar[str] = "fundingHistory"

    tick_ms: int
    points: dict[str, list[tuple[int, float]]]
    failures: dict[str, str] = {}

    def weight(self) -> int:
        return sum(len(p) for p in self.points.values())


class OrderBook(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An L2 book: (price, size) levels, bids best (highest) first, asks best (lowest) first.

    ``max_levels`` is how many levels per side the venue sends at most: a side that has that
    many may go on beyond what is visible.
    """

    coin: str
    time_ms: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    max_levels: int = 20


class L2BookSweep(Event):
    """An ``l2Book`` sweep begins: one ``L2Book`` (or ``ContextUnavailable``) per coin follows,
    in this order and with this ``tick_ms``, spaced out over the liquidity cadence."""

    KIND: ClassVar[str] = "l2Book"

    tick_ms: int
    coins: list[str]


class L2Book(Event):
    """One coin's book from an ``l2Book`` sweep."""

    KIND: ClassVar[str] = "l2Book"

    tick_ms: int
    book: OrderBook

    def weight(self) -> int:
        return len(self.book.bids) + len(self.book.asks)


class ContextUnavailable(Event):
    """A fetch of ``kind`` (an info request type) failed, or its tick was skipped because the
    previous one was still going; ``coin`` is "" when it is not about one coin (a whole
    answer, a whole sweep). ``error`` says why (``TransportFailed: ... HTTP 500``)."""

    tick_ms: int
    kind: str
    error: str
    coin: str = ""


class ContextWanted(Event):
    """A feature run at ``run_ms`` needs the inputs of ``channel`` and found none of its tick:
    the context poller fetches them now, unless its own tick for it is at most a second old
    (a run beside the schedule, such as a one-off ``ingest``, so still gets its inputs)."""

    channel: str
    run_ms: int


CONTEXT_EVENTS: tuple[type[Event], ...] = (
    AssetContexts,
    PredictedFundings,
    FundingHistory,
    L2BookSweep,
    L2Book,
    ContextUnavailable,
)


# --- hyperliquid: end ----------------------------------------------------------------------


# --- features ------------------------------------------------------------------------------
# Feature rows: (coin, computed_at_ms) is the key; window_*_ms is the data the row covers;
# NULL columns are undefined values, their reasons in ``null_reasons`` (JSON column -> reason).


class AssetCtxSnapshotBatch(RowBatch):
    """The snapshots a positioning run compared against (stored for the later runs)."""

    rows: list[AssetCtxSnapshot]


class TechnicalIndicators(Row):
    """Indicators on 1-minute (``m1_``) and 1-hour (``h1_``) candles."""

    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    m1_close: float | None
    m1_sma_20: float | None
    m1_sma_50: float | None
    m1_ema_20: float | None
    m1_ema_50: float | None
    m1_rsi_14: float | None
    m1_macd: float | None
    m1_macd_signal: float | None
    m1_macd_hist: float | None
    m1_bb_upper: float | None
    m1_bb_middle: float | None
    m1_bb_lower: float | None
    m1_bb_pct_b: float | None
    m1_bb_bandwidth: float | None
    m1_atr_14: float | None
    m1_vwap: float | None
    m1_roc_12: float | None
    m1_high: float | None
    m1_low: float | None
    m1_range_pct: float | None
    m1_range_position: float | None
    h1_close: float | None
    h1_sma_20: float | None
    h1_sma_50: float | None
    h1_ema_20: float | None
    h1_ema_50: float | None
    h1_rsi_14: float | None
    h1_macd: float | None
    h1_macd_signal: float | None
    h1_macd_hist: float | None
    h1_bb_upper: float | None
    h1_bb_middle: float | None
    h1_bb_lower: float | None
    h1_bb_pct_b: float | None
    h1_bb_bandwidth: float | None
    h1_atr_14: float | None
    h1_vwap: float | None
    h1_roc_12: float | None
    h1_high: float | None
    h1_low: float | None
    h1_range_pct: float | None
    h1_range_position: float | None
    null_reasons: str | None


class TechnicalIndicatorsBatch(RowBatch):
    rows: list[TechnicalIndicators]


class FundingPressure(Row):
    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    funding_rate: float | None
    funding_annualized: float | None
    premium: float | None
    mark_px: float | None
    oracle_px: float | None
    basis_bps: float | None
    predicted_funding_rate: float | None
    next_funding_time_ms: int | None
    binance_funding_hourly: float | None
    bybit_funding_hourly: float | None
    funding_mean_7d: float | None
    funding_std_7d: float | None
    funding_zscore_7d: float | None
    funding_history_points: int | None
    open_interest: float | None
    oi_notional_usd: float | None
    funding_x_oi_usd_hourly: float | None
    direction: str | None
    null_reasons: str | None


class FundingPressureBatch(RowBatch):
    rows: list[FundingPressure]


class LiquidityProfile(Row):
    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    best_bid: float | None
    best_ask: float | None
    mid_px: float | None
    spread_bps: float | None
    bid_depth_10bps: float | None
    ask_depth_10bps: float | None
    bid_depth_25bps: float | None
    ask_depth_25bps: float | None
    bid_depth_50bps: float | None
    ask_depth_50bps: float | None
    bid_depth_100bps: float | None
    ask_depth_100bps: float | None
    bid_depth_visible: float | None
    ask_depth_visible: float | None
    bid_reach_bps: float | None
    ask_reach_bps: float | None
    imbalance_10bps: float | None
    imbalance_visible: float | None
    venue_impact_bid_px: float | None
    venue_impact_ask_px: float | None
    venue_impact_spread_bps: float | None
    day_ntl_vlm: float | None
    null_reasons: str | None


class LiquidityImpact(Row):
    """Walking the book for ``notional_usd`` on one side; key (coin, computed_at_ms, notional_usd,
    side)."""

    coin: str
    computed_at_ms: int
    notional_usd: float
    side: str  # "buy" (walks the asks) | "sell" (walks the bids)
    avg_px: float | None
    worst_px: float | None
    slippage_bps: float | None
    null_reason: str | None


class LiquidityProfileBatch(RowBatch):
    rows: list[LiquidityProfile]
    impacts: list[LiquidityImpact] = []

    def weight(self) -> int:
        return len(self.rows) + len(self.impacts)


class VolatilityProfile(Row):
    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    close: float | None
    rv_1h: float | None
    rv_4h: float | None
    rv_24h: float | None
    rv_7d: float | None
    parkinson_24h: float | None
    garman_klass_24h: float | None
    parkinson_7d: float | None
    garman_klass_7d: float | None
    atr_pct_1m: float | None
    atr_pct_1h: float | None
    regime_percentile: float | None
    regime: str | None
    null_reasons: str | None


class VolatilityProfileBatch(RowBatch):
    rows: list[VolatilityProfile]


class PositioningPressure(Row):
    coin: str
    computed_at_ms: int
    window_start_ms: int | None
    window_end_ms: int | None
    mark_px: float | None
    open_interest: float | None
    oi_notional_usd: float | None
    day_ntl_vlm: float | None
    oi_to_volume_24h: float | None
    oi_change_pct_5m: float | None
    oi_change_pct_1h: float | None
    oi_change_pct_24h: float | None
    price_change_pct_5m: float | None
    price_change_pct_1h: float | None
    price_change_pct_24h: float | None
    quadrant_5m: str | None
    quadrant_1h: str | None
    quadrant_24h: str | None
    null_reasons: str | None


class PositioningPressureBatch(RowBatch):
    rows: list[PositioningPressure]


# --- features: end -------------------------------------------------------------------------


# --- retention -----------------------------------------------------------------------------
# Commands of the retention actor (marketmem.retention), executed by the storage writer, each
# in a transaction of its own; ``StorageWriter.execute`` returns the rows each changed per
# table. Every command is bounded by its ``limit``.


class RollupHours(Command):
    """Roll up to ``limit`` ended hours whose minutes changed since their last rollup.

    Hours starting at or before ``through_ms`` are rolled up; hours starting before
    ``hours_before_ms`` are past 1-hour retention and only unmarked. An hour starting before
    ``minutes_before_ms`` may have lost minutes to retention: it is kept when the minutes
    left are fewer than it was built from.
    """

    through_ms: int
    minutes_before_ms: int
    hours_before_ms: int
    rolled_up_at_ms: int
    limit: int


class PrepareDays(Command):
    """Make the UTC days of ``table`` from the day of ``first_day_ms`` to that of
    ``last_day_ms`` ready before their rows arrive (PostgreSQL: the missing day partitions of
    a table partitioned by day, rows waiting in its DEFAULT partition moved in; nothing on
    SQLite). Bounded by the days named."""

    table: str
    first_day_ms: int
    last_day_ms: int


class ExpireMinutes(Command):
    """Delete about ``limit`` 1-minute candles older than ``before_ms`` whose hour is rolled
    up and not waiting for another rollup, or starts before ``hours_before_ms`` (past 1-hour
    retention: not rolled up any more). Where the storage keeps days apart (PostgreSQL), a
    day all of whose minutes are expired under that rule goes whole first, whatever its size:
    dropping it costs a count of its rows, not a delete of each."""

    before_ms: int
    hours_before_ms: int
    limit: int


class ExpireRows(Command):
    """Delete about ``limit`` rows of a declared retained table with a time before
    ``before_ms`` (see ``marketmem.retention.policy.RETAINED_TABLES``); a day that ends by
    ``before_ms`` goes whole first where the storage keeps days apart."""

    table: str
    before_ms: int
    limit: int


class ReclaimSpace(Command):
    """Hand up to ``pages`` free pages back to the file system (incremental vacuum)."""

    pages: int


class PendingHour(Row):
    """A rollup mark: the hour ``hour_ms`` of ``coin`` waits for a rollup (retention marks
    the hours of the 1-minute candles the writer stores; key (hour_ms, coin))."""

    hour_ms: int
    coin: str


# --- retention: end ------------------------------------------------------------------------


# --- polymarket ----------------------------------------------------------------------------


class PolymarketEventRow(Row):
    """One Gamma event; key event_id. Tags are tag slugs. A number Gamma left out is None."""

    event_id: str
    slug: str
    title: str
    start_ms: int | None
    end_ms: int | None
    closed_time_ms: int | None
    active: bool
    closed: bool
    archived: bool
    volume: float | None
    volume_24h: float | None
    liquidity: float | None
    tags: list[str]
    updated_at_ms: int | None
    fetched_at_ms: int


class PolymarketMarketRow(Row):
    """One Gamma market; key market_id. ``outcome_prices`` is index-aligned with ``outcomes``
    (decimal strings, None before the first trade). ``resolution`` is open / pending /
    resolved / void / fractional; ``resolved_outcome`` is set only when resolved. A number
    Gamma left out (volume, liquidity, prices) is None, never 0."""

    market_id: str
    condition_id: str
    event_id: str | None
    event_title: str
    slug: str
    question: str
    outcomes: list[str]
    outcome_prices: list[str] | None
    clob_token_ids: list[str]
    volume: float | None
    volume_24h: float | None
    liquidity: float | None
    best_bid: float | None
    best_ask: float | None
    last_trade_price: float | None
    start_ms: int | None
    end_ms: int | None
    closed_time_ms: int | None
    active: bool
    closed: bool
    archived: bool
    resolution: str
    resolved_outcome: int | None
    tags: list[str]
    updated_at_ms: int | None
    fetched_at_ms: int


class PolymarketAssetLink(Row):
    """A market linked to a tracked asset; key (market_id, asset)."""

    market_id: str
    asset: str
    term: str
    field: str  # question | title | slug | tags
    score: float
    linked_at_ms: int


class PolymarketAssetTerm(Row):
    """A term of a tracked asset in the terms file the links were made with; key (term,
    asset). Search expands a query word that is a term to its asset's terms and links."""

    term: str
    asset: str
    ambiguous: bool


class PolymarketDiscovered(Event):
    """One discovery run, published only after every page was fetched: upserts events and
    markets and replaces the asset links of every market in ``markets``; ``terms`` (when
    given) replaces the stored asset terms."""

    solo: ClassVar[bool] = True

    events: list[PolymarketEventRow]
    markets: list[PolymarketMarketRow]
    links: list[PolymarketAssetLink]
    terms: list[PolymarketAssetTerm] | None = None

    def weight(self) -> int:
        return len(self.events) + len(self.markets) + len(self.links)


class PolymarketContextMarket(Row):
    """A compact market in one of the immediate / later / recently-closed tables (numbers as in
    ``PolymarketMarketRow``: None when Gamma left them out)."""

    market_id: str
    question: str
    slug: str
    outcomes: list[str]
    outcome_prices: list[str] | None
    best_bid: float | None
    best_ask: float | None
    last_trade_price: float | None
    volume: float | None
    volume_24h: float | None
    liquidity: float | None
    end_ms: int | None
    closed_time_ms: int | None
    resolution: str
    resolved_outcome: int | None
    refreshed_at_ms: int


class PolymarketPlacement(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Where a market belongs now: immediate / later / recently_closed, or none (removed)."""

    market_id: str
    bucket: str
    at_ms: int  # when the state it is based on was fetched; an older placement never wins
    row: PolymarketContextMarket | None = None


class PolymarketRefreshed(Event):
    """Fresh market state from one immediate / later / recently-closed run.

    The writer updates ``markets`` (prices, status; event link and tags kept) and, for every
    placement, removes the market from all three context tables and inserts it into its
    bucket, in one transaction: a market is never in two of them at once."""

    markets: list[PolymarketMarketRow]
    placements: list[PolymarketPlacement]

    def weight(self) -> int:
        return len(self.markets) + len(self.placements)


# --- polymarket: end -----------------------------------------------------------------------


# --- defillama -----------------------------------------------------------------------------
# A subject is a chain (id: its DefiLlama name, "Ethereum"), a protocol (id: its slug) or a
# stablecoin (id: its DefiLlama id, "1"). Amounts are USD; a number the API left out is None.


class DefillamaSubject(Row):
    """Key (kind, subject_id); kind is "chain", "protocol" or "stablecoin"."""

    kind: str
    subject_id: str
    name: str
    slug: str | None
    symbol: str | None
    gecko_id: str | None
    category: str | None
    updated_at_ms: int


class DefillamaAssetLink(Row):
    """Key (kind, subject_id, asset); origin is "symbol", "gecko_id" or "config"."""

    kind: str
    subject_id: str
    asset: str
    origin: str


class DefillamaSubjectBatch(RowBatch):
    """Subjects with their complete link sets: a subject's links are replaced, not merged."""

    rows: list[DefillamaSubject]
    links: list[DefillamaAssetLink]

    def weight(self) -> int:
        return len(self.rows) + len(self.links)


class DefillamaCapitalBase(Row):
    """Key (kind, subject_id, metric, bucket_ms): one observation per hour bucket.

    metric: "tvl_usd", "staking_usd", "pool2_usd", "borrowed_usd" (protocols),
    "tvl_usd", "stablecoin_supply_usd" (chains), "circulating_usd" (stablecoins).
    """

    kind: str
    subject_id: str
    metric: str
    bucket_ms: int
    observed_at_ms: int
    value_usd: float | None


class DefillamaCapitalBaseBatch(RowBatch):
    rows: list[DefillamaCapitalBase]


class DefillamaCapitalFlow(Row):
    """Latest change of a metric over a period; key (kind, subject_id, metric, period).

    period is "1d", "7d" or "30d"; from_ms/to_ms are the data times compared. Bridge rows
    (metric "bridge_net_flow_usd") carry inflow/outflow and their difference in change_usd.
    basis says where the numbers came from: "history", "api", "stored", "bridges" or None.
    """

    kind: str
    subject_id: str
    metric: str
    period: str
    observed_at_ms: int
    from_ms: int | None
    to_ms: int | None
    current_usd: float | None
    previous_usd: float | None
    change_usd: float | None
    change_pct: float | None
    inflow_usd: float | None
    outflow_usd: float | None
    basis: str | None


class DefillamaCapitalFlowBatch(RowBatch):
    rows: list[DefillamaCapitalFlow]


class DefillamaThroughput(Row):
    """Latest total over a period; key (kind, subject_id, metric, period).

    metric is "fees_usd", "revenue_usd" or "dex_volume_usd"; period "24h", "7d" or "30d";
    change_pct compares with the period before (as the overview reports it).
    """

    kind: str
    subject_id: str
    metric: str
    period: str
    observed_at_ms: int
    value_usd: float | None
    change_pct: float | None


class DefillamaThroughputBatch(RowBatch):
    rows: list[DefillamaThroughput]


# --- defillama: end ------------------------------------------------------------------------


# --- http ----------------------------------------------------------------------------------


class ApiTokenCreated(Command):
    """A bearer token was issued; only its SHA-256 is stored, never the token."""

    token_id: str
    user: str
    token_hash: str
    created_at_ms: int


class ApiTokensRevoked(Command):
    """Revoke one token (``token_id``) or every token of ``user``; exactly one is set."""

    revoked_at_ms: int
    token_id: str | None = None
    user: str | None = None


class CloneSaved(Command):
    """A clone (id, owner user, traded symbols) was added or replaced."""

    clone_id: str
    owner: str
    symbols: list[str]
    saved_at_ms: int


class CloneRemoved(Command):
    clone_id: str


# --- http: end -----------------------------------------------------------------------------


# --- live stream ---------------------------------------------------------------------------
# What ``GET /api/v1/stream`` serves, published by the stream feed (``marketmem.http.feed``)
# only once the rows are in the database: each SSE client is a lossy subscriber of these.
# Not stored, and of no run (``run_id`` stays "").


class LiveCandles(Event):
    """Closed 1-minute bars as committed (a bar corrected later, by a backfill, comes again)."""

    rows: list[Candle]

    def weight(self) -> int:
        return len(self.rows)


class LiveMids(Event):
    """Mid prices as committed: the latest of each coin's 5-second bucket."""

    rows: list[MidPrice]

    def weight(self) -> int:
        return len(self.rows)


class ChannelStatusChange(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A source/channel's health status changed (``previous`` None: first seen)."""

    source: str
    channel: str
    status: str
    previous: str | None
    at_ms: int
    last_success_at_ms: int | None
    error: str | None


class LiveHealth(Event):
    changes: list[ChannelStatusChange]


LIVE_EVENTS: tuple[type[Event], ...] = (LiveCandles, LiveMids, LiveHealth)


# --- live stream: end ----------------------------------------------------------------------
