"""configure(): existing providers, idempotence, OTLP, the Kafka entry point; no-SDK behaviour."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import onex_otel
from onex_otel import _configure, _payload, agent_execution
from onex_otel._idgen import OnexIdGenerator
from onex_otel._processor import ExecutionAttributesProcessor
from onex_otel.config import ConfigError
from tests.core.conftest import reset_tracing

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"


def _processors(provider: TracerProvider) -> tuple[object, ...]:
    return provider._active_span_processor._span_processors


@pytest.fixture
def fresh(clean_env: None) -> Iterator[None]:
    reset_tracing()
    yield
    reset_tracing()
    _payload.set_policy(None)


def test_respects_an_installed_provider_and_is_idempotent(fresh: None) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    early_tracer = provider.get_tracer("early")  # made before configure(), like an instrumentor's
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    onex_otel.configure(service_name="agent")
    onex_otel.configure(service_name="agent")
    assert trace.get_tracer_provider() is provider
    procs = _processors(provider)
    assert len(procs) == 2 and isinstance(procs[0], ExecutionAttributesProcessor)
    assert isinstance(provider.id_generator, OnexIdGenerator)
    assert isinstance(early_tracer.id_generator, OnexIdGenerator)  # type: ignore[attr-defined]

    with agent_execution("a", correlation_id=CID):
        pass
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == uuid.UUID(CID).hex
    provider.shutdown()


def test_installs_a_provider_when_none(fresh: None) -> None:
    onex_otel.configure(service_name="svc-x", environment="test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "svc-x"
    assert provider.resource.attributes["deployment.environment.name"] == "test"
    assert isinstance(provider.id_generator, OnexIdGenerator)
    provider.shutdown()


def test_core_installed_on_a_provider_set_without_configure(fresh: None) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    lib = provider.get_tracer("lib")
    with agent_execution("a", correlation_id=CID) as run, lib.start_as_current_span("lib-span"):
        pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["invoke_agent a"].context.trace_id == uuid.UUID(CID).int
    assert (spans["lib-span"].attributes or {})["onex.execution_id"] == run.execution_id
    provider.shutdown()


def test_otlp_processor_added_once_per_endpoint(fresh: None) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    trace.set_tracer_provider(provider)
    onex_otel.configure(otlp_endpoint="http://127.0.0.1:1")
    onex_otel.configure(otlp_endpoint="http://127.0.0.1:1")
    batch = [p for p in _processors(provider) if isinstance(p, BatchSpanProcessor)]
    assert len(batch) == 1
    provider.shutdown()


def test_invalid_setting_is_a_clear_error(fresh: None) -> None:
    with pytest.raises(ConfigError, match="ONEX_MAX_PAYLOAD_BYTES"):
        onex_otel.configure(max_payload_bytes=1)


def test_missing_kafka_exporter_logged_once(
    fresh: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_configure, "_warned", set())
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda **kw: [])
    caplog.set_level(logging.WARNING, logger="onex_otel")
    provider = TracerProvider(shutdown_on_exit=False)
    onex_otel.configure(tracer_provider=provider)
    onex_otel.configure(tracer_provider=provider)
    assert len([r for r in caplog.records if "onex_kafka" in r.getMessage()]) == 1
    provider.shutdown()


def test_kafka_entry_point_install_hook_called(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real distribution on sys.path, found through importlib.metadata."""
    (tmp_path / "fake_onex_kafka.py").write_text(
        textwrap.dedent("""
        calls = []

        class Exporter:
            pass

        def install(provider, settings):
            calls.append((provider, settings.kafka_bootstrap_servers))
    """)
    )
    dist = tmp_path / "fake_onex_kafka-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-onex-kafka\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_traces_exporter]\nonex_kafka = fake_onex_kafka:Exporter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    provider = TracerProvider(shutdown_on_exit=False)
    onex_otel.configure(tracer_provider=provider)
    onex_otel.configure(tracer_provider=provider)
    import fake_onex_kafka  # type: ignore[import-not-found]

    assert fake_onex_kafka.calls == [(provider, "127.0.0.1:9")]
    sys.modules.pop("fake_onex_kafka", None)
    provider.shutdown()


def _run(code: str, **env: str) -> str:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_"))}
    environment.pop("PYTEST_VERSION", None)
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_does_not_load_kafka_postgres_or_collector() -> None:
    out = _run("""
        import json, sys
        import onex_otel
        print(json.dumps([m for m in ("confluent_kafka", "psycopg", "onex_collector",
                                      "onex_exporters") if m in sys.modules]))
    """)
    assert json.loads(out) == []


