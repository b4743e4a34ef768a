"""Correlation id = trace id on the SDK provider behind other frameworks' setups.

Real packages, each in a fresh interpreter (they set process-wide state): logfire (its proxy
provider wraps an SDK provider; nothing sent: ``send_to_logfire=False``), pydantic-ai under logfire
(its local ``TestModel``), Traceloop (``init()`` with a local exporter: no network). The spans are
read back from the framework's own export pipeline, as the framework's backend would receive them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from onex_otel import _configure, _internal, agent_execution
from tests.core.conftest import reset_tracing, run_python

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"

# Runs an execution with a framework span, a plain OpenTelemetry library span (what pydantic-ai,
# OpenInference and OpenLLMetry instrumentations make through the global provider) and a tool call
# inside; prints the spans EXPORTER exported and what onex-otel saw, as one JSON line.
RUN = f"""
    from opentelemetry import trace
    import onex_otel
    from onex_otel._internal import internal_error_counts

    with onex_otel.agent_execution("a", correlation_id={CID!r}):
        seen = onex_otel.current_correlation_id()
        FRAMEWORK_SPAN
        with trace.get_tracer("some.library").start_as_current_span("library"):
            with onex_otel.tool_call("t"):
                pass
    FLUSH
    print(json.dumps({{
        "seen": seen,
        "spans": sorted(
            [s.name, format(s.context.trace_id, "032x"), s.attributes.get("onex.correlation_id")]
            for s in EXPORTER.get_finished_spans()
        ),
        "errors": internal_error_counts(),
    }}))
"""

LOGFIRE = """
    import json
    import logfire
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import onex_otel

    exporter = InMemorySpanExporter()
    logfire.configure(send_to_logfire=False, console=False, metrics=False, inspect_arguments=False,
                      additional_span_processors=[SimpleSpanProcessor(exporter)])
    CONFIGURE
"""

QUIET: dict[str, str] = {"LOGFIRE_SEND_TO_LOGFIRE": "false"}


def _run(setup: str, framework_span: str, flush: str = "") -> dict[str, Any]:
    code = setup + RUN.replace("FRAMEWORK_SPAN", framework_span).replace("FLUSH", flush or "pass").replace(
        "EXPORTER", "exporter"
    )
    done = run_python(code, QUIET)
    assert "not an OpenTelemetry SDK TracerProvider" not in done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _assert_one_trace(result: dict[str, Any], *names: str) -> None:
    assert result["seen"] == CID
    spans = result["spans"]
    assert sorted(name for name, _, _ in spans) == sorted(names)
    assert {trace_id for _, trace_id, _ in spans} == {uuid.UUID(CID).hex}  # trace id == cid
    assert {cid for _, _, cid in spans} == {CID}  # every span carries the correlation id
    assert result["errors"] == {}


@pytest.mark.parametrize("configure", ["onex_otel.configure()", "pass"], ids=["configure", "no-configure"])
def test_logfire_proxy_provider(configure: str) -> None:
    """logfire's global provider is a proxy; the core goes onto the SDK provider inside it."""
    result = _run(LOGFIRE.replace("CONFIGURE", configure), 'with logfire.span("framework"): pass')
    _assert_one_trace(result, "invoke_agent a", "framework", "library", "execute_tool t")


def test_pydantic_ai_under_logfire() -> None:
    """The case as reported: logfire + pydantic-ai (its own local TestModel), then configure()."""
    setup = LOGFIRE.replace(
        "CONFIGURE",
        """
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    logfire.instrument_pydantic_ai()
    onex_otel.configure()
    agent = Agent(TestModel(), name="helper")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        return a + b
    """,
    )
    result = _run(setup, 'agent.run_sync("add 1 and 2")')
    _assert_one_trace(
        result,
        "invoke_agent a",
        "invoke_agent helper",
        "chat test",
        "chat test",
        "execute_tool add",
        "library",
        "execute_tool t",
    )


# --- a provider that neither is nor wraps an SDK provider ------------------------------------


class _OpaqueProvider(trace.TracerProvider):
    """A TracerProvider of some other SDK: nothing onex-otel can add to."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return trace.NoOpTracer()


@pytest.fixture
def opaque(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[_OpaqueProvider]:
    monkeypatch.setattr(_internal, "_counts", Counter())
    monkeypatch.setattr(_internal, "_logged", set())
    reset_tracing()
    provider = _OpaqueProvider()
    trace.set_tracer_provider(provider)
    yield provider
    reset_tracing()


def test_unknown_provider_reported_once_by_type_and_counted(
    opaque: _OpaqueProvider, caplog: pytest.LogCaptureFixture
) -> None:
    import onex_otel

    caplog.set_level(logging.WARNING, logger="onex_otel")
    onex_otel.configure()
    onex_otel.configure()
    with agent_execution("a"):  # the tracer lookup tries once more: counted, not logged again
        pass
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert f"{__name__}._OpaqueProvider" in record.getMessage()
    assert "NOT correlation ids" in record.getMessage()
    assert _internal.internal_error_counts() == {"provider.unsupported": 3}
    assert trace.get_tracer_provider() is opaque


def test_wrapper_chain_is_followed_and_bounded() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    sdk = TracerProvider(shutdown_on_exit=False)

    class Wrapper(trace.TracerProvider):
        def __init__(self, inner: trace.TracerProvider | None) -> None:
            self._provider = inner

        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return trace.NoOpTracer()

    assert _configure.sdk_provider(sdk) is sdk
    assert _configure.sdk_provider(Wrapper(Wrapper(sdk))) is sdk
    assert _configure.sdk_provider(Wrapper(None)) is None
    loop = Wrapper(None)
    loop._provider = loop
    assert _configure.sdk_provider(loop) is None
    deep: trace.TracerProvider = sdk
    for _ in range(20):
        deep = Wrapper(deep)
    assert _configure.sdk_provider(deep) is None  # bounded
    sdk.shutdown()
