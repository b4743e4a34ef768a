"""The bridge against a real broker: events out, dead letters, the same ids as in-process, groups."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import onex_otel
from onex_exporters import install
from onex_exporters.bridge.service import Bridge, options_from_settings
from onex_exporters.mapping import span_to_records
from onex_otel import _metrics, _payload
from onex_otel import conventions as c
from onex_otel.status_http import StatusServer
from tests.bridge.helpers import (
    bridge_settings,
    event_ids,
    produce_values,
    read_exactly,
    running_bridge,
)
from tests.bridge.otlp_messages import json_value, proto_value
from tests.core.conftest import reset_tracing
from tests.exporters.helpers import decode, settings_for, topics, wait_until
from tests.exporters.spans import SpanFactory, foreign_spans, run_full_execution
from tests.services.kafka import Broker


def executions(count: int) -> list[list[ReadableSpan]]:
    """``count`` runs, each the list of its finished spans (one OTLP message per run)."""
    factory = SpanFactory()
    out = []
    for i in range(count):
        run_full_execution(factory, fail=i % 3 == 2)
        out.append(factory.finished())
        factory.memory.clear()
    return out


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_garbage_goes_to_the_dlq_and_the_rest_flows(broker: Broker, tmp_path: Path, encoding: str) -> None:
    settings = bridge_settings(broker, tmp_path, bridge_encoding=encoding)
    spans_topic = settings.bridge_spans_topic
    broker.create_topics(
        spans_topic, settings.bridge_logs_topic, settings.bridge_dlq_topic, *topics(settings)
    )
    runs = executions(4)
    others = foreign_spans(4)  # they map to nothing: counted, not built
    encode = proto_value if encoding == "otlp_proto" else json_value
    garbage = b"\x00\x01 this is no export request \xff"
    values = [encode(runs[0] + others), encode(runs[1]), garbage, encode(runs[2]), encode(runs[3])]
    produce_values(broker, spans_topic, values)
    want = sorted(r.event_id for run in runs for s in run for r in span_to_records(s))

    with running_bridge(settings) as bridge:
        server = StatusServer(
            bridge.metrics.health, bridge.metrics.snapshot, bridge.metrics.prometheus, port=0
        ).start()
        try:
            out = read_exactly(broker, topics(settings), len(want))
            wait_until(lambda: bridge.metrics.snapshot()["dlq_messages"] == 1, 20, "the DLQ")
            url = f"http://127.0.0.1:{server.port}"
            health = json.loads(urllib.request.urlopen(url + "/health", timeout=5).read())
            metrics = json.loads(urllib.request.urlopen(url + "/metrics", timeout=5).read())
            prom = urllib.request.urlopen(url + "/metrics?format=prometheus", timeout=5).read()
        finally:
            server.close()
    assert sorted(event_ids(out)) == want  # every event once, garbage or not in between
    decode(out)  # keys, headers, envelopes as the in-process exporter writes them
    assert health == {"status": "healthy", "consumer": "running"}
    assert metrics["messages_consumed"] == 5
    assert metrics["spans_received"] == sum(map(len, runs)) + len(others)
    assert metrics["events_published"] == len(want) and metrics["dlq_messages"] == 1
    assert b"onex_bridge_dlq_messages_total 1.0" in prom

    (dead,) = read_exactly(broker, [settings.bridge_dlq_topic], 1)
    headers = dict(dead.headers())
    assert dead.value() == garbage
    assert headers[c.DLQ_HEADER_TOPIC] == spans_topic.encode()
    assert headers[c.DLQ_HEADER_PARTITION] == b"0"
    assert headers[c.DLQ_HEADER_OFFSET] == b"2"
    assert headers[c.DLQ_HEADER_ERROR_CLASS] == b"DecodeError"
    assert headers[c.DLQ_HEADER_STAGE] == c.DLQ_STAGE_DECODE.encode()
    assert headers[c.DLQ_HEADER_ERROR_MESSAGE].startswith(b"not ")


def test_a_span_no_event_can_hold_is_dead_lettered_with_the_map_stage(broker: Broker, tmp_path: Path) -> None:
    settings = bridge_settings(broker, tmp_path)
    broker.create_topics(settings.bridge_spans_topic, settings.bridge_dlq_topic, *topics(settings))
    factory = SpanFactory()
    with factory.execution() as root:
        root.add_event(
            c.EVENT_ROUTING_DECISION,
            {
                c.ATTR_SELECTED_AGENT: "a",
                c.ATTR_CONFIDENCE_SCORE: 1.7,
                c.ATTR_ROUTING_STRATEGY: "s",
                c.ATTR_ROUTING_TIME_MS: 3,
            },
        )
    good = executions(1)[0]
    produce_values(broker, settings.bridge_spans_topic, [proto_value(factory.finished()), proto_value(good)])
    want = sorted(r.event_id for s in good for r in span_to_records(s))
    with running_bridge(settings):
        (dead,) = read_exactly(broker, [settings.bridge_dlq_topic], 1)
        out = read_exactly(broker, topics(settings), len(want))
    headers = dict(dead.headers())
    assert headers[c.DLQ_HEADER_STAGE] == c.DLQ_STAGE_MAP.encode()
    assert headers[c.DLQ_HEADER_ERROR_CLASS] == b"MappingError"
    assert b"confidence_score=1.7" in headers[c.DLQ_HEADER_ERROR_MESSAGE]
    assert sorted(event_ids(out)) == want


@pytest.fixture
def in_process(broker: Broker, tmp_path: Path) -> Iterator[tuple[TracerProvider, Any, InMemorySpanExporter]]:
    """onex-otel configured as an agent would: the lifecycle processor and the Kafka exporter on
    the provider, plus an in-memory copy of every finished span (what an OTLP exporter sends)."""
    reset_tracing()
    provider = TracerProvider(shutdown_on_exit=False)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    onex_otel.configure(tracer_provider=provider)
    settings = settings_for(broker.bootstrap, str(tmp_path / "agent-spool"))
    exporter = install(provider, settings)
    assert exporter is not None
    yield provider, exporter, memory
    provider.shutdown()
    reset_tracing()
    _payload.set_policy(None)
    _metrics.set_meter_provider(None)


def agent_work() -> None:
    """The public API as an agent uses it, plus a framework's GenAI agent span of its own."""
    with onex_otel.agent_execution("agent-researcher", user_request="find patterns", session_id="s-1") as run:
        run.progress("routing", 25, {"k": 1})
        with onex_otel.tool_call("Read", {"file_path": "a.py"}) as call:
            call.set_result({"lines": 10})
        onex_otel.record_decision("select_agent", {"candidates": ["a", "b"]}, {"selected": "a"})
        run.progress("done", 100)
        run.complete(quality_score=0.9, output_summary="ok")
    try:
        with onex_otel.agent_execution("agent-failing", user_request="break"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    tracer = trace.get_tracer("some.framework")
    agent = {c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT, c.GEN_AI_AGENT_NAME: "helper"}
    tool = {
        c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL,
        c.GEN_AI_TOOL_NAME: "search",
        c.GEN_AI_TOOL_CALL_ID: "call-1",
    }
    with (
        tracer.start_as_current_span("invoke_agent helper", attributes=agent),
        tracer.start_as_current_span("execute_tool search", attributes=tool),
    ):
        pass


def test_one_event_one_id_whichever_path(
    broker: Broker,
    tmp_path: Path,
    in_process: tuple[TracerProvider, Any, InMemorySpanExporter],
) -> None:
    provider, exporter, memory = in_process
    agent_work()
    # the in-process exporter (real-time lifecycle events + export) ...
    assert provider.force_flush(10_000) and exporter.force_flush(10_000)
    spans = memory.get_finished_spans()
    direct = read_exactly(broker, topics(exporter.settings), 12, settle=2.0)
    # ... and the same spans through the Collector's Kafka exporter and the bridge
    settings = bridge_settings(broker, tmp_path / "bridge-spool")
    broker.create_topics(settings.bridge_spans_topic, settings.bridge_dlq_topic, *topics(settings))
    produce_values(broker, settings.bridge_spans_topic, [proto_value(spans)])
    with running_bridge(settings):
        bridged = read_exactly(broker, topics(settings), len(direct), settle=2.0)
    kinds = {
        c.EventType.EXECUTION_STARTED.value,
        c.EventType.EXECUTION_PROGRESS.value,
        c.EventType.EXECUTION_COMPLETED.value,
        c.EventType.EXECUTION_FAILED.value,
        c.EventType.AGENT_ACTION.value,
    }
    seen = {json.loads(m.value())["event_type"] for m in direct}
    assert kinds <= seen, seen
    assert len(direct) >= 12
    by_id_direct = {json.loads(m.value())["event_id"]: m for m in direct}
    by_id_bridged = {json.loads(m.value())["event_id"]: m for m in bridged}
    assert len(by_id_direct) == len(direct) and len(by_id_bridged) == len(bridged)
    assert set(by_id_bridged) == set(by_id_direct)
    for eid, m in by_id_direct.items():  # same type, key and headers too
        other = by_id_bridged[eid]
        assert other.key() == m.key()
        theirs, ours = dict(other.headers()), dict(m.headers())
        # the trace flags past "sampled" are not on the wire: Python's OTLP encoder sends none
        assert theirs.pop(c.HEADER_TRACEPARENT)[:-2] == ours.pop(c.HEADER_TRACEPARENT)[:-2]
        assert theirs == ours
        assert json.loads(other.value())["event_type"] == json.loads(m.value())["event_type"]


def test_two_bridges_in_a_group_share_the_partitions(broker: Broker, tmp_path: Path) -> None:
    settings = bridge_settings(broker, tmp_path)
    broker.create_topics(settings.bridge_spans_topic, partitions=2)
    broker.create_topics(settings.bridge_dlq_topic, *topics(settings))
    runs = executions(12)
    want = sorted(r.event_id for run in runs for s in run for r in span_to_records(s))
    with running_bridge(settings) as one, running_bridge(settings) as two:
        wait_until(
            lambda: len(one.assignment) == len(two.assignment) == 1, 30, "both bridges holding one partition"
        )
        assert one.assignment | two.assignment == {
            (settings.bridge_spans_topic, 0),
            (settings.bridge_spans_topic, 1),
        }
        for i, run in enumerate(runs):  # keyed by trace id, as partition_traces_by_id does
            produce_values(
                broker,
                settings.bridge_spans_topic,
                [proto_value(run)],
                key=f"{run[0].context.trace_id:032x}{i}".encode(),
            )
        out = read_exactly(broker, topics(settings), len(want), timeout=30)
        wait_until(
            lambda: (
                one.metrics.snapshot()["messages_consumed"] + two.metrics.snapshot()["messages_consumed"]
                == len(runs)
            ),
            20,
        )
        shares = (one.metrics.snapshot()["messages_consumed"], two.metrics.snapshot()["messages_consumed"])
    assert sorted(event_ids(out)) == want
    assert all(shares), shares


def committed(broker: Broker, group: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(broker.consumer_config(group))
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


def test_onex_kafka_away_events_wait_in_the_spool_and_offsets_follow_them(
    broker: Broker,
    own_broker: Broker,
    tmp_path: Path,
) -> None:
    # the OTLP topic on one cluster, the onex topics on another, which goes away
    settings = bridge_settings(own_broker, tmp_path / "spool", kafka_delivery_timeout_ms=1500)
    topic = settings.bridge_spans_topic
    broker.create_topics(topic, settings.bridge_dlq_topic)
    own_broker.stop()
    runs = executions(3)
    want = sorted(r.event_id for run in runs for s in run for r in span_to_records(s))
    produce_values(broker, topic, [proto_value(run) for run in runs])
    with running_bridge(settings, bootstrap_servers=broker.bootstrap) as bridge:
        wait_until(
            lambda: committed(broker, settings.bridge_group_id, topic) == 3, 60, "the offsets committed"
        )
        # committed only once every event was settled: here, in the spool
        stats = bridge.exporter.stats()
        assert (stats["spooled"], stats["delivered"]) == (len(want), 0)
        health = bridge.metrics.health()
        assert health["status"] == "degraded" and "spool" in health["reasons"]
        own_broker.start()
        wait_until(lambda: bridge.exporter.stats()["spool_bytes"] == 0, 60, "the spool resent")
        out = read_exactly(own_broker, topics(settings), len(want))
        assert bridge.metrics.health()["status"] == "healthy"
    assert sorted(event_ids(out)) == want


def test_log_records_are_read_and_garbage_on_the_logs_topic_is_dead_lettered(
    broker: Broker,
    tmp_path: Path,
) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    settings = bridge_settings(broker, tmp_path)
    logs_topic = settings.bridge_logs_topic
    broker.create_topics(logs_topic, settings.bridge_dlq_topic, *topics(settings))
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(3):  # records of no producer the bridge knows: read, mapped to nothing
        scope_logs.log_records.add(time_unix_nano=i + 1).body.string_value = f"line {i}"
    produce_values(broker, logs_topic, [request.SerializeToString(), b"\x08\xff\xff"])
    with running_bridge(settings) as bridge:
        (dead,) = read_exactly(broker, [settings.bridge_dlq_topic], 1)
        wait_until(lambda: bridge.metrics.snapshot()["messages_consumed"] == 2, 20)
        snap = bridge.metrics.snapshot()
    assert dict(dead.headers())[c.DLQ_HEADER_TOPIC] == logs_topic.encode()
    assert dict(dead.headers())[c.DLQ_HEADER_OFFSET] == b"1"
    assert (snap["log_records_received"], snap["dlq_messages"]) == (3, 1)


def test_a_stop_while_events_cannot_be_delivered_is_bounded_and_commits_nothing(
    broker: Broker,
    own_broker: Broker,
    tmp_path: Path,
) -> None:
    settings = bridge_settings(own_broker, tmp_path / "spool", kafka_delivery_timeout_ms=60_000)
    topic = settings.bridge_spans_topic
    broker.create_topics(topic, settings.bridge_dlq_topic)
    own_broker.stop()  # the onex topics' Kafka is away; the exporter keeps trying for a minute
    produce_values(broker, topic, [proto_value(run) for run in executions(2)])
    bridge = Bridge(
        options_from_settings(settings, bootstrap_servers=broker.bootstrap, shutdown_timeout_s=2.0), settings
    )
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: bridge.exporter.stats()["events"] > 0, 30, "events published")
    finally:
        stopped_at = time.monotonic()
        bridge.request_stop()
        thread.join(30)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 15  # the shutdown timeout, plus closing
    assert committed(broker, settings.bridge_group_id, topic) < 0  # nothing committed
    assert bridge.exporter.stats()["spooled"] == bridge.exporter.stats()["events"]
