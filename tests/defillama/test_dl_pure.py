"""Pure DefiLlama logic on known inputs: dates, pseudo keys, pegs, flows, linking, policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmem.config import ConfigError
from marketmem.sources.defillama import amounts, flows
from marketmem.sources.defillama.capital_base import chain_stablecoin_supply, protocol_metrics
from marketmem.sources.defillama.capital_flows import protocol_change, stablecoin_changes
from marketmem.sources.defillama.overrides import load_overrides
from marketmem.sources.defillama.subjects import (
    LinkOverrides,
    Subject,
    chain_subject,
    clean_symbol,
    link_assets,
    protocol_subject,
    select,
    stablecoin_subject,
)
from marketmem.sources.defillama.throughput import match_rows
from marketmem.sources.defillama.wire import (
    Chain,
    Overview,
    OverviewRow,
    PeggedAsset,
    Protocol,
    StablecoinChain,
)
from marketmem.storage.postgres import search as postgres
from marketmem.storage.search import subject_words
from marketmem.storage.sqlite import search as sqlite

DAY = 86_400

# --- dates, pseudo keys, pegs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1665964800, 1665964800), ("1665964800", 1665964800), (1665964800.0, 1665964800),
     (" 1665964800 ", 1665964800), ("1665964800.0", 1665964800)],
)  # fmt: skip
def test_unix_seconds_accepts_numbers_and_strings(raw: float | str, expected: int) -> None:
    assert amounts.unix_seconds(raw) == expected


def test_unix_seconds_rejects_non_dates() -> None:
    with pytest.raises(ValueError):
        amounts.unix_seconds("yesterday")


@pytest.mark.parametrize(
    ("key", "category"),
    [("Ethereum", None), ("staking", "staking"), ("pool2", "pool2"), ("borrowed", "borrowed"),
     ("Ethereum-staking", "staking"), ("Polygon-borrowed", "borrowed"), ("BSC-pool2", "pool2"),
     ("Ethereum-Borrowed", "borrowed"), ("doublecounted", "doublecounted"),
     ("Hyperliquid L1", None), ("zkSync-Era", None), ("OP Mainnet", None)],
)  # fmt: skip
def test_pseudo_key(key: str, category: str | None) -> None:
    assert amounts.pseudo_key(key) == category


def test_real_chains_and_pseudo_totals() -> None:
    tvls: dict[str, float | None] = {
        "Ethereum": 100.0,
        "Polygon": 50.0,
        "staking": 7.0,
        "Ethereum-staking": 7.0,
        "Ethereum-borrowed": 30.0,
        "Polygon-borrowed": 20.0,
        "pool2": None,
    }
    assert amounts.real_chains(tvls) == {"Ethereum": 100.0, "Polygon": 50.0}
    # The bare key wins; per-chain keys are summed only when no bare key exists; null stays.
    assert amounts.pseudo_totals(tvls) == {"staking": 7.0, "borrowed": 50.0, "pool2": None}
    assert amounts.pseudo_totals({"Ethereum-staking": 1.0, "BSC-staking": None}) == {
        "staking": None
    }


def test_peg_to_usd() -> None:
    assert amounts.peg_to_usd({"peggedUSD": 100.0}, 0.99) == 100.0
    assert amounts.peg_to_usd({"peggedUSD": 100.0}, None) == 100.0
    assert amounts.peg_to_usd({"peggedEUR": 100.0}, 1.08) == pytest.approx(108.0)
    # Euros without a price have no USD value; never added as if they were dollars.
    assert amounts.peg_to_usd({"peggedEUR": 100.0}, None) is None
    assert amounts.peg_to_usd({"peggedUSD": 1.0, "peggedEUR": 2.0}, 1.5) == pytest.approx(4.0)
    assert amounts.peg_to_usd({"peggedUSD": None}, 1.0) is None
    assert amounts.peg_to_usd({}, 1.0) is None
    assert amounts.peg_to_usd(None, 1.0) is None


def test_usd_total() -> None:
    assert amounts.usd_total({"peggedUSD": 10.0, "peggedEUR": 2.5}) == 12.5
    assert amounts.usd_total({"peggedUSD": 10.0, "peggedEUR": None}) is None
    assert amounts.usd_total({}) is None
    assert amounts.usd_total(None) is None


# --- flow arithmetic ---------------------------------------------------------------------


def test_change() -> None:
    assert flows.change(110.0, 100.0) == (10.0, 10.0)
    assert flows.change(90.0, 100.0) == (-10.0, -10.0)
    assert flows.change(5.0, 0.0) == (5.0, None)
    assert flows.change(None, 1.0) == (None, None)
    assert flows.change(1.0, None) == (None, None)
    absolute, pct = flows.change(-50.0, -100.0)
    assert absolute == 50.0 and pct == 50.0


def test_previous_from_percent() -> None:
    assert flows.previous_from_percent(110.0, 10.0) == pytest.approx(100.0)
    assert flows.previous_from_percent(50.0, -50.0) == pytest.approx(100.0)
    assert flows.previous_from_percent(0.0, -100.0) is None
    assert flows.previous_from_percent(None, 5.0) is None
    assert flows.previous_from_percent(5.0, None) is None


def test_series_change_daily() -> None:
    t = 1_700_000_000 - 1_700_000_000 % DAY
    points = [(t - k * DAY, 1000.0 - k) for k in range(40)]
    points.reverse()
    c = flows.series_change(points, DAY)
    assert (c.from_s, c.to_s, c.current, c.previous, c.change) == (t - DAY, t, 1000.0, 999.0, 1.0)
    assert c.change_pct == pytest.approx(1 / 999 * 100)
    c30 = flows.series_change(points, 30 * DAY)
    assert (c30.previous, c30.change) == (970.0, 30.0)


def test_series_change_gaps_order_duplicates_and_nulls() -> None:
    t = 100 * DAY
    # Unordered, with a duplicate date (the last one given wins) and a missing day.
    points = [(t, 10.0), (t - 3 * DAY, 4.0), (t - 8 * DAY, 1.0), (t, 12.0)]
    c1 = flows.series_change(points, DAY)
    assert c1.current == 12.0
    # 1 d ago is missing; the previous point is 3 d back: beyond 1 d + tolerance.
    assert c1.previous is None and c1.change is None and c1.from_s is None
    c7 = flows.series_change(points, 7 * DAY)
    # 7 d ago missing; 8 d back is within 7 d + 1 d tolerance.
    assert (c7.previous, c7.change, c7.from_s) == (1.0, 11.0, t - 8 * DAY)
    assert flows.series_change([(t, None), (t - DAY, 5.0)], DAY).change is None
    empty = flows.series_change([], DAY)
    assert empty.current is None and empty.to_s is None


def test_nearest_observation() -> None:
    obs = [(1000, 1.0), (2000, 2.0), (2600, None), (5000, 5.0)]
    assert flows.nearest_observation(obs, 2100, 500) == (2000, 2.0)
    assert flows.nearest_observation(obs, 2400, 500) == (2600, None)
    assert flows.nearest_observation(obs, 3500, 500) is None
    # A tie goes to the earlier observation.
    assert flows.nearest_observation([(900, 9.0), (1100, 11.0)], 1000, 100) == (900, 9.0)


def test_window_net_flow() -> None:
    t = 50 * DAY
    days = [(t - k * DAY, 10.0 * (k + 1), 1.0 * (k + 1)) for k in range(10)]  # (date, out, in)
    one = flows.window_net_flow(days, DAY)
    assert (one.from_s, one.to_s, one.outflow, one.inflow, one.net) == (t, t, 10.0, 1.0, -9.0)
    seven = flows.window_net_flow(list(reversed(days)), 7 * DAY)
    assert seven.from_s == t - 6 * DAY
    assert seven.outflow == 10.0 * sum(range(1, 8))
    assert seven.net == pytest.approx(sum(range(1, 8)) - 10.0 * sum(range(1, 8)))
    with_null = flows.window_net_flow([(t, None, 5.0), (t - DAY, 1.0, 1.0)], 7 * DAY)
    assert with_null.outflow is None and with_null.inflow == 6.0 and with_null.net is None
    assert flows.window_net_flow([], DAY).net is None


# --- subjects: linking and policy ----------------------------------------------------------

OVERRIDES = LinkOverrides(
    symbol_aliases={"weth": "ETH"},
    gecko_ids={"hyperliquid": "HYPE", "ethereum": "ETH"},
    chains={"Hyperliquid L1": ["HYPE"], "Base": []},
    protocols={"lido": ["LDO", "ETH", "eth"]},
)


def test_clean_symbol() -> None:
    assert clean_symbol("-") is None
    assert clean_symbol("  ") is None
    assert clean_symbol(None) is None
    assert clean_symbol(" HYPE ") == "HYPE"


def test_link_assets_from_symbol_gecko_and_aliases() -> None:
    assert link_assets("protocol", "x", "WETH", None, OVERRIDES) == (("ETH", "symbol"),)
    # The same asset from symbol and gecko id appears once, with the first origin.
    assert link_assets("chain", "Ethereum", "ETH", "ethereum", OVERRIDES) == (("ETH", "symbol"),)
    assert link_assets("protocol", "hl", "-", "hyperliquid", OVERRIDES) == (("HYPE", "gecko_id"),)
    assert link_assets("protocol", "y", "ABC", "unknown-id", OVERRIDES) == (("ABC", "symbol"),)
    assert link_assets("protocol", "z", None, None, OVERRIDES) == ()


def test_link_assets_explicit_overrides_replace() -> None:
    assert link_assets("chain", "Hyperliquid L1", "FOO", "bar", OVERRIDES) == (("HYPE", "config"),)
    assert link_assets("chain", "Base", "ETH", "ethereum", OVERRIDES) == ()
    # Listed twice in different case: one link.
    assert link_assets("protocol", "lido", "LDO", None, OVERRIDES) == (
        ("LDO", "config"),
        ("ETH", "config"),
    )
    # Overrides are per kind: a protocol named like a chain is not affected.
    assert link_assets("protocol", "Base", "BASE", None, OVERRIDES) == (("BASE", "symbol"),)


def test_subjects_from_wire() -> None:
    chain = chain_subject(Chain(name="Hyperliquid L1", tvl=5.0, token_symbol="HYPE"), OVERRIDES)
    assert (chain.kind, chain.subject_id, chain.size, chain.assets) == (
        "chain",
        "Hyperliquid L1",
        5.0,
        ("HYPE",),
    )
    proto = protocol_subject(
        Protocol(name="Lido", slug="lido", symbol="LDO", gecko_id="lido-dao", tvl=None),
        OVERRIDES,
    )
    assert (proto.subject_id, proto.slug, proto.size, proto.assets) == (
        "lido",
        "lido",
        None,
        ("LDO", "ETH"),
    )
    eur = stablecoin_subject(
        PeggedAsset(
            id="50",
            name="EURC",
            symbol="EURC",
            peg_type="peggedEUR",
            price=1.1,
            circulating={"peggedEUR": 10.0},
        ),
        OVERRIDES,
    )
    assert eur.size == pytest.approx(11.0) and eur.category == "peggedEUR"


def _s(sid: str, size: float | None, *assets: str) -> Subject:
    return Subject(
        "protocol", sid, sid, sid, None, None, None, size, tuple((a, "symbol") for a in assets)
    )


def test_select_top_n_plus_tracked() -> None:
    subjects = [
        _s("a", 10.0),
        _s("b", 30.0),
        _s("c", None, "HYPE"),
        _s("d", 20.0),
        _s("e", 1.0, "eth"),
        _s("b", 99.0),  # a duplicate id keeps its first row
        _s("f", None),
    ]
    kept = select(subjects, 2, ["ETH", "hype"])
    assert [s.subject_id for s in kept] == ["b", "d", "e", "c"]
    assert kept[0].size == 30.0
    assert [s.subject_id for s in select(subjects, 0, [])] == []
    assert [s.subject_id for s in select(subjects, 100, [])] == ["b", "d", "a", "e"]


# --- channel helpers ----------------------------------------------------------------------


def test_protocol_metrics_keep_pseudo_categories_out_of_tvl() -> None:
    p = Protocol(
        name="AAVE",
        slug="aave",
        tvl=100.0,
        chain_tvls={"Ethereum": 100.0, "Ethereum-borrowed": 40.0, "borrowed": 40.0, "pool2": 3.0},
    )
    assert protocol_metrics(p) == {"tvl_usd": 100.0, "borrowed_usd": 40.0, "pool2_usd": 3.0}
    assert protocol_metrics(Protocol(name="X", slug="x")) == {"tvl_usd": None}


def test_chain_stablecoin_supply_matches_names_and_keeps_nulls() -> None:
    chains = [
        chain_subject(Chain(name="Ethereum"), OVERRIDES),
        chain_subject(Chain(name="Tron"), OVERRIDES),
        chain_subject(Chain(name="Bitcoin"), OVERRIDES),
    ]
    listed = [
        StablecoinChain(
            name="ethereum", total_circulating_usd={"peggedUSD": 5.0, "peggedEUR": 1.0}
        ),
        StablecoinChain(name="Tron", total_circulating_usd={"peggedUSD": None}),
    ]
    assert chain_stablecoin_supply(chains, listed) == {"Ethereum": 6.0, "Tron": None}


def test_protocol_change_prefers_api_then_stored() -> None:
    now_ms = 1000 * DAY * 1000
    p = Protocol(name="L", slug="l", tvl=110.0, change_1d=10.0, change_7d=None)
    c1, basis1 = protocol_change(p, "1d", now_ms, [])
    assert basis1 == "api" and c1.previous == pytest.approx(100.0)
    assert c1.change == pytest.approx(10.0) and c1.to_s == now_ms // 1000
    stored = [(now_ms - 7 * DAY * 1000 + 3_600_000, 55.0), (now_ms - 30 * DAY * 1000, 50.0)]
    c7, basis7 = protocol_change(p, "7d", now_ms, stored)
    assert basis7 == "stored" and c7.previous == 55.0 and c7.change == 55.0
    assert c7.from_s == (now_ms - 7 * DAY * 1000 + 3_600_000) // 1000
    c30, basis30 = protocol_change(p, "30d", now_ms, stored)
    assert basis30 == "stored" and c30.change_pct == pytest.approx(120.0)
    far = [(now_ms - 7 * DAY * 1000 + 4 * 3_600_000, 55.0)]  # beyond the 3 h tolerance
    c_none, basis_none = protocol_change(p, "7d", now_ms, far)
    assert basis_none is None and c_none.change is None and c_none.current == 110.0


def test_stablecoin_changes_use_the_current_price() -> None:
    asset = PeggedAsset(
        id="50",
        name="EURC",
        peg_type="peggedEUR",
        price=2.0,
        circulating={"peggedEUR": 100.0},
        circulating_prev_day={"peggedEUR": 90.0},
        circulating_prev_week={"peggedEUR": 0.0},
        circulating_prev_month=None,
    )
    changes = stablecoin_changes(asset, 10 * DAY * 1000)
    assert changes["1d"].change == pytest.approx(20.0)
    assert changes["1d"].change_pct == pytest.approx(100 / 9)
    assert changes["7d"].change == pytest.approx(200.0) and changes["7d"].change_pct is None
    assert changes["30d"].previous is None and changes["30d"].change is None
    no_price = PeggedAsset(id="9", name="V", price=None, circulating={"peggedVAR": 5.0})
    assert all(c.current is None for c in stablecoin_changes(no_price, 0).values())


def test_match_rows_by_slug_name_and_chain_type() -> None:
    chains = [chain_subject(Chain(name="Ethereum", tvl=1.0), OVERRIDES)]
    protocols = [
        protocol_subject(Protocol(name="Aave V3", slug="aave-v3"), OVERRIDES),
        protocol_subject(Protocol(name="Lido", slug="lido"), OVERRIDES),
    ]
    overview = Overview(
        protocols=[
            OverviewRow(name="AAVE V3", slug="aave-v3", total24h=1.0),
            OverviewRow(name="Lido", slug=None, total24h=2.0),
            OverviewRow(name="ethereum", protocol_type="chain", total24h=3.0),
            OverviewRow(name="Unknown", slug="unknown", total24h=4.0),
            OverviewRow(name="Dup", slug="aave-v3", total24h=5.0),
        ]
    )
    matched = [
        (s.subject_id, r.total24h)
        for s, r in match_rows(overview, chains, protocols, chain_rows=True)
    ]
    assert matched == [("aave-v3", 1.0), ("lido", 2.0), ("Ethereum", 3.0)]
    no_chains = match_rows(overview, chains, protocols, chain_rows=False)
    assert [s.kind for s, _ in no_chains] == ["protocol", "protocol"]


def test_subject_search_words_are_quoted_prefixes() -> None:
    assert subject_words("hyper liquid") == ("hyper", "liquid")
    assert subject_words("  ?! ") is None
    words = subject_words('aave-v3 "OR" & !c :* foo_bar')
    assert words is not None
    assert sqlite.subject_match(words) == '"aave"* "v3"* "OR"* "c"* "foo_bar"*'
    # A phrase within one column (A to D: the labels of the columns' positions).
    assert postgres.subject_query(words) == (
        "'aave':* & 'v3':* & 'or':* & 'c':* & ('foo':A <-> 'bar':*A | 'foo':B <-> 'bar':*B | "
        "'foo':C <-> 'bar':*C | 'foo':D <-> 'bar':*D)"
    )


# --- the subjects file ----------------------------------------------------------------------


def test_shipped_subjects_file_links_the_issue_examples() -> None:
    ov = load_overrides("config/defillama_subjects.toml")
    assert link_assets("chain", "Ethereum", None, None, ov) == (("ETH", "config"),)
    assert link_assets("chain", "Hyperliquid L1", None, None, ov) == (("HYPE", "config"),)


def test_subjects_file_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('[chains]\nEthereum = "ETH"\n')
    with pytest.raises(ConfigError, match=r"s\.toml.*chains\.Ethereum"):
        load_overrides(str(bad))
    bad.write_text("[chainz]\n")
    with pytest.raises(ConfigError, match="chainz"):
        load_overrides(str(bad))
    bad.write_text("[chains\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_overrides(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        load_overrides(str(tmp_path / "missing.toml"))
    assert load_overrides("") == LinkOverrides()
