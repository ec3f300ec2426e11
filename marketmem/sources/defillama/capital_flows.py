"""Channel ``defillama/capital_flows``: where capital moves, over 1 d / 7 d / 30 d.

- chains: TVL change from /v2/historicalChainTvl/{chain}, stablecoin supply change from
  /stablecoincharts/{chain} (basis "history");
- protocols: TVL change from the percent changes of /protocols (basis "api"), else from
  our own stored capital_base observations (basis "stored"), else unknown;
- stablecoins: circulating change from /stablecoins' previous day/week/month (basis "api");
- chains, when a DefiLlama Pro key is set: bridge inflow, outflow and net flow from
  /bridgevolume/{chain} (basis "bridges"). Bridges answering 401/403/404 are noted in the
  run's error text and the rest of the run still lands.
"""

from __future__ import annotations

from marketmem.events import DefillamaCapitalFlow, DefillamaCapitalFlowBatch
from marketmem.httpclient import HttpStatusError, SourceError
from marketmem.runs import RunContext
from marketmem.sources.defillama import amounts
from marketmem.sources.defillama.client import DefillamaClient
from marketmem.sources.defillama.common import (
    DefillamaSource,
    Problems,
    kept_chains,
    kept_protocols,
    kept_stablecoins,
    publish_subjects,
)
from marketmem.sources.defillama.flows import (
    PERIODS,
    Change,
    make_change,
    nearest_observation,
    previous_from_percent,
    series_change,
    window_net_flow,
)
from marketmem.sources.defillama.subjects import Subject
from marketmem.sources.defillama.wire import PeggedAsset, Protocol
from marketmem.storage import engine
from marketmem.storage.errors import STORAGE_ERROR
from marketmem.storage.reads import defillama as defillama_reads

# A stored observation this close to "period ago" stands for the value then.
STORED_TOLERANCE_MS = 3 * 3_600_000
UNAVAILABLE = (401, 403, 404)


def _ms(seconds: int | None) -> int | None:
    return None if seconds is None else seconds * 1000


