"""The DefiLlama poll channels: ``build(rt)`` returns the three of them; each fetches what
it needs itself (sharing a short-lived response cache), so any of them runs alone, in any
order."""

from __future__ import annotations

from functools import partial

from marketmem.runtime import ActorSpec, ChannelSpec, Runtime
from marketmem.sources.defillama.capital_base import run_capital_base
from marketmem.sources.defillama.capital_flows import run_capital_flows
from marketmem.sources.defillama.client import ResponseCache
from marketmem.sources.defillama.common import SOURCE, DefillamaSource
from marketmem.sources.defillama.config import SECTION
from marketmem.sources.defillama.throughput import run_economic_throughput


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    # One per opening: the three channels share its response cache.
    src = DefillamaSource(rt, ResponseCache(SECTION.of(rt.config).cache_ttl_s))
    jobs = (
        ("capital_base", run_capital_base),
        ("capital_flows", run_capital_flows),
        ("economic_throughput", run_economic_throughput),
    )
    return [
        ChannelSpec(
            source=SOURCE,
            channel=name,
            cadence_s=rt.config.channel(SOURCE, name).cadence_s,
            job=partial(job, src),
        )
        for name, job in jobs
    ]
