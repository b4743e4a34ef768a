"""Decoding the Collector Kafka exporter's messages into SDK spans the mapping reads as its own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from onex_exporters.bridge import DecodeError
from onex_exporters.bridge.otlp import decode_logs, decode_traces, spans_from_request
from onex_exporters.mapping import span_to_records
from onex_exporters.mapping_span import may_map
from onex_otel.conventions import ATTR_NAME, EVENT_DECISION, GEN_AI_OPERATION_NAME
from onex_otel.dialects import CC_PREFIX, CC_TRACES_SCOPES
from tests.bridge.otlp_messages import json_value, proto_value
from tests.exporters.spans import SpanFactory, foreign_spans, run_full_execution

ENCODINGS = ("otlp_proto", "otlp_json")


def encoded(spans: list[ReadableSpan], encoding: str) -> bytes:
    return proto_value(spans) if encoding == "otlp_proto" else json_value(spans)


def shape(span: ReadableSpan) -> dict[str, Any]:
    """Everything of a span that the OTLP wire carries."""
    ctx = span.context
    assert ctx is not None
    return {
        "name": span.name,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
        "trace_state": ctx.trace_state.to_header(),
        "parent": (span.parent.span_id, span.parent.is_remote) if span.parent else None,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events],
        "links": [(lk.context.trace_id, lk.context.span_id, dict(lk.attributes or {})) for lk in span.links],
        "status": (span.status.status_code, span.status.description),
        "times": (span.start_time, span.end_time),
        "resource": dict(span.resource.attributes),
        "scope": (span.instrumentation_scope.name, span.instrumentation_scope.version)
        if span.instrumentation_scope
        else None,
    }


def rich_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "ts-agent", "deployment.count": 3}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("some.library", "1.2.3")
    with tracer.start_as_current_span("invoke_agent planner", kind=SpanKind.SERVER) as root:
        root.set_attributes(
            {
                "s": "text",
                "i": 42,
                "f": 0.5,
                "b": True,
                "strs": ("a", "b"),
                "ints": (1, 2),
                "floats": (1.5,),
                "bools": (True, False),
                "big": 2**62,
            }
        )
        root.add_event("something", {"k": "v", "n": 7}, timestamp=1_700_000_000_123_456_789)
        with tracer.start_as_current_span(
            "execute_tool search",
            kind=SpanKind.CLIENT,
            links=[Link(root.get_span_context(), {"why": "follows"})],
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "tool broke"))
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_spans_survive_the_collectors_encoding(encoding: str) -> None:
    spans = rich_spans()
    decoded = spans_from_request(decode_traces(encoded(spans, encoding), encoding))
    assert [shape(s) for s in decoded] == [shape(s) for s in spans]
    root = decoded[-1]
    assert root.attributes is not None
    assert root.attributes["strs"] == ("a", "b") and root.attributes["big"] == 2**62
    assert decoded[0].parent is not None and decoded[0].parent.span_id == root.context.span_id
    assert all(s.context.trace_flags.sampled for s in decoded)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_mapping_reads_decoded_spans_as_the_originals(encoding: str) -> None:
    factory = SpanFactory()
    run_full_execution(factory)
    run_full_execution(factory, fail=True)
    spans = factory.finished()
    decoded = spans_from_request(decode_traces(encoded(spans, encoding), encoding))
    want = [r for s in spans for r in span_to_records(s)]
    got = [r for s in decoded for r in span_to_records(s)]
    assert len(want) > 20
    assert [(r.event_type, r.envelope, r.traceparent, r.tracestate) for r in got] == [
        (r.event_type, r.envelope, r.traceparent, r.tracestate) for r in want
    ]


def _spans_of_every_kind() -> list[ReadableSpan]:
    """onex executions, spans of other instrumentations, and each reason a span may map."""
    factory = SpanFactory()
    run_full_execution(factory)
    run_full_execution(factory, fail=True)
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    other = provider.get_tracer("some.library")
    with other.start_as_current_span("with a decision event") as span:
        span.add_event(EVENT_DECISION, {ATTR_NAME: "route"})
    with other.start_as_current_span(CC_PREFIX + "tool"):
        pass
    with provider.get_tracer(min(CC_TRACES_SCOPES)).start_as_current_span("any name"):
        pass
    late = {f"k{i}": i for i in range(20)}
    with other.start_as_current_span("a marker last", attributes={**late, GEN_AI_OPERATION_NAME: "chat"}):
        pass
    provider.shutdown()
    return [*foreign_spans(3), *factory.finished(), *memory.get_finished_spans(), *foreign_spans(3)]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_spans_that_map_to_nothing_are_left_out_before_they_are_built(encoding: str) -> None:
    spans = _spans_of_every_kind()
    request = decode_traces(encoded(spans, encoding), encoding)
    every = spans_from_request(request)
    kept = spans_from_request(request, mappable_only=True)
    assert len(every) == len(spans)
    # exactly the spans the mapping would have passed over are left out
    assert [shape(s) for s in kept] == [shape(s) for s in every if may_map(s)]
    assert len(kept) == len(every) - 6
    got = [(r.event_type, r.envelope, r.traceparent) for s in kept for r in span_to_records(s)]
    want = [(r.event_type, r.envelope, r.traceparent) for s in every for r in span_to_records(s)]
    assert got == want and len(want) > 20


def test_a_left_out_span_with_bad_ids_does_not_stop_the_others() -> None:
    request = decode_traces(proto_value(_spans_of_every_kind()), "otlp_proto")
    mappable = [shape(s) for s in spans_from_request(request, mappable_only=True)]
    foreign = request.resource_spans[0].scope_spans[0].spans[0]
    assert foreign.name in ("GET", "SELECT onex")
    foreign.trace_id = b"\x00" * 16
    with pytest.raises(DecodeError, match="trace id is zero"):
        spans_from_request(request)
    assert [shape(s) for s in spans_from_request(request, mappable_only=True)] == mappable


def test_otlp_json_as_written_by_hand_per_the_specification() -> None:
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "node-agent"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "@opentelemetry/instrumentation", "version": "0.1"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "execute_tool read_file",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "kind": 3,
                                "attributes": [
                                    {
                                        "key": "gen_ai.operation.name",
                                        "value": {"stringValue": "execute_tool"},
                                    },
                                    {"key": "retries", "value": {"intValue": "3"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                                    {
                                        "key": "tags",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "x"}, {"stringValue": "y"}]
                                            }
                                        },
                                    },
                                    {
                                        "key": "args",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "path", "value": {"stringValue": "/tmp/a"}}
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "status": {"code": 2, "message": "denied"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (span,) = spans_from_request(decode_traces(json.dumps(doc).encode(), "otlp_json"))
    assert span.context.trace_id == 0x5B8EFFF798038103D269B633813FC60C
    assert span.context.span_id == 0xEEE19B7EC3C1B174
    assert span.parent is not None and span.parent.span_id == 0xEEE19B7EC3C1B173
    assert span.kind is SpanKind.CLIENT
    assert (span.start_time, span.end_time) == (1544712660000000000, 1544712661000000000)
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "retries": 3,
        "ratio": 0.25,
        "tags": ("x", "y"),
        "args": '{"path":"/tmp/a"}',
    }
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "denied")
    assert span.resource.attributes["service.name"] == "node-agent"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "@opentelemetry/instrumentation"


def test_kvlist_and_bytes_values_become_text() -> None:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(name="s", trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    )
    span.attributes.append(
        KeyValue(
            key="kv",
            value=AnyValue(
                kvlist_value=KeyValueList(
                    values=[
                        KeyValue(key="a", value=AnyValue(int_value=1)),
                        KeyValue(
                            key="l",
                            value=AnyValue(array_value=ArrayValue(values=[AnyValue(bool_value=True)])),
                        ),
                    ]
                )
            ),
        )
    )
    span.attributes.append(KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\xff")))
    span.attributes.append(
        KeyValue(
            key="nested",
            value=AnyValue(
                array_value=ArrayValue(
                    values=[
                        AnyValue(
                            kvlist_value=KeyValueList(
                                values=[KeyValue(key="x", value=AnyValue(string_value="y"))]
                            )
                        )
                    ]
                )
            ),
        )
    )
    span.attributes.append(KeyValue(key="empty", value=AnyValue()))
    (decoded,) = spans_from_request(request)
    assert dict(decoded.attributes or {}) == {
        "kv": '{"a":1,"l":[true]}',
        "raw": "AP8=",
        "nested": ('{"x":"y"}',),
    }


@pytest.mark.parametrize(
    ("encoding", "value", "reason"),
    [
        ("otlp_proto", b"\xff\xfe garbage, not protobuf", "not an OTLP protobuf message"),
        ("otlp_proto", b'{"resourceSpans": []}', "not an OTLP protobuf message"),
        ("otlp_json", b"not json at all", "not JSON"),
        ("otlp_json", b"[1, 2]", "must be an object"),
        (
            "otlp_json",
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "scopeSpans": [
                                {
                                    "spans": [
                                        {"traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": "eee19b7ec3c1b174"}
                                    ]
                                }
                            ]
                        }
                    ]
                }
            ).encode(),
            "traceId is not hex",
        ),
        (
            "otlp_json",
            json.dumps(
                {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{"traceId": "5b8e", "spanId": "eee19b7ec3c1b174"}]}]}
                    ]
                }
            ).encode(),
            "16 bytes",
        ),
        (
            "otlp_json",
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "scopeSpans": [
                                {
                                    "spans": [
                                        {
                                            "traceId": "5b8efff798038103d269b633813fc60c",
                                            "startTimeUnixNano": "soon",
                                        }
                                    ]
                                }
                            ]
                        }
                    ]
                }
            ).encode(),
            "not OTLP/JSON",
        ),
        ("xml", b"<spans/>", "unknown encoding"),
    ],
)
def test_what_is_not_an_export_request_is_a_decode_error(encoding: str, value: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_traces(value, encoding)


def test_spans_without_valid_ids_are_a_decode_error() -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(
        name="zero", trace_id=b"\x00" * 16, span_id=b"\x02" * 8
    )
    with pytest.raises(DecodeError, match="trace id is zero"):
        spans_from_request(request)
    value = request.SerializeToString()
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01" * 15
    with pytest.raises(DecodeError, match="16 bytes"):
        spans_from_request(decode_traces(request.SerializeToString(), "otlp_proto"))
    assert value


def test_logs_from_the_official_encoder_decode_in_both_encodings() -> None:
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        InMemoryLogRecordExporter,
        SimpleLogRecordProcessor,
    )

    from tests.bridge.otlp_messages import logs_proto_value, otlp_json

    provider = LoggerProvider()
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.0.0")
    logger.emit(
        LogRecord(
            timestamp=5,
            body="claude_code.tool_result",
            trace_id=0x1F,
            span_id=0x2F,
            attributes={"event.name": "tool_result", "tool_name": "Read", "duration_ms": 12},
        )
    )
    records = memory.get_finished_logs()
    value = logs_proto_value(records)
    request = decode_logs(value, "otlp_proto")
    (record,) = request.resource_logs[0].scope_logs[0].log_records
    assert record.body.string_value == "claude_code.tool_result"
    assert int.from_bytes(record.trace_id, "big") == 0x1F
    assert decode_logs(otlp_json(request), "otlp_json") == request
    assert b'"traceId": "0000000000000000000000000000001f"' in otlp_json(request)
    with pytest.raises(DecodeError):
        decode_logs(b"\x00garbage", "otlp_proto")
    provider.shutdown()
