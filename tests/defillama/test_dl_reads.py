"""DefiLlama tables and readers: upsert rules, link replacement, FTS search, latest metrics.

The upsert rules and the metrics of an asset (case-insensitive links) run on both engines
(``engines``); search runs on SQLite (its PostgreSQL engine is another branch's).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import msgspec
import pytest

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
    Event,
)
from marketmem.plugins import SOURCES
from marketmem.sources.defillama.tables import WRITERS
from marketmem.storage import db, engine, schema
from marketmem.storage.models.defillama import Subject
from marketmem.storage.reads import defillama as reads

H = 3_600_000
T = 1_795_564_800_000


def subject(kind: str, sid: str, name: str, symbol: str | None, at: int = T) -> DefillamaSubject:
    slug = sid if kind == "protocol" else None
    return DefillamaSubject(
        kind=kind,
        subject_id=sid,
        name=name,
        slug=slug,
        symbol=symbol,
        gecko_id=None,
        category=None,
        updated_at_ms=at,
    )


def link(kind: str, sid: str, asset: str) -> DefillamaAssetLink:
    return DefillamaAssetLink(kind=kind, subject_id=sid, asset=asset, origin="symbol")


def base(
    kind: str, sid: str, metric: str, bucket: int, value: float | None
) -> DefillamaCapitalBase:
    return DefillamaCapitalBase(
        kind=kind,
        subject_id=sid,
        metric=metric,
        bucket_ms=bucket,
        observed_at_ms=bucket + 60_000,
        value_usd=value,
    )


def flow_row(sid: str, observed: int, change: float | None) -> DefillamaCapitalFlow:
    return DefillamaCapitalFlow(
        kind="chain",
        subject_id=sid,
        metric="tvl_usd",
        period="1d",
        observed_at_ms=observed,
        from_ms=observed - 24 * H,
        to_ms=observed,
        current_usd=100.0,
        previous_usd=None if change is None else 100.0 - change,
        change_usd=change,
        change_pct=None,
        inflow_usd=None,
        outflow_usd=None,
        basis="history" if change is not None else None,
    )


@pytest.fixture
def conn(database: Path | str) -> Iterator[apsw.Connection]:
    """A migrated database of the test's engine (a SQLite file unless marked ``engines``)."""
    c = engine.open_writer(database)
    schema.migrate(c, SOURCES)
    yield c
    c.close()


def write(conn: apsw.Connection, *events: Event) -> dict[str, int]:
    totals: dict[str, int] = {}
    with conn:
        for ev in events:
            for table, n in WRITERS[type(ev)](conn, ev).items():
                totals[table] = totals.get(table, 0) + n
    return totals


def seed(conn: apsw.Connection) -> None:
    write(
        conn,
        DefillamaSubjectBatch(
            rows=[
                subject("chain", "Ethereum", "Ethereum", "ETH"),
                subject("chain", "Hyperliquid L1", "Hyperliquid L1", "HYPE"),
                subject("protocol", "hyperliquid-bridge", "Hyperliquid Bridge", "HYPE"),
                subject("protocol", "aave-v3", "Aave V3", "AAVE"),
                subject("stablecoin", "1", "Tether", "USDT"),
            ],
            links=[
                link("chain", "Ethereum", "ETH"),
                link("chain", "Hyperliquid L1", "HYPE"),
                link("protocol", "hyperliquid-bridge", "HYPE"),
                link("protocol", "aave-v3", "AAVE"),
                link("protocol", "aave-v3", "ETH"),
            ],
        ),
        DefillamaCapitalBaseBatch(
            rows=[
                base("chain", "Ethereum", "tvl_usd", T - 2 * H, 50.0),
                base("chain", "Ethereum", "tvl_usd", T - H, 60.0),
                base("chain", "Ethereum", "stablecoin_supply_usd", T - 2 * H, 9.0),
                base("chain", "Hyperliquid L1", "tvl_usd", T - H, 5.0),
                base("protocol", "hyperliquid-bridge", "tvl_usd", T - H, 3.0),
                base("protocol", "aave-v3", "tvl_usd", T - H, None),
                base("protocol", "aave-v3", "borrowed_usd", T - H, 20.0),
            ]
        ),
        DefillamaCapitalFlowBatch(rows=[flow_row("Ethereum", T, 10.0)]),
        DefillamaThroughputBatch(
            rows=[
                DefillamaThroughput(
                    kind="protocol",
                    subject_id="aave-v3",
                    metric="fees_usd",
                    period=p,
                    observed_at_ms=T,
                    value_usd=v,
                    change_pct=None,
                )
                for p, v in (("24h", 1.0), ("7d", 7.0), ("30d", None))
            ]
        ),
    )


