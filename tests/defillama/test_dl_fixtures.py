"""Every recorded DefiLlama payload in ../shared/fixtures/defillama decodes, and behaves.

Recorded files are read in place; each test skips with the reason when ../shared is absent.
The protocols list is decoded once per module (the real one is many MB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from marketmem.httpclient import PayloadError, decode
from marketmem.sources.defillama import amounts, flows
from marketmem.sources.defillama.overrides import load_overrides
from marketmem.sources.defillama.subjects import chain_subject, protocol_subject, select
from marketmem.sources.defillama.throughput import totals
from marketmem.sources.defillama.wire import (
    Bridges,
    BridgeVolumePoint,
    Chain,
    Overview,
    OverviewRow,
    Protocol,
)
from marketmem.venues.defillama import NOT_FOUND
from tests.conftest import fixture_files, fixture_path

# Every file in the fixtures folder and the wire type it decodes into (None: not JSON).
DECODERS: dict[str, Any] = {
    "protocols.json": list[Protocol],
    "v2_chains.json": list[Chain],
    "docexample_overview_derivatives.json": Overview,
    "docexample_summary_fees_hyperliquid.json": OverviewRow,
    "docexample_bridges.json": Bridges,
    "docexample_bridgevolume.json": list[BridgeVolumePoint],
    "error_404_unknown_route.txt": None,
}

RECORDED = fixture_files("defillama")


@pytest.fixture(scope="module")
def protocols() -> list[Protocol]:
    body = fixture_path("defillama", "protocols.json").read_bytes()
    return decode(body, list[Protocol], "/protocols")


@pytest.fixture(scope="module")
def chains() -> list[Chain]:
    return decode(fixture_path("defillama", "v2_chains.json").read_bytes(), list[Chain], "chains")


@pytest.mark.parametrize(
    "path",
    RECORDED
    or [pytest.param(None, marks=pytest.mark.skip(reason="../shared/fixtures/defillama absent"))],
    ids=lambda p: p.name if isinstance(p, Path) else "absent",
)
def test_every_recorded_payload_decodes(path: Path) -> None:
    assert path.name in DECODERS, f"{path.name}: a recorded payload with no decoder in this test"
    body = path.read_bytes()
    wire = DECODERS[path.name]
    if wire is None:
        # Not JSON: a body like this must never pass as data.
        with pytest.raises(PayloadError, match=path.name):
            decode(body, list[Protocol], path.name)
        return
    value = decode(body, wire, path.name)
    items = value if isinstance(value, list) else [value]
    assert items and all(isinstance(i, msgspec.Struct) for i in items)


def test_recorded_protocols_pseudo_keys_are_not_chains(protocols: list[Protocol]) -> None:
    assert len(protocols) == 10
    for p in protocols:
        real = amounts.real_chains(p.chain_tvls)
        assert set(real) == set(p.chains), p.slug
        assert p.tvl is not None
        # TVL is the sum of the real chains only; pseudo categories never add to it.
        assert sum(v for v in real.values() if v is not None) == pytest.approx(p.tvl, rel=1e-3)
    aave = next(p for p in protocols if p.slug == "aave")
    assert amounts.pseudo_totals(aave.chain_tvls) == {
        "pool2": aave.chain_tvls["pool2"],
        "borrowed": aave.chain_tvls["borrowed"],
        "staking": aave.chain_tvls["staking"],
    }
    assert "Ethereum-borrowed" in aave.chain_tvls and "Ethereum-borrowed" not in real


def test_recorded_protocols_subjects_and_policy(protocols: list[Protocol]) -> None:
    ov = load_overrides("config/defillama_subjects.toml")
    subjects = [protocol_subject(p, ov) for p in protocols]
    by_id = {s.subject_id: s for s in subjects}
    assert by_id["curve"].assets == ("CRV",)
    assert by_id["wbtc"].assets == ("BTC",)  # WBTC aliased to BTC in the subjects file
    kept = select(subjects, 3, ["BTC"])
    assert [s.subject_id for s in kept] == ["curve", "lido", "anchor", "wbtc"]


def test_recorded_chains(chains: list[Chain]) -> None:
    assert len(chains) == 140
    ov = load_overrides("config/defillama_subjects.toml")
    subjects = {s.subject_id: s for s in (chain_subject(c, ov) for c in chains)}
    assert subjects["Ethereum"].assets == ("ETH",)
    assert subjects["Solana"].assets == ("SOL",)
    assert subjects["Solana"].size is not None
    top = select(subjects.values(), 2, [])
    assert [s.subject_id for s in top] == ["Ethereum", "BSC"]


def test_recorded_overview_example() -> None:
    body = fixture_path("defillama", "docexample_overview_derivatives.json").read_bytes()
    overview = decode(body, Overview, "overview")
    assert overview.all_chains[0] == "Hyperliquid L1"
    row = overview.protocols[0]
    assert (row.slug, row.protocol_type) == ("synthetix-v1+v2", "protocol")
    assert totals(row) == {
        "24h": (8479946, 146.45),
        "7d": (78424631, 30.64),
        "30d": (166435382, 79.92),
    }
    summary = fixture_path("defillama", "docexample_summary_fees_hyperliquid.json")
    hl = decode(summary.read_bytes(), OverviewRow, "summary")
    assert (hl.slug, hl.total24h, hl.total30d) == ("hyperliquid", 4890250, None)


def test_recorded_bridge_volume_string_dates() -> None:
    body = fixture_path("defillama", "docexample_bridgevolume.json").read_bytes()
    points = decode(body, list[BridgeVolumePoint], "bridgevolume")
    assert [p.date for p in points] == ["1665964800", "1666051200"]
    days = [(amounts.unix_seconds(p.date), p.deposit_usd, p.withdraw_usd) for p in points]
    one = flows.window_net_flow(days, flows.DAY_S)
    assert one.to_s == 1666051200
    assert one.inflow == 157541586.9492474 and one.outflow == 32940139.204768553
    assert one.net == pytest.approx(157541586.9492474 - 32940139.204768553)
    bridges = decode(
        fixture_path("defillama", "docexample_bridges.json").read_bytes(), Bridges, "bridges"
    )
    assert bridges.bridges[0].chains == ["Arbitrum", "Hyperliquid"]


def test_recorded_404_body_is_what_the_venue_sends() -> None:
    assert fixture_path("defillama", "error_404_unknown_route.txt").read_bytes() == NOT_FOUND
