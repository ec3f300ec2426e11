"""The five feature channel jobs: gather inputs, compute every coin, publish one batch.

Each job is one recorded run. The candle channels read the candle windows (fed from
``CandleBatch`` by the keeper); the snapshot channels (funding, liquidity, positioning) read
the inputs the Hyperliquid context poller fetched for their tick, from the bus through the
``ContextFeed`` (``feed``: a run waits for them, bounded). A job never fetches anything itself.

A coin that fails (bad payload, missing data, unknown name) is counted, named in the run's
error text (a note: the run stays ok) and skipped; the other coins still get their rows. The
run fails only when the input every coin needs cannot be had (the candle windows,
``metaAndAssetCtxs`` for funding and positioning, ``l2Book`` for liquidity: the poller's error
is the reason) or when every coin failed. Computation is synchronous per coin, with a
checkpoint every few coins so a full pass never holds the trio loop for long.

Positioning stores the asset contexts it compared (``AssetCtxSnapshotBatch``, the tracked
coins' only, counted as its rows): later positioning runs compare against them.

A candle channel's coin without input (no candle, or none fresher than ``candle_stale_s``)
still gets its row of NULLs with their reasons, so the latest data says why, but that row is
published uncounted: it is not a row the run wrote from data. When no coin has input the run
fails (``no input: hyperliquid/candles has no data``); when some lack it, a note names them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from marketmem import metrics
from marketmem.events import (
    AssetContexts,
    AssetCtxSnapshot,
    AssetCtxSnapshotBatch,
    ContextWanted,
    Event,
    FundingHistory,
    FundingPressure,
    FundingPressureBatch,
    L2Book,
    L2BookSweep,
    LiquidityImpact,
    LiquidityProfile,
    LiquidityProfileBatch,
    OrderBook,
    PositioningPressure,
    PositioningPressureBatch,
    PredictedFunding,
    PredictedFundings,
    Row,
    TechnicalIndicators,
    TechnicalIndicatorsBatch,
    VolatilityProfile,
    VolatilityProfileBatch,
)
from marketmem.features.config import SECTION as FEATURES
from marketmem.features.feed import Answer, ContextFeed, RunInputs
from marketmem.features.funding import funding_pressure
from marketmem.features.liquidity import liquidity_profile
from marketmem.features.positioning import LOOKBACKS, positioning_pressure
from marketmem.features.series import Series, has_fresh_data
from marketmem.features.state import FeatureState
from marketmem.features.technical import technical_indicators
from marketmem.features.values import MISSING_INPUT, NO_HISTORY, UNAVAILABLE, Columns, Null
from marketmem.features.volatility import volatility_profile
from marketmem.runs import RunContext, describe_error
from marketmem.runtime import PollJob, Runtime
from marketmem.sources.hyperliquid.config import SECTION as HYPERLIQUID
from marketmem.storage import engine
from marketmem.storage.reads import features as reads

SOURCE = "hyperliquid"
CHECKPOINT_EVERY = 16
# Coins named in a run's error text at most (the count is always given).
MAX_NAMED_FAILURES = 10
NO_CANDLES = "no input: hyperliquid/candles has no data"

NULLS = metrics.REGISTRY.counter(
    "marketmem_feature_nulls_total",
    "Feature values written as NULL, by channel and reason",
    ("channel", "reason"),
)
COIN_FAILURES = metrics.REGISTRY.counter(
    "marketmem_feature_coin_failures_total",
    "Coins a feature run could not compute",
    ("channel",),
)


class FeatureRunFailed(Exception):
    """A feature run that produced nothing; recorded as a failed run without a traceback."""

    expected = True


class _Pass:
    """Bookkeeping of one run: NULL reasons and per-coin failures."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.nulls: Counter[str] = Counter()
        self.failures: dict[str, str] = {}

    def count(self, cols: Columns) -> None:
        self.nulls.update(cols.reasons.values())

    def fail(self, coin: str, exc: BaseException | str) -> None:
        self.failures[coin] = exc if isinstance(exc, str) else describe_error(exc)
        if isinstance(exc, BaseException) and not _expected(exc):
            # Not a data problem: keep the traceback in the log (the run goes on).
            self.ctx.log.error("%s: %s", coin, self.failures[coin], exc_info=exc)

    def _summary(self, total: int) -> str:
        named = list(self.failures.items())[:MAX_NAMED_FAILURES]
        text = f"{len(self.failures)} of {total} coin(s) failed: " + "; ".join(
            f"{coin}: {err}" for coin, err in named
        )
        return text + ("; ..." if len(self.failures) > MAX_NAMED_FAILURES else "")

    def _count_nulls(self) -> None:
        for reason, n in self.nulls.items():
            NULLS.inc(n, channel=self.ctx.channel, reason=reason)

    def finish(self, total: int) -> None:
        """Count NULLs and failures; fail the run when every coin failed, else note them."""
        self._count_nulls()
        if not self.failures:
            return
        COIN_FAILURES.inc(len(self.failures), channel=self.ctx.channel)
        if len(self.failures) >= total:
            raise FeatureRunFailed(self._summary(total))
        self.ctx.note(self._summary(total))

    def no_input(self, total: int, why: str) -> None:
        """Fail the run: its input has nothing for any coin (failed coins are named too)."""
        self._count_nulls()
        if self.failures:
            COIN_FAILURES.inc(len(self.failures), channel=self.ctx.channel)
            why = f"{why}; {self._summary(total)}"
        raise FeatureRunFailed(why)

    def abort(self, total: int, why: str) -> None:
        COIN_FAILURES.inc(len(self.failures), channel=self.ctx.channel)
        raise FeatureRunFailed(f"{why}; {self._summary(total)}")


