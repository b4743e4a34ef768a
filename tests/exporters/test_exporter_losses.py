"""Every loss is accounted: queue full goes to the spool, a full spool drops oldest and counts.

These tests need no broker: the bootstrap address refuses connections, which is what an absent
Kafka looks like to the producer.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from onex_exporters.kafka import SLICE_SPANS, OnexKafkaSpanExporter
from onex_exporters.mapping import span_to_records
from onex_exporters.spool import Spool
from onex_otel import conventions as c
from tests.exporters.helpers import RecordingExporter, run_executions, settings_for, wait_until
from tests.exporters.spans import SpanFactory
from tests.services.kafka import Broker

NOWHERE = "127.0.0.1:1"


def metric_points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[Any, ...]], float]:
    points: dict[tuple[str, tuple[Any, ...]], float] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics:  # type: ignore[union-attr]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    points[(metric.name, tuple(sorted(p.attributes.items())))] = p.value  # type: ignore[union-attr]
    return points


def _spooling_exporter(tmp_path: Path, factory: SpanFactory) -> RecordingExporter:
    """An exporter whose producer queue (5 messages) ``factory``'s spans overflowed: it spools."""
    settings = settings_for(NOWHERE, str(tmp_path / "spool"), kafka_delivery_timeout_ms=600_000)
    exporter = RecordingExporter(
        settings, attach_lifecycle=False, producer_overrides={"queue.buffering.max.messages": 5}
    )
    assert exporter.export(factory.finished()).name == "SUCCESS"
    # the queue took 5; the rest waited, then everything went to the spool in order
    wait_until(lambda: exporter.stats()["spooled"] == exporter.stats()["events"], 30, "spool")
    return exporter


def test_full_producer_queue_goes_to_the_spool_in_order(tmp_path: Path) -> None:
    factory = SpanFactory()
    run_executions(factory, 2)
    exporter = _spooling_exporter(tmp_path, factory)
    exporter.export(factory.finished()[:2])  # later events queue behind them
    stats = exporter.stats()
    assert stats["spooled"] == stats["events"] == len(exporter.published)
    assert stats["dropped"] == {} and stats["delivered"] == 0
    spooled = Spool(tmp_path / "spool").read(max_records=10_000).records
    assert [json.loads(r.value)["event_id"] for r in spooled] == [r.event_id for r in exporter.published]
    exporter.shutdown(timeout_millis=100)


def test_an_export_of_several_slices_keeps_the_order_and_syncs_the_spool_once(tmp_path: Path) -> None:
    first = SpanFactory()
    run_executions(first, 1)
    exporter = _spooling_exporter(tmp_path, first)  # from now on, events go to the spool
    assert exporter.spool is not None
    syncs: list[str] = []
    sync = exporter.spool.sync

    def counted_sync() -> None:  # the I/O thread's own periodic syncs are not the export's
        if threading.current_thread() is threading.main_thread():
            syncs.append("export")
        sync()

    exporter.spool.sync = counted_sync  # type: ignore[method-assign]
    factory = SpanFactory()
    run_executions(factory, 10)
    spans = factory.finished()
    assert len(spans) > 2 * SLICE_SPANS
    before = len(exporter.published)
    exporter.export(spans)
    assert syncs == ["export"]  # once for the whole batch, not once per slice
    expected = [r.event_id for s in spans for r in span_to_records(s)]
    assert [r.event_id for r in exporter.published[before:]] == expected
    spooled = Spool(tmp_path / "spool").read(max_records=10_000).records
    assert [json.loads(r.value)["event_id"] for r in spooled][-len(expected) :] == expected
    exporter.shutdown(timeout_millis=100)


def test_full_spool_drops_oldest_counts_and_reports_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(NOWHERE, str(tmp_path), kafka_delivery_timeout_ms=300, spool_max_bytes=20_000)
    reader = InMemoryMetricReader()
    exporter = OnexKafkaSpanExporter(
        settings, attach_lifecycle=False, meter_provider=MeterProvider(metric_readers=[reader])
    )
    factory = SpanFactory()
    run_executions(factory, 6)

    def all_spooled() -> bool:
        # The broker is unreachable, so every event ends in the spool. librdkafka's queue empties
        # before the I/O thread has handled the delivery reports: wait for the spool itself.
        stats = exporter.stats()
        return bool(stats["in_flight"] == 0 and stats["spooled"] == stats["events"])

    with caplog.at_level(logging.WARNING):
        exporter.export(factory.finished())
        wait_until(all_spooled, 30, "timeouts")
        exporter.export(factory.finished())
        wait_until(all_spooled, 30, "timeouts")
    stats = exporter.stats()
    dropped = stats["dropped"].get("spool_full", 0)
    assert dropped > 0
    assert stats["events"] == stats["delivered"] + stats["spooled"] + stats["in_flight"]
    assert stats["spool_bytes"] <= 20_000
    assert len([r for r in caplog.records if "is full" in r.getMessage()]) == 1
    points = metric_points(reader)
    assert points[(c.METRIC_EXPORT_DROPS, (("reason", "spool_full"),))] == dropped
    assert points[(c.METRIC_EXPORT_EVENTS, (("outcome", "spooled"),))] == stats["spooled"]
    assert points[(c.METRIC_SPOOL_BYTES, ())] == stats["spool_bytes"]
    exporter.shutdown(timeout_millis=100)


def test_unwritable_spool_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = settings_for(NOWHERE, str(blocker / "spool"), kafka_delivery_timeout_ms=200)
    exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    assert exporter.spool is None
    factory = SpanFactory()
    run_executions(factory, 1)
    assert exporter.export(factory.finished()).name == "SUCCESS"
    # librdkafka's queue empties before the I/O thread has handled the delivery reports, so
    # wait for the drops themselves to be counted.
    wait_until(
        lambda: (
            exporter.stats()["in_flight"] == 0
            and exporter.stats()["dropped"].get("spool_error") == exporter.stats()["events"]
        ),
        30,
        "the drops",
    )
    stats = exporter.stats()
    assert stats["dropped"] == {"spool_error": stats["events"]}
    exporter.shutdown(timeout_millis=100)


def test_messages_kafka_refuses_for_good_are_dropped_and_counted_not_retried(
    broker: Broker, tmp_path: Path
) -> None:
    settings = settings_for(broker.bootstrap, str(tmp_path))
    exporter = RecordingExporter(
        settings, attach_lifecycle=False, producer_overrides={"message.max.bytes": 1000}
    )
    factory = SpanFactory()
    run_executions(factory, 1)
    assert exporter.export(factory.finished()).name == "SUCCESS"
    assert exporter.force_flush(10_000)
    sizes = [len(r.to_json()) for r in exporter.published]
    too_big = sum(1 for n in sizes if n > 900)
    assert 0 < too_big < len(sizes)
    stats = exporter.stats()
    assert stats["dropped"]["rejected"] >= too_big - 5  # framing overhead decides the border
    assert stats["delivered"] + stats["dropped"]["rejected"] == stats["events"]
    assert stats["spooled"] == 0
    exporter.shutdown()
