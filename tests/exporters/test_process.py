"""Fork safety, self-tracing suppression and the zero-code entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from opentelemetry.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from onex_exporters.kafka import OnexKafkaSpanExporter
from onex_otel.conventions import EventType
from tests.exporters.helpers import decode, run_executions, settings_for
from tests.exporters.spans import SpanFactory
from tests.services.kafka import Broker

ROOT = Path(__file__).resolve().parents[2]


def test_forked_child_gets_a_working_producer(broker: Broker, tmp_path: Path) -> None:
    prefix = f"f{uuid.uuid4().hex[:8]}."
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.exporters.producer_proc",
            "fork",
            broker.bootstrap,
            str(tmp_path / "spool"),
            prefix,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    child = next(x for x in lines if "child" in x)
    parent = next(x for x in lines if "parent_status" in x)
    assert parent["parent_status"] == 0, child
    assert child["stats"]["delivered"] == child["stats"]["events"] == 4  # its own only
    assert parent["parent_stats"]["spooled"] == 0
    topic = f"{prefix}{EventType.EXECUTION_STARTED.value}"
    messages = broker.consume([topic], 5, timeout=30)  # parent: 2 + 2 after fork, child: 1
    cids = {str(env.correlation_id) for _, env in decode(messages)}
    assert child["child"] in cids


def test_own_kafka_io_is_not_traced_even_when_confluent_kafka_is_instrumented(
    broker: Broker, tmp_path: Path
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = ConfluentKafkaInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        import confluent_kafka

        # control: the instrumentation is active and traces an ordinary producer
        plain = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        plain.produce("control-topic", b"x")
        plain.flush(10)
        assert any(s.name.startswith("control-topic") for s in memory.get_finished_spans())
        memory.clear()

        settings = settings_for(broker.bootstrap, str(tmp_path))
        exporter = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
        factory = SpanFactory()
        run_executions(factory, 2)
        assert exporter.export(factory.finished()).name == "SUCCESS"
        assert exporter.force_flush(10_000)
        assert exporter.stats()["delivered"] > 20
        exporter.shutdown()
        assert memory.get_finished_spans() == ()
    finally:
        instrumentor.uninstrument()


AGENT = """
import json, uuid
from datetime import UTC, datetime
from opentelemetry import trace
from onex_otel import conventions as c
from onex_otel.lifecycle import ProgressReport, notify_progress
from onex_otel.ids import uuid7
cid = uuid.uuid4()
tracer = trace.get_tracer("agent")
ctx = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
    cid.int, 1, is_remote=True, trace_flags=trace.TraceFlags(1))))
attrs = {c.GEN_AI_OPERATION_NAME: "invoke_agent", c.ONEX_AGENT_NAME: "zero-code",
         c.ONEX_CORRELATION_ID: str(cid), c.ONEX_EXECUTION_ID: str(uuid.uuid4()),
         c.ONEX_STARTED_EVENT_ID: str(uuid7())}
with tracer.start_as_current_span("invoke_agent zero-code", context=ctx, attributes=attrs) as s:
    notify_progress(ProgressReport(s, "half", 50.0, {}, datetime.now(UTC)))
    s.set_attribute(c.ONEX_EXECUTION_STATUS, "success")
print(json.dumps({"cid": str(cid)}))
"""


def test_entry_point_publishes_with_no_code_change(broker: Broker, tmp_path: Path) -> None:
    prefix = f"z{uuid.uuid4().hex[:8]}."
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OTEL_TRACES_EXPORTER": "onex_kafka",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "KAFKA_BROKERS": broker.bootstrap,
        "ONEX_TOPIC_PREFIX": prefix,
        "ONEX_SPOOL_DIR": str(tmp_path / "spool"),
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    done = subprocess.run(
        [str(instrument), sys.executable, "-c", AGENT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cid = json.loads(done.stdout.strip().splitlines()[-1])["cid"]
    names = [
        f"{prefix}{et.value}"
        for et in (
            EventType.EXECUTION_STARTED,
            EventType.EXECUTION_PROGRESS,
            EventType.EXECUTION_COMPLETED,
            EventType.AGENT_ACTION,
        )
    ]
    messages = broker.consume(names, 5, timeout=60)
    decoded = decode(messages)
    assert {str(env.correlation_id) for _, env in decoded} == {cid}
    types = sorted(env.event_type.value for _, env in decoded)
    assert types == sorted(
        [
            EventType.EXECUTION_STARTED.value,
            EventType.EXECUTION_PROGRESS.value,
            EventType.EXECUTION_COMPLETED.value,
            EventType.AGENT_ACTION.value,
            EventType.AGENT_ACTION.value,
        ]
    )
