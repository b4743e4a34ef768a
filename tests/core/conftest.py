"""Fixtures of the instrumentation core tests: a fresh SDK TracerProvider per test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

import onex_otel
from onex_otel import _metrics, _payload

_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_BROKERS",
    "ONEX_CAPTURE_CONTENT",
    "ONEX_MAX_PAYLOAD_BYTES",
    "ONEX_REDACT_KEYS",
    "ONEX_EXTRA_REDACT_KEYS",
)


def reset_tracing() -> None:
    """Forget the global TracerProvider (what opentelemetry's own test utilities do)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


class Spans:
    """The provider of a test and the spans it finished."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def by_name(self, name: str) -> ReadableSpan:
        found = [s for s in self.finished() if s.name == name]
        assert len(found) == 1, [s.name for s in self.finished()]
        return found[0]

    def clear(self) -> None:
        self.exporter.clear()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spans(clean_env: None) -> Iterator[Spans]:
    reset_tracing()
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    onex_otel.configure(tracer_provider=provider)
    yield Spans(provider, exporter)
    provider.shutdown()
    reset_tracing()
    _payload.set_policy(None)
    _metrics.set_meter_provider(None)


def run_python(
    code: str, env: dict[str, str] | None = None, launcher: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter whose environment has no tracing/Kafka settings.

    ``env``: variables to set; ``launcher``: put in front (``opentelemetry-instrument``).
    Not under pytest as far as onex-otel can tell (its internal errors are contained as in
    production). Fails the test unless the process exits with 0.
    """
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_", "TRACELOOP_", "LOGFIRE_"))
    }
    environment.pop("PYTEST_VERSION", None)
    environment.update(env or {})
    done = subprocess.run(
        [*launcher, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def hexid(trace_id: int) -> str:
    return format(trace_id, "032x")


def shape(span: ReadableSpan, volatile: tuple[str, ...] = ()) -> dict[str, Any]:
    """A span as one comparable value; attributes named in ``volatile`` become ``"<any>"``."""
    attrs = {k: ("<any>" if k in volatile else v) for k, v in (span.attributes or {}).items()}
    events = []
    for event in span.events:
        event_attrs = dict(event.attributes or {})
        if event.name == "exception":
            event_attrs["exception.stacktrace"] = "<any>"
        events.append((event.name, event_attrs))
    return {
        "name": span.name,
        "kind": span.kind.name,
        "attributes": attrs,
        "events": events,
        "status": span.status.status_code.name,
    }