def _expected(exc: BaseException) -> bool:
    """Errors of the outside world (HTTP, payloads, unknown coins) rather than of this code."""
    return getattr(exc, "expected", False) is True or isinstance(exc, LookupError)


def configured_coins(rt: Runtime) -> list[str] | None:
    """The coins the stream tracks (of this instance's shard); None for every listed perp
    (``["*"]``)."""
    cfg = HYPERLIQUID.of(rt.config)
    coins = cfg.local_coins[: cfg.local_max_coins] if rt.local else cfg.coins
    return None if "*" in coins else cfg.coin_shard().select(coins)


def _listed(path: engine.Location) -> list[str] | None:
    conn = engine.open_ro(path)
    try:
        return reads.listed_perps(conn)
    finally:
        conn.close()


async def candle_coins(st: FeatureState) -> list[str]:
    coins = configured_coins(st.rt)
    if coins is not None:
        return coins
    listed = await st.executor(_listed, st.rt.database)
    shard = HYPERLIQUID.of(st.rt.config).coin_shard()
    return shard.select(listed if listed is not None else sorted(st.windows.coins))


def snapshot_coins(rt: Runtime, snap: AssetContexts) -> list[str]:
    coins = configured_coins(rt)
    shard = HYPERLIQUID.of(rt.config).coin_shard()
    return coins if coins is not None else shard.select(sorted(snap.by_coin))


async def _checkpoint(i: int) -> None:
    if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
        await trio.lowlevel.checkpoint()


def _ctx_for(snap: AssetContexts, coin: str) -> AssetCtxSnapshot:
    ctx = snap.by_coin.get(coin)
    if ctx is None:
        reason = "delisted" if coin in snap.delisted else "not a listed perp"
        raise LookupError(f"{reason} in metaAndAssetCtxs")
    return ctx


# --- candle channels ---------------------------------------------------------------------------


CandleFeature = Callable[[Series, Series, int], tuple[Columns, int | None, int | None]]


