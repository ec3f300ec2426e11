"""Channel ``defillama/capital_base``: where capital sits now.

TVL per chain (/v2/chains) and protocol (/protocols; pseudo chainTvls categories such as
staking stored apart, never in TVL), stablecoin supply per chain (/stablecoinchains USD
totals) and per stablecoin (/stablecoins, converted to USD by peg). One row per subject,
metric and hour bucket, stamped with the observation time.
"""

from __future__ import annotations

from marketmem.events import DefillamaCapitalBase, DefillamaCapitalBaseBatch
from marketmem.runs import RunContext
from marketmem.sources.defillama import amounts
from marketmem.sources.defillama.common import (
    DefillamaSource,
    Problems,
    hour_bucket,
    kept_chains,
    kept_protocols,
    kept_stablecoins,
    publish_subjects,
)
from marketmem.sources.defillama.subjects import Subject
from marketmem.sources.defillama.wire import Protocol, StablecoinChain


def protocol_metrics(protocol: Protocol) -> dict[str, float | None]:
    """TVL and the pseudo categories present in chainTvls ("staking_usd", ...)."""
    out: dict[str, float | None] = {"tvl_usd": protocol.tvl}
    for category, value in amounts.pseudo_totals(protocol.chain_tvls).items():
        out[f"{category}_usd"] = value
    return out


def chain_stablecoin_supply(
    chains: list[Subject], stablecoin_chains: list[StablecoinChain]
) -> dict[str, float | None]:
    """USD stablecoin supply of each kept chain found in /stablecoinchains (by name)."""
    by_name = {c.name.lower(): c for c in reversed(stablecoin_chains)}
    out: dict[str, float | None] = {}
    for chain in chains:
        row = by_name.get(chain.name.lower())
        if row is not None:
            out[chain.subject_id] = amounts.usd_total(row.total_circulating_usd)
    return out


async def run_capital_base(src: DefillamaSource, ctx: RunContext) -> None:
    links = src.overrides()
    problems = Problems(ctx, src)
    now = ctx.rt.clock.now_ms()
    bucket = hour_bucket(now)
    subjects: list[Subject] = []
    rows: list[DefillamaCapitalBase] = []

    def add(kind: str, subject_id: str, metric: str, value: float | None) -> None:
        rows.append(
            DefillamaCapitalBase(
                kind=kind,
                subject_id=subject_id,
                metric=metric,
                bucket_ms=bucket,
                observed_at_ms=now,
                value_usd=value,
            )
        )

    async with src.client() as client:
        chains = await kept_chains(client, src, links, problems)
        protocols = await kept_protocols(client, src, links, problems)
        stablecoins = await kept_stablecoins(client, src, links, problems)
        stablecoin_chains = None
        if chains is not None:
            stablecoin_chains = await problems.attempt(
                "/stablecoinchains", client.stablecoin_chains
            )

    for chain in chains or []:
        subjects.append(chain)
        add(chain.kind, chain.subject_id, "tvl_usd", chain.size)
    if chains is not None and stablecoin_chains is not None:
        supply = chain_stablecoin_supply(chains, stablecoin_chains)
        for subject_id, value in supply.items():
            add("chain", subject_id, "stablecoin_supply_usd", value)
    for subject, protocol in protocols or []:
        subjects.append(subject)
        for metric, value in protocol_metrics(protocol).items():
            add(subject.kind, subject.subject_id, metric, value)
    for subject, _ in stablecoins or []:
        subjects.append(subject)
        add(subject.kind, subject.subject_id, "circulating_usd", subject.size)

    await publish_subjects(ctx, subjects, now)
    if rows:
        await ctx.publish(DefillamaCapitalBaseBatch(rows=rows))
    problems.raise_if_any()
