"""marketmem.metrics on prometheus_client: names, labels and types as before, process metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from marketmem import metrics
from marketmem.metrics import Registry


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_counter_gauge_histogram_render_with_their_labels() -> None:
    reg = Registry(process=False)
    runs = reg.counter("t_runs_total", "runs", ("source", "status"))
    level = reg.gauge("t_level", "level", ("name",))
    lat = reg.histogram("t_seconds", "latency", ("route",), buckets=(0.1, 1))
    runs.inc(source="hl", status="ok")
    runs.inc(2, source="hl", status="ok")
    level.set(3.5, name='a"b')
    lat.observe(0.05, route="/x")
    lat.observe(5, route="/x")
    text = reg.render()
    assert "# TYPE t_runs_total counter" in text
    assert 't_runs_total{source="hl",status="ok"} 3.0' in text
    assert "# TYPE t_level gauge" in text and r't_level{name="a\"b"} 3.5' in text
    assert "# TYPE t_seconds histogram" in text
    assert 't_seconds_bucket{le="0.1",route="/x"} 1.0' in text
    assert 't_seconds_bucket{le="+Inf",route="/x"} 2.0' in text
    assert 't_seconds_count{route="/x"} 2.0' in text
    assert "_created" not in text
    assert runs.value(source="hl", status="ok") == 3
    assert runs.value(source="hl", status="failed") == 0
    assert "failed" not in reg.render()  # reading a series back creates none
    assert lat.count(route="/x") == 2 and lat.count(route="/y") == 0
    assert level.value(name='a"b') == 3.5


def test_labels_must_match() -> None:
    reg = Registry(process=False)
    c = reg.counter("t_total", "t", ("kind",))
    with pytest.raises(ValueError):
        c.inc(other="x")
    with pytest.raises(ValueError):
        c.inc()


def test_asking_twice_returns_the_first_metric() -> None:
    reg = Registry(process=False)
    assert reg.counter("t_total", "t", ("a",)) is reg.counter("t_total", "t", ("a",))


def test_unlabelled_gauge() -> None:
    reg = Registry(process=False)
    g = reg.gauge("t_failing", "f")
    g.set(1)
    assert g.value() == 1 and "t_failing 1.0" in reg.render()


def test_service_registry_has_every_metric_and_the_process_ones() -> None:
    import marketmem.http.metrics  # noqa: F401  (registers the HTTP metrics)

    fams = families(metrics.REGISTRY.render())
    kinds = {name: f.type for name, f in fams.items()}  # type: ignore[attr-defined]
    for name, kind in [
        ("marketmem_runs", "counter"),
        ("marketmem_rows_written", "counter"),
        ("marketmem_writer_batch_events", "histogram"),
        ("marketmem_writer_commit_seconds", "histogram"),
        ("marketmem_writer_failing", "gauge"),
        ("marketmem_bus_queued", "gauge"),
        ("marketmem_http_request_seconds", "histogram"),
        ("marketmem_channel_status", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_open_fds", "gauge"),
    ]:
        assert kinds.get(name) == kind, name
    text = metrics.REGISTRY.render()
    assert "process_resident_memory_bytes " in text and "process_open_fds " in text
    assert "process_cpu_seconds_total " in text
