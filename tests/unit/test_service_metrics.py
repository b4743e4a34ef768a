"""The collector's and the bridge's figures as Prometheus sees them: exact names, kinds, values.

The names are what the Grafana dashboards and the alert rules (deploy/) query: a change here is a
rename to apply there too.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from onex_collector.metrics import CollectorMetrics
from onex_exporters.bridge.service import BridgeMetrics
from onex_otel.service_metrics import ServiceMetrics

COLLECTOR = {
    "onex_collector_uptime_seconds": "gauge",
    "onex_collector_messages_consumed_total": "counter",
    "onex_collector_messages_inserted_total": "counter",
    "onex_collector_messages_failed_total": "counter",
    "onex_collector_batches_processed_total": "counter",
    "onex_collector_avg_batch_processing_ms": "gauge",
    "onex_collector_batch_processing_ms_total": "counter",
    "onex_collector_messages_per_second": "gauge",
    "onex_collector_last_commit_time": "gauge",
    "onex_collector_consumer_lag": "gauge",
    "onex_collector_messages_pending": "gauge",
    "onex_collector_dlq_messages_total": "counter",
    "onex_collector_rows_inserted_total": "counter",
    "onex_collector_database_retries_total": "counter",
    "onex_collector_messages_revoked_total": "counter",
    "onex_collector_database_ok": "gauge",
    "onex_collector_kafka_ok": "gauge",
    "onex_collector_executions_in_progress": "gauge",
    "onex_collector_oldest_in_progress_seconds": "gauge",
}

BRIDGE = {
    "onex_bridge_uptime_seconds": "gauge",
    "onex_bridge_messages_consumed_total": "counter",
    "onex_bridge_spans_received_total": "counter",
    "onex_bridge_log_records_received_total": "counter",
    "onex_bridge_events_published_total": "counter",
    "onex_bridge_events_delivered_total": "counter",
    "onex_bridge_events_spooled_total": "counter",
    "onex_bridge_events_resent_total": "counter",
    "onex_bridge_events_dropped_total": "counter",
    "onex_bridge_spool_bytes": "gauge",
    "onex_bridge_dlq_messages_total": "counter",
    "onex_bridge_batches_processed_total": "counter",
    "onex_bridge_avg_batch_processing_ms": "gauge",
    "onex_bridge_messages_per_second": "gauge",
    "onex_bridge_last_commit_time": "gauge",
    "onex_bridge_consumer_lag": "gauge",
    "onex_bridge_partitions_assigned": "gauge",
    "onex_bridge_kafka_ok": "gauge",
}


def exposed(metrics: ServiceMetrics) -> dict[str, tuple[str, float, dict[str, str]]]:
    """Sample name -> (family type, value, labels) of the metrics' Prometheus text."""
    out: dict[str, tuple[str, float, dict[str, str]]] = {}
    for family in text_string_to_metric_families(metrics.prometheus()):
        for sample in family.samples:
            assert sample.name not in out
            out[sample.name] = (family.type, sample.value, dict(sample.labels))
    return out


def test_the_collectors_names_kinds_and_values() -> None:
    m = CollectorMetrics()
    m.record_batch(consumed=10, inserted=8, rows=7, failed=2, ms=4.5)
    m.set_lag(42)
    m.set_in_progress(3, 7.25)
    m.set_database(False, "down")
    samples = exposed(m)
    assert {name: kind for name, (kind, _, _) in samples.items()} == COLLECTOR
    assert all(labels == {} for _, _, labels in samples.values())  # no scope or target labels
    assert samples["onex_collector_messages_consumed_total"][1] == 10
    assert samples["onex_collector_batch_processing_ms_total"][1] == 4.5
    assert samples["onex_collector_dlq_messages_total"][1] == 2
    assert samples["onex_collector_consumer_lag"][1] == 42
    assert samples["onex_collector_executions_in_progress"][1] == 3
    assert samples["onex_collector_oldest_in_progress_seconds"][1] == 7.25
    assert samples["onex_collector_database_ok"][1] == 0
    assert samples["onex_collector_kafka_ok"][1] == 1
    assert m.last_commit_time is not None
    assert samples["onex_collector_last_commit_time"][1] == m.last_commit_time.timestamp()
    # counted again: the next scrape reads the figures anew
    m.record_batch(consumed=5, inserted=5, rows=5, failed=0, ms=1.0)
    assert exposed(m)["onex_collector_messages_consumed_total"][1] == 15


def test_unknown_figures_are_left_out() -> None:
    samples = exposed(CollectorMetrics())
    left_out = {
        "onex_collector_consumer_lag",
        "onex_collector_last_commit_time",
        "onex_collector_executions_in_progress",
        "onex_collector_oldest_in_progress_seconds",
    }
    assert set(samples) == set(COLLECTOR) - left_out


def test_the_bridges_names_and_the_receivers_gauges() -> None:
    b = BridgeMetrics()
    b.record_batch(consumed=3, spans=5, log_records=2, events=9, dead=1, ms=2.0)
    b.set_lag(0)
    samples = exposed(b)
    assert {name: kind for name, (kind, _, _) in samples.items()} == BRIDGE
    assert samples["onex_bridge_events_published_total"][1] == 9
    b.expose("receiver_", lambda: {"otlp_requests_accepted": 4.0})
    b.expose("receiver_", lambda: {"otlp_requests_accepted": 6.0})  # the same names: replaced
    samples = exposed(b)
    assert samples["onex_bridge_receiver_otlp_requests_accepted"] == ("gauge", 6.0, {})
    assert set(samples) == set(BRIDGE) | {"onex_bridge_receiver_otlp_requests_accepted"}


def test_the_json_snapshot_keeps_its_fields_and_order() -> None:
    snap = CollectorMetrics().snapshot()
    assert list(snap) == [
        "uptime_seconds",
        "messages_consumed",
        "messages_inserted",
        "messages_failed",
        "batches_processed",
        "avg_batch_processing_ms",
        "batch_processing_ms",
        "messages_per_second",
        "last_commit_time",
        "consumer_lag",
        "messages_pending",
        "dlq_messages",
        "rows_inserted",
        "database_retries",
        "messages_revoked",
        "database_ok",
        "kafka_ok",
        "executions_in_progress",
        "oldest_in_progress_seconds",
    ]
    assert snap["last_commit_time"] is None and snap["consumer_lag"] is None
    bridge = BridgeMetrics().snapshot()
    assert list(bridge) == [
        "uptime_seconds",
        "messages_consumed",
        "spans_received",
        "log_records_received",
        "events_published",
        "events_delivered",
        "events_spooled",
        "events_resent",
        "events_dropped",
        "spool_bytes",
        "dlq_messages",
        "batches_processed",
        "avg_batch_processing_ms",
        "messages_per_second",
        "last_commit_time",
        "consumer_lag",
        "partitions_assigned",
        "kafka_ok",
    ]