async def _candle_channel(
    ctx: RunContext,
    st: FeatureState,
    compute: CandleFeature,
    row: Callable[..., Row],
    batch: Callable[[list[Any]], Event],
    stale_after_ms: int,
) -> None:
    """One run of a channel computed from the candle windows."""
    await st.keeper.ensure_fresh()
    coins = await candle_coins(st)

    def every_coin_fed() -> bool:
        now = ctx.rt.clock.now_ms()
        return all(has_fresh_data(st.windows.minutes(c), now, stale_after_ms) for c in coins)

    # The first pass of a fresh service waits for the stream's first backfill.
    await st.keeper.wait_for_input(every_coin_fed, st.cfg.first_run_wait_s)
    if not coins:
        raise FeatureRunFailed(
            f'{NO_CANDLES} (coins = ["*"] and the registry lists no perp either)'
        )
    now = ctx.rt.clock.now_ms()
    run = _Pass(ctx)
    rows: list[Row] = []
    # Rows of coins without input (all NULL), published uncounted.
    unfed: dict[str, Row] = {}
    only_old = False  # a coin without input has candles, all of them older than stale_after_ms
    fresh = f"newer than {stale_after_ms // 1000} s"
    for i, coin in enumerate(coins):
        await _checkpoint(i)
        try:
            m1, h1 = st.windows.minutes(coin), st.windows.hours(coin)
            fed = has_fresh_data(m1, now, stale_after_ms) or has_fresh_data(h1, now, stale_after_ms)
            only_old = only_old or (not fed and len(m1) + len(h1) > 0)
            cols, start, end = compute(m1, h1, now)
            out = row(
                coin=coin,
                computed_at_ms=ctx.started_at_ms,
                window_start_ms=start,
                # The forming minute bar ends in the future; the window ends at most now.
                window_end_ms=None if end is None else min(end, now),
                null_reasons=cols.reasons_json(),
                **cols.values,
            )
            run.count(cols)
        except Exception as exc:
            run.fail(coin, exc)
            continue
        if fed:
            rows.append(out)
        else:
            unfed[coin] = out
    if unfed:
        await ctx.publish(batch(list(unfed.values())), counted=False)
        if not rows:
            run.no_input(len(coins), f"{NO_CANDLES} {fresh}" if only_old else NO_CANDLES)
        named = list(unfed)[:MAX_NAMED_FAILURES]
        ctx.note(
            f"no candle {fresh} for {len(unfed)} of {len(coins)} coin(s), "
            "their NULL rows not counted: "
            + ", ".join(named)
            + (", ..." if len(unfed) > MAX_NAMED_FAILURES else "")
        )
    run.finish(len(coins))
    if rows:
        await ctx.publish(batch(rows))


async def technical_indicators_job(ctx: RunContext, st: FeatureState) -> None:
    settings = st.technical
    await _candle_channel(
        ctx,
        st,
        lambda m1, h1, now: technical_indicators(m1, h1, now, settings),
        TechnicalIndicators,
        lambda rows: TechnicalIndicatorsBatch(rows=rows),
        settings.stale_after_ms,
    )


async def volatility_profiles_job(ctx: RunContext, st: FeatureState) -> None:
    settings = st.volatility
    await _candle_channel(
        ctx,
        st,
        lambda m1, h1, now: volatility_profile(m1, h1, now, settings),
        VolatilityProfile,
        lambda rows: VolatilityProfileBatch(rows=rows),
        settings.stale_after_ms,
    )


# --- snapshot channels -------------------------------------------------------------------------


async def _inputs(ctx: RunContext, feed: ContextFeed, required: str) -> RunInputs:
    """This run's view of the feed; fails the run (``required`` unavailable) without one."""
    rt = ctx.rt
    cadence = rt.config.channel(SOURCE, ctx.channel).cadence_s
    inputs = RunInputs(feed, ctx.started_at_ms, cadence, FEATURES.of(rt.config).ctx_max_age_s)
    why = await inputs.fed()
    if why is not None:
        raise FeatureRunFailed(f"{required} unavailable: {why}")
    # The poller ticks with the scheduler and ignores this then; a run beside the schedule
    # (a one-off, a re-timed channel) gets its inputs fetched now.
    await rt.bus.publish(ContextWanted(channel=ctx.channel, run_ms=ctx.started_at_ms))
    return inputs


