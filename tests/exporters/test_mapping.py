"""The pure span -> envelope mapping, against spans of the contract's shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.trace import Status, StatusCode

from onex_exporters.mapping import (
    MappingError,
    MappingOptions,
    derive_event_id,
    ended_records,
    progress_records,
    span_to_envelopes,
    span_to_records,
    started_records,
    to_envelopes,
)
from onex_otel import conventions as c
from onex_otel.conventions import EventType
from onex_otel.envelope import OnexEnvelopeV1
from tests.exporters.spans import SpanFactory, record_all_events, run_full_execution

OPTIONS = MappingOptions(tenant_id="t1", source="unit")


def all_records(factory: SpanFactory, **kw: Any) -> list[Any]:
    out = []
    for span in factory.finished():
        out.extend(span_to_records(span, OPTIONS, **kw))
    return out


def check_equivalent(records: list[Any]) -> list[OnexEnvelopeV1]:
    """Every fast-path dict validates and serializes exactly like its pydantic model."""
    models = to_envelopes(records)
    for record, model in zip(records, models, strict=True):
        assert json.loads(model.to_json()) == json.loads(record.to_json())
        assert OnexEnvelopeV1.model_validate_json(record.to_json()) == model
    return models


def by_type(records: list[Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(r.event_type.value, []).append(r.envelope)
    return out


def test_full_execution_maps_to_every_event_type() -> None:
    f = SpanFactory()
    cid = run_full_execution(f)
    records = all_records(f)
    models = check_equivalent(records)
    produced = {m.event_type for m in models}
    assert produced == set(EventType) - {EventType.EXECUTION_FAILED}
    for m in models:
        assert m.correlation_id == cid
        assert m.tenant_id == "t1" and m.source == "unit" and m.namespace == "omninode"
        assert m.schema_ref == c.SCHEMA_REFS[m.event_type]
        assert m.event_id.version == 7
    assert len({m.event_id for m in models}) == len(models)
    # all carry the span's traceparent; key = correlation id
    for r in records:
        assert r.traceparent.startswith(f"00-{cid.hex}-")
        assert r.correlation_id == str(cid)


def test_started_payload_whole_value() -> None:
    f = SpanFactory()
    cid = uuid.uuid4()
    with f.execution(correlation_id=cid, original="abc-123", context={"domain": "api"}) as root:
        attrs = dict(root.attributes)  # type: ignore[attr-defined]
    span = f.finished()[0]
    started, decision = started_records(span, OPTIONS)
    start = datetime.fromtimestamp(span.start_time / 1e9, UTC)  # type: ignore[operator]
    env = started.envelope
    assert env["event_id"] == attrs[c.ONEX_STARTED_EVENT_ID]
    assert env["causation_id"] is None
    assert env["event_type"] == "omninode.agent.execution.started.v1"
    assert env["schema_ref"] == "registry://omninode/agent/execution_started/v1"
    payload = dict(env["payload"])
    started_at = payload.pop("started_at")
    assert abs(datetime.fromisoformat(started_at).timestamp() - start.timestamp()) < 1e-5
    assert payload == {
        "correlation_id": str(cid),
        "execution_id": attrs[c.ONEX_EXECUTION_ID],
        "agent_name": "agent-researcher",
        "user_request": "Research Python async patterns",
        "session_id": "session-789",
        "context": {"domain": "api"},
        "project_path": "/srv/project",
        "project_name": "omniclaude",
        "working_directory": "/srv/project",
        "claude_session_id": None,
        "terminal_id": None,
        "correlation_id_original": "abc-123",
    }
    d = decision.envelope
    assert d["causation_id"] == env["event_id"]
    assert d["event_type"] == EventType.AGENT_ACTION.value
    dp = dict(d["payload"])
    dp.pop("timestamp")
    assert dp == {
        "correlation_id": str(cid),
        "agent_name": "agent-researcher",
        "action_type": "decision",
        "action_name": "agent_execution_started",
        "action_details": {
            "decision_context": {
                "user_request": "Research Python async patterns",
                "session_id": "session-789",
                "context": {"domain": "api"},
            },
            "decision_result": {
                "agent_name": "agent-researcher",
                "correlation_id": str(cid),
                "execution_id": attrs[c.ONEX_EXECUTION_ID],
            },
        },
        "debug_mode": True,
        "duration_ms": None,
        "project_path": "/srv/project",
        "project_name": "omniclaude",
        "working_directory": "/srv/project",
    }
    check_equivalent([started, decision])


def test_completed_payload_and_success_action() -> None:
    f = SpanFactory()
    run_full_execution(f)
    root = next(s for s in f.finished() if s.name.startswith("invoke_agent"))
    completed, success = ended_records(root, OPTIONS)
    duration = (root.end_time - root.start_time) // 1_000_000  # type: ignore[operator]
    p = completed.envelope["payload"]
    assert completed.envelope["causation_id"] == root.attributes[c.ONEX_STARTED_EVENT_ID]  # type: ignore[index]
    assert {
        k: p[k]
        for k in (
            "status",
            "duration_ms",
            "quality_score",
            "output_summary",
            "metrics",
            "session_id",
            "agent_name",
        )
    } == {
        "status": "success",
        "duration_ms": duration,
        "quality_score": 0.92,
        "output_summary": "Found 5 async patterns",
        "metrics": {"files_analyzed": 10},
        "session_id": "session-789",
        "agent_name": "agent-researcher",
    }
    assert p["execution_id"] == root.attributes[c.ONEX_EXECUTION_ID]  # type: ignore[index]
    s = success.envelope
    assert s["causation_id"] == completed.envelope["event_id"]
    assert s["payload"]["action_type"] == "success"
    assert s["payload"]["action_name"] == "agent_execution_completed"
    assert s["payload"]["duration_ms"] == duration
    assert s["payload"]["action_details"] == {
        "execution_duration_ms": duration,
        "quality_score": 0.92,
        "output_summary": "Found 5 async patterns",
        "metrics": {"files_analyzed": 10},
    }
    check_equivalent([completed, success])


def test_failed_execution_maps_to_failed_and_error_action() -> None:
    f = SpanFactory()
    run_full_execution(f, fail=True)
    root = next(s for s in f.finished() if s.name.startswith("invoke_agent"))
    failed, error = ended_records(root, OPTIONS)
    assert failed.event_type is EventType.EXECUTION_FAILED
    p = failed.envelope["payload"]
    assert p["status"] == "failed"
    assert p["error_message"] == "Invalid API specification"
    assert p["error_type"] == "ValueError"
    assert "Traceback" in p["error_stack_trace"]
    assert p["partial_results"] == {"files_processed": 3}
    e = error.envelope["payload"]
    assert (e["action_type"], e["action_name"]) == ("error", "agent_execution_failed")
    assert e["action_details"]["error_type"] == "ValueError"
    assert e["action_details"]["severity"] == "error"
    assert e["action_details"]["error_context"]["partial_results"] == {"files_processed": 3}
    assert error.envelope["causation_id"] == failed.envelope["event_id"]
    check_equivalent([failed, error])
    types = [r.event_type for r in all_records(f)]
    assert EventType.EXECUTION_COMPLETED not in types


def test_cancelled_execution_is_a_failed_event_with_status_cancelled() -> None:
    f = SpanFactory()
    with f.execution() as root:
        root.set_attribute(c.ONEX_EXECUTION_STATUS, "cancelled")
    failed, _ = ended_records(f.finished()[0], OPTIONS)
    assert failed.event_type is EventType.EXECUTION_FAILED
    assert failed.envelope["payload"]["status"] == "cancelled"
    assert failed.envelope["payload"]["error_message"] == ""
    check_equivalent([failed])


def test_tool_call_span() -> None:
    f = SpanFactory()
    with f.execution() as root, f.tool(root, "Read", {"file_path": "a.py"}, {"line_count": 100}):
        pass
    tool = next(s for s in f.finished() if s.name == "execute_tool Read")
    (record,) = span_to_records(tool, OPTIONS)
    env = record.envelope
    assert env["causation_id"] == root.attributes[c.ONEX_STARTED_EVENT_ID]  # type: ignore[attr-defined]
    p = env["payload"]
    assert (p["action_type"], p["action_name"]) == ("tool_call", "Read")
    assert p["duration_ms"] == (tool.end_time - tool.start_time) // 1_000_000  # type: ignore[operator]
    assert p["action_details"] == {
        "tool_call_id": tool.attributes[c.GEN_AI_TOOL_CALL_ID],  # type: ignore[index]
        "tool_type": "function",
        "parameters": {"file_path": "a.py"},
        "result": {"line_count": 100},
        "success": True,
        "error": None,
    }
    assert record.traceparent == (f"00-{tool.context.trace_id:032x}-{tool.context.span_id:016x}-01")
    check_equivalent([record])


def test_failed_tool_call_carries_the_error() -> None:
    f = SpanFactory()
    with f.execution() as root, pytest.raises(KeyError), f.tool(root, "Write", {"p": 1}) as span:
        span.set_attribute(c.ERROR_TYPE, "KeyError")
        raise KeyError("missing")
    tool = next(s for s in f.finished() if s.name == "execute_tool Write")
    (record,) = span_to_records(tool, OPTIONS)
    details = record.envelope["payload"]["action_details"]
    assert details["success"] is False
    assert details["error"]["type"] == "KeyError"
    assert "missing" in details["error"]["message"]
    assert details["result"] is None


def test_truncated_values_keep_their_original_size() -> None:
    f = SpanFactory()
    with f.execution() as root, f.tool(root, "Read", {"x": "..."}) as span:
        span.set_attribute(c.GEN_AI_TOOL_CALL_ARGUMENTS + c.ORIGINAL_SIZE_SUFFIX, 99_999)
    tool = next(s for s in f.finished() if s.name == "execute_tool Read")
    (record,) = span_to_records(tool, OPTIONS)
    assert record.envelope["payload"]["action_details"]["parameters_original_size"] == 99_999


def test_timed_decision_span() -> None:
    f = SpanFactory()
    with f.execution() as root, f.decision(root, "select_agent", {"c": [1]}, {"selected": "a"}):
        pass
    span = next(s for s in f.finished() if s.name == "decision select_agent")
    (record,) = span_to_records(span, OPTIONS)
    p = record.envelope["payload"]
    assert (p["action_type"], p["action_name"]) == ("decision", "select_agent")
    assert p["action_details"] == {"decision_context": {"c": [1]}, "decision_result": {"selected": "a"}}
    check_equivalent([record])


def test_span_events_payloads() -> None:
    f = SpanFactory()
    cid = uuid.uuid4()
    with f.execution(correlation_id=cid) as root:
        record_all_events(root)
    span = f.finished()[0]
    records = span_to_records(span, OPTIONS, include_lifecycle=False)
    check_equivalent(records)
    got = by_type(records)
    started_id = span.attributes[c.ONEX_STARTED_EVENT_ID]  # type: ignore[index]
    assert all(r.envelope["causation_id"] == started_id for r in records)
    actions = [e["payload"] for e in got[EventType.AGENT_ACTION.value]]
    assert [(a["action_type"], a["action_name"], a["duration_ms"]) for a in actions] == [
        ("decision", "select_strategy", 5),
        ("error", "ImportError", None),
        ("success", "task_completed", 1234),
    ]
    assert actions[0]["action_details"] == {
        "decision_context": {"candidates": ["a", "b"]},
        "decision_result": {"selected": "a"},
    }
    assert actions[1]["action_details"] == {
        "error_type": "ImportError",
        "error_message": "Module 'foo' not found",
        "error_context": {"file": "x.py", "line": 15},
        "severity": "warning",
    }
    assert actions[2]["action_details"] == {"files_processed": 5}

    def strip(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k != "timestamp"}

    assert strip(got[EventType.ROUTING_DECISION.value][0]["payload"]) == {
        "correlation_id": str(cid),
        "selected_agent": "agent-performance",
        "confidence_score": 0.92,
        "routing_strategy": "enhanced_fuzzy_matching",
        "routing_time_ms": 45,
        "user_request": "optimize my database queries",
        "alternatives": ["agent-api", "agent-debug"],
        "reasoning": "High confidence match",
        "context": {"domain": "db"},
    }
    assert strip(got[EventType.TRANSFORMATION.value][0]["payload"]) == {
        "correlation_id": str(cid),
        "source_agent": "polymorphic-agent",
        "target_agent": "agent-performance",
        "transformation_reason": "match",
        "confidence_score": 0.92,
        "transformation_duration_ms": 85,
        "success": True,
    }
    assert strip(got[EventType.ROUTER_PERFORMANCE.value][0]["payload"]) == {
        "correlation_id": str(cid),
        "query_text": "optimize my database queries",
        "routing_duration_ms": 45,
        "cache_hit": False,
        "trigger_match_strategy": "enhanced_fuzzy_matching",
        "confidence_components": {"trigger": 0.5, "context": 0.42},
        "candidates_evaluated": 5,
    }
    assert strip(got[EventType.DETECTION_FAILURE.value][0]["payload"]) == {
        "correlation_id": str(cid),
        "user_request": "do the thing",
        "failure_reason": "no match",
        "detection_strategy": "fuzzy",
        "candidates_evaluated": 2,
        "candidates": ["agent-a", "agent-b"],
        "best_confidence": 0.3,
        "detection_duration_ms": None,
        "context": {"hint": "none"},
    }


def test_lifecycle_events_left_out_when_published_in_real_time() -> None:
    f = SpanFactory()
    run_full_execution(f)
    with_lifecycle = {r.event_id for r in all_records(f)}
    without = all_records(f, include_lifecycle=False)
    lifecycle_types = {
        EventType.EXECUTION_STARTED,
        EventType.EXECUTION_PROGRESS,
        EventType.EXECUTION_COMPLETED,
    }
    assert not {r.event_type for r in without} & lifecycle_types
    root = next(s for s in f.finished() if s.name.startswith("invoke_agent"))
    lifecycle_ids = {r.event_id for r in started_records(root) + ended_records(root)}
    assert {r.event_id for r in without} | lifecycle_ids | {
        r.event_id for r in all_records(f) if r.event_type is EventType.EXECUTION_PROGRESS
    } == with_lifecycle


def test_progress_from_report_and_from_span_event() -> None:
    f = SpanFactory()
    with f.execution() as root:
        when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        (record,) = progress_records(root, "routing_analysis", 25, {"k": 1}, when, OPTIONS)
    p = record.envelope["payload"]
    assert (p["stage"], p["percent"], p["metadata"]) == ("routing_analysis", 25.0, {"k": 1})
    assert p["reported_at"] == "2026-01-02T03:04:05.678901Z"
    assert record.envelope["timestamp"] == "2026-01-02T03:04:05.678901Z"
    assert record.envelope["causation_id"] == root.attributes[c.ONEX_STARTED_EVENT_ID]  # type: ignore[attr-defined]
    check_equivalent([record])
    with pytest.raises(MappingError, match="percent"):
        progress_records(root, "x", 120, {}, when)


def test_mapping_is_deterministic() -> None:
    f = SpanFactory()
    run_full_execution(f)
    first = [r.envelope for r in all_records(f)]
    second = [r.envelope for r in all_records(f)]
    assert first == second
    assert derive_event_id(10**18, "a") != derive_event_id(10**18, "b")
    assert uuid.UUID(derive_event_id(10**18, "a")).version == 7


def test_other_libraries_genai_spans_map_the_same_way() -> None:
    f = SpanFactory()
    with (
        f.tracer.start_as_current_span(
            "invoke_agent weather-bot",
            attributes={c.GEN_AI_OPERATION_NAME: "invoke_agent", c.GEN_AI_AGENT_ID: "asst_123"},
        ) as agent,
        f.tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={
                c.GEN_AI_OPERATION_NAME: "execute_tool",
                c.GEN_AI_TOOL_NAME: "get_weather",
                c.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city": "Paris"}',
            },
        ) as tool,
    ):
        tool.set_status(Status(StatusCode.ERROR, "service down"))
    trace_cid = str(uuid.UUID(int=agent.get_span_context().trace_id))
    records = all_records(f)
    check_equivalent(records)
    got = by_type(records)
    assert {e["correlation_id"] for r in got.values() for e in r} == {trace_cid}
    started = got[EventType.EXECUTION_STARTED.value][0]
    assert started["payload"]["agent_name"] == "weather-bot"
    assert uuid.UUID(started["payload"]["execution_id"])  # derived, stable
    failed = (
        got[EventType.EXECUTION_FAILED.value]
        if EventType.EXECUTION_FAILED.value in got
        else got[EventType.EXECUTION_COMPLETED.value]
    )
    assert failed[0]["payload"]["agent_name"] == "weather-bot"
    action = got[EventType.AGENT_ACTION.value]
    tool_action = next(a for a in action if a["payload"]["action_type"] == "tool_call")
    assert tool_action["payload"]["action_name"] == "get_weather"
    assert tool_action["payload"]["agent_name"] == c.UNKNOWN_AGENT
    assert tool_action["payload"]["action_details"]["parameters"] == {"city": "Paris"}
    assert tool_action["payload"]["action_details"]["error"] == {"type": None, "message": "service down"}


def test_gen_ai_agent_name_attribute_wins_over_span_name() -> None:
    f = SpanFactory()
    with f.tracer.start_as_current_span(
        "agent run", attributes={c.GEN_AI_OPERATION_NAME: "invoke_agent", c.GEN_AI_AGENT_NAME: "support"}
    ):
        pass
    started, _ = started_records(f.finished()[0])
    assert started.envelope["payload"]["agent_name"] == "support"


def test_plain_spans_without_events_map_to_nothing() -> None:
    f = SpanFactory()
    with f.tracer.start_as_current_span("SELECT", attributes={"db.system": "postgresql"}):
        pass
    assert span_to_records(f.finished()[0]) == []


@pytest.mark.parametrize(
    ("event", "attrs", "match"),
    [
        (
            c.EVENT_ROUTING_DECISION,
            {
                c.ATTR_SELECTED_AGENT: "a",
                c.ATTR_CONFIDENCE_SCORE: 1.5,
                c.ATTR_ROUTING_STRATEGY: "s",
                c.ATTR_ROUTING_TIME_MS: 1,
            },
            "confidence_score",
        ),
        (
            c.EVENT_ROUTING_DECISION,
            {c.ATTR_SELECTED_AGENT: "a", c.ATTR_ROUTING_STRATEGY: "s"},
            "needs confidence_score",
        ),
        (
            c.EVENT_ROUTER_METRICS,
            {c.ATTR_QUERY_TEXT: "q", c.ATTR_ROUTING_DURATION_MS: 1000, c.ATTR_CANDIDATES_EVALUATED: 1},
            "routing_duration_ms",
        ),
        (
            c.EVENT_ROUTER_METRICS,
            {c.ATTR_QUERY_TEXT: "q", c.ATTR_ROUTING_DURATION_MS: 5, c.ATTR_CANDIDATES_EVALUATED: -1},
            "candidates_evaluated",
        ),
        (
            c.EVENT_TRANSFORMATION,
            {c.ATTR_SOURCE_AGENT: "a", c.ATTR_TARGET_AGENT: "b", c.ATTR_TRANSFORMATION_DURATION_MS: -3},
            "duration",
        ),
        (c.EVENT_DECISION, {c.ATTR_EVENT_DURATION_MS: 3}, "decision name"),
        (c.EVENT_ERROR, {c.ATTR_ERROR_MESSAGE: "m"}, "error type"),
        (
            c.EVENT_DETECTION_FAILURE,
            {
                c.ATTR_DETECTION_USER_REQUEST: "r",
                c.ATTR_DETECTION_FAILURE_REASON: "x",
                c.ATTR_DETECTION_CONFIDENCE: "high",
            },
            "not a number",
        ),
        (c.EVENT_SUCCESS, {c.ATTR_NAME: "ok", c.ATTR_EVENT_DURATION_MS: -1}, "duration_ms"),
    ],
)
def test_values_no_valid_event_can_hold_are_errors(event: str, attrs: dict[str, Any], match: str) -> None:
    f = SpanFactory()
    with f.tracer.start_as_current_span("s") as span:
        span.add_event(event, attrs)
    with pytest.raises(MappingError, match=match):
        span_to_records(f.finished()[0])


def test_quality_score_out_of_range_is_an_error() -> None:
    f = SpanFactory()
    with f.execution() as root:
        root.set_attribute(c.ONEX_QUALITY_SCORE, 1.2)
    with pytest.raises(MappingError, match="quality_score"):
        ended_records(f.finished()[0])


def test_non_json_attribute_values_are_kept_as_text() -> None:
    f = SpanFactory()
    with f.execution(extra={c.ONEX_CONTEXT: "not json"}) as root:
        root.set_attribute(c.ONEX_METRICS, "[1, 2]")
    records = span_to_records(f.finished()[0])
    check_equivalent(records)
    started = records[0].envelope["payload"]
    assert started["context"] == {"value": "not json"}
    completed = next(r for r in records if r.event_type is EventType.EXECUTION_COMPLETED)
    assert completed.envelope["payload"]["metrics"] == {"value": [1, 2]}


def test_validated_envelopes_api() -> None:
    f = SpanFactory()
    run_full_execution(f)
    root = next(s for s in f.finished() if s.name.startswith("invoke_agent"))
    envelopes = span_to_envelopes(root)
    assert all(isinstance(e, OnexEnvelopeV1) for e in envelopes)
    assert envelopes[0].event_type is EventType.EXECUTION_STARTED
    assert envelopes[-2].event_type is EventType.EXECUTION_COMPLETED


def _foreign_span(scope: str, name: str, attributes: dict[str, Any], events: tuple[str, ...] = ()) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer(scope).start_as_current_span(name, attributes=attributes) as span:
        for event in events:
            span.add_event(event, {c.ATTR_NAME: "x"})
    (finished,) = memory.get_finished_spans()
    return finished


def test_spans_of_other_instrumentations_are_decided_before_any_mapping_work() -> None:
    from onex_exporters.mapping import maps_to_nothing

    db = _foreign_span(
        "opentelemetry.instrumentation.psycopg",
        "SELECT",
        {"db.system": "postgresql", "db.statement": "SELECT 1"},
    )
    http = _foreign_span(
        "opentelemetry.instrumentation.httpx",
        "GET",
        {"http.method": "GET"},
        events=("http.response.started",),
    )
    assert maps_to_nothing(db) and maps_to_nothing(http)
    assert span_to_records(db) == [] and span_to_records(http) == []
    # anything the mapping reads makes the span go through it
    tool = _foreign_span("x", "execute_tool t", {c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL})
    with_decision = _foreign_span("x", "work", {}, events=(c.EVENT_DECISION,))
    oi = _foreign_span("x", "agent", {"openinference.span.kind": "AGENT"})
    claude = _foreign_span("com.anthropic.claude_code.tracing", "claude_code.tool", {})
    for span in (tool, with_decision, oi, claude):
        assert not maps_to_nothing(span), span.name
    assert [r.event_type for r in span_to_records(with_decision)] == [EventType.AGENT_ACTION]


@pytest.mark.parametrize(
    ("trace_id", "span_id", "flags"),
    [
        (0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, 1),
        (1, 1, 0),
        (2**128 - 1, 2**64 - 1, 255),
        (2**130 + 5, 2**70, 1),  # not W3C's sizes: written as they are
    ],
)
def test_span_facts_write_traceparent_and_trace_correlation_like_the_formats(
    trace_id: int, span_id: int, flags: int
) -> None:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    from onex_exporters.mapping_span import _SpanFacts

    span = ReadableSpan("x", context=SpanContext(trace_id, span_id, False, TraceFlags(flags)))
    if trace_id >= 2**128:
        with pytest.raises(ValueError):  # no correlation id of it, as str(uuid.UUID(int=...))
            _SpanFacts(span)
        span = ReadableSpan(
            "x",
            context=SpanContext(trace_id, span_id, False, TraceFlags(flags)),
            attributes={c.ONEX_CORRELATION_ID: str(uuid.UUID(int=7))},
        )
    facts = _SpanFacts(span)
    assert facts.traceparent == f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"
    if trace_id < 2**128:
        assert facts.correlation_id == str(uuid.UUID(int=trace_id))


def test_span_facts_of_spans_of_alternating_traces_keep_their_own_ids() -> None:
    """The traceparent's and the correlation id's trace part is kept from span to span: spans of
    two traces in turn, of one trace in a row, each get their own ids."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    from onex_exporters.mapping_span import _SpanFacts

    traces = [0x0123456789ABCDEF0123456789ABCDEF, 0xFEDCBA9876543210FEDCBA9876543210, 1]
    for i, trace_id in enumerate([traces[0], traces[1], traces[0], traces[0], traces[2], traces[1]]):
        span_id = 0x1000 + i
        facts = _SpanFacts(
            ReadableSpan("x", context=SpanContext(trace_id, span_id, False, TraceFlags(i % 2)))
        )
        assert facts.traceparent == f"00-{trace_id:032x}-{span_id:016x}-{i % 2:02x}"
        assert facts.correlation_id == str(uuid.UUID(int=trace_id))


