"""The hand-written metrics module marketmem used before prometheus-client (kept for bench.metrics).

Small on purpose: the service needs a few labelled series and one exposition endpoint.
Names follow Prometheus conventions (``marketmem_*_total`` for counters).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable

LabelValues = tuple[str, ...]


def _fmt_labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    parts = [
        f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for n, v in zip(names, values, strict=True)
    ]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _fmt_value(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Iterable[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labels = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labels)

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: Iterable[str] = ()) -> None:
        super().__init__(name, help, labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        lines = super().render()
        for key, v in sorted(self._values.items()):
            lines.append(f"{self.name}{_fmt_labels(self.labels, key)} {_fmt_value(v)}")
        return lines


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value


DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labels: Iterable[str] = (),
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value

    def count(self, **labels: str) -> int:
        return sum(self._counts.get(self._key(labels), []))

    def render(self) -> list[str]:
        lines = super().render()
        for key, counts in sorted(self._counts.items()):
            cumulative = 0
            for bound, c in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += c
                le = f'le="{_fmt_value(bound)}"'
                lines.append(f"{self.name}_bucket{_fmt_labels(self.labels, key, le)} {cumulative}")
            lines.append(f"{self.name}_sum{_fmt_labels(self.labels, key)} {self._sums[key]!r}")
            lines.append(f"{self.name}_count{_fmt_labels(self.labels, key)} {cumulative}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> _Metric:
        existing = self._metrics.get(metric.name)
        if existing is not None:
            return existing
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help: str, labels: Iterable[str] = ()) -> Counter:
        m = self._add(Counter(name, help, labels))
        assert isinstance(m, Counter)
        return m

    def gauge(self, name: str, help: str, labels: Iterable[str] = ()) -> Gauge:
        m = self._add(Gauge(name, help, labels))
        assert isinstance(m, Gauge)
        return m

    def histogram(
        self,
        name: str,
        help: str,
        labels: Iterable[str] = (),
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> Histogram:
        m = self._add(Histogram(name, help, labels, buckets))
        assert isinstance(m, Histogram)
        return m

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._metrics):
            lines.extend(self._metrics[name].render())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()

RUNS = REGISTRY.counter(
    "marketmem_runs_total", "Finished ingestion runs", ("source", "channel", "status")
)
ROWS_WRITTEN = REGISTRY.counter(
    "marketmem_rows_written_total", "Rows committed by the storage writer", ("table",)
)
WRITER_BATCH_EVENTS = REGISTRY.histogram(
    "marketmem_writer_batch_events",
    "Events per writer transaction",
    buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000),
)
WRITER_COMMIT_SECONDS = REGISTRY.histogram(
    "marketmem_writer_commit_seconds", "Writer transaction latency"
)
WRITER_ERRORS = REGISTRY.counter(
    "marketmem_writer_errors_total", "Writer transactions that failed", ("kind",)
)
WRITER_FAILING = REGISTRY.gauge(
    "marketmem_writer_failing",
    "1 while the storage writer is retrying a commit it could not make (disk full, read-only)",
)
SCHEDULER_SKIPS = REGISTRY.counter(
    "marketmem_scheduler_skips_total",
    "Ticks skipped because the previous run was still going",
    ("source", "channel"),
)
ACTOR_RESTARTS = REGISTRY.counter(
    "marketmem_actor_restarts_total", "Actors restarted after a crash", ("actor",)
)
BUS_QUEUED = REGISTRY.gauge(
    "marketmem_bus_queued", "Events queued per bus subscriber", ("subscriber",)
)
BUS_DROPPED = REGISTRY.gauge(
    "marketmem_bus_dropped", "Events dropped per lossy bus subscriber", ("subscriber",)
)