async def _asset_contexts(inputs: RunInputs) -> AssetContexts:
    got = await inputs.asset_contexts()
    if isinstance(got, str):
        raise FeatureRunFailed(f"{AssetContexts.KIND} unavailable: {got}")
    return got


def _why(got: Answer | L2Book | str) -> str:
    return got if isinstance(got, str) else f"unexpected {type(got).__name__}"


async def funding_pressure_job(ctx: RunContext, st: FeatureState) -> None:
    inputs = await _inputs(ctx, st.feed, AssetContexts.KIND)
    snap = await _asset_contexts(inputs)
    coins = snapshot_coins(ctx.rt, snap)
    run = _Pass(ctx)
    predicted: dict[str, PredictedFunding] | Null
    got = await inputs.answer(PredictedFundings.KIND)
    if isinstance(got, PredictedFundings):
        predicted = got.by_coin
    else:
        predicted = UNAVAILABLE
        ctx.note(f"predictedFundings unavailable: {_why(got)}")
    refresh = await inputs.answer(FundingHistory.KIND)
    if isinstance(refresh, FundingHistory):
        held_points, history_failures = refresh.points, refresh.failures
    else:
        # No refresh for this tick: what the last one held still serves.
        held_points = st.feed.funding.points if st.feed.funding is not None else {}
        history_failures = {}
        ctx.note(f"fundingHistory unavailable: {_why(refresh)}")
    rows: list[FundingPressure] = []
    for i, coin in enumerate(coins):
        await _checkpoint(i)
        try:
            asset = _ctx_for(snap, coin)
            pred: PredictedFunding | Null = (
                predicted if isinstance(predicted, Null) else predicted.get(coin, MISSING_INPUT)
            )
            held = held_points.get(coin)
            history: list[tuple[int, float]] | Null
            if held is not None:
                history = held
            else:
                history = UNAVAILABLE if coin in history_failures else NO_HISTORY
            cols, start = funding_pressure(asset, pred, history, st.funding)
            rows.append(
                FundingPressure(
                    coin=coin,
                    computed_at_ms=ctx.started_at_ms,
                    window_start_ms=start if start is not None else snap.tick_ms,
                    window_end_ms=snap.tick_ms,
                    null_reasons=cols.reasons_json(),
                    **cols.values,
                )
            )
            run.count(cols)
        except Exception as exc:
            run.fail(coin, exc)
    if history_failures:
        named = list(history_failures.items())[:MAX_NAMED_FAILURES]
        ctx.note(
            f"fundingHistory failed for {len(history_failures)} coin(s): "
            + "; ".join(f"{c}: {e}" for c, e in named)
        )
    run.finish(len(coins))
    if rows:
        await ctx.publish(FundingPressureBatch(rows=rows))


async def positioning_pressure_job(ctx: RunContext, st: FeatureState) -> None:
    inputs = await _inputs(ctx, st.feed, AssetContexts.KIND)
    snap = await _asset_contexts(inputs)
    coins = snapshot_coins(ctx.rt, snap)
    t = snap.tick_ms
    ranges = [(t - back - tol, t - back + tol) for back, tol in LOOKBACKS.values()]
    history = await st.executor(_read_snapshots, ctx.rt.database, ranges)
    run = _Pass(ctx)
    rows: list[PositioningPressure] = []
    for i, coin in enumerate(coins):
        await _checkpoint(i)
        try:
            asset = _ctx_for(snap, coin)
            cols, start = positioning_pressure(asset, history.get(coin, []), st.quadrant)
            rows.append(
                PositioningPressure(
                    coin=coin,
                    computed_at_ms=ctx.started_at_ms,
                    window_start_ms=start,
                    window_end_ms=t,
                    null_reasons=cols.reasons_json(),
                    **cols.values,
                )
            )
            run.count(cols)
        except Exception as exc:
            run.fail(coin, exc)
    run.finish(len(coins))
    snapshots = [snap.by_coin[c] for c in coins if c in snap.by_coin]
    if snapshots:
        await ctx.publish(AssetCtxSnapshotBatch(rows=snapshots))
    if rows:
        await ctx.publish(PositioningPressureBatch(rows=rows))


