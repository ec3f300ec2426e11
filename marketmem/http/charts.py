"""Charts as SVG text, rendered on the server: pure functions from data to an ``<svg>`` string,
deterministic (the same data gives the same bytes) and escaped (every text and attribute value
goes through ``html.escape``), so a page may insert them as they are.

Every chart is ``<svg class="chart" data-chart="ID" data-marks="N">``, where N counts the data
points it drew (each drawn element of data has the class ``mark``); a chart with nothing to draw
says so inside its plot and has ``data-marks="0"``. Values that are None, NaN or infinite are
gaps, never zeros; points are drawn in time order, the last of duplicate times winning, and
only inside the chart's time range. Colours come from the classes, styled by ``CHART_CSS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

Format = Callable[[float], str]
Point = tuple[int, float | None]

CHART_CSS = """
svg.chart { display: block; font: 11px system-ui, sans-serif; }
svg.chart .frame { fill: #fbfbfb; stroke: #ddd; }
svg.chart .grid { stroke: #e6e6e6; }
svg.chart .label { fill: #666; }
svg.chart .title { fill: #222; font-weight: 600; }
svg.chart .empty { fill: #999; font-style: italic; }
svg.chart path.mark { fill: none; stroke-width: 1.5; }
svg.chart .s0 { stroke: #1d5fa8; fill: #1d5fa8; } svg.chart .s1 { stroke: #a86a00; fill: #a86a00; }
svg.chart .s2 { stroke: #17703a; fill: #17703a; } svg.chart .s3 { stroke: #7b3fa8; fill: #7b3fa8; }
svg.chart .up { stroke: #17703a; fill: #17703a; } svg.chart .down { stroke: #b3261e; fill: #b3261e; }
svg.chart .provisional { fill-opacity: .35; stroke-opacity: .6; }
svg.chart .col { fill: #1d5fa8; } svg.chart .col.zero { fill: #999; }
svg.chart .track { fill: #f0f0f0; }
svg.chart .ok { fill: #2e9e57; } svg.chart .failed { fill: #b3261e; }
svg.chart .skipped { fill: #e0a100; }
svg.chart .bar.mid { fill: #1d5fa8; } svg.chart .bar.candle_close { fill: #a86a00; }
svg.chart .limit { stroke: #b3261e; stroke-dasharray: 3 2; }
"""


@dataclass(frozen=True)
class Size:
    """An SVG's size and the margins around its plot (pixels)."""

    width: int = 420
    height: int = 130
    left: int = 62
    right: int = 10
    top: int = 20
    bottom: int = 18

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


@dataclass(frozen=True)
class Series:
    """One line of a line chart: ``(time_ms, value)`` points."""

    label: str
    points: Sequence[Point]
    css: str = "s0"


@dataclass(frozen=True)
class Bar:
    """One OHLC bar; a provisional one (not stored yet: the hour in progress) is drawn lighter."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    provisional: bool = False


@dataclass(frozen=True)
class Cell:
    """One slot of an outcome strip: how many runs ended ok, failed, and ticks were skipped."""

    start_ms: int
    ok: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def outcome(self) -> str | None:
        """The worst outcome in the slot (failed, then skipped, then ok); None when empty."""
        if self.failed:
            return "failed"
        if self.skipped:
            return "skipped"
        return "ok" if self.ok else None


@dataclass(frozen=True)
class HBar:
    """One row of a horizontal bar chart; ``css`` classes the bar, ``note`` follows its value."""

    label: str
    value: float | None
    css: str = ""
    note: str = ""


# --- formats -----------------------------------------------------------------------------


def finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def number(v: float) -> str:
    """A price or level: thousands grouped, decimals by magnitude."""
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:,.2f}"
    if a == 0:
        return "0"
    return f"{v:.4g}"


def count(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def seconds(v: float) -> str:
    """A duration: ms below a second, s below two minutes, then m, h and d."""
    a = abs(v)
    if a < 0.01:
        return f"{v * 1000:.1f} ms"
    if a < 1:
        return f"{v * 1000:.0f} ms"
    if a < 120:
        return f"{v:.1f} s"
    if a < 7200:
        return f"{v / 60:.0f} m"
    if a < 172800:
        return f"{v / 3600:.1f} h"
    return f"{v / 86400:.1f} d"


def clock(ms: int) -> str:
    """``HH:MM`` in UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def day(ms: int) -> str:
    """``MM-DD`` in UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%m-%d")


def _c(v: float) -> str:
    """A coordinate, rounded so the same data always prints the same."""
    text = f"{v:.1f}"
    return "0.0" if text == "-0.0" else text


# --- data preparation (pure) ---------------------------------------------------------------


def in_order(points: Iterable[Point], start_ms: int, end_ms: int) -> list[Point]:
    """``points`` inside [start_ms, end_ms] by time, the last of duplicate times kept; values
    that are not finite become None (gaps)."""
    by_time: dict[int, float | None] = {}
    for t, v in points:
        if start_ms <= t <= end_ms:
            by_time[t] = v if finite(v) else None
    return sorted(by_time.items())


def segments(points: Sequence[Point], max_gap_ms: int | None) -> list[list[tuple[int, float]]]:
    """Runs of consecutive finite points, cut at a gap value and wherever two points are more
    than ``max_gap_ms`` apart (a missing stretch is left blank, not bridged)."""
    out: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for t, v in points:
        if v is None:
            if current:
                out.append(current)
            current = []
            continue
        if current and max_gap_ms is not None and t - current[-1][0] > max_gap_ms:
            out.append(current)
            current = []
        current.append((t, v))
    if current:
        out.append(current)
    return out


def value_range(values: Iterable[float], *, zero: bool = False) -> tuple[float, float] | None:
    """Lowest and highest finite value (0 included when ``zero``), widened when they are equal
    so a flat series sits in the middle; None without any value."""
    vs = [v for v in values if finite(v)]
    if not vs:
        return None
    lo, hi = min(vs), max(vs)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        pad = abs(lo) * 0.01 or 1.0
        lo, hi = (lo - pad, hi + pad) if not zero or lo != 0 else (0.0, 1.0)
    return lo, hi


# --- building blocks -----------------------------------------------------------------------


class _Plot:
    def __init__(self, size: Size, start_ms: int, end_ms: int, lo: float, hi: float) -> None:
        self.size = size
        self.start_ms = start_ms
        self.span = max(1, end_ms - start_ms)
        self.lo = lo
        self.hi = hi

    def x(self, t: float) -> float:
        return self.size.left + (t - self.start_ms) / self.span * self.size.plot_width

    def y(self, v: float) -> float:
        s = self.size
        return s.top + (self.hi - v) / (self.hi - self.lo) * s.plot_height

    def width_of(self, ms: float) -> float:
        return ms / self.span * self.size.plot_width


def _svg(chart_id: str, title: str, size: Size, marks: int, body: list[str]) -> str:
    head = (
        f'<svg class="chart" data-chart="{escape(chart_id)}" data-marks="{marks}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{size.width}" height="{size.height}" '
        f'viewBox="0 0 {size.width} {size.height}" role="img" aria-label="{escape(title)}">'
    )
    # A chart without room above its plot (a strip in a table row) is named by its row.
    caption = f'<text class="title" x="4" y="13">{escape(title)}</text>' if size.top >= 16 else ""
    return "".join([head, f"<title>{escape(title)}</title>", caption, *body, "</svg>"])


def _frame(size: Size) -> str:
    return (
        f'<rect class="frame" x="{size.left}" y="{size.top}" '
        f'width="{size.plot_width}" height="{size.plot_height}"/>'
    )


def _empty(size: Size, message: str) -> str:
    x = size.left + size.plot_width / 2
    y = size.top + size.plot_height / 2 + 4
    return (
        f'<text class="empty" x="{_c(x)}" y="{_c(y)}" text-anchor="middle">{escape(message)}</text>'
    )


def _y_axis(plot: _Plot, fmt: Format) -> list[str]:
    s = plot.size
    mid = (plot.lo + plot.hi) / 2
    out = []
    for v in (plot.hi, mid, plot.lo):
        y = plot.y(v)
        out.append(
            f'<line class="grid" x1="{s.left}" x2="{s.left + s.plot_width}" '
            f'y1="{_c(y)}" y2="{_c(y)}"/>'
        )
        out.append(
            f'<text class="label" x="{s.left - 4}" y="{_c(y + 4)}" '
            f'text-anchor="end">{escape(fmt(v))}</text>'
        )
    return out


def _x_axis(size: Size, start_ms: int, end_ms: int, label: Callable[[int], str]) -> list[str]:
    y = size.height - 4
    right = size.left + size.plot_width
    return [
        f'<text class="label" x="{size.left}" y="{y}">{escape(label(start_ms))}</text>',
        f'<text class="label" x="{right}" y="{y}" text-anchor="end">{escape(label(end_ms))}</text>',
    ]


def _legend(size: Size, series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    out = []
    x = size.width - size.right
    for s in reversed(series):
        out.append(
            f'<text class="label {escape(s.css)}" x="{x}" y="13" text-anchor="end" '
            f'stroke="none">{escape(s.label)}</text>'
        )
        x -= 7 * len(s.label) + 12
    return out


# --- charts --------------------------------------------------------------------------------


def note_chart(chart_id: str, title: str, message: str, *, size: Size = Size()) -> str:
    """A chart that cannot be drawn here, saying why."""
    return _svg(chart_id, title, size, 0, [_frame(size), _empty(size, message)])


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    start_ms: int,
    end_ms: int,
    max_gap_ms: int | None = None,
    fmt: Format = number,
    zero: bool = False,
    time_label: Callable[[int], str] = clock,
    size: Size = Size(),
    empty: str = "no data",
) -> str:
    """Lines over [start_ms, end_ms], one per series, broken at gaps; ``zero`` keeps 0 on
    the value axis."""
    ordered = [(s, in_order(s.points, start_ms, end_ms)) for s in series]
    bounds = value_range((v for _, pts in ordered for _, v in pts if v is not None), zero=zero)
    body = [_frame(size)]
    if bounds is None:
        body.append(_empty(size, empty))
        body += _x_axis(size, start_ms, end_ms, time_label)
        return _svg(chart_id, title, size, 0, body)
    plot = _Plot(size, start_ms, end_ms, *bounds)
    body += _y_axis(plot, fmt)
    marks = 0
    for s, pts in ordered:
        css = escape(s.css)
        for seg in segments(pts, max_gap_ms):
            marks += len(seg)
            if len(seg) == 1:
                t, v = seg[0]
                body.append(
                    f'<circle class="mark {css}" cx="{_c(plot.x(t))}" cy="{_c(plot.y(v))}" r="2"/>'
                )
                continue
            d = " ".join(
                f"{'M' if i == 0 else 'L'}{_c(plot.x(t))} {_c(plot.y(v))}"
                for i, (t, v) in enumerate(seg)
            )
            body.append(f'<path class="mark {css}" d="{d}"/>')
    body += _x_axis(size, start_ms, end_ms, time_label)
    body += _legend(size, series)
    return _svg(chart_id, title, size, marks, body)


def candle_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    start_ms: int,
    end_ms: int,
    bar_ms: int,
    fmt: Format = number,
    time_label: Callable[[int], str] = day,
    size: Size = Size(),
    empty: str = "no data",
) -> str:
    """OHLC bars opening in [start_ms, end_ms]: a wick from low to high and a body from open
    to close (green up, red down); bars with a value that is not finite are left out."""
    by_time: dict[int, Bar] = {}
    for b in bars:
        if start_ms <= b.open_time_ms <= end_ms and all(
            finite(v) for v in (b.open, b.high, b.low, b.close)
        ):
            by_time[b.open_time_ms] = b
    drawn = [by_time[t] for t in sorted(by_time)]
    bounds = value_range([v for b in drawn for v in (b.high, b.low)])
    body = [_frame(size)]
    if bounds is None:
        body.append(_empty(size, empty))
        body += _x_axis(size, start_ms, end_ms, time_label)
        return _svg(chart_id, title, size, 0, body)
    plot = _Plot(size, start_ms, end_ms, *bounds)
    body += _y_axis(plot, fmt)
    width = max(1.0, plot.width_of(bar_ms) * 0.7)
    for b in drawn:
        css = "up" if b.close >= b.open else "down"
        if b.provisional:
            css += " provisional"
        mid = plot.x(b.open_time_ms + bar_ms / 2)
        top, bottom = plot.y(max(b.open, b.close)), plot.y(min(b.open, b.close))
        tip = f"{day(b.open_time_ms)} {clock(b.open_time_ms)} UTC: O {fmt(b.open)} H {fmt(b.high)} L {fmt(b.low)} C {fmt(b.close)}"
        body.append(
            f'<g class="mark {css}"><title>{escape(tip)}</title>'
            f'<line x1="{_c(mid)}" x2="{_c(mid)}" y1="{_c(plot.y(b.high))}" '
            f'y2="{_c(plot.y(b.low))}"/>'
            f'<rect x="{_c(mid - width / 2)}" y="{_c(top)}" width="{_c(width)}" '
            f'height="{_c(max(1.0, bottom - top))}"/></g>'
        )
    body += _x_axis(size, start_ms, end_ms, time_label)
    return _svg(chart_id, title, size, len(drawn), body)


def column_chart(
    chart_id: str,
    title: str,
    points: Sequence[Point],
    *,
    start_ms: int,
    end_ms: int,
    bar_ms: int,
    fmt: Format = count,
    time_label: Callable[[int], str] = clock,
    size: Size = Size(),
    empty: str = "no data",
) -> str:
    """One column per point from 0 up to its value (a zero is a thin grey tick: something
    happened and it was nothing); negative and missing values are left out."""
    pts = [(t, v) for t, v in in_order(points, start_ms, end_ms) if v is not None and v >= 0]
    body = [_frame(size)]
    if not pts:
        body.append(_empty(size, empty))
        body += _x_axis(size, start_ms, end_ms, time_label)
        return _svg(chart_id, title, size, 0, body)
    bounds = value_range([v for _, v in pts], zero=True)
    assert bounds is not None
    plot = _Plot(size, start_ms, end_ms, *bounds)
    body += _y_axis(plot, fmt)
    width = max(1.0, plot.width_of(bar_ms) * 0.8)
    base = plot.y(0.0)
    for t, v in pts:
        top = plot.y(v)
        css = "mark col zero" if v == 0 else "mark col"
        tip = f"{clock(t)} UTC: {fmt(v)}"
        body.append(
            f'<rect class="{css}" x="{_c(plot.x(t))}" y="{_c(min(top, base - 1))}" '
            f'width="{_c(width)}" height="{_c(max(1.0, base - top))}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    body += _x_axis(size, start_ms, end_ms, time_label)
    return _svg(chart_id, title, size, len(pts), body)


def strip_chart(
    chart_id: str,
    title: str,
    cells: Sequence[Cell],
    *,
    start_ms: int,
    end_ms: int,
    cell_ms: int,
    size: Size = Size(height=34, left=4, top=18, bottom=2),
    skips_known: bool = True,
) -> str:
    """Slots of ``cell_ms`` over [start_ms, end_ms) coloured by their worst outcome; an empty
    slot shows the grey track. Each slot's tooltip counts its runs (and skips, when known)."""
    body = [
        f'<rect class="track" x="{size.left}" y="{size.top}" width="{size.plot_width}" '
        f'height="{size.plot_height}"/>'
    ]
    plot = _Plot(size, start_ms, end_ms, 0.0, 1.0)
    width = max(1.0, plot.width_of(cell_ms) - 0.5)
    marks = 0
    by_start = {c.start_ms: c for c in cells if start_ms <= c.start_ms < end_ms}
    for t in sorted(by_start):
        cell = by_start[t]
        outcome = cell.outcome
        if outcome is None:
            continue
        marks += 1
        tip = f"{clock(t)} UTC: {cell.ok} ok, {cell.failed} failed"
        tip += f", {cell.skipped} skipped" if skips_known else ""
        body.append(
            f'<rect class="mark {outcome}" x="{_c(plot.x(t))}" y="{size.top}" '
            f'width="{_c(width)}" height="{size.plot_height}"><title>{escape(tip)}</title></rect>'
        )
    return _svg(chart_id, title, size, marks, body)


def hbar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[HBar],
    *,
    fmt: Format = seconds,
    limit: float | None = None,
    limit_label: str = "",
    width: int = 420,
    row_height: int = 18,
    empty: str = "no data",
) -> str:
    """One horizontal bar per row from 0 to its value (rows without a value say "none"); a
    dashed line marks ``limit``."""
    size = Size(width=width, height=38 + max(1, len(rows)) * row_height, left=70, right=110)
    body = [_frame(size)]
    if not rows:
        body.append(_empty(size, empty))
        return _svg(chart_id, title, size, 0, body)
    values = [r.value for r in rows if r.value is not None and finite(r.value) and r.value >= 0]
    hi = max([*values, limit if limit is not None and finite(limit) else 0.0]) or 1.0
    scale = size.plot_width / hi
    marks = 0
    for i, r in enumerate(rows):
        y = size.top + i * row_height + 3
        body.append(
            f'<text class="label" x="{size.left - 4}" y="{y + 10}" '
            f'text-anchor="end">{escape(r.label)}</text>'
        )
        if r.value is None or not finite(r.value) or r.value < 0:
            text = "none"
            end = float(size.left)
        else:
            marks += 1
            end = size.left + r.value * scale
            body.append(
                f'<rect class="mark bar {escape(r.css)}" x="{size.left}" y="{y}" '
                f'width="{_c(max(1.0, end - size.left))}" height="{row_height - 6}"/>'
            )
            text = fmt(r.value)
        label = f"{text} {r.note}".strip()
        body.append(f'<text class="label" x="{_c(end + 4)}" y="{y + 10}">{escape(label)}</text>')
    if limit is not None and finite(limit):
        x = size.left + limit * scale
        bottom = size.top + size.plot_height
        body.append(
            f'<line class="limit" x1="{_c(x)}" x2="{_c(x)}" y1="{size.top}" y2="{bottom}"/>'
        )
        body.append(
            f'<text class="label" x="{_c(x)}" y="{size.height - 4}" text-anchor="middle">'
            f"{escape(limit_label or fmt(limit))}</text>"
        )
    return _svg(chart_id, title, size, marks, body)