def test_no_sdk_everything_is_a_transparent_no_op() -> None:
    out = _run("""
        import asyncio, json
        from opentelemetry import trace
        from onex_otel import (agent_execution, current_correlation_id, record_decision,
                               routing_decision, tool_call, traced_tool_call)

        @traced_tool_call
        def add(a, b):
            return a + b

        @traced_tool_call
        def fail():
            raise KeyError("k")

        @traced_tool_call
        def gen(n):
            received = yield 0
            yield received

        @traced_tool_call
        async def aadd(a, b):
            return a + b

        err = None
        with agent_execution("a", correlation_id="abc") as run:
            cid = current_correlation_id()
            total = add(1, 2)
            try:
                fail()
            except KeyError as exc:
                err = repr(exc)
            g = gen(1)
            next(g)
            sent = g.send("x")
            with tool_call("T") as t:
                t.set_result(1)
            record_decision("d")
            routing_decision("x", 0.5, "s", 1)
            run.progress("p", 50)
        print(json.dumps({
            "cid_matches": cid == run.correlation_id, "after": current_correlation_id(),
            "total": total, "err": err, "sent": sent, "async": asyncio.run(aadd(2, 3)),
            "span_valid": trace.get_current_span().get_span_context().is_valid,
        }))
    """)
    assert json.loads(out) == {
        "cid_matches": True,
        "after": None,
        "total": 3,
        "err": "KeyError('k')",
        "sent": "x",
        "async": 5,
        "span_valid": False,
    }


def test_pending_spans_flushed_at_exit(tmp_path: Path) -> None:
    out_file = tmp_path / "spans.txt"
    _run(f"""
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor, SpanExporter, SpanExportResult)
        import onex_otel

        class FileExporter(SpanExporter):
            def export(self, spans):
                with open({str(out_file)!r}, "a") as f:
                    for s in spans:
                        f.write(s.name + "\\n")
                return SpanExportResult.SUCCESS

        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(FileExporter(), schedule_delay_millis=60000))
        onex_otel.configure(tracer_provider=provider)
        with onex_otel.agent_execution("exiting"):
            pass
    """)
    assert out_file.read_text().splitlines() == ["invoke_agent exiting"]


def test_otlp_export_reaches_a_real_grpc_receiver(fresh: None) -> None:
    """configure(otlp_endpoint=...) exports over OTLP/gRPC to a receiver on a loopback port."""
    import threading
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[tuple[str, bytes, dict[str, str]]] = []
    arrived = threading.Event()

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: object, context: object) -> object:
            for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attrs = {a.key: a.value.string_value for a in span.attributes}
                        received.append((span.name, span.trace_id, attrs))
            arrived.set()
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        Receiver(), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        onex_otel.configure(service_name="otlp-test", otlp_endpoint=f"http://127.0.0.1:{port}")
        with agent_execution("otlp-agent", correlation_id=CID):
            pass
        provider = trace.get_tracer_provider()
        assert provider.force_flush(10_000)  # type: ignore[attr-defined]
        assert arrived.wait(10)
    finally:
        trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
        server.stop(0)
    ((name, trace_id, attrs),) = received
    assert name == "invoke_agent otlp-agent"
    assert trace_id.hex() == uuid.UUID(CID).hex
    assert attrs["onex.correlation_id"] == CID


def test_package_docstring_examples_run(fresh: None) -> None:
    import doctest

    result = doctest.testmod(onex_otel, verbose=False)
    assert result.attempted >= 4 and result.failed == 0


def test_id_generator_yields_pending_trace_id_and_delegates_otherwise() -> None:
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    from onex_otel._context import reset_pending, set_pending

    class Fixed(IdGenerator):
        def generate_span_id(self) -> int:
            return 7

        def generate_trace_id(self) -> int:
            return 11

        def is_trace_id_random(self) -> bool:
            return True

    gen = OnexIdGenerator(Fixed())
    assert (gen.generate_trace_id(), gen.generate_span_id(), gen.is_trace_id_random()) == (11, 7, True)
    token = set_pending(uuid.UUID(CID).int)
    try:
        assert gen.generate_trace_id() == uuid.UUID(CID).int
        assert gen.is_trace_id_random() is False
        assert gen.generate_span_id() == 7
    finally:
        reset_pending(token)
    assert gen.generate_trace_id() == 11
