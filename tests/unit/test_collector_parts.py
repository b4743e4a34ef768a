"""Pure parts of the collector: backoff, metrics and their Prometheus rendering."""

from __future__ import annotations

import random

import pytest

from onex_collector.metrics import CollectorMetrics, render_prometheus
from onex_collector.retry import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    clock = FakeClock()
    b = Backoff(initial=0.1, factor=2.0, cap=1.0, jitter=0.0, clock=clock)
    assert b.failing_for() == 0.0
    assert [b.next_delay() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    clock.now += 7.5
    assert b.failing_for() == 7.5
    b.reset()
    assert b.attempts == 0 and b.failing_for() == 0.0 and b.next_delay() == 0.1


def test_backoff_jitter_stays_within_bounds() -> None:
    b = Backoff(initial=1.0, factor=1.0, cap=2.0, jitter=0.25, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert len(set(delays)) > 100  # actually jittered


def test_metrics_snapshot_health_and_prometheus() -> None:
    m = CollectorMetrics()
    assert m.health() == {"status": "healthy", "consumer": "stopped"}
    m.record_batch(consumed=10, inserted=8, rows=7, failed=2, ms=4.0)
    m.record_batch(consumed=10, inserted=10, rows=10, failed=0, ms=6.0)
    m.set_lag(42)
    snap = m.snapshot()
    assert (snap["messages_consumed"], snap["messages_inserted"], snap["messages_failed"]) == (20, 18, 2)
    assert snap["batches_processed"] == 2 and snap["avg_batch_processing_ms"] == 5.0
    assert snap["batch_processing_ms"] == 10.0  # a counter: recent means from its rate
    assert snap["dlq_messages"] == 2 and snap["rows_inserted"] == 17
    assert snap["consumer_lag"] == 42 and snap["last_commit_time"].endswith("Z")
    m.set_database(False, "connection refused")
    assert m.health() == {
        "status": "degraded",
        "consumer": "stopped",
        "reasons": {"database": "connection refused"},
    }
    assert m.snapshot()["database_retries"] == 1
    text = render_prometheus(m)
    assert "onex_collector_messages_consumed_total 20.0" in text
    assert "onex_collector_consumer_lag 42.0" in text
    assert "onex_collector_batch_processing_ms_total 10.0" in text
    assert "onex_collector_database_ok 0" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split()) == 2
    m.set_database(True)
    assert m.health()["status"] == "healthy"


def test_the_service_moves_its_startup_objects_out_of_the_garbage_collectors_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from onex_collector import service
    from onex_collector.consumer import Collector, CollectorOptions
    from onex_otel.config import Settings

    frozen: list[int] = []
    monkeypatch.setattr(Collector, "run", lambda self: frozen.append(gc.get_freeze_count()))
    options = CollectorOptions(bootstrap_servers="127.0.0.1:9", conninfo="host=127.0.0.1 port=9")
    gc.unfreeze()
    try:
        service.run_service(options, Settings(), http=False)
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 1000
