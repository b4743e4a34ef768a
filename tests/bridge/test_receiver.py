"""The OTLP receiver: real OTLP exporters in, export requests on the otlp topics out.

Senders nobody here wrote (the OpenTelemetry Python OTLP exporters, a Node.js agent on the
official JavaScript SDK) and raw HTTP / gRPC clients for every answer of the specification;
a real broker, also stopped and restarted while the receiver accepts requests.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import json
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from onex_exporters.bridge.receiver import OtlpReceiver, parse_address
from onex_otel.config import Settings, load_settings
from tests.services.kafka import Broker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NODE_AGENT = Path(__file__).resolve().parent / "node_agent"
TraceRequest = trace_service_pb2.ExportTraceServiceRequest
LogsRequest = logs_service_pb2.ExportLogsServiceRequest
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


# -- helpers -----------------------------------------------------------------------------------
def receiver_settings(bootstrap: str, tmp_path: Path, **overrides: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "spool_dir": str(tmp_path / "spool"),
        "spool_retry_max_s": 1.0,
        "bridge_spans_topic": f"otlp_spans.{tag}",
        "bridge_logs_topic": f"otlp_logs.{tag}",
    }
    values.update(overrides)
    return load_settings({}, **values)


@contextlib.contextmanager
def running_receiver(
    settings: Settings, *, grpc_on: bool = True, http_on: bool = True
) -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(
        settings,
        grpc_address="127.0.0.1:0" if grpc_on else None,
        http_address="127.0.0.1:0" if http_on else None,
    )
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop(10)


def consume(broker: Broker, topic: str, count: int, timeout: float = 30.0, linger: float = 2.0) -> list[Any]:
    """The messages of ``topic``: waits (bounded) for ``count``, then ``linger`` seconds more,
    so that a message written twice shows.
    """
    from confluent_kafka import Consumer

    consumer = Consumer(broker.consumer_config())
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                messages.append(msg)
            if len(messages) >= count:
                deadline = min(deadline, time.monotonic() + linger)
    finally:
        consumer.close()
    return messages


def received_requests(
    broker: Broker, topic: str, count: int, cls: type[Any], timeout: float = 30.0
) -> list[Any]:
    """The export requests on an otlp topic (what the bridge consumes), as ``cls``."""
    messages = consume(broker, topic, count, timeout)
    assert all(m.key() is None for m in messages)
    return [cls.FromString(m.value()) for m in messages]


def make_spans(count: int = 2, service: str = "receiver-test") -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("receiver.tests", "1.0")
    with tracer.start_as_current_span(
        "invoke_agent planner", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        for i in range(count - 1):
            with tracer.start_as_current_span(
                f"execute_tool t{i}", attributes={"gen_ai.tool.name": f"t{i}", "n": i, "tags": ("a", "b")}
            ) as span:
                span.add_event("progress", {"pct": 50})
    provider.shutdown()
    return list(memory.get_finished_spans())


def make_logs(count: int = 2, in_span: bool = False) -> list[ReadableLogRecord]:
    """Log records (in a span: with its trace and span ids)."""
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("com.anthropic.claude_code.events", "1.0")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("interaction") if in_span else contextlib.nullcontext():
        for i in range(count):
            logger.emit(
                LogRecord(
                    body=f"claude_code.tool_result {i}",
                    severity_number=SeverityNumber.INFO,
                    attributes={
                        "event.name": "tool_result",
                        "tool_name": "Bash",
                        "duration_ms": 12 + i,
                        "success": "true",
                    },
                )
            )
    provider.shutdown()
    return list(memory.get_finished_logs())


def post(
    port: int,
    path: str,
    body: bytes,
    content_type: str | None = "application/x-protobuf",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def hex_ids(node: Any) -> Any:
    """OTLP/JSON as a client writes it: trace and span ids in hex, not base64."""
    if isinstance(node, dict):
        return {
            k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hex_ids(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [hex_ids(v) for v in node]
    return node


def otlp_json(request: Any) -> bytes:
    data = hex_ids(json_format.MessageToDict(request, use_integers_for_enums=True))
    data["aFieldOfTomorrow"] = {"ignored": True}  # receivers MUST ignore unknown fields
    return json.dumps(data).encode()


def status_of(body: bytes, content_type: str) -> status_pb2.Status:
    if content_type == "application/json":
        return json_format.Parse(body, status_pb2.Status())
    return status_pb2.Status.FromString(body)


def raw_call(port: int, method: str, body: bytes) -> tuple[bytes | None, grpc.RpcError | None]:
    """One unary call with the raw bytes given (a raw gRPC stub)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            return call(body, timeout=30), None
        except grpc.RpcError as exc:
            return None, exc


