"""Linking markets to assets with the shipped terms file: real questions, false friends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketmem.sources.polymarket.config import PolymarketConfig
from marketmem.sources.polymarket.matching import (
    MarketText,
    Terms,
    TermsError,
    build_terms,
    load_terms,
    match_market,
)
from tests.conftest import fixture_path


@pytest.fixture(scope="module")
def terms() -> Terms:
    return load_terms(PolymarketConfig().terms_path())


def assets(
    terms: Terms,
    question: str,
    *,
    title: str = "",
    tags: tuple[str, ...] = (),
    slugs: tuple[str, ...] = (),
) -> set[str]:
    text = MarketText(question=question, title=title, slugs=slugs, tags=tags)
    return {m.asset for m in match_market(terms, text)}


def test_shipped_terms_cover_the_majors(terms: Terms) -> None:
    assert {"BTC", "ETH", "SOL", "HYPE", "XRP", "DOGE"} <= set(terms.asset_names)


@pytest.mark.parametrize(
    ("question", "tags", "expected"),
    [
        # Recorded questions (../shared/fixtures/polymarket).
        ("Bitcoin Up or Down - January 5, 2:15PM-2:20PM ET", ("crypto", "bitcoin"), {"BTC"}),
        ("Ethereum Up or Down - January 5, 2:15PM-2:30PM ET", ("crypto", "ethereum"), {"ETH"}),
        ("Solana Up or Down - January 5, 2:10PM-2:15PM ET", ("crypto", "solana"), {"SOL"}),
        ("XRP Up or Down - January 5, 2:15PM-2:20PM ET", ("crypto", "xrp", "ripple"), {"XRP"}),
        ("Will the price of Bitcoin be above $64,000 on March 11?", ("crypto",), {"BTC"}),
        ("Katana FDV above $1B one day after launch?", (), set()),
        ("Will Donald Trump win the 2024 US Presidential Election?", ("politics",), set()),
        ("Will Stephen A. Smith win the 2028 Democratic presidential nomination?", (), set()),
        (
            "What will the total value locked (TVL) in DeFi be at the end of 2020, according to "
            "DefiPulse?",
            (),
            set(),
        ),
        # Questions in the shape Polymarket lists them.
        ("Will ETH reach $5,000 by December 31?", (), {"ETH"}),
        ("Will Hyperliquid reach $50 in 2025?", (), {"HYPE"}),
        ("HYPE above $40 on Friday?", ("crypto",), {"HYPE"}),
        ("Will SOL flip ETH in market cap this year?", (), {"SOL", "ETH"}),
        ("Will a Solana ETF be approved in 2025?", (), {"SOL"}),
        ("Will Dogecoin hit $1 in 2025?", (), {"DOGE"}),
        ("MicroStrategy announces another BTC purchase by Friday?", (), {"BTC"}),
        # False friends.
        ("Will DOGE cut more than $250b in federal spending in 2025?", ("politics", "doge"), set()),
        ("Will the Department of Government Efficiency (DOGE) be dissolved?", (), set()),
        ("Will Sol Campbell be named manager of a Premier League club?", ("sports",), set()),
        ("Will Ethena's USDe supply exceed $10B by June 30?", ("crypto",), set()),
        ("Will Ethan Hawke win an Oscar?", (), set()),
        ("Will the hype around the new iPhone fade?", ("tech",), set()),
        ("Will ETH Zurich top the university rankings?", (), set()),
        ("Will the Colorado Avalanche win the Stanley Cup?", ("sports",), set()),
        ("Whether Airbnb stock closes higher?", (), set()),
        ("Will SOL reach $300?", (), {"SOL"}),  # a ticker in a price question
        ("Will SOL reach $300?", ("crypto",), {"SOL"}),
        ("Will SOL be relegated?", ("sports",), set()),  # a ticker without crypto context
    ],
)
def test_questions(terms: Terms, question: str, tags: tuple[str, ...], expected: set[str]) -> None:
    assert assets(terms, question, tags=tags) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Will SOL reach $300 by June 30?", {"SOL"}),
        ("HYPE above $50 on Friday?", {"HYPE"}),
        ("Will SOL hit $200?", {"SOL"}),
        ("Will DOGE dip to $0.10 in 2025?", {"DOGE"}),
        ("Will LINK be above $25 on March 31?", {"LINK"}),
        ("Will the price of SUI be above $4 on June 6?", {"SUI"}),
        ("What price will ADA hit in July?", {"ADA"}),
        ("Will Avalanche hit $100 in 2025?", {"AVAX"}),
        ("Will Ether fall below $2,000 in May?", {"ETH"}),
        ("Will HYPE hit a new all-time high in September?", {"HYPE"}),
        ("DOGE Up or Down - March 12, 5PM ET", {"DOGE"}),
        ("Will SOL flip ETH in market cap?", {"SOL", "ETH"}),
    ],
)
def test_a_ticker_in_a_price_question_links_without_tags(
    terms: Terms, question: str, expected: set[str]
) -> None:
    assert assets(terms, question) == expected


def test_a_price_form_in_the_slug_counts_and_a_bare_amount_in_prose_does_not(
    terms: Terms,
) -> None:
    assert assets(terms, "Up or down at noon?", slugs=("hype-above-50-on-friday",)) == {"HYPE"}
    assert assets(terms, "Will the Avalanche reach 100 points?") == set()  # no $ amount
    assert assets(terms, "Will the hype reach fever pitch?") == set()
    assert assets(terms, "Will DOGE hit $2 trillion in cuts?") == set()  # not a coin's price
    assert assets(terms, "Will doge hit 2 trillion", slugs=("will-doge-hit-2-trillion",)) == set()
    assert assets(terms, "Will SOL reach $1.5k?", slugs=("will-sol-reach-1-5k",)) == {"SOL"}


@pytest.mark.parametrize(
    ("question", "tags", "expected"),
    [
        ("Will the hype around Bitcoin ETFs fade by June?", (), {"BTC"}),
        ("Will the hype around Bitcoin ETFs fade by June?", ("crypto",), {"BTC"}),
        ("Trump to link Bitcoin reserves to gold by 2026?", (), {"BTC"}),
        ("Trump to link Bitcoin reserves to gold by 2026?", ("crypto", "bitcoin"), {"BTC"}),
        ("Will Ethereum devs link the upgrade to the Sol Campbell fund?", (), {"ETH"}),
        ("Will Bitcoin miners in Sui province close?", (), {"BTC"}),
        ("Will Dogecoin fans hype the Avalanche game?", (), {"DOGE"}),
    ],
)
def test_one_assets_term_never_unlocks_another_assets_ambiguous_term(
    terms: Terms, question: str, tags: tuple[str, ...], expected: set[str]
) -> None:
    assert assets(terms, question, tags=tags) == expected


def test_an_ambiguous_term_counts_on_its_own_assets_evidence(terms: Terms) -> None:
    # Its asset's unambiguous term (here in the title) lets the ticker count: best field wins.
    got = match_market(terms, MarketText(question="Will SOL go up?", title="Solana weekly"))
    assert [(m.asset, m.term, m.field) for m in got] == [("SOL", "sol", "question")]
    # A ticker written as one, with crypto tags or a context word near it.
    assert assets(terms, "Will SUI go up this week?", tags=("crypto",)) == {"SUI"}
    assert assets(terms, "Will sui go up this week?", tags=("crypto",)) == set()
    assert assets(terms, "Will a SOL ETF be approved in 2025?") == {"SOL"}
    assert assets(terms, "Will Coinbase list HYPE by June 30?") == {"HYPE"}
    assert assets(terms, "Will the SUI token unlock happen on schedule?") == {"SUI"}
    assert assets(terms, "Will the crypto hype fade?") == set()  # not written as a ticker
    assert assets(terms, "Will $DOGE pump this week?") == set()  # no crypto context at all
    assert assets(terms, "Will $DOGE pump this week?", tags=("crypto",)) == {"DOGE"}
    # A tag that is the ticker itself, next to a crypto tag.
    assert assets(terms, "Weekly strike ladder", tags=("crypto", "sui")) == {"SUI"}
    assert assets(terms, "Weekly cuts ladder", tags=("politics", "doge")) == set()


def test_ambiguity_is_per_asset_in_a_minimal_terms_file() -> None:
    t = build_terms(
        {
            "AAA": {"terms": ["alphacoin"]},
            "BBB": {"terms": ["beta"], "ambiguous": ["beta"]},
        }
    )
    found = match_market(t, MarketText(question="Will alphacoin beta testers be paid?"))
    assert {m.asset for m in found} == {"AAA"}
    found = match_market(t, MarketText(question="Will BETA reach $5?"))
    assert {m.asset for m in found} == {"BBB"}


@pytest.mark.parametrize(
    "question",
    [
        "Will Solana Beach elect a new mayor in November?",
        "Will Texas install a chainlink fence along the Rio Grande by June?",
        "Will Ethereum Classic reach $50 in 2025?",
        "Will Bitcoin Cash reach $1,000 in 2025?",
        "Will ETH Zürich researchers win the Nobel Prize in Physics?",
        "Will the ripple effects of tariffs push CPI above 4%?",
        "Avalanche vs. Stars",
        "Will Sol de México win a Latin Grammy?",
        "Will the ICJ call the territorial claim sui generis?",
    ],
)
def test_places_people_and_organisations_named_like_an_asset(terms: Terms, question: str) -> None:
    assert assets(terms, question) == set()


def test_recorded_events_link_as_expected(terms: Terms) -> None:
    events = json.loads(fixture_path("polymarket", "gamma_events.json").read_bytes())
    found = {}
    for ev in events:
        tags = tuple(t["slug"] for t in ev["tags"]) + tuple(t["label"] for t in ev["tags"])
        for m in ev["markets"]:
            found[m["slug"]] = assets(
                terms, m["question"], title=ev["title"], tags=tags, slugs=(m["slug"],)
            )
    assert found["btc-updown-5m-1767640200"] == {"BTC"}
    assert found["eth-updown-15m-1767640500"] == {"ETH"}
    assert found["sol-updown-15m-1767640500"] == {"SOL"}
    assert found["xrp-updown-5m-1767640500"] == {"XRP"}


def test_field_term_and_score(terms: Terms) -> None:
    plain = match_market(terms, MarketText(question="Will Bitcoin hit $150k?"))
    tagged = match_market(terms, MarketText(question="Will Bitcoin hit $150k?", tags=("crypto",)))
    assert [(m.asset, m.term, m.field) for m in plain] == [("BTC", "bitcoin", "question")]
    assert tagged[0].score > plain[0].score  # a crypto tag raises the score
    by_slug = match_market(
        terms, MarketText(question="Up or down at noon?", slugs=("btc-updown-5m-1773307200",))
    )
    assert [(m.asset, m.term, m.field) for m in by_slug] == [("BTC", "btc", "slug")]
    assert by_slug[0].score < plain[0].score  # the question outranks the slug
    by_tag = match_market(terms, MarketText(question="Weekly strike ladder", tags=("ethereum",)))
    assert [(m.asset, m.field) for m in by_tag] == [("ETH", "tags")]


def test_word_boundaries_and_case(terms: Terms) -> None:
    assert assets(terms, "$BTC/USD above 100k?") == {"BTC"}
    assert assets(terms, "bItCoIn treasury companies") == {"BTC"}
    assert assets(terms, "Will Ethereum's all-time high hold?") == {"ETH"}
    assert assets(terms, "Methane levels in 2030?") == set()
    assert assets(terms, "ETHBTC ratio below 0.02?") == set()


def test_false_friend_only_blocks_its_own_span() -> None:
    t = build_terms({"SOL": {"terms": ["sol"], "false_friends": ["costa del sol"]}})
    assert {m.asset for m in match_market(t, MarketText(question="Costa del Sol tourism"))} == set()
    both = MarketText(question="Costa del Sol tourism vs SOL price")
    assert {m.asset for m in match_market(t, both)} == {"SOL"}


def test_bad_terms_files(tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    with pytest.raises(TermsError, match="cannot read"):
        load_terms(path)
    path.write_text('[assets.BTC]\nterms = ["bitcoin"]\nambiguous = ["btc"]\n')
    with pytest.raises(TermsError, match="ambiguous"):
        load_terms(path)
    path.write_text('[assets.BTC]\nterm = ["bitcoin"]\n')
    with pytest.raises(TermsError, match=str(path)):
        load_terms(path)
    path.write_text('[assets.BTC]\nterms = ["bitcoin", "  "]\n')
    with pytest.raises(TermsError, match="empty term"):
        load_terms(path)
