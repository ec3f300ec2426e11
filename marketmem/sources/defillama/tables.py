"""DefiLlama tables and how their batches are upserted.

- ``defillama_subjects`` (kind, subject_id), searched by name, symbol and slug (on SQLite the
  FTS5 index ``defillama_subjects_fts``, kept in step by triggers);
- ``defillama_subject_assets`` (kind, subject_id, asset): a subject's links, replaced as a
  set whenever the subject is written; assets compare regardless of case;
- ``defillama_capital_base`` (kind, subject_id, metric, bucket_ms): hourly observations;
- ``defillama_capital_flows`` (kind, subject_id, metric, period): latest changes;
- ``defillama_economic_throughput`` (kind, subject_id, metric, period): latest totals.

Rows carry ``observed_at_ms`` and a replayed older row never overwrites a newer one.
A subject absent from a response is simply not written: its last rows stay.
"""

from __future__ import annotations

from typing import Any

from marketmem.events import (
    DefillamaAssetLink,
    DefillamaCapitalBase,
    DefillamaCapitalBaseBatch,
    DefillamaCapitalFlow,
    DefillamaCapitalFlowBatch,
    DefillamaSubject,
    DefillamaSubjectBatch,
    DefillamaThroughput,
    DefillamaThroughputBatch,
    Row,
)
from marketmem.source import Tables
from marketmem.storage.declare import TEXT, Column, Index, Search, Table, row_columns
from marketmem.storage.engine import Connection
from marketmem.storage.tables import Upsert, WriteFn, delete_rows, rows_writer, stored_value

SUBJECT_TABLE = Table(
    "defillama_subjects",
    row_columns(DefillamaSubject),
    primary_key=("kind", "subject_id"),
    search=Search(
        ("name", "symbol", "slug"),
        trigger_suffixes=("insert", "delete", "update"),
        reindex_on_any_update=True,
    ),
    clustered=False,
)
LINK_TABLE = Table(
    "defillama_subject_assets",
    row_columns(DefillamaAssetLink, asset=Column("asset", TEXT, case_insensitive=True)),
    primary_key=("kind", "subject_id", "asset"),
    indexes=(Index("defillama_subject_assets_by_asset", ("asset",)),),
)
CAPITAL_BASE_TABLE = Table(
    "defillama_capital_base",
    row_columns(DefillamaCapitalBase),
    primary_key=("kind", "subject_id", "metric", "bucket_ms"),
    indexes=(Index("defillama_capital_base_by_metric", ("kind", "metric", "observed_at_ms")),),
)
CAPITAL_FLOW_TABLE = Table(
    "defillama_capital_flows",
    row_columns(DefillamaCapitalFlow),
    primary_key=("kind", "subject_id", "metric", "period"),
)
THROUGHPUT_TABLE = Table(
    "defillama_economic_throughput",
    row_columns(DefillamaThroughput),
    primary_key=("kind", "subject_id", "metric", "period"),
)


def newest_wins(table: str, row_type: type[Row], key: tuple[str, ...]) -> Upsert:
    """An upsert whose update applies only when the incoming row is not older."""
    newer = f"excluded.observed_at_ms >= {table}.observed_at_ms"
    update = {
        c: f"CASE WHEN {newer} THEN excluded.{c} ELSE {table}.{c} END"
        for c in row_type.__struct_fields__
        if c not in key
    }
    return Upsert(table, row_type, key=key, update=update)


SUBJECTS = Upsert(
    "defillama_subjects",
    DefillamaSubject,
    key=("kind", "subject_id"),
    update={
        c: f"CASE WHEN excluded.updated_at_ms >= defillama_subjects.updated_at_ms "
        f"THEN excluded.{c} ELSE defillama_subjects.{c} END"
        for c in ("name", "slug", "symbol", "gecko_id", "category", "updated_at_ms")
    },
)
LINKS = Upsert("defillama_subject_assets", DefillamaAssetLink, key=("kind", "subject_id", "asset"))
CAPITAL_BASE = newest_wins(
    "defillama_capital_base", DefillamaCapitalBase, ("kind", "subject_id", "metric", "bucket_ms")
)
CAPITAL_FLOWS = newest_wins(
    "defillama_capital_flows", DefillamaCapitalFlow, ("kind", "subject_id", "metric", "period")
)
THROUGHPUT = newest_wins(
    "defillama_economic_throughput",
    DefillamaThroughput,
    ("kind", "subject_id", "metric", "period"),
)


def write_subjects(conn: Connection, event: Any) -> dict[str, int]:
    """Upsert subjects and replace each one's links with those in the batch."""
    assert isinstance(event, DefillamaSubjectBatch)
    n = SUBJECTS.write(conn, event.rows)
    # Only subjects whose row this batch won (not a replay older than what is stored).
    current: set[tuple[str, str]] = set()
    for r in event.rows:
        key = {"kind": r.kind, "subject_id": r.subject_id}
        if stored_value(conn, SUBJECTS.table, "updated_at_ms", key) == r.updated_at_ms:
            current.add((r.kind, r.subject_id))
    delete_rows(conn, LINKS.table, ("kind", "subject_id"), sorted(current))
    links = [link for link in event.links if (link.kind, link.subject_id) in current]
    return {"defillama_subjects": n, "defillama_subject_assets": LINKS.write(conn, links)}


UPSERTS: tuple[Upsert, ...] = (SUBJECTS, LINKS, CAPITAL_BASE, CAPITAL_FLOWS, THROUGHPUT)
WRITERS: dict[type, WriteFn] = {
    DefillamaSubjectBatch: write_subjects,
    DefillamaCapitalBaseBatch: rows_writer(CAPITAL_BASE),
    DefillamaCapitalFlowBatch: rows_writer(CAPITAL_FLOWS),
    DefillamaThroughputBatch: rows_writer(THROUGHPUT),
}
TABLES = Tables(
    (SUBJECT_TABLE, LINK_TABLE, CAPITAL_BASE_TABLE, CAPITAL_FLOW_TABLE, THROUGHPUT_TABLE),
    WRITERS,
    UPSERTS,
)
