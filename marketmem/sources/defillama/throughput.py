"""Channel ``defillama/economic_throughput``: fees, revenue and DEX volume per subject.

From the overviews, always asked without their charts: /overview/fees twice (dataType
dailyFees and dailyRevenue) and /overview/dexs, over 24 h / 7 d / 30 d. Protocol rows join
kept protocols by slug; rows with ``protocolType: "chain"`` are chains (a chain's own fees).
DEX volume per chain comes from /overview/dexs/{chain} for kept chains the overview lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from marketmem.events import DefillamaThroughput, DefillamaThroughputBatch
from marketmem.runs import RunContext
from marketmem.sources.defillama.common import (
    DefillamaSource,
    Problems,
    kept_chains,
    kept_protocols,
    publish_subjects,
)
from marketmem.sources.defillama.subjects import Subject
from marketmem.sources.defillama.wire import Overview, OverviewRow

# (metric, overview kind, dataType)
OVERVIEWS = (
    ("fees_usd", "fees", "dailyFees"),
    ("revenue_usd", "fees", "dailyRevenue"),
    ("dex_volume_usd", "dexs", "dailyVolume"),
)


def totals(row: Overview | OverviewRow) -> dict[str, tuple[float | None, float | None]]:
    """(total, percent change against the period before) per period."""
    return {
        "24h": (row.total24h, row.change_1d),
        "7d": (row.total7d, row.change_7dover7d),
        "30d": (row.total30d, row.change_30dover30d),
    }


def match_rows(
    overview: Overview,
    chains: Sequence[Subject],
    protocols: Sequence[Subject],
    *,
    chain_rows: bool,
) -> list[tuple[Subject, OverviewRow]]:
    """Overview rows of kept subjects: protocols by slug (else name), chains by name/slug."""
    by_slug = {p.subject_id.lower(): p for p in protocols}
    by_name = {p.name.lower(): p for p in protocols}
    chain_names = {c.name.lower(): c for c in chains}
    out: list[tuple[Subject, OverviewRow]] = []
    seen: set[tuple[str, str]] = set()
    for row in overview.protocols:
        subject: Subject | None
        if row.protocol_type == "chain":
            if not chain_rows:
                continue
            keys = [k for k in (row.name, row.display_name, row.slug) if k]
            subject = next((chain_names[k.lower()] for k in keys if k.lower() in chain_names), None)
        else:
            subject = by_slug.get((row.slug or "").lower()) or by_name.get(row.name.lower())
        if subject is None or (subject.kind, subject.subject_id) in seen:
            continue
        seen.add((subject.kind, subject.subject_id))
        out.append((subject, row))
    return out


async def run_economic_throughput(src: DefillamaSource, ctx: RunContext) -> None:
    links = src.overrides()
    problems = Problems(ctx, src)
    now = ctx.rt.clock.now_ms()
    rows: list[DefillamaThroughput] = []

    def add(subject: Subject, metric: str, row: Overview | OverviewRow) -> None:
        for period, (value, pct) in totals(row).items():
            rows.append(
                DefillamaThroughput(
                    kind=subject.kind,
                    subject_id=subject.subject_id,
                    metric=metric,
                    period=period,
                    observed_at_ms=now,
                    value_usd=value,
                    change_pct=pct,
                )
            )

    async with src.client() as client:
        chains = await kept_chains(client, src, links, problems) or []
        kept = await kept_protocols(client, src, links, problems) or []
        protocols = [s for s, _ in kept]
        dexs: Overview | None = None
        for metric, kind, data_type in OVERVIEWS:
            overview = await problems.attempt(
                f"/overview/{kind}?dataType={data_type}",
                partial(client.overview, kind, data_type=data_type),
            )
            if overview is None:
                continue
            if kind == "dexs":
                dexs = overview
            for subject, row in match_rows(overview, chains, protocols, chain_rows=kind == "fees"):
                add(subject, metric, row)
        if dexs is not None:
            listed = {c.lower(): c for c in dexs.all_chains}
            todo = [c for c in chains if c.name.lower() in listed]
            for i, chain in enumerate(todo):
                if problems.unreachable:
                    problems.skipped("/overview/dexs/{chain}", len(todo) - i)
                    break
                name = listed[chain.name.lower()]
                per_chain = await problems.attempt(
                    f"/overview/dexs/{name}",
                    partial(client.overview, "dexs", data_type="dailyVolume", chain=name),
                )
                if per_chain is not None:
                    add(chain, "dex_volume_usd", per_chain)

    await publish_subjects(ctx, [*chains, *protocols], now)
    if rows:
        await ctx.publish(DefillamaThroughputBatch(rows=rows))
    problems.raise_if_any()
