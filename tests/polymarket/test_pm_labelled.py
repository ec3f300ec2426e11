"""The matcher on the labelled question set: the precision and recall targets, and the set."""

from __future__ import annotations

import pytest
from labelled_questions import LABELLED, Evaluation, evaluate

from marketmem.sources.polymarket.config import PolymarketConfig
from marketmem.sources.polymarket.matching import Terms, load_terms

PRECISION_TARGET = 0.97
RECALL_TARGET = 0.95


@pytest.fixture(scope="module")
def terms() -> Terms:
    return load_terms(PolymarketConfig().terms_path())


def misses(ev: Evaluation) -> str:
    return "\n".join(
        f"expected {sorted(item.expected)} got {sorted(got)}: {item.question}"
        for item, got in ev.wrong
    )


def test_the_set_is_large_and_covers_every_tracked_asset(terms: Terms) -> None:
    assert len(LABELLED) >= 80
    assert len({item.question for item in LABELLED}) == len(LABELLED)
    expected = {asset for item in LABELLED for asset in item.expected}
    assert expected == set(terms.asset_names)
    assert sum(1 for item in LABELLED if not item.expected) >= 40  # false friends, no asset
    assert all(item.slug and item.slug == item.slug.lower() for item in LABELLED)


def test_precision_and_recall_on_question_and_slug(terms: Terms) -> None:
    ev = evaluate(terms)
    assert ev.precision >= PRECISION_TARGET, misses(ev)
    assert ev.recall >= RECALL_TARGET, misses(ev)


def test_tags_do_not_lower_the_figures(terms: Terms) -> None:
    plain, tagged = evaluate(terms), evaluate(terms, with_tags=True)
    assert tagged.precision >= PRECISION_TARGET, misses(tagged)
    assert tagged.recall >= plain.recall, misses(tagged)
