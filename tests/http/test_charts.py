"""SVG charts as pure functions: well-formed, escaped, deterministic, and honest about gaps,
missing values, duplicates and empty data."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET

import pytest

from marketmem.http import charts
from marketmem.http.charts import Bar, Cell, HBar, Series

SVG = "{http://www.w3.org/2000/svg}"
M = 60_000
T0 = 1_795_564_800_000  # 2026-11-25T00:00:00Z


def parse(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed on its own."""
    return ET.fromstring(svg)


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if "mark" in (e.get("class") or "").split()]


def line(points: list[tuple[int, float | None]], **kw: object) -> ET.Element:
    svg = charts.line_chart(
        "c",
        "t",
        [Series("s", points)],
        start_ms=T0,
        end_ms=T0 + 60 * M,
        **kw,  # type: ignore[arg-type]
    )
    return parse(svg)


def test_an_empty_chart_says_so_and_has_no_marks() -> None:
    for svg in (
        charts.line_chart("c", "t", [], start_ms=T0, end_ms=T0 + M),
        charts.line_chart("c", "t", [Series("s", [])], start_ms=T0, end_ms=T0 + M),
        charts.candle_chart("c", "t", [], start_ms=T0, end_ms=T0 + M, bar_ms=M),
        charts.column_chart("c", "t", [], start_ms=T0, end_ms=T0 + M, bar_ms=M, empty="nothing"),
        charts.hbar_chart("c", "t", []),
    ):
        root = parse(svg)
        assert root.get("data-marks") == "0" and marks(root) == []
        assert any(e.get("class") == "empty" for e in root.iter()), svg


def test_only_missing_values_is_empty_too() -> None:
    root = line([(T0, None), (T0 + M, math.nan), (T0 + 2 * M, math.inf)])
    assert root.get("data-marks") == "0"
    assert "no data" in ET.tostring(root, encoding="unicode")


def test_a_missing_value_is_a_gap_not_a_zero() -> None:
    root = line(
        [(T0, 1.0), (T0 + M, 2.0), (T0 + 2 * M, None), (T0 + 3 * M, 3.0), (T0 + 4 * M, 4.0)]
    )
    paths = [e for e in marks(root) if e.tag == f"{SVG}path"]
    assert len(paths) == 2 and root.get("data-marks") == "4"
    # The lowest value drawn is 1.0, not 0: the axis labels say so.
    labels = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "label"]
    assert "1.00" in labels and "0" not in labels


def test_nan_and_inf_are_gaps() -> None:
    root = line([(T0, 1.0), (T0 + M, math.nan), (T0 + 2 * M, 2.0), (T0 + 3 * M, -math.inf)])
    assert root.get("data-marks") == "2"
    assert [e.tag for e in marks(root)] == [f"{SVG}circle", f"{SVG}circle"]


def test_a_time_gap_breaks_the_line() -> None:
    points: list[tuple[int, float | None]] = [(T0 + i * M, float(i)) for i in (0, 1, 2, 10, 11)]
    assert len(marks(line(points, max_gap_ms=2 * M))) == 2
    assert len(marks(line(points))) == 1  # no limit given: bridged


def test_duplicates_keep_the_last_and_order_does_not_matter() -> None:
    points: list[tuple[int, float | None]] = [(T0 + i * M, float(i % 7)) for i in range(30)]
    shuffled = points[:]
    random.Random(3).shuffle(shuffled)
    a = charts.line_chart("c", "t", [Series("s", points)], start_ms=T0, end_ms=T0 + 40 * M)
    b = charts.line_chart("c", "t", [Series("s", shuffled)], start_ms=T0, end_ms=T0 + 40 * M)
    assert a == b
    dup = charts.line_chart(
        "c", "t", [Series("s", [*points, (T0, 99.0), (T0, 0.0)])], start_ms=T0, end_ms=T0 + 40 * M
    )
    assert dup == a and parse(dup).get("data-marks") == "30"


def test_points_outside_the_range_are_left_out() -> None:
    root = line([(T0 - M, 5.0), (T0, 1.0), (T0 + M, 2.0), (T0 + 61 * M, 9.0)])
    assert root.get("data-marks") == "2"


def test_a_flat_series_draws_in_the_middle() -> None:
    root = line([(T0, 5.0), (T0 + M, 5.0)])
    (path,) = marks(root)
    ys = {
        float(p.split()[1])
        for p in (path.get("d") or "").replace("M", "|").replace("L", "|").split("|")
        if p
    }
    size = charts.Size()
    assert ys == {size.top + size.plot_height / 2}


def test_text_and_attributes_are_escaped() -> None:
    evil = '<script>alert("x")</script>&\''
    svg = charts.line_chart(
        f'id"{evil}',
        evil,
        [Series(evil, [(T0, 1.0)], css=evil), Series(evil, [(T0, 2.0)])],
        start_ms=T0,
        end_ms=T0 + M,
    )
    root = parse(svg)
    assert "<script>" not in svg and root.find(f"{SVG}script") is None
    assert root.get("data-chart") == f'id"{evil}'
    assert root.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    for build in (
        lambda: charts.hbar_chart(evil, evil, [HBar(evil, 1.0, css=evil, note=evil)]),
        lambda: charts.note_chart(evil, evil, evil),
        lambda: charts.strip_chart(
            evil, evil, [Cell(T0, ok=1)], start_ms=T0, end_ms=T0 + M, cell_ms=M
        ),
    ):
        out = build()
        parse(out)
        assert "<script>" not in out