def _read_snapshots(
    path: engine.Location, ranges: list[tuple[int, int]]
) -> dict[str, list[AssetCtxSnapshot]]:
    conn = engine.open_ro(path)
    try:
        return reads.snapshots_between(conn, ranges)
    finally:
        conn.close()


# --- liquidity ---------------------------------------------------------------------------------


async def liquidity_profiles_job(ctx: RunContext, st: FeatureState) -> None:
    inputs = await _inputs(ctx, st.feed, L2Book.KIND)
    got = await inputs.asset_contexts()
    snap = got if isinstance(got, AssetContexts) else None
    if snap is None:
        ctx.note(f"metaAndAssetCtxs unavailable (venue impact and volume NULL): {_why(got)}")
    # The poller's sweep of this tick names the coins, in the order their books come.
    sweep = await inputs.answer(L2BookSweep.KIND)
    if not isinstance(sweep, L2BookSweep):
        raise FeatureRunFailed(f"{L2Book.KIND} unavailable: {_why(sweep)}")
    coins = sweep.coins
    run = _Pass(ctx)
    rows: list[LiquidityProfile] = []
    impacts: list[LiquidityImpact] = []
    notionals = st.cfg.impact_notionals_usd
    consecutive = 0
    for coin in coins:
        answer = await inputs.book(coin, sweep.tick_ms)
        book: OrderBook | None = None
        if isinstance(answer, str):
            run.fail(coin, answer)  # the poller logged it
        else:
            asset: AssetCtxSnapshot | Null = UNAVAILABLE
            if snap is not None:
                asset = snap.by_coin.get(coin, MISSING_INPUT)
            try:
                cols, walked = liquidity_profile(answer.book, asset, notionals)
                book = answer.book
            except Exception as exc:
                run.fail(coin, exc)
        if book is None:
            consecutive += 1
            # The poller stops its sweep by the same rule.
            if consecutive >= st.cfg.l2_max_consecutive_failures and not rows:
                run.abort(len(coins), f"l2Book failed for the first {consecutive} coin(s)")
            continue
        consecutive = 0
        rows.append(
            LiquidityProfile(
                coin=coin,
                computed_at_ms=ctx.started_at_ms,
                window_start_ms=book.time_ms,
                window_end_ms=book.time_ms,
                null_reasons=cols.reasons_json(),
                **cols.values,
            )
        )
        run.count(cols)
        for imp in walked:
            reason = next(
                (
                    v.reason
                    for v in (imp.avg_px, imp.worst_px, imp.slippage_bps)
                    if isinstance(v, Null)
                ),
                None,
            )
            if reason is not None:
                run.nulls[reason] += 1
            impacts.append(
                LiquidityImpact(
                    coin=coin,
                    computed_at_ms=ctx.started_at_ms,
                    notional_usd=imp.notional_usd,
                    side=imp.side,
                    avg_px=None if isinstance(imp.avg_px, Null) else imp.avg_px,
                    worst_px=None if isinstance(imp.worst_px, Null) else imp.worst_px,
                    slippage_bps=None if isinstance(imp.slippage_bps, Null) else imp.slippage_bps,
                    null_reason=reason,
                )
            )
    run.finish(len(coins))
    if rows:
        await ctx.publish(LiquidityProfileBatch(rows=rows, impacts=impacts))


FeatureJob = Callable[[RunContext, FeatureState], Awaitable[None]]

JOBS: dict[str, FeatureJob] = {
    "technical_indicators": technical_indicators_job,
    "funding_pressure": funding_pressure_job,
    "liquidity_profiles": liquidity_profiles_job,
    "volatility_profiles": volatility_profiles_job,
    "positioning_pressure": positioning_pressure_job,
}


def channel_jobs(st: FeatureState) -> dict[str, PollJob]:
    """The five channels' poll jobs, each bound to ``st``."""

    def bound(job: FeatureJob) -> PollJob:
        async def run(ctx: RunContext) -> None:
            await job(ctx, st)

        return run

    return {name: bound(job) for name, job in JOBS.items()}
