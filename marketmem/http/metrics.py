"""HTTP metrics, registered in the shared ``marketmem.metrics.REGISTRY``."""

from __future__ import annotations

from marketmem.metrics import REGISTRY

REQUEST_SECONDS = REGISTRY.histogram(
    "marketmem_http_request_seconds",
    "HTTP request latency by route template, method and status",
    ("route", "method", "status"),
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
ERRORS = REGISTRY.counter(
    "marketmem_http_errors_total", "HTTP error responses by error code", ("code",)
)
CHANNEL_STATUS = REGISTRY.gauge(
    "marketmem_channel_status",
    "1 for the current health status of each enabled source/channel (as of the last scrape)",
    ("source", "channel", "status"),
)
STREAM_CLIENTS = REGISTRY.gauge("marketmem_stream_clients", "Open /api/v1/stream clients")
STREAM_EVENTS = REGISTRY.counter(
    "marketmem_stream_events_total", "Events written to /api/v1/stream clients", ("kind",)
)
STREAM_DROPPED = REGISTRY.counter(
    "marketmem_stream_dropped_total",
    "Events dropped for /api/v1/stream clients that did not keep up (each told by a lagged event)",
)
REFRESH_FAILURES = REGISTRY.counter(
    "marketmem_http_refresh_failures_total",
    "Cached answers and checks that could not be redone ahead of their expiry, by what",
    ("what",),
)