_TEXTS = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(['"quoted"', '{"a": 1}', "[1, 2]", "null", "12", "ünï ✓", "a\nb", "\x01"]),
)


@settings(max_examples=150, deadline=None)
@given(
    agent=st.text(min_size=1, max_size=10),
    tool=st.text(min_size=1, max_size=10),
    project=st.tuples(
        _TEXTS, _TEXTS, _TEXTS, st.one_of(st.none(), st.booleans(), st.sampled_from(["no", "1"]))
    ),
    args=st.one_of(
        st.none(), st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)
    ),
    failed=st.booleans(),
)
def test_varied_spans_map_to_records_the_models_accept_with_the_same_json(
    agent: str, tool: str, project: tuple[Any, Any, Any, Any], args: Any, failed: bool
) -> None:
    """Records are built as plain dicts, without the models: on varied values (project fields set
    or not, texts that look like JSON, failures) each validates and dumps to the same JSON value."""
    f = SpanFactory()
    path, name, directory, debug = project
    extra = {
        k: v
        for k, v in (
            (c.ONEX_PROJECT_PATH, path),
            (c.ONEX_PROJECT_NAME, name),
            (c.ONEX_WORKING_DIRECTORY, directory),
            (c.ONEX_DEBUG_MODE, debug),
        )
        if v is not None
    }
    try:
        with f.execution(agent=agent, correlation_id=uuid.uuid4()) as root:
            root.set_attributes(extra)
            with f.tool(root, tool, args, {"ok": True}) as span:
                span.set_attributes(extra)
                if failed:
                    span.set_status(Status(StatusCode.ERROR, "boom"))
            if failed:
                raise ValueError("failed")
    except ValueError:
        pass
    records = [r for s in f.finished() for r in span_to_records(s, OPTIONS)]
    assert len(records) == 5
    for record, envelope in zip(records, to_envelopes(records), strict=True):
        assert json.loads(envelope.to_json()) == json.loads(record.to_json())


