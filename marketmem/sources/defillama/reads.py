"""Reads of the DefiLlama tables for the HTTP API and the channels (plain dicts out).

``search_subjects`` is full-text search (FTS5) over subject names, symbols and slugs,
filterable by kind and linked asset; ``metrics_for_asset`` lists the subjects linked to an
asset. Each subject comes with its assets and its latest metrics:

    {"kind", "subject_id", "name", "slug", "symbol", "gecko_id", "category",
     "updated_at_ms", "assets": [...],
     "capital_base": {metric: {"value_usd", "observed_at_ms"}},
     "capital_flows": {metric: {period: {"current_usd", "previous_usd", "change_usd",
                                         "change_pct", "inflow_usd", "outflow_usd",
                                         "from_ms", "to_ms", "basis", "observed_at_ms"}}},
     "economic_throughput": {metric: {period: {"value_usd", "change_pct",
                                               "observed_at_ms"}}}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import apsw

from marketmem.storage.db import query

SUBJECT_COLUMNS = (
    "s.kind, s.subject_id, s.name, s.slug, s.symbol, s.gecko_id, s.category, s.updated_at_ms"
)
MAX_LIMIT = 200
_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """A user's words as an FTS5 query: every word, as a prefix (None when no word)."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return None
    return " ".join(f'"{t}"*' for t in tokens)


def search_subjects(
    conn: apsw.Connection,
    *,
    q: str | None = None,
    kind: str | None = None,
    asset: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Subjects matching ``q`` (best match first; without q, by name) with latest metrics."""
    limit = max(0, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    where: list[str] = []
    params: list[Any] = []
    joins = ""
    order = "s.name COLLATE NOCASE, s.kind, s.subject_id"
    if q is not None and q.strip():
        match = fts_query(q)
        if match is None:
            return []
        joins = "JOIN defillama_subjects_fts f ON f.rowid = s.rowid"
        where.append("defillama_subjects_fts MATCH ?")
        params.append(match)
        order = "f.rank, " + order
    if kind is not None:
        where.append("s.kind = ?")
        params.append(kind)
    if asset is not None:
        where.append(
            "EXISTS (SELECT 1 FROM defillama_subject_assets a WHERE a.kind = s.kind "
            "AND a.subject_id = s.subject_id AND a.asset = ?)"
        )
        params.append(asset)
    sql = f"SELECT {SUBJECT_COLUMNS} FROM defillama_subjects s {joins}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
    params += [limit, offset]
    return with_metrics(conn, query(conn, sql, tuple(params)))


def metrics_for_asset(conn: apsw.Connection, asset: str) -> list[dict[str, Any]]:
    """Every subject linked to ``asset`` (any case), largest capital base first."""
    rows = query(
        conn,
        f"SELECT {SUBJECT_COLUMNS} FROM defillama_subjects s "
        "JOIN defillama_subject_assets a ON a.kind = s.kind AND a.subject_id = s.subject_id "
        "WHERE a.asset = ? ORDER BY s.kind, s.name COLLATE NOCASE",
        (asset,),
    )
    out = with_metrics(conn, rows)
    out.sort(key=lambda r: -(_size(r) or 0.0))
    return out


def _size(subject: dict[str, Any]) -> float | None:
    base = subject["capital_base"]
    for metric in ("tvl_usd", "circulating_usd"):
        value = base.get(metric, {}).get("value_usd")
        if value is not None:
            return float(value)
    return None


def with_metrics(conn: apsw.Connection, subjects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach assets and latest metrics to subject rows (one query per table)."""
    if not subjects:
        return []
    keys = [(s["kind"], s["subject_id"]) for s in subjects]
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for s in subjects:
        s.update(assets=[], capital_base={}, capital_flows={}, economic_throughput={})
        index[(s["kind"], s["subject_id"])] = s
    values = ", ".join("(?, ?)" for _ in keys)
    flat = tuple(x for k in keys for x in k)

    def select(sql: str) -> list[dict[str, Any]]:
        return query(conn, sql.replace("{keys}", values), flat)

    for r in select(
        "SELECT kind, subject_id, asset FROM defillama_subject_assets "
        "WHERE (kind, subject_id) IN (VALUES {keys}) ORDER BY asset"
    ):
        index[(r["kind"], r["subject_id"])]["assets"].append(r["asset"])
    for r in select(
        "SELECT b.kind, b.subject_id, b.metric, b.value_usd, b.observed_at_ms "
        "FROM defillama_capital_base b JOIN ("
        "  SELECT kind, subject_id, metric, max(bucket_ms) AS bucket_ms "
        "  FROM defillama_capital_base WHERE (kind, subject_id) IN (VALUES {keys}) "
        "  GROUP BY kind, subject_id, metric"
        ") m USING (kind, subject_id, metric, bucket_ms)"
    ):
        index[(r["kind"], r["subject_id"])]["capital_base"][r["metric"]] = {
            "value_usd": r["value_usd"],
            "observed_at_ms": r["observed_at_ms"],
        }
    for r in select(
        "SELECT * FROM defillama_capital_flows WHERE (kind, subject_id) IN (VALUES {keys})"
    ):
        target = index[(r.pop("kind"), r.pop("subject_id"))]["capital_flows"]
        metric, period = r.pop("metric"), r.pop("period")
        target.setdefault(metric, {})[period] = r
    for r in select(
        "SELECT * FROM defillama_economic_throughput WHERE (kind, subject_id) IN (VALUES {keys})"
    ):
        target = index[(r.pop("kind"), r.pop("subject_id"))]["economic_throughput"]
        metric, period = r.pop("metric"), r.pop("period")
        target.setdefault(metric, {})[period] = r
    return subjects


def observations(
    conn: apsw.Connection, kind: str, metric: str, ranges: Sequence[tuple[int, int]]
) -> dict[str, list[tuple[int, float | None]]]:
    """Stored capital_base observations per subject within any of ``ranges`` (ms, inclusive)."""
    out: dict[str, list[tuple[int, float | None]]] = {}
    for lo, hi in ranges:
        for r in query(
            conn,
            "SELECT subject_id, observed_at_ms, value_usd FROM defillama_capital_base "
            "WHERE kind = ? AND metric = ? AND observed_at_ms BETWEEN ? AND ? "
            "ORDER BY observed_at_ms",
            (kind, metric, lo, hi),
        ):
            out.setdefault(r["subject_id"], []).append((r["observed_at_ms"], r["value_usd"]))
    return out
