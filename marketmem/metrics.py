"""In-process metrics (counters, gauges, histograms) exposed in Prometheus text format.

The series live in ``prometheus_client`` metrics on a registry of our own (``REGISTRY.prom``,
never the library's global one), which also holds its ProcessCollector: resident memory, CPU
seconds, open file descriptors and the rest of ``process_*``. The thin classes here keep the
call sites' API: ``RUNS.inc(source=..., ...)``, ``GAUGE.set(v, **labels)``,
``HIST.observe(v, **labels)``, and ``value``/``count`` to read one series back (tests,
telemetry). Names follow Prometheus conventions (``marketmem_*_total`` for counters).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

# No ``*_created`` series beside each counter and histogram: they were never exposed here.
prometheus_client.disable_created_metrics()

LabelValues = tuple[str, ...]
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Metric:
    kind = ""

    def __init__(self, prom: Any, name: str, help: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.help = help
        self.labels = labels
        self._prom = prom

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labels)

    def _child(self, labels: dict[str, str]) -> Any:
        key = self._key(labels)
        return self._prom.labels(*key) if key else self._prom

    def _existing(self, labels: dict[str, str]) -> Any:
        """The series of ``labels`` if it was ever written, else None (reading creates none)."""
        key = self._key(labels)
        if not key:
            return self._prom
        with self._prom._lock:
            return self._prom._metrics.get(key)


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).inc(amount)

    def value(self, **labels: str) -> float:
        child = self._existing(labels)
        return 0.0 if child is None else float(child._value.get())


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(value)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self, prom: Any, name: str, help: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> None:
        super().__init__(prom, name, help, labels)
        self.buckets = buckets

    def observe(self, value: float, **labels: str) -> None:
        self._child(labels).observe(value)

    def count(self, **labels: str) -> int:
        child = self._existing(labels)
        if child is None:
            return 0
        return int(sum(b.get() for b in child._buckets))


class Registry:
    """Our metrics by name; asking twice for one name returns the first metric."""

    def __init__(self, *, process: bool = True) -> None:
        self.prom = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, _Metric] = {}
        if process:
            ProcessCollector(registry=self.prom)

    def counter(self, name: str, help: str, labels: Iterable[str] = ()) -> Counter:
        if (m := self._metrics.get(name)) is None:
            names = tuple(labels)
            prom = prometheus_client.Counter(name, help, names, registry=self.prom)
            m = self._metrics[name] = Counter(prom, name, help, names)
        assert isinstance(m, Counter) and not isinstance(m, Gauge)
        return m

    def gauge(self, name: str, help: str, labels: Iterable[str] = ()) -> Gauge:
        if (m := self._metrics.get(name)) is None:
            names = tuple(labels)
            prom = prometheus_client.Gauge(name, help, names, registry=self.prom)
            m = self._metrics[name] = Gauge(prom, name, help, names)
        assert isinstance(m, Gauge)
        return m

    def histogram(
        self,
        name: str,
        help: str,
        labels: Iterable[str] = (),
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> Histogram:
        if (m := self._metrics.get(name)) is None:
            names = tuple(labels)
            bounds = tuple(sorted(float(b) for b in buckets))
            prom = prometheus_client.Histogram(
                name, help, names, registry=self.prom, buckets=bounds
            )
            m = self._metrics[name] = Histogram(prom, name, help, names, bounds)
        assert isinstance(m, Histogram)
        return m

    def render(self) -> str:
        return generate_latest(self.prom).decode()


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