def with_bad_ids(request: Any) -> None:
    """Add an item whose ids are malformed (as a sender with a bug would)."""
    if isinstance(request, TraceRequest):
        spans = request.resource_spans[0].scope_spans[0].spans
        bad = spans.add()
        bad.CopyFrom(spans[0])
        bad.trace_id = b"\x01" * 8  # 8 bytes: not a trace id
    else:
        records = request.resource_logs[0].scope_logs[0].log_records
        bad = records.add()
        bad.CopyFrom(records[0])
        bad.span_id = b"\x02" * 3


# -- the official Python OTLP exporters --------------------------------------------------------
def test_python_otlp_exporters_over_grpc_and_http_reach_the_otlp_topics(
    broker: Broker, tmp_path: Path
) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path)
    with running_receiver(settings) as receiver:
        grpc_spans, http_spans = make_spans(3), make_spans(2)
        grpc_logs, http_logs = make_logs(2), make_logs(3)
        grpc_url = f"http://127.0.0.1:{receiver.grpc_port}"
        http_url = f"http://127.0.0.1:{receiver.http_port}"
        trace_exporters = [
            GrpcSpans(endpoint=grpc_url, insecure=True),
            HttpSpans(endpoint=f"{http_url}/v1/traces"),
        ]
        log_exporters = [
            GrpcLogs(endpoint=grpc_url, insecure=True),
            HttpLogs(endpoint=f"{http_url}/v1/logs", compression=None),
        ]
        try:
            assert trace_exporters[0].export(grpc_spans).name == "SUCCESS"
            assert trace_exporters[1].export(http_spans).name == "SUCCESS"
            assert log_exporters[0].export(grpc_logs).name == "SUCCESS"
            assert log_exporters[1].export(http_logs).name == "SUCCESS"
        finally:
            for exporter in [*trace_exporters, *log_exporters]:
                exporter.shutdown()  # type: ignore[attr-defined]
        metrics = receiver.metrics()
        assert metrics["otlp_requests_accepted"] == 4
        assert metrics["otlp_spans_accepted"] == 5
        assert metrics["otlp_log_records_accepted"] == 5
        assert metrics["otlp_messages_delivered"] == 4
        assert metrics["otlp_pending_bytes"] == 0
        assert receiver.health()["status"] == "healthy"

    traces = received_requests(broker, settings.bridge_spans_topic, 2, TraceRequest)
    logs = received_requests(broker, settings.bridge_logs_topic, 2, LogsRequest)
    # each message is the very export request the SDK's encoder makes of those spans / records
    assert sorted(r.SerializeToString(deterministic=True) for r in traces) == sorted(
        encode_spans(s).SerializeToString(deterministic=True) for s in (grpc_spans, http_spans)
    )
    assert sorted(r.SerializeToString(deterministic=True) for r in logs) == sorted(
        encode_logs(x).SerializeToString(deterministic=True) for x in (grpc_logs, http_logs)
    )


def test_compressed_exporters(broker: Broker, tmp_path: Path) -> None:
    from grpc import Compression as GrpcCompression
    from opentelemetry.exporter.otlp.proto.http import Compression

    settings = receiver_settings(broker.bootstrap, tmp_path)
    with running_receiver(settings) as receiver:
        spans, grpc_spans, logs = make_spans(4), make_spans(3), make_logs(2)
        url = f"http://127.0.0.1:{receiver.http_port}"
        span_exporter = HttpSpans(endpoint=f"{url}/v1/traces", compression=Compression.Gzip)
        grpc_exporter = GrpcSpans(
            endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True, compression=GrpcCompression.Gzip
        )
        log_exporter = HttpLogs(endpoint=f"{url}/v1/logs", compression=Compression.Deflate)
        try:
            assert span_exporter.export(spans).name == "SUCCESS"
            assert grpc_exporter.export(grpc_spans).name == "SUCCESS"
            assert log_exporter.export(logs).name == "SUCCESS"
        finally:
            span_exporter.shutdown()  # type: ignore[no-untyped-call]
            grpc_exporter.shutdown()
            log_exporter.shutdown()  # type: ignore[no-untyped-call]
    assert sorted(
        r.SerializeToString(deterministic=True)
        for r in received_requests(broker, settings.bridge_spans_topic, 2, TraceRequest)
    ) == sorted(encode_spans(s).SerializeToString(deterministic=True) for s in (spans, grpc_spans))
    assert received_requests(broker, settings.bridge_logs_topic, 1, LogsRequest) == [encode_logs(logs)]


