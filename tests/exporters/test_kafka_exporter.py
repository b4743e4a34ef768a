"""The Kafka exporter against a real broker: every event read back and validated."""

from __future__ import annotations

import collections
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from onex_exporters import install
from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_exporters.lifecycle import OnexLifecycleProcessor
from onex_otel import conventions as c
from onex_otel.config import load_settings
from onex_otel.conventions import EventType
from tests.exporters.helpers import (
    RecordingExporter,
    decode,
    run_executions,
    settings_for,
    topics,
)
from tests.exporters.spans import SpanFactory
from tests.services.kafka import Broker


def pipeline(
    broker: Broker, tmp_path: Path, **overrides: object
) -> tuple[SpanFactory, RecordingExporter, TracerProvider]:
    settings = settings_for(broker.bootstrap, str(tmp_path / "spool"), **overrides)
    exporter = RecordingExporter(settings, attach_lifecycle=False)
    provider = TracerProvider()
    factory = SpanFactory(provider)
    provider.add_span_processor(OnexLifecycleProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return factory, exporter, provider


def test_every_event_is_delivered_and_validates(broker: Broker, tmp_path: Path) -> None:
    factory, exporter, provider = pipeline(broker, tmp_path)
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter._register_metrics(meters)
    run_executions(factory, 3, fail_every=2)
    provider.shutdown()
    published = exporter.published
    assert len(published) > 40
    messages = broker.consume(topics(exporter.settings), len(published), timeout=60)
    decoded = decode(messages)
    got_ids = [str(env.event_id) for _, env in decoded]
    assert sorted(got_ids) == sorted(r.event_id for r in published)  # each exactly once
    # the same envelope that was mapped arrived
    by_id = {r.event_id: r for r in published}
    for m, env in decoded:
        record = by_id[str(env.event_id)]
        assert env.tenant_id == "test-tenant"
        assert dict(m.headers())["traceparent"].decode() == record.traceparent
    types = collections.Counter(env.event_type for _, env in decoded)
    assert types[EventType.EXECUTION_STARTED] == 6
    assert types[EventType.EXECUTION_PROGRESS] == 3  # real time, not again from the span event
    assert types[EventType.EXECUTION_COMPLETED] + types[EventType.EXECUTION_FAILED] == 6
    assert types[EventType.EXECUTION_FAILED] == 2
    stats = exporter.stats()
    assert stats["events"] == len(published) == stats["delivered"]
    assert stats["spooled"] == 0 and stats["dropped"] == {} and stats["in_flight"] == 0
    assert stats["spans_seen"] == len(factory.finished())
    data = reader.get_metrics_data()
    points: dict[tuple[str, tuple[Any, ...]], float] = {}
    for rm in data.resource_metrics:  # type: ignore[union-attr]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    points[(metric.name, tuple(sorted(p.attributes.items())))] = p.value  # type: ignore[union-attr]
    assert points[(c.METRIC_EXPORT_SPANS, ())] == stats["spans_seen"]
    assert points[(c.METRIC_EXPORT_EVENTS, (("outcome", "delivered"),))] == stats["delivered"]


def test_started_is_published_while_the_execution_runs(broker: Broker, tmp_path: Path) -> None:
    factory, exporter, provider = pipeline(broker, tmp_path)
    cid = uuid.uuid4()
    with factory.execution(correlation_id=cid):
        assert exporter.force_flush(10_000)
        started_topic = f"{exporter.settings.topic_prefix}{EventType.EXECUTION_STARTED.value}"
        (msg,) = broker.consume([started_topic], 1, timeout=30)
        ((_, env),) = decode([msg])
        assert env.correlation_id == cid
        assert exporter.stats()["spans_seen"] == 0  # nothing exported yet: it was real time
    provider.shutdown()


def test_install_uses_the_environment_and_disabled_publishing(broker: Broker, tmp_path: Path) -> None:
    off = load_settings({"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_ENABLE_LOGGING": "false"})
    assert install(TracerProvider(), off) is None
    assert install(TracerProvider(), load_settings({})) is None
    provider = TracerProvider()
    exporter = install(provider, settings_for(broker.bootstrap, str(tmp_path)))
    assert isinstance(exporter, OnexKafkaSpanExporter) and exporter.lifecycle_attached
    provider.shutdown()
    # a disabled exporter accepts spans, sends nothing, and counts them
    disabled = OnexKafkaSpanExporter(off, attach_lifecycle=False)
    f = SpanFactory()
    with f.execution():
        pass
    assert disabled.export(f.finished()).name == "SUCCESS"
    stats = disabled.stats()
    assert stats["dropped"] == {"disabled": stats["events"]} and stats["events"] == 4
    assert disabled._producer is None


def test_export_never_raises_and_shutdown_is_idempotent(broker: Broker, tmp_path: Path) -> None:
    exporter = OnexKafkaSpanExporter(settings_for(broker.bootstrap, str(tmp_path)), attach_lifecycle=False)
    f = SpanFactory()
    with f.tracer.start_as_current_span("s") as span:
        span.add_event(c.EVENT_ROUTING_DECISION, {c.ATTR_CONFIDENCE_SCORE: 7.0})
    assert exporter.export(f.finished()).name == "SUCCESS"
    assert exporter.export([object()]).name == "SUCCESS"  # type: ignore[list-item]
    assert exporter.stats()["dropped"] == {"unserializable": 2}
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(f.finished()).name == "FAILURE"
    assert exporter.force_flush(100) is True