class _NotSdkSpan:
    """A finished span as any other span class shows it: only its public properties."""

    def __init__(self, span: Any) -> None:
        self.name = span.name
        self.context = span.context
        self.parent = span.parent
        self.kind = span.kind
        self.status = span.status
        self.events = span.events
        self.start_time = span.start_time
        self.end_time = span.end_time
        self.instrumentation_scope = span.instrumentation_scope
        self.attributes = dict(span.attributes or {})


def _dialect_spans() -> list[Any]:
    """Spans of framework dialects (no onex attributes): agent, tool and chain, with a failure."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("openinference.instrumentation.langchain")
    with tracer.start_as_current_span("Agent", attributes={"openinference.span.kind": "AGENT"}):
        with tracer.start_as_current_span(
            "search",
            attributes={
                "openinference.span.kind": "TOOL",
                "tool.name": "search",
                "input.value": '{"query": "weather"}',
                "output.value": "sunny",
            },
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("chain", attributes={"openinference.span.kind": "CHAIN"}):
            pass
    gen_ai = provider.get_tracer("pydantic-ai")
    with (
        gen_ai.start_as_current_span(
            "invoke_agent weather", attributes={"gen_ai.operation.name": "invoke_agent"}
        ),
        gen_ai.start_as_current_span(
            "execute_tool get_weather",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
        ),
    ):
        pass
    return list(memory.get_finished_spans())


def test_sdk_spans_read_from_their_fields_map_to_the_bytes_of_the_general_path() -> None:
    """The SDK's spans are read from their fields (no property): the same events, byte for byte."""
    from onex_exporters.mapping_span import may_map, spans_to_map

    f = SpanFactory()
    run_full_execution(f)
    run_full_execution(f, fail=True)
    with f.execution(correlation_id=uuid.uuid4()) as root:
        record_all_events(root)
    spans: list[Any] = [*f.finished(), *_dialect_spans()]
    mapped = 0
    for span in spans:
        other = _NotSdkSpan(span)
        assert may_map(span) == may_map(other), span.name
        for lifecycle in (True, False):
            fast = span_to_records(span, OPTIONS, include_lifecycle=lifecycle)
            general = span_to_records(other, OPTIONS, include_lifecycle=lifecycle)
            assert [(r.event_type, r.to_json(), r.traceparent, r.tracestate) for r in fast] == [
                (r.event_type, r.to_json(), r.traceparent, r.tracestate) for r in general
            ], span.name
            mapped += len(fast)
    assert mapped > 40
    assert spans_to_map(spans) == [s for s in spans if may_map(s)]


def test_mapping_golden() -> None:
    """Fixed spans map to the bytes the mapping wrote before its fast paths (event ids, times,
    headers' inputs, every payload): see :mod:`tests.exporters.golden_spans`."""
    from pathlib import Path

    from tests.exporters.golden_spans import mapped

    expected = json.loads(
        (Path(__file__).parent / "data" / "mapping_golden.json").read_text(encoding="utf-8")
    )
    assert len(expected) > 100
    assert mapped() == expected


def test_text_values_as_before_the_shortcut_for_plain_texts() -> None:
    """``_text``: a plain text as it is or JSON-decoded when quoted; a str subclass alike (the value
    itself kept); anything else as ``str``."""
    from onex_exporters.mapping_values import _text

    status = c.ExecutionStatus.SUCCESS
    assert _text(status) is status
    cases = {'"quoted"': "quoted", '"': '"', "": "", '"1"': "1", '"a" b': '"a" b', "[1]": "[1]"}
    for value, expected in cases.items():
        assert _text(value) == expected
    assert _text(None) is None and _text(5) == "5" and _text(True) == "True"
