"""The collector's own spans: batch writes linked to the producing traces, psycopg spans beneath."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind

from onex_collector.consumer import Collector, CollectorOptions
from onex_collector.tracing import parse_traceparent, producing_traces
from onex_otel import conventions as c
from onex_otel.envelope import AgentActionPayload, OnexEnvelopeV1
from tests.collector.conftest import options, produce, query, running, wait_for
from tests.services.kafka import Broker
from tests.services.postgres import Database


def test_parse_traceparent() -> None:
    ctx = parse_traceparent("00-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01")
    assert ctx is not None and ctx.is_remote and ctx.trace_flags.sampled
    assert ctx.trace_id == int("ad12146ab7d04a4786bf7ec298ce2c81", 16)
    for bad in (
        None,
        "",
        "00-0-0-0",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "ff-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01",
        "00-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01-extra",
        b"00-zz12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01",
    ):
        assert parse_traceparent(bad) is None


def test_one_producer_per_trace_and_bounded() -> None:
    tp = b"00-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01"
    other_span = b"00-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b8-01"
    same_trace_spelled_otherwise = b"00-AD12146AB7D04A4786BF7EC298CE2C81-00f067aa0ba902b9-01"
    other_trace = b"00-bd12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01"
    contexts = producing_traces(
        [
            [("x", b""), ("traceparent", tp)],
            [("traceparent", tp)],
            None,
            [("traceparent", other_span)],
            [("traceparent", same_trace_spelled_otherwise)],
            [("traceparent", b"00-bad")],
            [("traceparent", other_trace)],
        ]
    )
    assert [(c.trace_id, c.span_id) for c in contexts] == [
        (0xAD12146AB7D04A4786BF7EC298CE2C81, 0x00F067AA0BA902B7),  # the first span of the trace
        (0xBD12146AB7D04A4786BF7EC298CE2C81, 0x00F067AA0BA902B7),
    ]
    many = [[("traceparent", f"00-{i + 1:032x}-{i + 1:016x}-01".encode())] for i in range(500)]
    assert len(producing_traces(many)) == 128


class _Message:
    """Just enough of a consumed message for Collector._submit; counts header reads."""

    header_reads = 0

    def __init__(self, value: bytes) -> None:
        self._value = value

    def topic(self) -> str:
        return "onex.evt.omniclaude.agent-actions.v1"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        _Message.header_reads += 1
        return [(c.HEADER_TRACEPARENT, b"00-ad12146ab7d04a4786bf7ec298ce2c81-00f067aa0ba902b7-01")]


class _Writer:
    def start(self, events: Any, *, writers: int = 2) -> Any:
        return None


@pytest.mark.parametrize("traced", [False, True])
def test_headers_are_read_only_when_the_batch_span_records(traced: bool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    collector = Collector(
        CollectorOptions(bootstrap_servers="127.0.0.1:9", conninfo="postgresql://x@127.0.0.1:9/x"),
        writer=_Writer(),  # type: ignore[arg-type]
        tracer_provider=provider if traced else NoOpTracerProvider(),
    )
    env = OnexEnvelopeV1.create(
        AgentActionPayload(
            correlation_id=uuid.uuid4(), agent_name="a", action_type="tool_call", action_name="t"
        )
    )
    _Message.header_reads = 0
    collector._submit([_Message(env.to_json()), _Message(env.to_json())])
    collector._inflight[0].span.end()
    assert _Message.header_reads == (2 if traced else 0)
    (batch,) = exporter.get_finished_spans() or [None]
    if traced:
        assert batch is not None and [lk.context.span_id for lk in batch.links] == [0x00F067AA0BA902B7]
    else:
        assert batch is None


@pytest.mark.integration
def test_batch_span_links_to_producers_with_psycopg_children(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    corr = uuid.uuid4()
    span_id = 0x00F067AA0BA902B7
    env = OnexEnvelopeV1.create(
        AgentActionPayload(correlation_id=corr, agent_name="a", action_type="tool_call", action_name="traced")
    )
    traceparent = f"00-{corr.hex}-{span_id:016x}-01".encode()
    produce(broker, [env], headers=[(c.HEADER_TRACEPARENT, traceparent)])
    collector = Collector(options(broker, migrated), tracer_provider=provider)
    with running(collector):
        wait_for(
            lambda: query(migrated, "SELECT 1 FROM agent_actions WHERE id = %s", (env.event_id,)),
            what="the row",
        )
    provider.force_flush()
    spans = exporter.get_finished_spans()
    batches = [
        s
        for s in spans
        if s.name == c.SPAN_COLLECTOR_BATCH and any(link.context.trace_id == corr.int for link in s.links)
    ]
    assert len(batches) == 1
    (batch,) = batches
    assert batch.kind == SpanKind.CONSUMER
    (link,) = [lk for lk in batch.links if lk.context.trace_id == corr.int]
    assert link.context.span_id == span_id
    assert batch.attributes is not None
    assert batch.attributes[c.ATTR_COLLECTOR_ROWS_INSERTED] >= 1  # type: ignore[operator]
    children = [s for s in spans if s.parent is not None and s.parent.span_id == batch.context.span_id]
    assert children, "psycopg spans beneath the batch span"
    assert all(s.context.trace_id == batch.context.trace_id for s in children)
    statements = " ".join(str((s.attributes or {}).get("db.statement", s.name)) for s in children)
    assert "onex_ingest" in statements  # the batch write (migration 0003)
    provider.shutdown()
