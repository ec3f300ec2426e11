"""Precision and recall of the Polymarket asset matcher on the labelled question set.

Matches every item of tests/polymarket/labelled_questions.py with the shipped terms file
(config/polymarket_assets.toml, or --terms), once on question and slug alone and once with
the item's tags too. Prints micro precision and recall over (market, asset) pairs, for the
whole set and for each batch (the first tuned the rule; the second was written afterwards),
and every item matched differently from its label. Target (question and slug alone, whole
set): precision >= 0.97, recall >= 0.95.

    .venv/bin/python -m bench.pm_matching [--terms PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marketmem.sources.polymarket.config import PolymarketConfig
from marketmem.sources.polymarket.matching import TermsError, load_terms
from tests.polymarket.labelled_questions import (
    FIRST_BATCH,
    LABELLED,
    SECOND_BATCH,
    Evaluation,
    evaluate,
)


def _names(assets: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(assets)) + "}"


def figures(label: str, ev: Evaluation) -> None:
    print(
        f"{label:<34} precision {ev.precision:.3f}  recall {ev.recall:.3f}  "
        f"(tp {ev.true_positives}, fp {ev.false_positives}, fn {ev.false_negatives})"
    )


def misclassified(ev: Evaluation) -> None:
    for item, got in ev.wrong:
        print(f"  expected {_names(item.expected):<12} got {_names(got):<12} {item.question}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=Path, default=PolymarketConfig().terms_path())
    args = parser.parse_args()
    try:
        terms = load_terms(args.terms)
    except TermsError as exc:
        print(f"error: {exc}")
        return 1
    pairs = sum(len(item.expected) for item in LABELLED)
    none = sum(1 for item in LABELLED if not item.expected)
    print(f"{len(LABELLED)} labelled markets: {pairs} (market, asset) pairs, {none} with no asset")
    plain = evaluate(terms)
    figures("question + slug", plain)
    figures("  first batch (tuned on)", evaluate(terms, FIRST_BATCH))
    figures("  second batch (written after)", evaluate(terms, SECOND_BATCH))
    tagged = evaluate(terms, with_tags=True)
    figures("question + slug + tags", tagged)
    print("target (question + slug): precision >= 0.97, recall >= 0.95")
    print(f"misclassified, question + slug ({len(plain.wrong)}):")
    misclassified(plain)
    print(f"misclassified, question + slug + tags ({len(tagged.wrong)}):")
    misclassified(tagged)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