def protocol_change(
    protocol: Protocol,
    period: str,
    now_ms: int,
    stored: list[tuple[int, float | None]],
) -> tuple[Change, str | None]:
    """A protocol's TVL change over ``period``: API percent, else stored observation."""
    current = protocol.tvl
    period_s = PERIODS[period]
    pct = {"1d": protocol.change_1d, "7d": protocol.change_7d}.get(period)
    previous = previous_from_percent(current, pct)
    now_s = now_ms // 1000
    if previous is not None:
        return make_change(current, previous, now_s - period_s, now_s), "api"
    found = nearest_observation(stored, now_ms - period_s * 1000, STORED_TOLERANCE_MS)
    if found is not None and current is not None and found[1] is not None:
        return make_change(current, found[1], found[0] // 1000, now_s), "stored"
    return make_change(current, None, None, now_s), None


def stablecoin_changes(asset: PeggedAsset, now_ms: int) -> dict[str, Change]:
    """Circulating USD now against the previous day/week/month, all at the current price."""
    now_s = now_ms // 1000
    current = amounts.peg_to_usd(asset.circulating, asset.price)
    prev = {
        "1d": asset.circulating_prev_day,
        "7d": asset.circulating_prev_week,
        "30d": asset.circulating_prev_month,
    }
    return {
        period: make_change(
            current, amounts.peg_to_usd(prev[period], asset.price), now_s - secs, now_s
        )
        for period, secs in PERIODS.items()
    }


def read_stored(ctx: RunContext, now_ms: int) -> dict[str, list[tuple[int, float | None]]]:
    """Stored protocol TVL observations near each period ago; a read problem becomes a note."""
    ranges = [
        (now_ms - secs * 1000 - STORED_TOLERANCE_MS, now_ms - secs * 1000 + STORED_TOLERANCE_MS)
        for secs in PERIODS.values()
    ]
    try:
        conn = engine.open_ro(ctx.rt.database)
    except STORAGE_ERROR as exc:
        ctx.note(f"stored observations unreadable: {type(exc).__name__}: {exc}")
        return {}
    try:
        return defillama_reads.observations(conn, "protocol", "tvl_usd", ranges)
    except STORAGE_ERROR as exc:
        ctx.note(f"stored observations unreadable: {type(exc).__name__}: {exc}")
        return {}
    finally:
        conn.close()


class FlowRows:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.rows: list[DefillamaCapitalFlow] = []

    def change(
        self, subject: Subject, metric: str, period: str, c: Change, basis: str | None
    ) -> None:
        self.rows.append(
            DefillamaCapitalFlow(
                kind=subject.kind,
                subject_id=subject.subject_id,
                metric=metric,
                period=period,
                observed_at_ms=self.now_ms,
                from_ms=_ms(c.from_s),
                to_ms=_ms(c.to_s),
                current_usd=c.current,
                previous_usd=c.previous,
                change_usd=c.change,
                change_pct=c.change_pct,
                inflow_usd=None,
                outflow_usd=None,
                basis=basis if c.change is not None else None,
            )
        )


async def chain_history_flows(
    client: DefillamaClient, chains: list[Subject], problems: Problems, out: FlowRows
) -> None:
    for i, chain in enumerate(chains):
        if problems.unreachable:
            problems.skipped("/v2/historicalChainTvl", len(chains) - i)
            return
        points = await problems.attempt(
            f"/v2/historicalChainTvl/{chain.name}", client.chain_tvl_history, chain.name
        )
        if points is None:
            continue
        series = [(amounts.unix_seconds(p.date), p.tvl) for p in points]
        for period, secs in PERIODS.items():
            out.change(chain, "tvl_usd", period, series_change(series, secs), "history")


async def chain_stablecoin_flows(
    client: DefillamaClient, chains: list[Subject], problems: Problems, out: FlowRows
) -> None:
    listed = await problems.attempt("/stablecoinchains", client.stablecoin_chains)
    if listed is None:
        return
    names = {c.name.lower(): c.name for c in listed}
    todo = [c for c in chains if c.name.lower() in names]
    for i, chain in enumerate(todo):
        if problems.unreachable:
            problems.skipped("/stablecoincharts", len(todo) - i)
            return
        name = names[chain.name.lower()]
        points = await problems.attempt(f"/stablecoincharts/{name}", client.stablecoin_chart, name)
        if points is None:
            continue
        series = [
            (amounts.unix_seconds(p.date), amounts.usd_total(p.total_circulating_usd))
            for p in points
        ]
        for period, secs in PERIODS.items():
            out.change(
                chain, "stablecoin_supply_usd", period, series_change(series, secs), "history"
            )


async def bridge_flows(
    client: DefillamaClient,
    src: DefillamaSource,
    ctx: RunContext,
    chains: list[Subject],
    out: FlowRows,
) -> None:
    """Bridge net flows per kept chain; every bridge problem is a note, never a failure."""

    def unavailable(exc: SourceError) -> None:
        if isinstance(exc, HttpStatusError) and exc.status in UNAVAILABLE:
            ctx.note(src.redact(f"bridges unavailable: HTTP {exc.status} from the bridges API"))
        else:
            ctx.note(src.redact(f"bridges failed: {type(exc).__name__}: {exc}"))

    try:
        listed = await client.bridges()
    except SourceError as exc:
        unavailable(exc)
        return
    names = {c.lower(): c for b in listed.bridges for c in b.chains}
    for chain in chains:
        name = names.get(chain.name.lower())
        if name is None:
            continue
        try:
            points = await client.bridge_volume(name)
        except SourceError as exc:
            unavailable(exc)
            if isinstance(exc, HttpStatusError) and exc.status in UNAVAILABLE:
                return
            continue
        days = [(amounts.unix_seconds(p.date), p.deposit_usd, p.withdraw_usd) for p in points]
        for period, secs in PERIODS.items():
            flow = window_net_flow(days, secs)
            out.rows.append(
                DefillamaCapitalFlow(
                    kind=chain.kind,
                    subject_id=chain.subject_id,
                    metric="bridge_net_flow_usd",
                    period=period,
                    observed_at_ms=out.now_ms,
                    from_ms=_ms(flow.from_s),
                    to_ms=_ms(flow.to_s),
                    current_usd=None,
                    previous_usd=None,
                    change_usd=flow.net,
                    change_pct=None,
                    inflow_usd=flow.inflow,
                    outflow_usd=flow.outflow,
                    basis="bridges" if flow.net is not None else None,
                )
            )


async def run_capital_flows(src: DefillamaSource, ctx: RunContext) -> None:
    links = src.overrides()
    problems = Problems(ctx, src)
    now = ctx.rt.clock.now_ms()
    out = FlowRows(now)
    subjects: list[Subject] = []

    async with src.client() as client:
        chains = await kept_chains(client, src, links, problems)
        protocols = await kept_protocols(client, src, links, problems)
        stablecoins = await kept_stablecoins(client, src, links, problems)
        if chains:
            subjects.extend(chains)
            await chain_history_flows(client, chains, problems, out)
            await chain_stablecoin_flows(client, chains, problems, out)
            if client.bridges_url is not None:
                await bridge_flows(client, src, ctx, chains, out)

    if protocols:
        stored = read_stored(ctx, now)
        for subject, protocol in protocols:
            subjects.append(subject)
            history = stored.get(subject.subject_id, [])
            for period in PERIODS:
                change, basis = protocol_change(protocol, period, now, history)
                out.change(subject, "tvl_usd", period, change, basis)
    for subject, asset in stablecoins or []:
        subjects.append(subject)
        for period, change in stablecoin_changes(asset, now).items():
            out.change(subject, "circulating_usd", period, change, "api")

    await publish_subjects(ctx, subjects, now)
    if out.rows:
        await ctx.publish(DefillamaCapitalFlowBatch(rows=out.rows))
    problems.raise_if_any()