def ids(results: list[Subject]) -> list[tuple[str, str]]:
    return [(r.kind, r.subject_id) for r in results]


def test_search_by_prefix_over_names_symbols_and_slugs(conn: apsw.Connection) -> None:
    seed(conn)
    assert set(ids(reads.search_subjects(conn, q="hyper"))) == {
        ("protocol", "hyperliquid-bridge"),
        ("chain", "Hyperliquid L1"),
    }
    assert ids(reads.search_subjects(conn, q="usdt")) == [("stablecoin", "1")]
    assert ids(reads.search_subjects(conn, q="aave-v3")) == [("protocol", "aave-v3")]
    assert ids(reads.search_subjects(conn, q="hyperliquid bri")) == [
        ("protocol", "hyperliquid-bridge")
    ]
    assert reads.search_subjects(conn, q="nothing-like-this") == []
    # Punctuation only, or FTS syntax, never reaches FTS5 as syntax.
    assert reads.search_subjects(conn, q='"*') == []
    assert ids(reads.search_subjects(conn, q="AND hyper*")) == []


def test_search_filters_and_pages(conn: apsw.Connection) -> None:
    seed(conn)
    assert ids(reads.search_subjects(conn, kind="chain")) == [
        ("chain", "Ethereum"),
        ("chain", "Hyperliquid L1"),
    ]
    assert ids(reads.search_subjects(conn, q="hyper", kind="protocol")) == [
        ("protocol", "hyperliquid-bridge")
    ]
    assert set(ids(reads.search_subjects(conn, asset="eth"))) == {
        ("chain", "Ethereum"),
        ("protocol", "aave-v3"),
    }
    everything = ids(reads.search_subjects(conn))
    assert len(everything) == 5
    page = ids(reads.search_subjects(conn, limit=2, offset=2))
    assert page == everything[2:4]
    assert reads.search_subjects(conn, limit=0) == []


def test_results_carry_latest_metrics(conn: apsw.Connection) -> None:
    seed(conn)
    # As the API answers them.
    [eth] = msgspec.to_builtins(reads.search_subjects(conn, q="ethereum"))
    assert eth["assets"] == ["ETH"]
    assert eth["capital_base"]["tvl_usd"] == {"value_usd": 60.0, "observed_at_ms": T - H + 60_000}
    assert eth["capital_base"]["stablecoin_supply_usd"]["value_usd"] == 9.0
    day = eth["capital_flows"]["tvl_usd"]["1d"]
    assert (day["change_usd"], day["basis"], day["to_ms"]) == (10.0, "history", T)
    assert eth["economic_throughput"] == {}
    [aave] = msgspec.to_builtins(reads.search_subjects(conn, q="aave"))
    assert aave["assets"] == ["AAVE", "ETH"]
    assert aave["capital_base"]["tvl_usd"]["value_usd"] is None
    fees = aave["economic_throughput"]["fees_usd"]
    assert (fees["24h"]["value_usd"], fees["7d"]["value_usd"], fees["30d"]["value_usd"]) == (
        1.0,
        7.0,
        None,
    )


@pytest.mark.engines
def test_metrics_for_asset(conn: apsw.Connection) -> None:
    seed(conn)
    hype = reads.metrics_for_asset(conn, "hype")
    # Largest capital base first.
    assert ids(hype) == [("chain", "Hyperliquid L1"), ("protocol", "hyperliquid-bridge")]
    assert hype[0].capital_base["tvl_usd"].value_usd == 5.0
    assert reads.metrics_for_asset(conn, "NOPE") == []
    # Links compare regardless of case; the latest base value of each metric wins.
    [eth_chain, aave] = sorted(reads.metrics_for_asset(conn, "Eth"), key=lambda s: s.kind)
    assert (eth_chain.subject_id, aave.subject_id) == ("Ethereum", "aave-v3")
    assert eth_chain.assets == ["ETH"] and aave.assets == ["AAVE", "ETH"]
    assert eth_chain.capital_base["tvl_usd"].value_usd == 60.0
    assert eth_chain.capital_flows["tvl_usd"]["1d"].change_usd == 10.0
    assert aave.economic_throughput["fees_usd"]["30d"].value_usd is None


