"""Reads of the DefiLlama tables for the HTTP API and the channels.

``search_subjects`` is full-text search over subject names, symbols and slugs
(``storage.search``), filterable by kind and linked asset; ``metrics_for_asset``
lists the subjects linked to an asset. Each comes as a ``Subject`` with its assets and its
latest metrics. ``observations`` is the stored capital-base series the flows compare with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marketmem.storage import search
from marketmem.storage.models.defillama import BaseValue, Flow, Subject, Throughput
from marketmem.storage.reads import Connection, columns

SUBJECTS = "defillama_subjects"
SUBJECT_ASSETS = "defillama_subject_assets"
CAPITAL_BASE = "defillama_capital_base"
CAPITAL_FLOWS = "defillama_capital_flows"
THROUGHPUT = "defillama_economic_throughput"
MAX_LIMIT = 200

_SUBJECT_FIELDS = (
    "kind",
    "subject_id",
    "name",
    "slug",
    "symbol",
    "gecko_id",
    "category",
    "updated_at_ms",
)
_SUBJECT = ", ".join(f"s.{c}" for c in _SUBJECT_FIELDS)


def _subject(row: tuple[Any, ...]) -> Subject:
    return Subject(**dict(zip(_SUBJECT_FIELDS, row, strict=True)))


def search_subjects(
    conn: Connection,
    *,
    q: str | None = None,
    kind: str | None = None,
    asset: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Subject]:
    """Subjects matching ``q`` (best match first; without q, by name) with latest metrics."""
    words = None
    if q is not None and q.strip():
        words = search.subject_words(q)
        if words is None:
            return []
    rows = search.subject_rows(
        conn,
        _SUBJECT,
        words=words,
        kind=kind,
        asset=asset,
        limit=max(0, min(limit, MAX_LIMIT)),
        offset=max(0, offset),
    )
    return with_metrics(conn, [_subject(r) for r in rows])


def metrics_for_asset(conn: Connection, asset: str) -> list[Subject]:
    """Every subject linked to ``asset`` (any case), largest capital base first."""
    rows = conn.execute(
        f"SELECT {_SUBJECT} FROM {SUBJECTS} s JOIN {SUBJECT_ASSETS} a "
        "ON a.kind = s.kind AND a.subject_id = s.subject_id "
        "WHERE a.asset = ? ORDER BY s.kind, lower(s.name)",
        (asset,),
    )
    out = with_metrics(conn, [_subject(r) for r in rows])
    out.sort(key=lambda s: -(_size(s) or 0.0))
    return out


def _size(subject: Subject) -> float | None:
    for metric in ("tvl_usd", "circulating_usd"):
        base = subject.capital_base.get(metric)
        if base is not None and base.value_usd is not None:
            return float(base.value_usd)
    return None


_FLOW = columns(Flow)
_THROUGHPUT = columns(Throughput)


def with_metrics(conn: Connection, subjects: list[Subject]) -> list[Subject]:
    """Attach assets and latest metrics to subjects (one query per table)."""
    if not subjects:
        return []
    index = {(s.kind, s.subject_id): s for s in subjects}
    keys = ", ".join("(?, ?)" for _ in subjects)
    flat = tuple(x for s in subjects for x in (s.kind, s.subject_id))
    of = f"(kind, subject_id) IN (VALUES {keys})"

    for kind, subject_id, asset in conn.execute(
        f"SELECT kind, subject_id, asset FROM {SUBJECT_ASSETS} WHERE {of} ORDER BY asset", flat
    ):
        index[(kind, subject_id)].assets.append(asset)
    for kind, subject_id, metric, value_usd, observed_at_ms in conn.execute(
        "SELECT b.kind, b.subject_id, b.metric, b.value_usd, b.observed_at_ms "
        f"FROM {CAPITAL_BASE} b JOIN ("
        f"  SELECT kind, subject_id, metric, max(bucket_ms) AS bucket_ms "
        f"  FROM {CAPITAL_BASE} WHERE {of} GROUP BY kind, subject_id, metric"
        ") m USING (kind, subject_id, metric, bucket_ms)",
        flat,
    ):
        index[(kind, subject_id)].capital_base[metric] = BaseValue(value_usd, observed_at_ms)
    for kind, subject_id, metric, period, *values in conn.execute(
        f"SELECT kind, subject_id, metric, period, {_FLOW} FROM {CAPITAL_FLOWS} WHERE {of}", flat
    ):
        flows = index[(kind, subject_id)].capital_flows
        flows.setdefault(metric, {})[period] = Flow(*values)
    for kind, subject_id, metric, period, *values in conn.execute(
        f"SELECT kind, subject_id, metric, period, {_THROUGHPUT} FROM {THROUGHPUT} WHERE {of}",
        flat,
    ):
        totals = index[(kind, subject_id)].economic_throughput
        totals.setdefault(metric, {})[period] = Throughput(*values)
    return subjects


def observations(
    conn: Connection, kind: str, metric: str, ranges: Sequence[tuple[int, int]]
) -> dict[str, list[tuple[int, float | None]]]:
    """Stored capital_base observations per subject within any of ``ranges`` (ms, inclusive):
    (observed_at_ms, value_usd) pairs, oldest first within each range."""
    out: dict[str, list[tuple[int, float | None]]] = {}
    for lo, hi in ranges:
        for subject_id, observed_at_ms, value_usd in conn.execute(
            f"SELECT subject_id, observed_at_ms, value_usd FROM {CAPITAL_BASE} "
            "WHERE kind = ? AND metric = ? AND observed_at_ms BETWEEN ? AND ? "
            "ORDER BY observed_at_ms",
            (kind, metric, lo, hi),
        ):
            out.setdefault(subject_id, []).append((observed_at_ms, value_usd))
    return out
