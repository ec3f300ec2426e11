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
from marketmem.sources.defillama.throughput import run_economic_throughput

SHARED_KEY = "defillama"


def source_state(rt: Runtime) -> DefillamaSource:
    """The source's state for ``rt``, created on first use."""
    state = rt.shared.get(SHARED_KEY)
    if not isinstance(state, DefillamaSource):
        state = DefillamaSource(rt, ResponseCache(rt.config.defillama.cache_ttl_s))
        rt.shared[SHARED_KEY] = state
    return state


def build(rt: Runtime) -> list[ChannelSpec | ActorSpec]:
    src = source_state(rt)
    channels = rt.config.defillama.channels
    jobs = (
        ("capital_base", channels.capital_base.cadence_s, run_capital_base),
        ("capital_flows", channels.capital_flows.cadence_s, run_capital_flows),
        ("economic_throughput", channels.economic_throughput.cadence_s, run_economic_throughput),
    )
    return [
        ChannelSpec(source=SOURCE, channel=name, cadence_s=cadence, job=partial(job, src))
        for name, cadence, job in jobs
    ]
