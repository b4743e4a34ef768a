"""Claude Code's telemetry made by the official SDK: log events as an OTLP export request, spans.

Log records: LoggerProvider + in-memory exporter, then the official OTLP encoder (what the
Collector's Kafka exporter or the bridge's receiver hands over). Spans: the SDK tracer under Claude
Code's tracing scope. Attributes are the documented ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from onex_exporters.mapping import EventRecord

SESSION = "3f2c9a7e-5b1d-4e8a-9c0f-7d6b2a1e4f30"
PROMPT = "8a4e2f1c-9b3d-4c7a-a2e5-6f1d0b9c3e72"
TRACE = 0x5B8EFFF798038103D269B633813FC60C
CID = "5b8efff7-9803-8103-d269-b633813fc60c"
T0 = 1_787_220_930_000_000_000
MS = 1_000_000
ACTION = "onex.evt.omniclaude.agent-actions.v1"
STARTED = "omninode.agent.execution.started.v1"
COMPLETED = "omninode.agent.execution.completed.v1"
FAILED = "omninode.agent.execution.failed.v1"
PROGRESS = "omninode.agent.execution.progress.v1"


def logs_request(
    events: Sequence[tuple[str, int, Mapping[str, Any]]],
    *,
    trace_id: int | None = TRACE,
    span_id: int = 0xEEE19B7EC3C1B174,
    service: str = "claude-code",
    scope: str = "com.anthropic.claude_code.events",
) -> ExportLogsServiceRequest:
    """Claude Code's log events ``(event name, time ns, attributes)`` as an OTLP request."""
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource({"service.name": service, "service.version": "2.1.230"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger(scope, "2.1.230")
    context = None
    if trace_id is not None:
        ctx = SpanContext(trace_id, span_id, False, TraceFlags(1))
        context = trace.set_span_in_context(NonRecordingSpan(ctx))
    for seq, (name, ts, attrs) in enumerate(events):
        standard = {
            "session.id": SESSION,
            "prompt.id": PROMPT,
            "event.name": name,
            "event.sequence": seq,
            "user.id": "9d4b",
        }
        logger.emit(
            LogRecord(
                timestamp=ts,
                observed_timestamp=ts,
                context=context,
                body=f"claude_code.{name}",
                attributes={**standard, **attrs},
            )
        )
    provider.shutdown()
    return encode_logs(exporter.get_finished_logs())


def user_prompt(
    ts: int = T0, prompt: str = "fix the failing test", **extra: Any
) -> tuple[str, int, dict[str, Any]]:
    return ("user_prompt", ts, {"prompt": prompt, "prompt_length": str(len(prompt)), **extra})


def tool_result(
    ts: int, tool_use_id: str, tool: str = "Bash", success: Any = "true", duration: Any = "214", **extra: Any
) -> tuple[str, int, dict[str, Any]]:
    return (
        "tool_result",
        ts,
        {
            "tool_name": tool,
            "tool_use_id": tool_use_id,
            "success": success,
            "duration_ms": duration,
            "decision_type": "accept",
            "decision_source": "config",
            "tool_input_size_bytes": "71",
            **extra,
        },
    )


def by_type(records: Sequence[EventRecord], event_type: str) -> list[dict[str, Any]]:
    return [r.envelope for r in records if r.envelope["event_type"] == event_type]


def actions(records: Sequence[EventRecord], action_type: str) -> list[dict[str, Any]]:
    return [e for e in by_type(records, ACTION) if e["payload"]["action_type"] == action_type]


class ClaudeSpans:
    """Claude Code's beta spans made by the SDK tracer under Claude Code's tracing scope."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource({"service.name": "claude-code"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("com.anthropic.claude_code.tracing", "1.0.0")

    def spans(self) -> list[ReadableSpan]:
        self.provider.shutdown()
        return list(self.exporter.get_finished_spans())


def interaction_with_tool(
    spans: ClaudeSpans, tool_use_id: str, tool: str = "Bash", *, trace_id: int = TRACE, **extra: Any
) -> tuple[int, int]:
    """An interaction span with one tool span under it; returns the tool span's start and end."""
    ctx = trace.set_span_in_context(
        NonRecordingSpan(SpanContext(trace_id, 0x1111111111111111, False, TraceFlags(1)))
    )
    interaction = spans.tracer.start_span(
        "claude_code.interaction",
        context=ctx,
        start_time=T0 - 2 * MS,
        attributes={
            "span.type": "interaction",
            "session.id": SESSION,
            "user_prompt": "fix the failing test",
            "user_prompt_length": 20,
            "interaction.sequence": 1,
        },
    )
    tool_span = spans.tracer.start_span(
        "claude_code.tool",
        context=trace.set_span_in_context(interaction),
        start_time=T0 + 100 * MS,
        attributes={
            "span.type": "tool",
            "session.id": SESSION,
            "tool_name": tool,
            "tool_use_id": tool_use_id,
            "gen_ai.tool.call.id": tool_use_id,
            "duration_ms": 215,
            "full_command": "pytest -q tests/",
            **extra,
        },
    )
    tool_span.end(end_time=T0 + 315 * MS)
    interaction.end(end_time=T0 + 900 * MS)
    return T0 + 100 * MS, T0 + 315 * MS
