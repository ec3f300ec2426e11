"""Read models of the DefiLlama tables: a subject with its assets and latest metrics."""

from __future__ import annotations

import msgspec


class BaseValue(msgspec.Struct, frozen=True, gc=False):
    """The latest hourly observation of one capital-base metric."""

    value_usd: float | None
    observed_at_ms: int


class Flow(msgspec.Struct, frozen=True, gc=False):
    """The latest change of one capital metric over one period (``defillama_capital_flows``
    without its key)."""

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


class Throughput(msgspec.Struct, frozen=True, gc=False):
    """The latest total of one throughput metric over one period."""

    observed_at_ms: int
    value_usd: float | None
    change_pct: float | None


class Subject(msgspec.Struct, kw_only=True, frozen=True):
    """A chain, protocol or stablecoin with its linked assets and latest metrics:
    ``capital_base`` by metric, ``capital_flows`` and ``economic_throughput`` by metric then
    period."""

    kind: str
    subject_id: str
    name: str
    slug: str | None
    symbol: str | None
    gecko_id: str | None
    category: str | None
    updated_at_ms: int
    assets: list[str] = msgspec.field(default_factory=list)
    capital_base: dict[str, BaseValue] = msgspec.field(default_factory=dict)
    capital_flows: dict[str, dict[str, Flow]] = msgspec.field(default_factory=dict)
    economic_throughput: dict[str, dict[str, Throughput]] = msgspec.field(default_factory=dict)
