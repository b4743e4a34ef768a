"""configure() and the standard exporter variables; the one message when spans go nowhere.

Most runs are fresh interpreters with a clean environment: what a first script meets.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import onex_otel
from onex_otel import _configure, _payload, agent_execution
from onex_otel.config import ConfigError, load_settings
from tests.core.conftest import reset_tracing, run_python

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"
NOWHERE = "spans go nowhere"

AGENT = f"""
    import onex_otel
    onex_otel.configure()
    onex_otel.configure()  # a second call says nothing more
    with onex_otel.agent_execution("a", correlation_id={CID!r}):
        with onex_otel.tool_call("t"):
            pass
    print("done")
"""


def _console_spans(stdout: str) -> list[dict[str, Any]]:
    """The spans ConsoleSpanExporter printed (indented JSON objects, one after another)."""
    decoder = json.JSONDecoder()
    spans, at = [], 0
    text = stdout.strip()
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        if text[at] != "{":  # a line the script printed itself
            at = text.find("\n", at) + 1 or len(text)
            continue
        span, at = decoder.raw_decode(text, at)
        spans.append(span)
    return spans


@pytest.fixture
def fresh(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_configure, "_warned", set())
    reset_tracing()
    yield
    reset_tracing()
    _payload.set_policy(None)


def test_nothing_configured_says_so_once_on_stderr() -> None:
    done = run_python(AGENT)
    assert done.stdout == "done\n"
    (line,) = done.stderr.splitlines()  # one line, once, although configure() ran twice
    assert NOWHERE in line
    for variable in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_TRACES_EXPORTER=console",
        "KAFKA_BOOTSTRAP_SERVERS",
    ):
        assert variable in line


def test_console_exporter_prints_the_spans() -> None:
    done = run_python(AGENT, {"OTEL_TRACES_EXPORTER": "console"})
    assert done.stderr == ""
    spans = _console_spans(done.stdout)
    assert sorted(s["name"] for s in spans) == ["execute_tool t", "invoke_agent a"]
    assert {s["context"]["trace_id"] for s in spans} == {"0x" + uuid.UUID(CID).hex}
    assert done.stdout.splitlines()[0] == "done"  # batched: printed when the process exits


def test_none_exports_nothing_and_says_nothing() -> None:
    done = run_python(AGENT, {"OTEL_TRACES_EXPORTER": "none"})
    assert (done.stdout, done.stderr) == ("done\n", "")


def test_a_list_of_exporters_with_an_entry_point(tmp_path: Path) -> None:
    """``console,<entry point>``: both get every span; the entry point is a real distribution."""
    (tmp_path / "onex_test_file_exporter.py").write_text(
        textwrap.dedent("""
        import os
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        class FileExporter(SpanExporter):
            def export(self, spans):
                with open(os.environ["ONEX_TEST_SPAN_FILE"], "a") as f:
                    f.writelines(s.name + "\\n" for s in spans)
                return SpanExportResult.SUCCESS
    """)
    )
    dist = tmp_path / "onex_test_file_exporter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: onex-test-file-exporter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[opentelemetry_traces_exporter]\nonex_test_file = onex_test_file_exporter:FileExporter\n"
    )
    out = tmp_path / "spans.txt"
    done = run_python(
        AGENT,
        {
            "OTEL_TRACES_EXPORTER": "console, onex_test_file",
            "PYTHONPATH": str(tmp_path),
            "ONEX_TEST_SPAN_FILE": str(out),
        },
    )
    assert done.stderr == ""
    assert sorted(out.read_text().splitlines()) == ["execute_tool t", "invoke_agent a"]
    assert len(_console_spans(done.stdout)) == 2


def test_an_unknown_exporter_is_reported_once_and_counted() -> None:
    done = run_python(
        AGENT
        + """
    from onex_otel._internal import internal_error_counts
    print(internal_error_counts())
    """,
        {"OTEL_TRACES_EXPORTER": "consol"},
    )
    assert done.stdout.splitlines() == ["done", "{'exporter.missing:consol': 2}"]  # per call
    missing, nowhere = done.stderr.splitlines()
    assert "'consol'" in missing and "opentelemetry_traces_exporter" in missing
    assert NOWHERE in nowhere


def test_configure_adds_no_exporter_under_opentelemetry_instrument() -> None:
    """The SDK's own provider, built by ``opentelemetry-instrument``: core installed, no 2nd export."""
    instrument = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert instrument, "opentelemetry-instrument is installed with the instrument extra"
    done = run_python(
        AGENT,
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
        launcher=(instrument,),
    )
    assert NOWHERE not in done.stderr
    spans = _console_spans(done.stdout)
    assert sorted(s["name"] for s in spans) == ["execute_tool t", "invoke_agent a"]
    assert {s["context"]["trace_id"] for s in spans} == {"0x" + uuid.UUID(CID).hex}


