"""The dashboard's charts: what they show, and the HTML fragment that draws them.

``read_panels`` gathers what the storage holds (prices per coin, each channel's runs per
minute, execution-price ages); the writer's commit latency, queue depth and the bus drops come
from the service's in-process ``Telemetry``, which only the process that runs the writer has
(``bin/marketmem run``, the demo; not ``serve``, where those charts say they are not
available). ``render_panels`` is pure: data in, escaped SVG and HTML out (``charts``). The
page fetches the fragment every ``[http] dashboard_refresh_s`` and swaps it in.

Public like the page: runs are counted, their error texts never shown (the channel page, behind
a token, shows them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from marketmem.clock import DAY_MS, HOUR_MS, MINUTE_MS
from marketmem.config import Config
from marketmem.http import charts
from marketmem.http.charts import Bar, Cell, HBar, Point, Series, Size
from marketmem.storage.models.hyperliquid import Candle, ExecutionPrice, HourCandle
from marketmem.storage.models.runs import RunMinute
from marketmem.storage.reads import Connection, hyperliquid
from marketmem.storage.reads.runs import run_minutes
from marketmem.telemetry import ChannelKey, TelemetryView

PRICE_1M_MS = 3 * HOUR_MS  # 1-minute closes of the last hours
PRICE_1H_MS = 7 * DAY_MS  # 1-hour bars of the last week
ROWS_MS = 3 * HOUR_MS  # rows written per minute
STRIP_MS = DAY_MS  # the run-outcome strip
SLOT_MS = 15 * MINUTE_MS  # one cell of the strip
MAX_COINS = 8
LIVE_MIN_MS = 5 * MINUTE_MS  # the shortest span the writer and bus charts show

PRICE_SIZE = Size(width=420, height=130)
ROWS_SIZE = Size(width=330, height=58, left=44, top=6, bottom=16)
STRIP_SIZE = Size(width=330, height=24, left=2, right=2, top=4, bottom=4)
LIVE_SIZE = Size(width=420, height=130)


@dataclass(frozen=True)
class CoinPrices:
    coin: str
    hours: list[Bar]
    closes: list[Point]
    price: ExecutionPrice | None


@dataclass(frozen=True)
class ChannelRuns:
    source: str
    channel: str
    enabled: bool
    minutes: list[RunMinute]


@dataclass(frozen=True)
class Panels:
    now_ms: int
    coins: list[CoinPrices]
    coins_total: int
    channels: list[ChannelRuns]
    max_mid_age_s: float


# --- pure shaping --------------------------------------------------------------------------


def hour_bars(stored: Sequence[HourCandle], minutes: Sequence[Candle]) -> list[Bar]:
    """The stored 1-hour bars, and for each hour of ``minutes`` that has none (the hour in
    progress, or one not rolled up yet) a provisional bar aggregated from its minutes."""
    bars = {h.open_time_ms: Bar(h.open_time_ms, h.open, h.high, h.low, h.close) for h in stored}
    by_hour: dict[int, dict[int, Candle]] = {}
    for m in minutes:
        by_hour.setdefault(m.open_time_ms - m.open_time_ms % HOUR_MS, {})[m.open_time_ms] = m
    for hour, held in by_hour.items():
        if hour in bars:
            continue
        ms = [held[t] for t in sorted(held)]
        bars[hour] = Bar(
            hour,
            ms[0].open,
            max(m.high for m in ms),
            min(m.low for m in ms),
            ms[-1].close,
            provisional=True,
        )
    return [bars[t] for t in sorted(bars)]


def rows_per_minute(minutes: Sequence[RunMinute], since_ms: int) -> list[Point]:
    """Rows the channel's runs wrote per minute (ok and failed together) from ``since_ms``;
    a minute with runs that wrote nothing is a 0, a minute without runs is absent."""
    out: dict[int, float] = {}
    for m in minutes:
        if m.minute_ms >= since_ms:
            out[m.minute_ms] = out.get(m.minute_ms, 0) + m.rows_written
    return sorted(out.items())


def outcome_cells(
    minutes: Sequence[RunMinute],
    skips: Sequence[tuple[int, int]],
    *,
    start_ms: int,
    slot_ms: int = SLOT_MS,
) -> list[Cell]:
    """Runs (ok, failed) and skipped ticks per slot of ``slot_ms`` from ``start_ms``; slots
    with nothing in them are left out. ``skips`` holds (time, ticks skipped) pairs."""
    counts: dict[int, list[int]] = {}

    def slot(ms: int) -> list[int]:
        return counts.setdefault(start_ms + (ms - start_ms) // slot_ms * slot_ms, [0, 0, 0])

    for m in minutes:
        if m.minute_ms >= start_ms:
            slot(m.minute_ms)[0 if m.status == "ok" else 1] += m.runs
    for at, n in skips:
        if at >= start_ms and n > 0:
            slot(at)[2] += n
    return [Cell(t, ok, failed, skipped) for t, (ok, failed, skipped) in sorted(counts.items())]


def strip_start(now_ms: int, span_ms: int = STRIP_MS, slot_ms: int = SLOT_MS) -> int:
    """Where a strip of ``span_ms`` ending with the slot of ``now_ms`` starts."""
    return now_ms - now_ms % slot_ms + slot_ms - span_ms


def chart_id(*parts: str) -> str:
    return "-".join(parts)


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- reading -------------------------------------------------------------------------------


def read_panels(conn: Connection, config: Config, now_ms: int, *, max_mid_age_ms: int) -> Panels:
    coins = hyperliquid.coins_since(conn, now_ms - DAY_MS)
    prices = []
    for coin in coins[:MAX_COINS]:
        minutes = hyperliquid.candles(conn, coin, "1m", start_ms=now_ms - PRICE_1M_MS)
        stored = hyperliquid.candles(conn, coin, "1h", start_ms=now_ms - PRICE_1H_MS)
        prices.append(
            CoinPrices(
                coin=coin,
                hours=hour_bars(
                    [h for h in stored if isinstance(h, HourCandle)],
                    [m for m in minutes if isinstance(m, Candle)],
                ),
                closes=[(m.open_time_ms, m.close) for m in minutes],
                price=hyperliquid.execution_price(
                    conn, coin, now_ms, max_mid_age_ms=max_mid_age_ms
                ),
            )
        )
    channels = []
    since = strip_start(now_ms)
    for source, channel, ch in config.channels():
        minutes_ = run_minutes(conn, source, channel, since)
        if ch.enabled or minutes_:
            channels.append(ChannelRuns(source, channel, ch.enabled, minutes_))
    return Panels(
        now_ms=now_ms,
        coins=prices,
        coins_total=len(coins),
        channels=channels,
        max_mid_age_s=max_mid_age_ms / 1000,
    )


# --- rendering (pure) ----------------------------------------------------------------------


def price_charts(p: CoinPrices, now_ms: int) -> str:
    hourly = charts.candle_chart(
        chart_id("price-1h", p.coin),
        f"{p.coin} · 1h · 7 days",
        p.hours,
        start_ms=now_ms - PRICE_1H_MS,
        end_ms=now_ms,
        bar_ms=HOUR_MS,
        size=PRICE_SIZE,
    )
    minute = charts.line_chart(
        chart_id("price-1m", p.coin),
        f"{p.coin} · 1m close · 3 hours",
        [Series(p.coin, p.closes)],
        start_ms=now_ms - PRICE_1M_MS,
        end_ms=now_ms,
        max_gap_ms=2 * MINUTE_MS,
        size=PRICE_SIZE,
    )
    return f'<div class="coin" data-coin="{escape(p.coin)}">{hourly}{minute}</div>'


def price_age_chart(coins: Sequence[CoinPrices], max_mid_age_s: float) -> str:
    rows = [
        HBar(
            c.coin,
            None if c.price is None else c.price.age_ms / 1000,
            css="" if c.price is None else c.price.source,
            note="" if c.price is None else ("mid" if c.price.source == "mid" else "1m close"),
        )
        for c in coins
    ]
    return charts.hbar_chart(
        "price-age",
        "execution-price age per coin",
        rows,
        limit=max_mid_age_s,
        limit_label=f"mid limit {charts.seconds(max_mid_age_s)}",
        empty="no coin has prices yet",
    )


def runs_row(ch: ChannelRuns, skips: Sequence[tuple[int, int]] | None, now_ms: int) -> str:
    """One channel's outcome strip (24 h) and rows per minute (3 h)."""
    name = f"{ch.source}/{ch.channel}"
    start = strip_start(now_ms)
    strip = charts.strip_chart(
        chart_id("runs", ch.source, ch.channel),
        f"{name}: runs over 24 h",
        outcome_cells(ch.minutes, skips or (), start_ms=start),
        start_ms=start,
        end_ms=start + STRIP_MS,
        cell_ms=SLOT_MS,
        size=STRIP_SIZE,
        skips_known=skips is not None,
    )
    rows = charts.column_chart(
        chart_id("rows", ch.source, ch.channel),
        f"{name}: rows written per minute",
        rows_per_minute(ch.minutes, now_ms - ROWS_MS),
        start_ms=now_ms - ROWS_MS,
        end_ms=now_ms,
        bar_ms=MINUTE_MS,
        size=ROWS_SIZE,
        empty="no finished run",
    )
    state = "" if ch.enabled else ' <span class="muted">(disabled)</span>'
    return (
        f'<tr data-channel="{escape(name)}"><th>{escape(name)}{state}</th>'
        f"<td>{strip}</td><td>{rows}</td></tr>"
    )


