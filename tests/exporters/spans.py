"""Spans of the shape the instrumentation core produces (SPAN-CONTRACT), built with the SDK."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

from onex_otel import conventions as c
from onex_otel.ids import uuid7


class FixedTraceIds(IdGenerator):
    """Random span ids; the next trace id can be set (trace id == correlation id)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self.next_trace_id: int | None = None

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        if self.next_trace_id is not None:
            value, self.next_trace_id = self.next_trace_id, None
            return value
        return self._random.generate_trace_id()


class SpanFactory:
    """A tracer provider with an in-memory exporter and helpers that follow the span contract."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.ids = FixedTraceIds()
        self.provider = provider or TracerProvider(id_generator=self.ids)
        if provider is not None:
            provider.id_generator = self.ids  # type: ignore[assignment]
        self.memory = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer(c.INSTRUMENTATION_NAME)

    def finished(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())

    @contextmanager
    def execution(
        self,
        agent: str = "agent-researcher",
        correlation_id: uuid.UUID | None = None,
        *,
        session_id: str | None = "session-789",
        user_request: str | None = "Research Python async patterns",
        context: dict[str, Any] | None = None,
        original: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Iterator[trace.Span]:
        cid = correlation_id or uuid.uuid4()
        self.ids.next_trace_id = cid.int
        execution_id = uuid.uuid4()
        attrs: dict[str, Any] = {
            c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT,
            c.GEN_AI_AGENT_NAME: agent,
            c.GEN_AI_AGENT_ID: str(execution_id),
            c.ONEX_CORRELATION_ID: str(cid),
            c.ONEX_AGENT_NAME: agent,
            c.ONEX_EXECUTION_ID: str(execution_id),
            c.ONEX_STARTED_EVENT_ID: str(uuid7()),
            c.ONEX_CONTEXT: json.dumps(context if context is not None else {"domain": "research"}),
            c.ONEX_PROJECT_PATH: "/srv/project",
            c.ONEX_PROJECT_NAME: "omniclaude",
            c.ONEX_WORKING_DIRECTORY: "/srv/project",
        }
        if session_id:
            attrs[c.ONEX_SESSION_ID] = session_id
            attrs[c.GEN_AI_CONVERSATION_ID] = session_id
        if user_request is not None:
            attrs[c.ONEX_USER_REQUEST] = user_request
        if original:
            attrs[c.ONEX_CORRELATION_ID_ORIGINAL] = original
        attrs.update(extra or {})
        with self.tracer.start_as_current_span(
            c.agent_span_name(agent),
            attributes=attrs,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute(c.ONEX_EXECUTION_STATUS, "failed")
                span.set_attribute(c.ONEX_ERROR_MESSAGE, str(exc))
                span.set_attribute(c.ONEX_ERROR_TYPE, type(exc).__name__)
                span.set_attribute(c.ERROR_TYPE, type(exc).__name__)
                span.set_attribute(c.ONEX_PARTIAL_RESULTS, json.dumps({"files_processed": 3}))
                raise
            else:
                if span.attributes.get(c.ONEX_EXECUTION_STATUS) is None:  # type: ignore[attr-defined]
                    span.set_attribute(c.ONEX_EXECUTION_STATUS, "success")

    @staticmethod
    def execution_attrs(span: trace.Span) -> dict[str, Any]:
        """The execution attributes the core copies onto every span inside an execution."""
        attrs = span.attributes  # type: ignore[attr-defined]
        keys = (
            c.ONEX_CORRELATION_ID,
            c.ONEX_SESSION_ID,
            c.ONEX_AGENT_NAME,
            c.ONEX_EXECUTION_ID,
            c.ONEX_STARTED_EVENT_ID,
        )
        return {k: attrs[k] for k in keys if k in attrs}

    @contextmanager
    def tool(
        self, parent: trace.Span, name: str = "Read", args: Any = None, result: Any = None
    ) -> Iterator[trace.Span]:
        attrs = {
            c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL,
            c.GEN_AI_TOOL_NAME: name,
            c.GEN_AI_TOOL_CALL_ID: str(uuid.uuid4()),
            c.GEN_AI_TOOL_TYPE: "function",
            c.ONEX_ACTION_TYPE: "tool_call",
            c.ONEX_ACTION_NAME: name,
            **self.execution_attrs(parent),
        }
        if args is not None:
            attrs[c.GEN_AI_TOOL_CALL_ARGUMENTS] = json.dumps(args)
        with self.tracer.start_as_current_span(c.tool_span_name(name), attributes=attrs) as span:
            yield span
            if result is not None:
                span.set_attribute(c.GEN_AI_TOOL_CALL_RESULT, json.dumps(result))

    @contextmanager
    def decision(self, parent: trace.Span, name: str, context: Any, result: Any) -> Iterator[trace.Span]:
        attrs = {
            c.GEN_AI_OPERATION_NAME: c.OP_DECISION,
            c.ONEX_ACTION_TYPE: "decision",
            c.ONEX_ACTION_NAME: name,
            c.ATTR_DECISION_CONTEXT: json.dumps(context),
            **self.execution_attrs(parent),
        }
        with self.tracer.start_as_current_span(c.decision_span_name(name), attributes=attrs) as span:
            yield span
            span.set_attribute(c.ATTR_DECISION_RESULT, json.dumps(result))


def progress(span: trace.Span, stage: str, percent: float, metadata: dict[str, Any]) -> None:
    span.add_event(
        c.EVENT_PROGRESS,
        {c.ATTR_STAGE: stage, c.ATTR_PERCENT: float(percent), c.ATTR_METADATA: json.dumps(metadata)},
    )


def record_all_events(span: trace.Span) -> None:
    """Record one span event of every kind the contract names."""
    span.add_event(
        c.EVENT_DECISION,
        {
            c.ATTR_NAME: "select_strategy",
            c.ATTR_DECISION_CONTEXT: json.dumps({"candidates": ["a", "b"]}),
            c.ATTR_DECISION_RESULT: json.dumps({"selected": "a"}),
            c.ATTR_EVENT_DURATION_MS: 5,
        },
    )
    span.add_event(
        c.EVENT_ERROR,
        {
            c.ATTR_ERROR_TYPE: "ImportError",
            c.ATTR_ERROR_MESSAGE: "Module 'foo' not found",
            c.ATTR_ERROR_CONTEXT: json.dumps({"file": "x.py", "line": 15}),
            c.ATTR_SEVERITY: "warning",
        },
    )
    span.add_event(
        c.EVENT_SUCCESS,
        {
            c.ATTR_NAME: "task_completed",
            c.ATTR_DETAILS: json.dumps({"files_processed": 5}),
            c.ATTR_EVENT_DURATION_MS: 1234,
        },
    )
    span.add_event(
        c.EVENT_ROUTING_DECISION,
        {
            c.ATTR_SELECTED_AGENT: "agent-performance",
            c.ATTR_CONFIDENCE_SCORE: 0.92,
            c.ATTR_ALTERNATIVES: json.dumps(["agent-api", "agent-debug"]),
            c.ATTR_REASONING: "High confidence match",
            c.ATTR_ROUTING_STRATEGY: "enhanced_fuzzy_matching",
            c.ATTR_ROUTING_TIME_MS: 45,
            c.ATTR_ROUTING_USER_REQUEST: "optimize my database queries",
            c.ATTR_ROUTING_CONTEXT: json.dumps({"domain": "db"}),
        },
    )
    span.add_event(
        c.EVENT_TRANSFORMATION,
        {
            c.ATTR_SOURCE_AGENT: "polymorphic-agent",
            c.ATTR_TARGET_AGENT: "agent-performance",
            c.ATTR_TRANSFORMATION_REASON: "match",
            c.ATTR_TRANSFORMATION_CONFIDENCE: 0.92,
            c.ATTR_TRANSFORMATION_DURATION_MS: 85,
            c.ATTR_TRANSFORMATION_SUCCESS: True,
        },
    )
    span.add_event(
        c.EVENT_ROUTER_METRICS,
        {
            c.ATTR_QUERY_TEXT: "optimize my database queries",
            c.ATTR_ROUTING_DURATION_MS: 45,
            c.ATTR_CACHE_HIT: False,
            c.ATTR_TRIGGER_MATCH_STRATEGY: "enhanced_fuzzy_matching",
            c.ATTR_CONFIDENCE_COMPONENTS: json.dumps({"trigger": 0.5, "context": 0.42}),
            c.ATTR_CANDIDATES_EVALUATED: 5,
        },
    )
    span.add_event(
        c.EVENT_DETECTION_FAILURE,
        {
            c.ATTR_DETECTION_USER_REQUEST: "do the thing",
            c.ATTR_DETECTION_FAILURE_REASON: "no match",
            c.ATTR_DETECTION_CANDIDATES: json.dumps(["agent-a", "agent-b"]),
            c.ATTR_DETECTION_CONFIDENCE: 0.3,
            c.ATTR_DETECTION_STRATEGY: "fuzzy",
            c.ATTR_DETECTION_CONTEXT: json.dumps({"hint": "none"}),
        },
    )


def run_full_execution(factory: SpanFactory, cid: uuid.UUID | None = None, fail: bool = False) -> uuid.UUID:
    """One execution with progress, a tool call, a timed decision and every span event."""
    cid = cid or uuid.uuid4()
    try:
        with factory.execution(correlation_id=cid) as root:
            progress(root, "routing_analysis", 25, {"max_recommendations": 3})
            with factory.tool(root, "Read", {"file_path": "a.py"}, {"line_count": 100}):
                pass
            with factory.decision(root, "select_agent", {"candidates": ["a"]}, {"selected": "a"}):
                pass
            record_all_events(root)
            root.set_attribute(c.ONEX_QUALITY_SCORE, 0.92)
            root.set_attribute(c.ONEX_OUTPUT_SUMMARY, "Found 5 async patterns")
            root.set_attribute(c.ONEX_METRICS, json.dumps({"files_analyzed": 10}))
            if fail:
                raise ValueError("Invalid API specification")
    except ValueError:
        pass
    return cid


def foreign_spans(count: int) -> list[ReadableSpan]:
    """``count`` spans of other instrumentations, which map to no event.

    psycopg queries and HTTP client calls (these with an event of their own).
    """
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    db = provider.get_tracer("opentelemetry.instrumentation.psycopg", "0.48b0")
    http = provider.get_tracer("opentelemetry.instrumentation.httpx", "0.48b0")
    for i in range(count):
        if i % 2:
            with db.start_as_current_span(
                "SELECT onex",
                kind=trace.SpanKind.CLIENT,
                attributes={
                    "db.system": "postgresql",
                    "db.name": "onex",
                    "db.user": "postgres",
                    "db.statement": "SELECT id, name FROM agents WHERE id = %s",
                    "net.peer.name": "127.0.0.1",
                    "net.peer.port": 5432,
                },
            ):
                pass
        else:
            with http.start_as_current_span(
                "GET",
                kind=trace.SpanKind.CLIENT,
                attributes={
                    "http.method": "GET",
                    "http.url": f"https://api.example.com/v1/items/{i}",
                    "http.status_code": 200,
                    "net.peer.name": "api.example.com",
                },
            ) as span:
                span.add_event("http.response.started")
    return list(memory.get_finished_spans())