@pytest.mark.parametrize("how", ["otlp_endpoint", "own_processor", "none"])
def test_silent_when_spans_go_somewhere(fresh: None, how: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="onex_otel")
    provider = TracerProvider(shutdown_on_exit=False)
    if how == "own_processor":
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    options: dict[str, Any] = {"tracer_provider": provider}
    if how == "otlp_endpoint":
        options["otlp_endpoint"] = "http://127.0.0.1:1"
    if how == "none":
        options["traces_exporter"] = "none"
    onex_otel.configure(**options)
    provider.shutdown()
    assert [r.getMessage() for r in caplog.records] == []


def test_an_explicit_argument_adds_to_the_variable(
    fresh: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``configure(otlp_endpoint=...)`` exports over OTLP whatever ``OTEL_TRACES_EXPORTER`` says."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    caplog.set_level(logging.WARNING, logger="onex_otel")
    provider = TracerProvider(shutdown_on_exit=False)
    onex_otel.configure(tracer_provider=provider, otlp_endpoint="http://127.0.0.1:1")
    onex_otel.configure(tracer_provider=provider, otlp_endpoint="http://127.0.0.1:1")
    exporters = [
        type(p._batch_processor._exporter)
        for p in provider._active_span_processor._span_processors
        if isinstance(p, BatchSpanProcessor)
    ]
    provider.shutdown()
    assert exporters == [ConsoleSpanExporter, OTLPSpanExporter]
    assert caplog.records == []


def test_nothing_configured_logged_in_process(fresh: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="onex_otel")
    provider = TracerProvider(shutdown_on_exit=False)
    onex_otel.configure(tracer_provider=provider)
    onex_otel.configure(tracer_provider=provider)
    provider.shutdown()
    (record,) = caplog.records
    assert record.name == "onex_otel" and record.levelno == logging.WARNING
    assert NOWHERE in record.getMessage()


class _OtlpHttpReceiver:
    """A real OTLP/HTTP (protobuf) trace receiver on a loopback port."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        received: list[tuple[str, str, bytes]] = []
        self.received = received
        self.arrived = threading.Event()
        arrived = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            received.append((self.path, span.name, span.trace_id))
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_otlp_protocol_from_the_traces_variable(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``OTEL_TRACES_EXPORTER=otlp``: the traces protocol variable beats the general one."""
    receiver = _OtlpHttpReceiver()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    try:
        onex_otel.configure()
        with agent_execution("otlp-http", correlation_id=CID):
            pass
        provider = trace.get_tracer_provider()
        assert provider.force_flush(10_000)  # type: ignore[attr-defined]
        assert receiver.arrived.wait(10)
    finally:
        trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
        receiver.close()
    assert receiver.received == [("/v1/traces", "invoke_agent otlp-http", uuid.UUID(CID).bytes)]


def test_otlp_protocol_variables() -> None:
    both = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}
    assert load_settings(both).otlp_protocol == "http/protobuf"
    assert load_settings({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}).otlp_protocol == "http/protobuf"
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL='http/json'"):
        load_settings({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert load_settings({"OTEL_TRACES_EXPORTER": "otlp, onex_kafka"}).traces_exporter == (
        "otlp",
        "onex_kafka",
    )
    assert load_settings({"OTEL_TRACES_EXPORTER": ""}).traces_exporter is None
