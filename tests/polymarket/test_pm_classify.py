"""Classification of a linked market into immediate / later / recently closed / none."""

from __future__ import annotations

import pytest

from marketmem.sources.polymarket.classify import classify

NOW = 1_795_564_800_000
H = 3_600_000
HORIZON = 24 * H
WINDOW = 7 * 24 * H


def bucket(
    *,
    end: int | None,
    closed: bool = False,
    closed_time: int | None = None,
    linked: bool = True,
    archived: bool = False,
) -> str:
    return classify(
        linked=linked,
        closed=closed,
        archived=archived,
        end_ms=None if end is None else NOW + end,
        closed_time_ms=None if closed_time is None else NOW + closed_time,
        now_ms=NOW,
        horizon_ms=HORIZON,
        window_ms=WINDOW,
    )


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"end": H}, "immediate"),
        ({"end": 1}, "immediate"),
        ({"end": HORIZON}, "immediate"),  # the horizon itself is still immediate
        ({"end": HORIZON + 1}, "later"),
        ({"end": None}, "later"),  # open with no end date
        ({"end": 0}, "recently_closed"),  # past its end while Gamma still says open: ended
        ({"end": -H}, "recently_closed"),
        ({"end": -WINDOW - 1}, "none"),
        (
            {"end": 30 * 24 * H, "closed": True, "closed_time": -H},
            "recently_closed",
        ),  # closed early
        ({"end": -30 * 24 * H, "closed": True, "closed_time": -H}, "recently_closed"),  # late
        ({"end": -H, "closed": True, "closed_time": -WINDOW - 1}, "none"),
        ({"end": -H, "closed": True}, "recently_closed"),  # no closedTime: the end date counts
        ({"end": None, "closed": True}, "none"),  # closed at an unknown time
        ({"end": H, "linked": False}, "none"),
        ({"end": H, "archived": True}, "none"),
    ],
)
def test_classify(kw: dict, expected: str) -> None:
    assert bucket(**kw) == expected


def test_a_market_walks_later_immediate_recently_closed_none() -> None:
    end = NOW + 40 * H
    seen = []
    for t in range(0, 40 * H + WINDOW + 3 * H, H):
        now = NOW + t
        closed = now >= end + H
        seen.append(
            classify(
                linked=True,
                closed=closed,
                archived=False,
                end_ms=end,
                closed_time_ms=end + H if closed else None,
                now_ms=now,
                horizon_ms=HORIZON,
                window_ms=WINDOW,
            )
        )
    order = [b for i, b in enumerate(seen) if i == 0 or seen[i - 1] != b]
    assert order == ["later", "immediate", "recently_closed", "none"]
