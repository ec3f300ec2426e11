"""Rendering /metrics: the hand-written registry (bench/metrics_handwritten.py, what marketmem
used before) against prometheus-client (marketmem.metrics), with the service's label counts.

Both registries get the same series: the service's metrics with realistic label sets (16
channels x 3 run statuses, 25 tables, 12 routes x 3 statuses of the HTTP latency histogram,
16 channels x 5 health statuses, 12 bus subscribers, ...). Prints the median time of one
render, its size, and the cost of one ``inc`` and one ``observe`` with labels. The
prometheus-client registry renders with and without its ProcessCollector (process_* metrics,
read from /proc on each scrape).

    .venv/bin/python -m bench.metrics [--renders N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import metrics_handwritten as old
from marketmem import metrics as new

CHANNELS = [(f"src{i % 3}", f"channel{i}") for i in range(16)]
TABLES = [f"table_{i}" for i in range(25)]
ROUTES = [f"/api/v1/route{i}" for i in range(12)]
SUBSCRIBERS = [f"subscriber{i}" for i in range(12)]
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


def fill(reg: Any) -> tuple[Any, Any]:
    """The service's metrics on ``reg`` (either kind: they share the API), every series set."""
    runs = reg.counter("marketmem_runs_total", "runs", ("source", "channel", "status"))
    rows = reg.counter("marketmem_rows_written_total", "rows", ("table",))
    batch = reg.histogram(
        "marketmem_writer_batch_events", "batch", buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000)
    )
    commit = reg.histogram("marketmem_writer_commit_seconds", "commit")
    errors = reg.counter("marketmem_writer_errors_total", "errors", ("kind",))
    failing = reg.gauge("marketmem_writer_failing", "failing")
    skips = reg.counter("marketmem_scheduler_skips_total", "skips", ("source", "channel"))
    restarts = reg.counter("marketmem_actor_restarts_total", "restarts", ("actor",))
    queued = reg.gauge("marketmem_bus_queued", "queued", ("subscriber",))
    dropped = reg.gauge("marketmem_bus_dropped", "dropped", ("subscriber",))
    latency = reg.histogram(
        "marketmem_http_request_seconds",
        "latency",
        ("route", "method", "status"),
        buckets=HTTP_BUCKETS,
    )
    http_errors = reg.counter("marketmem_http_errors_total", "errors", ("code",))
    status = reg.gauge("marketmem_channel_status", "status", ("source", "channel", "status"))
    nulls = reg.counter("marketmem_feature_nulls_total", "nulls", ("channel", "reason"))
    for source, channel in CHANNELS:
        skips.inc(source=source, channel=channel)
        for st in ("ok", "failed", "partial"):
            runs.inc(3, source=source, channel=channel, status=st)
        for st in ("ok", "running", "stale", "failed", "never_run"):
            status.set(st == "ok", source=source, channel=channel, status=st)
    for t in TABLES:
        rows.inc(1000, table=t)
    for i in range(200):
        batch.observe(i % 700)
        commit.observe(i / 1000)
    for kind in ("OperationalError", "DiskFull"):
        errors.inc(kind=kind)
    failing.set(0)
    for s in SUBSCRIBERS:
        queued.set(3, subscriber=s)
        dropped.set(0, subscriber=s)
        restarts.inc(actor=s)
    for route in ROUTES:
        for code in ("200", "404", "503"):
            for i in range(20):
                latency.observe(i / 500, route=route, method="GET", status=code)
    for code in ("not_found", "unauthorized", "database_unavailable"):
        http_errors.inc(code=code)
    for ch in ("technical_indicators", "volatility_profiles", "funding_pressure"):
        for reason in ("missing_input", "no_history", "unavailable"):
            nulls.inc(7, channel=ch, reason=reason)
    return runs, latency


def median_us(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renders", type=int, default=300)
    args = ap.parse_args()
    cases = [
        ("hand-written", old.Registry()),
        ("prometheus-client", new.Registry(process=False)),
        ("prometheus-client + process", new.Registry(process=True)),
    ]
    print(f"{'registry':<30} {'render us':>10} {'bytes':>7} {'inc us':>7} {'observe us':>10}")
    for name, reg in cases:
        runs, latency = fill(reg)
        text = reg.render()
        render = median_us(reg.render, args.renders)
        inc = median_us(lambda r=runs: r.inc(source="src0", channel="channel0", status="ok"), 5000)
        obs = median_us(
            lambda h=latency: h.observe(0.003, route=ROUTES[0], method="GET", status="200"), 5000
        )
        print(f"{name:<30} {render:>10.0f} {len(text):>7} {inc:>7.2f} {obs:>10.2f}")


if __name__ == "__main__":
    main()
