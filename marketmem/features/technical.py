"""The technical indicators row of one coin: the indicator set on 1-minute and 1-hour bars.

Per timeframe the row covers the last ``bars`` intervals ending at the latest bar (which may
still be forming). Indicators run on the gap-free tail of that window (a gap cuts history;
too short a tail is ``gap`` or ``too_few_candles``); VWAP and the high/low range need the whole
window. A timeframe whose data ended more than ``stale_after_ms`` ago is all ``stale``: for
hour bars that is the close of the newest minute under the latest hour, so with the minute feed
stopped the ``h1_`` columns go stale together with the ``m1_`` ones. The covered window ends
where that data ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketmem.features import indicators as ind
from marketmem.features.config import FeaturesConfig
from marketmem.features.series import Series, full_window, is_stale, shortfall
from marketmem.features.values import STALE, TOO_FEW_CANDLES, Columns, Null, Num

NAMES = (
    "close",
    "sma_20",
    "sma_50",
    "ema_20",
    "ema_50",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_pct_b",
    "bb_bandwidth",
    "atr_14",
    "vwap",
    "roc_12",
    "high",
    "low",
    "range_pct",
    "range_position",
)
PREFIXES = ("m1_", "h1_")
COLUMNS = tuple(p + n for p in PREFIXES for n in NAMES)


@dataclass(frozen=True, slots=True)
class TechnicalSettings:
    bars_1m: int
    bars_1h: int
    stale_after_ms: int

    @classmethod
    def of(cls, cfg: FeaturesConfig) -> TechnicalSettings:
        return cls(
            bars_1m=cfg.technical_bars_1m,
            bars_1h=cfg.technical_bars_1h,
            stale_after_ms=int(cfg.candle_stale_s * 1000),
        )


DEFAULT_TECHNICAL = TechnicalSettings.of(FeaturesConfig())


def indicator_set(
    cols: Columns, prefix: str, series: Series, bars: int, now_ms: int, stale_after_ms: int
) -> tuple[int, int] | None:
    """Put one timeframe's columns; returns the (start, end) ms the window covers."""
    if len(series) == 0:
        cols.null_all([prefix + n for n in NAMES], TOO_FEW_CANDLES)
        return None
    window = series.last_bars(bars)
    if is_stale(series, now_ms, stale_after_ms):
        cols.null_all([prefix + n for n in NAMES], STALE)
        return None
    tail = window.contiguous_tail()
    short = shortfall(window, tail)
    closes = tail.closes
    highs = tail.highs
    lows = tail.lows

    def put(name: str, value: Num) -> None:
        cols.put(prefix + name, short if value is TOO_FEW_CANDLES else value)

    put("close", closes[-1])
    put("sma_20", ind.sma(closes, 20))
    put("sma_50", ind.sma(closes, 50))
    put("ema_20", ind.ema(closes, 20))
    put("ema_50", ind.ema(closes, 50))
    put("rsi_14", ind.rsi_wilder(closes, 14))
    m = ind.macd(closes)
    put("macd", m.line)
    put("macd_signal", m.signal)
    put("macd_hist", m.histogram)
    bb = ind.bollinger(closes, 20, 2.0)
    put("bb_upper", bb.upper)
    put("bb_middle", bb.middle)
    put("bb_lower", bb.lower)
    put("bb_pct_b", bb.pct_b)
    put("bb_bandwidth", bb.bandwidth)
    put("atr_14", ind.atr_wilder(highs, lows, closes, 14))
    put("roc_12", ind.roc(closes, 12))
    full = full_window(series, bars)
    if isinstance(full, Null):
        cols.null_all(
            [prefix + n for n in ("vwap", "high", "low", "range_pct", "range_position")], full
        )
    else:
        put("vwap", ind.vwap(full.highs, full.lows, full.closes, full.volumes))
        r = ind.price_range(full.highs, full.lows, full.closes)
        put("high", r.high)
        put("low", r.low)
        put("range_pct", r.range_pct)
        put("range_position", r.position)
    end = window.data_end_ms
    assert end is not None
    return window.times[0], end


def technical_indicators(
    m1: Series, h1: Series, now_ms: int, settings: TechnicalSettings = DEFAULT_TECHNICAL
) -> tuple[Columns, int | None, int | None]:
    """The row's columns and the window it covers (None when no bar was used)."""
    cols = Columns()
    spans = [
        indicator_set(cols, "m1_", m1, settings.bars_1m, now_ms, settings.stale_after_ms),
        indicator_set(cols, "h1_", h1, settings.bars_1h, now_ms, settings.stale_after_ms),
    ]
    used = [s for s in spans if s is not None]
    if not used:
        return cols, None, None
    return cols, min(s[0] for s in used), max(s[1] for s in used)