def channel_table(channels: Sequence[ChannelRuns], live: TelemetryView | None, now_ms: int) -> str:
    rows = "".join(runs_row(ch, _skips(live, (ch.source, ch.channel)), now_ms) for ch in channels)
    return (
        '<table class="runs"><thead><tr><th>channel</th><th>runs over 24 h, 15-minute slots '
        "(newest right)</th><th>rows written per minute, 3 h</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _skips(live: TelemetryView | None, key: ChannelKey) -> Sequence[tuple[int, int]] | None:
    return None if live is None else live.skips.get(key, ())


NOT_HERE = (
    "not available in this process: it serves the API alone (bin/marketmem serve); "
    "the writer and the bus live in the process that runs the service (bin/marketmem run), "
    "whose dashboard and /metrics show them"
)


def live_charts(live: TelemetryView | None, now_ms: int) -> str:
    """Commit latency, writer queue depth and bus drops over the last hour of samples."""
    titles = ("writer commit latency", "writer queue depth", "bus drops per sample")
    ids = ("writer-latency", "writer-queue", "bus-drops")
    if live is None:
        notes = "".join(
            charts.note_chart(i, t, "not available here", size=LIVE_SIZE)
            for i, t in zip(ids, titles, strict=True)
        )
        return f'<p class="note" data-live="false">{escape(NOT_HERE)}.</p><div class="grid">{notes}</div>'
    # An hour at most; a young service's first minutes fill the width rather than its edge.
    kept = now_ms - int(live.interval_s * 1000 * live.capacity)
    start = max(kept, min(live.started_at_ms, now_ms - LIVE_MIN_MS))
    gap = int(live.interval_s * 1000 * 2.5)
    samples = live.samples
    waiting = f"no sample yet (one every {charts.seconds(live.interval_s)})"
    latency = charts.line_chart(
        ids[0],
        f"{titles[0]} (max and mean per {charts.seconds(live.interval_s)})",
        [
            Series("max", [(s.at_ms, s.latency_max_s) for s in samples], "s1"),
            Series("mean", [(s.at_ms, s.latency_mean_s) for s in samples], "s0"),
        ],
        start_ms=start,
        end_ms=now_ms,
        max_gap_ms=gap,
        fmt=charts.seconds,
        zero=True,
        size=LIVE_SIZE,
        empty=waiting,
    )
    buffer = samples[-1].writer_buffer if samples else 0
    queue = charts.line_chart(
        ids[1],
        f"{titles[1]} (events queued, of {buffer})" if buffer else titles[1],
        [Series("queued", [(s.at_ms, float(s.writer_queued)) for s in samples])],
        start_ms=start,
        end_ms=now_ms,
        max_gap_ms=gap,
        fmt=charts.count,
        zero=True,
        size=LIVE_SIZE,
        empty=waiting,
    )
    total = sum(s.dropped for s in samples)
    drops = charts.column_chart(
        ids[2],
        f"{titles[2]} ({total} in the last hour)",
        [(s.at_ms, float(s.dropped)) for s in samples],
        start_ms=start,
        end_ms=now_ms,
        bar_ms=int(live.interval_s * 1000),
        size=LIVE_SIZE,
        empty=waiting,
    )
    subs = "".join(
        f'<tr data-subscriber="{escape(s.name)}"><td>{escape(s.name)}</td><td>{escape(s.policy)}</td>'
        f'<td class="num">{s.queued} / {s.buffer}</td><td class="num">{s.dropped}</td></tr>'
        for s in live.subscribers
    )
    table = (
        '<table class="subscribers"><thead><tr><th>bus subscriber</th><th>policy</th>'
        "<th>queued / buffer</th><th>dropped since start</th></tr></thead>"
        f"<tbody>{subs}</tbody></table>"
    )
    since = utc(live.started_at_ms)
    return (
        f'<p class="note" data-live="true">In-process statistics of this service since '
        f"{escape(since)}, sampled every {escape(charts.seconds(live.interval_s))}; the last "
        f'hour is kept.</p><div class="grid">{latency}{queue}{drops}</div>{table}'
    )


NO_CANDLES = '<p class="note">no 1-minute candles in the last 24 h</p>'


def render_panels(panels: Panels, live: TelemetryView | None) -> str:
    """The charts fragment: prices, execution-price ages, runs and rows per channel, writer
    and bus. ``live`` None: this process has no writer (``serve``)."""
    now = panels.now_ms
    shown = len(panels.coins)
    coins = "".join(price_charts(c, now) for c in panels.coins)
    if panels.coins_total > shown:
        count = f"{shown} of {panels.coins_total} coins (in registry order)"
    else:
        count = f"{shown} coin(s)"
    if live is None:
        skips = "skipped ticks are counted by the process that runs the scheduler; not here"
    else:
        skips = f"skipped ticks since {utc(live.started_at_ms)}"
    legend = (
        '<p class="legend"><span class="key ok"></span>ok <span class="key failed"></span>failed '
        f'<span class="key skipped"></span>skipped (a slot shows its worst); {escape(skips)}.</p>'
    )
    return (
        f'<div class="panels" data-generated-at-ms="{now}" '
        f'data-live="{"true" if live is not None else "false"}">'
        f'<p class="note">charts as of <span class="generated">{escape(utc(now))}</span></p>'
        "<h2>Prices</h2>"
        f'<p class="note">1-hour bars over 7 days (lighter: not rolled up yet, from its minutes) '
        f"and 1-minute closes over 3 hours, UTC; {escape(count)}.</p>"
        f'<div class="grid">{coins or NO_CANDLES}</div>'
        "<h2>Execution price age</h2>"
        f"{price_age_chart(panels.coins, panels.max_mid_age_s)}"
        "<h2>Runs and rows per channel</h2>"
        f"{legend}{channel_table(panels.channels, live, now)}"
        "<h2>Writer and bus</h2>"
        f"{live_charts(live, now)}"
        "</div>"
    )
