"""The ``hyperliquid/registry`` channel: the perp universe from ``meta`` plus categories.

Every asset keeps its array index (delisted ones keep their slot: the index is the asset id
the exchange uses). The taxonomy file is read on every run, so an edit shows up within one
cadence; coins it does not name are stored as ``uncategorized`` and counted in the run's note.
"""

from __future__ import annotations

import msgspec

from marketmem.events import (
    AssetCategoryDef,
    AssetCategoryLink,
    AssetRegistryBatch,
    HyperliquidAsset,
)
from marketmem.runs import RunContext
from marketmem.runtime import PollJob
from marketmem.sources.hyperliquid import wire
from marketmem.sources.hyperliquid.config import SECTION
from marketmem.sources.hyperliquid.info import InfoClient
from marketmem.sources.hyperliquid.taxonomy import CategorySpec, categorize, load_taxonomy

_json = msgspec.json.Encoder()


def asset_rows(meta: wire.Meta, seen_ms: int) -> list[HyperliquidAsset]:
    rows = []
    for index, a in enumerate(meta.universe):
        table = meta.margin_table(a.margin_table_id)
        tiers = (
            _json.encode(
                [
                    {"lower_bound": str(t.lower_bound), "max_leverage": t.max_leverage}
                    for t in table.margin_tiers
                ]
            ).decode()
            if table is not None
            else None
        )
        rows.append(
            HyperliquidAsset(
                coin=a.name,
                asset_index=index,
                sz_decimals=a.sz_decimals,
                max_leverage=a.max_leverage,
                margin_table_id=a.margin_table_id,
                margin_tiers=tiers,
                is_delisted=a.is_delisted,
                only_isolated=a.only_isolated,
                margin_mode=a.margin_mode,
                first_seen_ms=seen_ms,
                last_seen_ms=seen_ms,
            )
        )
    return rows


def registry_batch(
    meta: wire.Meta, taxonomy: list[CategorySpec], seen_ms: int
) -> tuple[AssetRegistryBatch, list[str], list[str]]:
    """The batch to store, the uncategorized coins, and file names not in the universe."""
    names = [a.name for a in meta.universe]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"meta universe names a coin twice: {', '.join(dupes)}")
    cat = categorize(taxonomy, names)
    batch = AssetRegistryBatch(
        assets=asset_rows(meta, seen_ms),
        taxonomy=[
            AssetCategoryDef(category_id=c.id, label=c.label, description=c.description)
            for c in taxonomy
        ],
        categories=[AssetCategoryLink(coin=coin, category_id=cid) for coin, cid in cat.links],
    )
    return batch, cat.uncategorized, cat.unknown


def registry_job(info: InfoClient) -> PollJob:
    """The ``hyperliquid/registry`` poll job, reading ``meta`` through ``info``."""

    async def run(ctx: RunContext) -> None:
        await _registry_run(ctx, info)

    return run


async def _registry_run(ctx: RunContext, info: InfoClient) -> None:
    rt = ctx.rt
    cfg = SECTION.of(rt.config)
    taxonomy = load_taxonomy(cfg.taxonomy_path)
    meta = await info.meta()
    batch, uncategorized, unknown = registry_batch(meta, taxonomy, rt.clock.now_ms())
    listed = sum(not a.is_delisted for a in batch.assets)
    await ctx.publish(batch)
    ctx.log.info(
        "registry: %d assets (%d listed), %d categories, %d uncategorized",
        len(batch.assets),
        listed,
        len(batch.taxonomy),
        len(uncategorized),
    )
    if uncategorized:
        shown = ", ".join(uncategorized[:20]) + (" ..." if len(uncategorized) > 20 else "")
        ctx.note(f"{len(uncategorized)} coin(s) uncategorized: {shown}")
    if unknown:
        ctx.log.debug("taxonomy names %d coin(s) not in the universe: %s", len(unknown), unknown)