# -- every answer, with raw clients ------------------------------------------------------------
def test_http_answers(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path, otlp_max_request_bytes=64 * 1024)
    with running_receiver(settings, grpc_on=False) as receiver:
        port = receiver.http_port
        assert port
        request = encode_spans(make_spans(3))
        body = request.SerializeToString()

        # protobuf, gzip: 200, an empty ExportTraceServiceResponse in protobuf
        code, headers, answer = post(
            port, "/v1/traces", gzip.compress(body), headers={"Content-Encoding": "gzip"}
        )
        assert (code, headers["content-type"]) == (200, "application/x-protobuf")
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer)
        assert not response.HasField("partial_success")

        # OTLP/JSON with hex ids (and a field of a later version): 200, answered in JSON;
        # the topic gets the protobuf encoding of the same request
        code, headers, answer = post(port, "/v1/traces", otlp_json(request), "application/json")
        assert (code, headers["content-type"], json.loads(answer)) == (200, "application/json", {})

        # partial success: one span with a malformed trace id is rejected, the rest kept
        partial = TraceRequest()
        partial.CopyFrom(request)
        with_bad_ids(partial)
        code, headers, answer = post(
            port, "/v1/traces", otlp_json(partial), "application/json; charset=utf-8"
        )
        assert code == 200
        body_json = json.loads(answer)
        assert body_json["partialSuccess"]["rejectedSpans"] == "1"
        assert "malformed ids" in body_json["partialSuccess"]["errorMessage"]
        code, _, answer = post(port, "/v1/traces", partial.SerializeToString())
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer)
        assert (code, response.partial_success.rejected_spans) == (200, 1)

        # an empty request: success, nothing written
        assert post(port, "/v1/traces", b"")[0] == 200

        # 400: a body that does not decode; the answer is a google.rpc.Status with a BadRequest
        for payload, media in (
            (b"\xff\xfe not protobuf", "application/x-protobuf"),
            (b"{not json", "application/json"),
            (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json"),
            (b"\x1f\x8b broken gzip", "application/x-protobuf"),
        ):
            extra = {"Content-Encoding": "gzip"} if payload.startswith(b"\x1f\x8b") else None
            code, headers, answer = post(port, "/v1/traces", payload, media, headers=extra)
            assert (code, headers["content-type"]) == (400, media), payload
            status = status_of(answer, media)
            assert status.message
            details = [error_details_pb2.BadRequest() for _ in status.details]
            assert [d.Unpack(x) for d, x in zip(status.details, details, strict=True)] == [True]

        # 415: another content type, another content encoding
        code, headers, answer = post(port, "/v1/traces", body, "text/plain")
        assert code == 415
        assert "Content-Type" in status_pb2.Status.FromString(answer).message
        code, _, answer = post(port, "/v1/traces", body, headers={"Content-Encoding": "br"})
        assert code == 415
        assert code == post(port, "/v1/traces", body, None)[0]

        # 413: larger than ONEX_OTLP_MAX_REQUEST_BYTES as sent, or once decompressed
        big = b"\x00" * (64 * 1024 + 1)
        code, headers, answer = post(port, "/v1/traces", big)
        assert (code, headers.get("connection")) == (413, "close")
        assert "larger than" in status_pb2.Status.FromString(answer).message
        code, _, _ = post(
            port, "/v1/logs", gzip.compress(big), "application/json", headers={"Content-Encoding": "gzip"}
        )
        assert code == 413

        # 404 / 405
        code, _, answer = post(port, "/v1/metrics", body)
        assert code == 404
        code, headers, _ = post(port, "/v1/traces", b"", method="GET")
        assert (code, headers["allow"]) == (405, "POST")
        assert post(port, "/elsewhere", b"", method="GET")[0] == 404

        metrics = receiver.metrics()
        assert metrics["otlp_requests_accepted"] == 5
        assert metrics["otlp_requests_partial"] == 2
        assert metrics["otlp_spans_rejected"] == 2
        assert metrics["otlp_requests_malformed"] == 4
        assert metrics["otlp_requests_unsupported"] == 3
        assert metrics["otlp_requests_too_large"] == 2

    messages = received_requests(broker, settings.bridge_spans_topic, 4, TraceRequest)
    assert messages == [request, request, request, request]  # the bad span is not among them


def test_logs_chunked_and_json(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path)
    with running_receiver(settings, grpc_on=False) as receiver:
        assert receiver.http_port
        in_span = encode_logs(make_logs(2, in_span=True))
        record = in_span.resource_logs[0].scope_logs[0].log_records[0]
        assert (len(record.trace_id), len(record.span_id)) == (16, 8)
        code, headers, answer = post(receiver.http_port, "/v1/logs", otlp_json(in_span), "application/json")
        assert (code, headers["content-type"], json.loads(answer)) == (200, "application/json", {})
        request = encode_logs(make_logs(2))
        body = request.SerializeToString()
        conn = http.client.HTTPConnection("127.0.0.1", receiver.http_port, timeout=30)
        try:
            conn.request(
                "POST",
                "/v1/logs",
                body=iter([body[:10], body[10:]]),
                headers={"Content-Type": "application/x-protobuf"},
                encode_chunked=True,
            )
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    got = received_requests(broker, settings.bridge_logs_topic, 2, LogsRequest)
    assert sorted(r.SerializeToString(deterministic=True) for r in got) == sorted(
        r.SerializeToString(deterministic=True) for r in (in_span, request)
    )


def test_grpc_answers(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path, otlp_max_request_bytes=64 * 1024)
    with running_receiver(settings, http_on=False) as receiver:
        assert receiver.grpc_port
        port = receiver.grpc_port
        logs = encode_logs(make_logs(2))
        partial = LogsRequest()
        partial.CopyFrom(logs)
        with_bad_ids(partial)
        answer, error = raw_call(port, LOGS_EXPORT, partial.SerializeToString())
        assert error is None and answer is not None
        response = logs_service_pb2.ExportLogsServiceResponse.FromString(answer)
        assert response.partial_success.rejected_log_records == 1
        assert "malformed ids" in response.partial_success.error_message

        answer, error = raw_call(port, TRACE_EXPORT, b"\xff\xfe not protobuf")
        assert error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = dict(error.trailing_metadata())["grpc-status-details-bin"]
        bad = error_details_pb2.BadRequest()
        assert status_pb2.Status.FromString(details).details[0].Unpack(bad)

        # too large: RESOURCE_EXHAUSTED without retry info (not to be retried)
        answer, error = raw_call(port, TRACE_EXPORT, b"\x00" * (64 * 1024 + 1))
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "google.rpc.retryinfo-bin" not in dict(error.trailing_metadata() or ())

        answer, error = raw_call(port, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", b"")
        assert error is not None and error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert received_requests(broker, settings.bridge_logs_topic, 1, LogsRequest) == [logs]


def test_large_requests_are_split_and_oversized_items_rejected(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path, otlp_max_message_bytes=4096)
    with running_receiver(settings, http_on=False) as receiver:
        assert receiver.grpc_port
        spans = make_spans(80)
        request = encode_spans(spans)
        huge = request.resource_spans[0].scope_spans[0].spans.add()
        huge.CopyFrom(request.resource_spans[0].scope_spans[0].spans[0])
        huge.name = "x" * 5000
        assert request.ByteSize() - huge.ByteSize() > 3 * 4096
        answer, error = raw_call(receiver.grpc_port, TRACE_EXPORT, request.SerializeToString())
        assert error is None and answer is not None
        partial = trace_service_pb2.ExportTraceServiceResponse.FromString(answer).partial_success
        assert partial.rejected_spans == 1
        assert "ONEX_OTLP_MAX_MESSAGE_BYTES" in partial.error_message
        parts = receiver.metrics()["otlp_messages_delivered"]
    assert parts >= 3
    messages = consume(broker, settings.bridge_spans_topic, int(parts))
    assert len(messages) == parts
    assert all(len(m.value()) <= 4096 for m in messages)
    got = [TraceRequest.FromString(m.value()) for m in messages]
    # every span but the oversized one, each once, with its resource and scope
    sent = [
        (s.span_id, s.SerializeToString())
        for s in request.resource_spans[0].scope_spans[0].spans
        if s.name != huge.name
    ]
    received = [
        (s.span_id, s.SerializeToString())
        for r in got
        for ss in r.resource_spans[0].scope_spans
        for s in ss.spans
    ]
    assert sorted(received) == sorted(sent)
    for r in got:
        assert r.resource_spans[0].resource == request.resource_spans[0].resource
        assert r.resource_spans[0].scope_spans[0].scope == request.resource_spans[0].scope_spans[0].scope


def test_a_request_kafka_refuses_for_good_is_rejected_not_retried(broker: Broker, tmp_path: Path) -> None:
    """Kafka refuses the message for good (larger than the producer allows): the items are
    rejected in a partial success (a retry could not help), not answered OK as if stored.
    """
    # a request alone is let in even when it is larger than the pending cap
    settings = receiver_settings(broker.bootstrap, tmp_path, otlp_max_pending_bytes=1024)
    receiver = OtlpReceiver(
        settings,
        grpc_address=None,
        http_address="127.0.0.1:0",
        producer_overrides={"message.max.bytes": 2000},
    )
    receiver.start()
    try:
        assert receiver.http_port
        small, large = encode_spans(make_spans(2)), encode_spans(make_spans(20))
        assert small.ByteSize() < 1500 < 2500 < large.ByteSize()
        code, _, answer = post(receiver.http_port, "/v1/traces", small.SerializeToString())
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer)
        assert (code, response.HasField("partial_success")) == (200, False)
        code, _, answer = post(receiver.http_port, "/v1/traces", large.SerializeToString())
        partial = trace_service_pb2.ExportTraceServiceResponse.FromString(answer).partial_success
        assert (code, partial.rejected_spans) == (200, 20)
        assert "Kafka refuses" in partial.error_message
        metrics = receiver.metrics()
        assert (metrics["otlp_messages_delivered"], metrics["otlp_messages_dropped"]) == (1, 1)
        assert (metrics["otlp_spans_accepted"], metrics["otlp_spans_rejected"]) == (2, 20)
        assert metrics["otlp_pending_bytes"] == 0
    finally:
        receiver.stop(5)
    assert received_requests(broker, settings.bridge_spans_topic, 1, TraceRequest) == [small]


def test_http_connections_are_bounded(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from onex_exporters.bridge import receiver as receiver_module

    monkeypatch.setattr(receiver_module, "_HTTP_CONNECTIONS", 2)
    settings = receiver_settings(broker.bootstrap, tmp_path)
    with running_receiver(settings, grpc_on=False) as receiver:
        port = receiver.http_port
        assert port
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.3)  # both accepted, each holding a handler thread
            code, headers, _ = post(port, "/v1/traces", b"")
            assert (code, headers["retry-after"]) == (503, "2")
        finally:
            for sock in idle:
                sock.close()
        # The slots come back once the handlers see the idle connections closed (each request's
        # own connection, too, holds a slot until its handler sees it closed: no second request
        # is asserted right after the first success).
        deadline = time.monotonic() + 10
        code = post(port, "/v1/traces", b"")[0]
        while code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            code = post(port, "/v1/traces", b"")[0]
        assert code == 200


def test_exporter_send_acknowledges_each_message_once(broker: Broker, tmp_path: Path) -> None:
    """``OnexKafkaSpanExporter.send``: each message's ack is called once with its outcome."""
    from onex_exporters.kafka import OnexKafkaSpanExporter
    from onex_exporters.spool import SpoolRecord

    settings = receiver_settings(broker.bootstrap, tmp_path)
    plain = OnexKafkaSpanExporter(settings, attach_lifecycle=False)
    with pytest.raises(ValueError, match="delivery reports of successes"):
        plain.send([SpoolRecord("t", b"v")])
    plain.shutdown()
    exporter = OnexKafkaSpanExporter(
        settings, attach_lifecycle=False, producer_overrides={"delivery.report.only.error": False}
    )
    outcomes: list[tuple[int, str]] = []
    done = threading.Event()

    def ack_for(i: int) -> Any:
        def ack(outcome: str) -> None:
            outcomes.append((i, outcome))
            if len(outcomes) == 3:
                done.set()

        return ack

    topic = settings.bridge_spans_topic
    exporter.send([SpoolRecord(topic, f"m{i}".encode(), None, (), ack_for(i)) for i in range(3)])
    assert done.wait(20)
    exporter.shutdown()
    exporter.send([SpoolRecord(topic, b"late", None, (), ack_for(3))])
    assert sorted(outcomes) == [(0, "delivered"), (1, "delivered"), (2, "delivered"), (3, "shutdown")]
    assert sorted(m.value() for m in consume(broker, topic, 3)) == [b"m0", b"m1", b"m2"]


# -- back-pressure, outage, spool --------------------------------------------------------------
def test_back_pressure_then_spool_while_the_broker_is_away(own_broker: Broker, tmp_path: Path) -> None:
    """Requests beyond ONEX_OTLP_MAX_PENDING_BYTES are refused (503 / UNAVAILABLE + retry
    delay) while one waits for Kafka; it then goes to the spool and is answered OK.
    """
    settings = receiver_settings(
        own_broker.bootstrap, tmp_path, otlp_delivery_timeout_ms=2500, otlp_max_pending_bytes=4096
    )
    with running_receiver(settings) as receiver:
        assert receiver.http_port and receiver.grpc_port
        first = encode_spans(make_spans(3))
        assert post(receiver.http_port, "/v1/traces", first.SerializeToString())[0] == 200
        own_broker.stop()
        waiting = encode_spans(make_spans(15))
        assert 2048 < waiting.ByteSize() < 4096
        outcome: list[int] = []
        slow = threading.Thread(
            target=lambda: outcome.append(
                post(receiver.http_port or 0, "/v1/traces", waiting.SerializeToString())[0]
            )
        )
        slow.start()
        deadline = time.monotonic() + 10
        while receiver.metrics()["otlp_pending_bytes"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiver.metrics()["otlp_pending_bytes"] == waiting.ByteSize()

        refused = encode_spans(make_spans(15)).SerializeToString()
        code, headers, answer = post(receiver.http_port, "/v1/traces", refused)
        assert (code, headers["retry-after"]) == (503, "2")
        status = status_pb2.Status.FromString(answer)
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 2
        _, error = raw_call(receiver.grpc_port, TRACE_EXPORT, refused)
        assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
        trailers = dict(error.trailing_metadata())
        retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert retry.retry_delay.seconds == 2
        assert (
            status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
            .details[0]
            .Unpack(error_details_pb2.RetryInfo())
        )

        slow.join(20)
        assert outcome == [200]  # answered once it was in the spool
        metrics = receiver.metrics()
        assert (metrics["otlp_requests_busy"], metrics["otlp_messages_spooled"]) == (2, 1)
        assert metrics["otlp_pending_bytes"] == 0
        assert receiver.health()["kafka"] == "spooling"

        # the broker is still away: now requests go straight to the spool
        later = encode_logs(make_logs(2))
        exporter = GrpcLogs(endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True, timeout=10)
        try:
            started = time.monotonic()
            assert exporter.export(make_logs(1)).name == "SUCCESS"
            assert time.monotonic() - started < 2.0  # no wait for Kafka while it is spooling
        finally:
            exporter.shutdown()
        assert post(receiver.http_port, "/v1/logs", later.SerializeToString())[0] == 200
        assert receiver.metrics()["otlp_messages_spooled"] == 3
        own_broker.start()
        deadline = time.monotonic() + 60
        while receiver.health()["kafka"] != "delivering" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.health() == {
            "status": "healthy",
            "listening": receiver.health()["listening"],
            "kafka": "delivering",
            "pending_bytes": 0,
            "spool_bytes": 0,
        }
    # the memory-only broker lost `first`; what was accepted while it was away arrives once
    assert received_requests(own_broker, settings.bridge_spans_topic, 1, TraceRequest) == [waiting]
    assert len(received_requests(own_broker, settings.bridge_logs_topic, 2, LogsRequest)) == 2


def test_outage_with_the_sdk_exporters_nothing_lost_nothing_twice(own_broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(own_broker.bootstrap, tmp_path, otlp_delivery_timeout_ms=2000)
    batches = [make_spans(2, service=f"svc{i}") for i in range(6)]
    with running_receiver(settings) as receiver:
        grpc_exporter = GrpcSpans(endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True)
        http_exporter = HttpSpans(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces")
        try:
            assert grpc_exporter.export(batches[0]).name == "SUCCESS"  # warms the producer
            own_broker.stop()
            for i, batch in enumerate(batches[1:]):
                exporter = grpc_exporter if i % 2 else http_exporter
                assert exporter.export(batch).name == "SUCCESS"
        finally:
            grpc_exporter.shutdown()
            http_exporter.shutdown()  # type: ignore[no-untyped-call]
        assert receiver.metrics()["otlp_messages_spooled"] == 5
        assert receiver.metrics()["otlp_requests_unavailable"] == 0
        own_broker.start()
        deadline = time.monotonic() + 60
        while receiver.health()["spool_bytes"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.health()["spool_bytes"] == 0
    got = received_requests(own_broker, settings.bridge_spans_topic, 5, TraceRequest)
    services = Counter(r.resource_spans[0].resource.attributes[0].value.string_value for r in got)
    assert sorted(r.SerializeToString(deterministic=True) for r in got) == sorted(
        encode_spans(b).SerializeToString(deterministic=True) for b in batches[1:]
    ), services


def test_no_request_is_accepted_beyond_the_room_in_the_spool(own_broker: Broker, tmp_path: Path) -> None:
    """With Kafka away, requests are accepted while the spool has room for them, then refused
    (503 + Retry-After): the spool never has to drop one that was answered OK.
    """
    settings = receiver_settings(
        own_broker.bootstrap, tmp_path, otlp_delivery_timeout_ms=1000, spool_max_bytes=40_000
    )
    own_broker.stop()
    requests = [encode_spans(make_spans(10, service=f"svc{i}")) for i in range(20)]
    accepted = []
    with running_receiver(settings, grpc_on=False) as receiver:
        assert receiver.http_port
        codes = []
        for request in requests:
            code, headers, _ = post(receiver.http_port, "/v1/traces", request.SerializeToString())
            codes.append(code)
            if code == 200:
                accepted.append(request)
            else:
                assert (code, headers["retry-after"]) == (503, "2")
        assert 2 <= len(accepted) < len(requests)
        assert codes == [200] * len(accepted) + [503] * (len(requests) - len(accepted))
        assert receiver._exporter is not None and receiver._exporter.spool is not None
        assert receiver._exporter.spool.stats.dropped_full == 0
        own_broker.start()
        deadline = time.monotonic() + 60
        while receiver.health()["spool_bytes"] and time.monotonic() < deadline:
            time.sleep(0.2)
    got = received_requests(own_broker, settings.bridge_spans_topic, len(accepted), TraceRequest)
    assert sorted(r.SerializeToString(deterministic=True) for r in got) == sorted(
        r.SerializeToString(deterministic=True) for r in accepted
    )


def test_spooled_requests_survive_the_receiver(own_broker: Broker, tmp_path: Path) -> None:
    """Accepted while Kafka is away, the receiver stopped: the next one delivers them."""
    settings = receiver_settings(own_broker.bootstrap, tmp_path, otlp_delivery_timeout_ms=1500)
    request = encode_logs(make_logs(3))
    own_broker.stop()
    with running_receiver(settings, grpc_on=False) as receiver:
        assert post(receiver.http_port or 0, "/v1/logs", request.SerializeToString())[0] == 200
    own_broker.start()
    with running_receiver(settings, grpc_on=False) as receiver:
        deadline = time.monotonic() + 60
        while receiver.health()["spool_bytes"] and time.monotonic() < deadline:
            time.sleep(0.2)
    assert received_requests(own_broker, settings.bridge_logs_topic, 1, LogsRequest) == [request]


# -- addresses and lifecycle -------------------------------------------------------------------
def test_addresses_are_loopback_unless_given(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert parse_address("4318", 4318) == ("127.0.0.1", 4318)
    assert parse_address(":4317", 4317) == ("127.0.0.1", 4317)
    assert parse_address("", 4317) == ("127.0.0.1", 4317)
    assert parse_address("localhost", 4318) == ("localhost", 4318)
    assert parse_address("0.0.0.0:9", 4318) == ("0.0.0.0", 9)
    assert parse_address("[::1]:9", 4318) == ("::1", 9)
    for bad in ("host:port", "[::1", "h:70000"):
        with pytest.raises(ValueError):
            parse_address(bad, 1)
    settings = receiver_settings(broker.bootstrap, tmp_path)
    receiver = OtlpReceiver(settings, grpc_address=":0", http_address="0")
    with caplog.at_level(logging.INFO, "onex_exporters.bridge.receiver"):
        receiver.start()
        try:
            assert receiver._http_server is not None
            assert receiver._http_server.server_address[0] == "127.0.0.1"
            assert receiver.health()["listening"] == {
                "grpc": f"127.0.0.1:{receiver.grpc_port}",
                "http": f"127.0.0.1:{receiver.http_port}",
            }
        finally:
            receiver.stop(5)
    assert not [r for r in caplog.records if "beyond loopback" in r.getMessage()]
    receiver = OtlpReceiver(settings, grpc_address=None, http_address="0.0.0.0:0")
    with caplog.at_level(logging.INFO, "onex_exporters.bridge.receiver"):
        receiver.start()
        receiver.stop(5)
    assert [r.levelno for r in caplog.records if "beyond loopback" in r.getMessage()] == [logging.WARNING]


def test_stop_releases_the_ports(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path)
    with running_receiver(settings) as receiver:
        ports = (receiver.grpc_port, receiver.http_port)
    for port in ports:
        with pytest.raises(OSError):
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()


# -- a Node.js agent on the official OpenTelemetry JavaScript SDK ------------------------------
def run_node_agent(env: dict[str, str], timeout: float = 60.0) -> str:
    """``node agent.js`` (``npm install`` first when ``node_modules`` is missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Node.js agent")
    if not (NODE_AGENT / "node_modules").is_dir():
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=NODE_AGENT,
            check=True,
            timeout=300,
            capture_output=True,
        )
    done = subprocess.run(
        [node, "agent.js"],
        cwd=NODE_AGENT,
        env={**os.environ, **env},
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def node_agent_requests(
    broker: Broker, settings: Settings, receiver: OtlpReceiver, correlation_id: str, expected: int = 1
) -> list[Any]:
    """Run the Node.js agent against ``receiver``; the export requests it left on the topic.

    The agent's trace id is ``correlation_id`` (32 hex digits): a test reading further down the
    pipeline (the bridge, PostgreSQL) finds the run by it.
    """
    run_node_agent(
        {
            "OTLP_TRACES_URL": f"http://127.0.0.1:{receiver.http_port}/v1/traces",
            "AGENT_TRACE_ID": correlation_id,
        }
    )
    return received_requests(broker, settings.bridge_spans_topic, expected, TraceRequest)


def spans_of(requests: Sequence[Any]) -> dict[str, Any]:
    return {s.name: s for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans}


def attributes(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def test_node_agent_genai_spans_reach_the_otlp_topic(broker: Broker, tmp_path: Path) -> None:
    settings = receiver_settings(broker.bootstrap, tmp_path)
    correlation_id = uuid.uuid4().hex
    with running_receiver(settings, grpc_on=False) as receiver:
        requests = node_agent_requests(broker, settings, receiver, correlation_id)
    spans = spans_of(requests)
    assert set(spans) == {"invoke_agent research-agent", "execute_tool web_search"}
    agent, tool = spans["invoke_agent research-agent"], spans["execute_tool web_search"]
    assert agent.trace_id.hex() == tool.trace_id.hex() == correlation_id
    assert tool.parent_span_id == agent.span_id
    assert attributes(agent) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "research-agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "session.id": "node-session-1",
    }
    tool_attributes = attributes(tool)
    assert {k: v for k, v in tool_attributes.items() if k != "gen_ai.tool.call.arguments"} == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "web_search",
        "gen_ai.tool.call.id": "call_0001",
        "gen_ai.tool.type": "function",
    }
    assert json.loads(tool_attributes["gen_ai.tool.call.arguments"]) == {
        "query": "otlp bridge",
        "max_results": 3,
    }
    resource = {kv.key: kv.value.string_value for kv in requests[0].resource_spans[0].resource.attributes}
    assert resource == {"service.name": "node-research-agent"}
    scope = requests[0].resource_spans[0].scope_spans[0].scope
    assert (scope.name, scope.version) == ("node-research-agent", "1.0.0")


def test_deflate_helper_matches_zlib() -> None:
    """The Python exporter's ``deflate`` is zlib's format; a raw deflate stream is read too."""
    from onex_exporters.bridge._requests import decompress

    data = b"otlp" * 100
    raw = zlib.compressobj(wbits=-15)
    assert decompress(zlib.compress(data), "deflate", 1000) == data
    assert decompress(raw.compress(data) + raw.flush(), "deflate", 1000) == data
    assert decompress(gzip.compress(data), "gzip", 1000) == data