@pytest.mark.engines
def test_newer_rows_win_and_replays_change_nothing(conn: apsw.Connection) -> None:
    seed(conn)
    write(conn, DefillamaCapitalFlowBatch(rows=[flow_row("Ethereum", T + H, None)]))
    # An older replay does not overwrite the newer row.
    write(conn, DefillamaCapitalFlowBatch(rows=[flow_row("Ethereum", T, 10.0)]))
    stored = engine.query(conn, "SELECT observed_at_ms, change_usd FROM defillama_capital_flows")
    assert stored == [{"observed_at_ms": T + H, "change_usd": None}]
    before = engine.query(conn, "SELECT count(*) AS n FROM defillama_capital_base")[0]["n"]
    write(conn, DefillamaCapitalBaseBatch(rows=[base("chain", "Ethereum", "tvl_usd", T - H, 60.0)]))
    assert engine.query(conn, "SELECT count(*) AS n FROM defillama_capital_base")[0]["n"] == before


@pytest.mark.engines
def test_a_newer_subject_replaces_its_links_and_an_older_one_changes_nothing(
    conn: apsw.Connection,
) -> None:
    seed(conn)
    renamed = subject("protocol", "aave-v3", "Aave Three", "AAVE", at=T + H)
    counts = write(
        conn, DefillamaSubjectBatch(rows=[renamed], links=[link("protocol", "aave-v3", "aave")])
    )
    assert counts == {"defillama_subjects": 1, "defillama_subject_assets": 1}
    assert ("protocol", "aave-v3") not in ids(reads.metrics_for_asset(conn, "ETH"))
    old = subject("protocol", "aave-v3", "Aave V3", "AAVE", at=T)
    write(
        conn,
        DefillamaSubjectBatch(
            rows=[old],
            links=[link("protocol", "aave-v3", "AAVE"), link("protocol", "aave-v3", "ETH")],
        ),
    )
    [row] = reads.metrics_for_asset(conn, "AAVE")
    assert (row.name, row.assets) == ("Aave Three", ["aave"])
    # A link differing only in case is the same link.
    links = [link("protocol", "aave-v3", "AAVE"), link("protocol", "aave-v3", "Aave")]
    write(conn, DefillamaSubjectBatch(rows=[renamed], links=links))
    stored = engine.query(
        conn, "SELECT asset FROM defillama_subject_assets WHERE subject_id = 'aave-v3'"
    )
    assert [r["asset"].upper() for r in stored] == ["AAVE"]


def test_subject_updates_reindex_and_replace_links(conn: apsw.Connection) -> None:
    seed(conn)
    renamed = subject("protocol", "aave-v3", "Aave Three", "AAVE", at=T + H)
    counts = write(
        conn,
        DefillamaSubjectBatch(rows=[renamed], links=[link("protocol", "aave-v3", "AAVE")]),
    )
    assert counts == {"defillama_subjects": 1, "defillama_subject_assets": 1}
    assert ids(reads.search_subjects(conn, q="three")) == [("protocol", "aave-v3")]
    # The slug is unchanged, so the old words still find it, under its new name.
    assert [r.name for r in reads.search_subjects(conn, q="aave v3")] == ["Aave Three"]
    assert reads.metrics_for_asset(conn, "ETH") == reads.metrics_for_asset(conn, "eth")
    assert ("protocol", "aave-v3") not in ids(reads.metrics_for_asset(conn, "ETH"))
    # A replay of the older batch neither renames back nor restores the old links.
    old = subject("protocol", "aave-v3", "Aave V3", "AAVE", at=T)
    write(
        conn,
        DefillamaSubjectBatch(
            rows=[old],
            links=[link("protocol", "aave-v3", "AAVE"), link("protocol", "aave-v3", "ETH")],
        ),
    )
    [row] = reads.search_subjects(conn, q="aave")
    assert (row.name, row.assets) == ("Aave Three", ["AAVE"])
    fts = db.query(conn, "SELECT count(*) n FROM defillama_subjects_fts")[0]["n"]
    assert fts == 5
    with conn:
        conn.execute(
            "INSERT INTO defillama_subjects_fts(defillama_subjects_fts) VALUES('integrity-check')"
        )


def test_readers_work_on_a_read_only_connection(tmp_path: Path) -> None:
    rw = db.open_rw(tmp_path / "r.db")
    schema.migrate(rw, SOURCES)
    seed(rw)
    ro = db.open_ro(tmp_path / "r.db")
    try:
        assert len(reads.search_subjects(ro, q="eth")) == 1
        assert reads.observations(ro, "chain", "tvl_usd", [(T - 2 * H, T - 2 * H + 60_000)]) == {
            "Ethereum": [(T - 2 * H + 60_000, 50.0)]
        }
    finally:
        ro.close()
        rw.close()