def test_candles_are_coloured_by_direction_and_provisional_ones_lighter() -> None:
    bars = [
        Bar(T0, 1.0, 3.0, 0.5, 2.0),
        Bar(T0 + 60 * M, 2.0, 2.5, 1.0, 1.5),
        Bar(T0 + 120 * M, 1.5, 2.0, 1.0, 1.8, provisional=True),
        Bar(T0 + 180 * M, 1.5, math.nan, 1.0, 1.8),  # not finite: left out
    ]
    root = parse(
        charts.candle_chart("c", "t", bars, start_ms=T0, end_ms=T0 + 240 * M, bar_ms=60 * M)
    )
    assert [e.get("class") for e in marks(root)] == ["mark up", "mark down", "mark up provisional"]
    assert root.get("data-marks") == "3"


def test_columns_show_zero_as_a_tick_and_leave_out_negative_and_missing() -> None:
    points: list[tuple[int, float | None]] = [
        (T0, 0.0),
        (T0 + M, 5.0),
        (T0 + 2 * M, -1.0),
        (T0 + 3 * M, None),
    ]
    root = parse(charts.column_chart("c", "t", points, start_ms=T0, end_ms=T0 + 10 * M, bar_ms=M))
    assert [e.get("class") for e in marks(root)] == ["mark col zero", "mark col"]
    assert all(float(e.get("height") or 0) >= 1 for e in marks(root))


def test_all_zero_columns_still_draw() -> None:
    root = parse(
        charts.column_chart(
            "c", "t", [(T0, 0.0), (T0 + M, 0.0)], start_ms=T0, end_ms=T0 + 2 * M, bar_ms=M
        )
    )
    assert root.get("data-marks") == "2"


def test_a_strip_slot_shows_its_worst_outcome() -> None:
    assert Cell(T0, ok=3, failed=1, skipped=2).outcome == "failed"
    assert Cell(T0, ok=3, skipped=2).outcome == "skipped"
    assert Cell(T0, ok=1).outcome == "ok"
    assert Cell(T0).outcome is None
    cells = [Cell(T0, ok=1), Cell(T0 + M, failed=1), Cell(T0 + 2 * M), Cell(T0 + 3 * M, skipped=1)]
    root = parse(charts.strip_chart("c", "t", cells, start_ms=T0, end_ms=T0 + 4 * M, cell_ms=M))
    assert [e.get("class") for e in marks(root)] == ["mark ok", "mark failed", "mark skipped"]
    tips = [e.find(f"{SVG}title").text for e in marks(root)]  # type: ignore[union-attr]
    assert tips[0] == "00:00 UTC: 1 ok, 0 failed, 0 skipped"


def test_a_strip_without_skip_counts_does_not_claim_zero_skips() -> None:
    root = parse(
        charts.strip_chart(
            "c", "t", [Cell(T0, ok=1)], start_ms=T0, end_ms=T0 + M, cell_ms=M, skips_known=False
        )
    )
    (mark,) = marks(root)
    assert "skipped" not in (mark.find(f"{SVG}title").text or "")  # type: ignore[union-attr]


def test_hbars_say_none_for_missing_values_and_mark_the_limit() -> None:
    rows = [HBar("BTC", 2.5, css="mid", note="mid"), HBar("ETH", None), HBar("SOL", math.nan)]
    root = parse(charts.hbar_chart("c", "t", rows, limit=30.0, limit_label="limit"))
    assert root.get("data-marks") == "1"
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert "2.5 s mid" in texts and texts.count("none") == 2 and "limit" in texts
    assert any(e.get("class") == "limit" for e in root.iter(f"{SVG}line"))


def test_the_same_data_gives_the_same_bytes() -> None:
    def build() -> str:
        return charts.line_chart(
            "c",
            "t",
            [Series("a", [(T0 + i * M, math.sin(i) * 1e-7 + 1 / 3) for i in range(50)])],
            start_ms=T0,
            end_ms=T0 + 50 * M,
        )

    assert build() == build()


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.00012345, "0.0001234"), (1.5, "1.50"), (1234.5, "1,234"), (-2.0, "-2.00")],
)
def test_number(value: float, text: str) -> None:
    assert charts.number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0004, "0.4 ms"),
        (0.25, "250 ms"),
        (2.34, "2.3 s"),
        (600, "10 m"),
        (7200, "2.0 h"),
        (3 * 86400, "3.0 d"),
    ],
)
def test_seconds(value: float, text: str) -> None:
    assert charts.seconds(value) == text


def test_value_range_edges() -> None:
    assert charts.value_range([]) is None
    assert charts.value_range([math.nan]) is None
    assert charts.value_range([2.0, 4.0]) == (2.0, 4.0)
    assert charts.value_range([2.0, 4.0], zero=True) == (0.0, 4.0)
    assert charts.value_range([0.0], zero=True) == (0.0, 1.0)
    lo, hi = charts.value_range([100.0])  # type: ignore[misc]
    assert lo < 100.0 < hi
