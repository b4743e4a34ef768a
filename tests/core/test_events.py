"""Span events: decision/error/success and the router's records, with their validation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from onex_otel import (
    agent_execution,
    detection_failure,
    record_decision,
    record_error,
    record_success,
    router_metrics,
    routing_decision,
    transformation,
)
from onex_otel import conventions as c
from onex_otel.envelope import (
    DetectionFailurePayload,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
)
from tests.core.conftest import Spans, hexid

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"


def events_of(spans: Spans, span_name: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.name, dict(e.attributes or {})) for e in spans.by_name(span_name).events]


def test_decision_error_success_events_on_the_execution_span(spans: Spans) -> None:
    with agent_execution("agent-router"):
        record_decision("select_agent", {"candidates": ["a", "b"]}, {"selected": "a"}, 12)
        record_error("FileNotFoundError", "missing.py", {"path": "/x", "token": "t"}, "warning")
        record_success("task_completed", {"tasks": 5}, duration_ms=1234.4)
    assert events_of(spans, "invoke_agent agent-router") == [
        (
            c.EVENT_DECISION,
            {
                c.ATTR_NAME: "select_agent",
                c.ATTR_DECISION_CONTEXT: '{"candidates":["a","b"]}',
                c.ATTR_DECISION_RESULT: '{"selected":"a"}',
                c.ATTR_EVENT_DURATION_MS: 12,
            },
        ),
        (
            c.EVENT_ERROR,
            {
                c.ATTR_ERROR_TYPE: "FileNotFoundError",
                c.ATTR_ERROR_MESSAGE: "missing.py",
                c.ATTR_SEVERITY: "warning",
                c.ATTR_ERROR_CONTEXT: '{"path":"/x","token":"[REDACTED]"}',
            },
        ),
        (
            c.EVENT_SUCCESS,
            {
                c.ATTR_NAME: "task_completed",
                c.ATTR_DETAILS: '{"tasks":5}',
                c.ATTR_EVENT_DURATION_MS: 1234,
            },
        ),
    ]


def test_event_without_current_span_makes_a_short_span(spans: Spans) -> None:
    record_decision("alone")
    span = spans.by_name(c.EVENT_DECISION)
    assert span.parent is None
    assert [e.name for e in span.events] == [c.EVENT_DECISION]


def test_routing_sequence_shape(spans: Spans) -> None:
    with agent_execution("polymorphic-agent", correlation_id=CID):
        routing_decision(
            "agent-performance",
            0.92,
            "enhanced_fuzzy_matching",
            45,
            user_request="optimize my database queries",
            alternatives=["agent-api", "agent-debug"],
            reasoning="High confidence match",
            context={"domain": "db"},
        )
        transformation(
            "polymorphic-agent",
            "agent-performance",
            duration_ms=85,
            reason="High confidence match",
            confidence_score=0.92,
        )
        router_metrics(
            "optimize my database queries",
            45,
            candidates_evaluated=5,
            trigger_match_strategy="enhanced_fuzzy_matching",
            confidence_components={"trigger": 0.9},
        )
        detection_failure(
            "do the thing",
            "no agent matched",
            candidates=["agent-a"],
            best_confidence=0.3,
            detection_strategy="fuzzy",
            candidates_evaluated=4,
            detection_duration_ms=12,
            context={"hint": None},
        )
    assert events_of(spans, "invoke_agent polymorphic-agent") == [
        (
            c.EVENT_ROUTING_DECISION,
            {
                c.ATTR_SELECTED_AGENT: "agent-performance",
                c.ATTR_CONFIDENCE_SCORE: 0.92,
                c.ATTR_ROUTING_STRATEGY: "enhanced_fuzzy_matching",
                c.ATTR_ROUTING_TIME_MS: 45,
                c.ATTR_ALTERNATIVES: '["agent-api","agent-debug"]',
                c.ATTR_ROUTING_CONTEXT: '{"domain":"db"}',
                c.ATTR_REASONING: "High confidence match",
                c.ATTR_ROUTING_USER_REQUEST: "optimize my database queries",
            },
        ),
        (
            c.EVENT_TRANSFORMATION,
            {
                c.ATTR_SOURCE_AGENT: "polymorphic-agent",
                c.ATTR_TARGET_AGENT: "agent-performance",
                c.ATTR_TRANSFORMATION_DURATION_MS: 85,
                c.ATTR_TRANSFORMATION_SUCCESS: True,
                c.ATTR_TRANSFORMATION_CONFIDENCE: 0.92,
                c.ATTR_TRANSFORMATION_REASON: "High confidence match",
            },
        ),
        (
            c.EVENT_ROUTER_METRICS,
            {
                c.ATTR_ROUTING_DURATION_MS: 45,
                c.ATTR_CANDIDATES_EVALUATED: 5,
                c.ATTR_CACHE_HIT: False,
                c.ATTR_TRIGGER_MATCH_STRATEGY: "enhanced_fuzzy_matching",
                c.ATTR_CONFIDENCE_COMPONENTS: '{"trigger":0.9}',
                c.ATTR_QUERY_TEXT: "optimize my database queries",
            },
        ),
        (
            c.EVENT_DETECTION_FAILURE,
            {
                c.ATTR_DETECTION_FAILURE_REASON: "no agent matched",
                c.ATTR_DETECTION_CANDIDATES_EVALUATED: 4,
                c.ATTR_DETECTION_CONFIDENCE: 0.3,
                c.ATTR_DETECTION_DURATION_MS: 12,
                c.ATTR_DETECTION_STRATEGY: "fuzzy",
                c.ATTR_DETECTION_CANDIDATES: '["agent-a"]',
                c.ATTR_DETECTION_CONTEXT: '{"hint":null}',
                c.ATTR_DETECTION_USER_REQUEST: "do the thing",
            },
        ),
    ]


def test_router_event_before_execution_shares_its_trace(spans: Spans) -> None:
    routing_decision("agent-x", 0.5, "exact", 3, correlation_id=CID)
    transformation("router", "agent-x", duration_ms=1, correlation_id="abc-123")
    with agent_execution("agent-x", correlation_id=CID):
        pass
    short = spans.by_name(c.EVENT_ROUTING_DECISION)
    execution = spans.by_name("invoke_agent agent-x")
    assert hexid(short.context.trace_id) == hexid(execution.context.trace_id) == uuid.UUID(CID).hex
    assert short.parent is None
    assert dict(short.attributes or {}) == {c.ONEX_CORRELATION_ID: CID}
    legacy = spans.by_name(c.EVENT_TRANSFORMATION)
    mapped = uuid.uuid5(c.CORRELATION_ID_NAMESPACE, "abc-123")
    assert dict(legacy.attributes or {}) == {
        c.ONEX_CORRELATION_ID: str(mapped),
        c.ONEX_CORRELATION_ID_ORIGINAL: "abc-123",
    }
    assert hexid(legacy.context.trace_id) == mapped.hex


def test_router_correlation_id_ignored_inside_execution(spans: Spans) -> None:
    with agent_execution("a", correlation_id=CID):
        routing_decision("agent-x", 0.5, "exact", 3, correlation_id=str(uuid.uuid4()))
    assert [s.name for s in spans.finished()] == ["invoke_agent a"]


def test_capture_off_hides_user_requests(spans: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    import onex_otel

    monkeypatch.setenv("ONEX_CAPTURE_CONTENT", "0")
    onex_otel.configure()
    with agent_execution("a"):
        routing_decision("agent-x", 0.5, "exact", 3, user_request="private")
        router_metrics("private", 3, candidates_evaluated=1)
        detection_failure("private", "none")
    attrs = [dict(e.attributes or {}) for e in spans.by_name("invoke_agent a").events]
    assert c.ATTR_ROUTING_USER_REQUEST not in attrs[0]
    assert attrs[1][c.ATTR_QUERY_TEXT] == c.NOT_CAPTURED_MARKER
    assert attrs[2][c.ATTR_DETECTION_USER_REQUEST] == c.NOT_CAPTURED_MARKER
    assert "private" not in json.dumps(attrs)


BAD_CALLS: list[tuple[str, Callable[[], None], str]] = [
    ("confidence>1", lambda: routing_decision("a", 1.2, "s", 1), "confidence_score"),
    ("confidence<0", lambda: routing_decision("a", -0.1, "s", 1), "confidence_score"),
    ("confidence nan", lambda: routing_decision("a", float("nan"), "s", 1), "confidence_score"),
    ("empty agent", lambda: routing_decision("", 0.5, "s", 1), "selected_agent"),
    ("empty strategy", lambda: routing_decision("a", 0.5, " ", 1), "routing_strategy"),
    ("negative time", lambda: routing_decision("a", 0.5, "s", -1), "routing_time_ms"),
    (
        "alternatives str",
        lambda: routing_decision("a", 0.5, "s", 1, alternatives="b"),  # type: ignore[arg-type]
        "alternatives",
    ),
    (
        "context list",
        lambda: routing_decision("a", 0.5, "s", 1, context=[1]),  # type: ignore[arg-type]
        "context",
    ),
    ("empty source", lambda: transformation("", "b", duration_ms=1), "source_agent"),
    ("empty target", lambda: transformation("a", "", duration_ms=1), "target_agent"),
    ("negative duration", lambda: transformation("a", "b", duration_ms=-5), "duration_ms"),
    (
        "transform confidence",
        lambda: transformation("a", "b", duration_ms=1, confidence_score=2),
        "confidence_score",
    ),
    (
        "success not bool",
        lambda: transformation("a", "b", duration_ms=1, success="yes"),  # type: ignore[arg-type]
        "success",
    ),
    ("router 1000ms", lambda: router_metrics("q", 1000, candidates_evaluated=1), "routing_duration_ms"),
    ("router negative", lambda: router_metrics("q", -1, candidates_evaluated=1), "routing_duration_ms"),
    ("router empty query", lambda: router_metrics("", 1, candidates_evaluated=1), "query_text"),
    ("router candidates", lambda: router_metrics("q", 1, candidates_evaluated=-1), "candidates_evaluated"),
    (
        "router cache_hit",
        lambda: router_metrics("q", 1, candidates_evaluated=1, cache_hit=1),  # type: ignore[arg-type]
        "cache_hit",
    ),
    ("detection request", lambda: detection_failure("", "r"), "user_request"),
    ("detection reason", lambda: detection_failure("u", ""), "failure_reason"),
    ("detection confidence", lambda: detection_failure("u", "r", best_confidence=1.5), "best_confidence"),
    ("detection count", lambda: detection_failure("u", "r", candidates_evaluated=-2), "candidates_evaluated"),
    ("decision name", lambda: record_decision(""), "name"),
    ("decision duration", lambda: record_decision("d", duration_ms=-1), "duration_ms"),
    ("error severity", lambda: record_error("E", "m", severity="fatal"), "severity"),
    ("error type", lambda: record_error("", "m"), "error_type"),
    ("success name", lambda: record_success(""), "name"),
]


@pytest.mark.parametrize(("label", "call", "field"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_invalid_input_rejected_before_recording(
    spans: Spans, label: str, call: Callable[[], None], field: str
) -> None:
    with agent_execution("a"), pytest.raises(ValueError, match=field):
        call()
    assert spans.by_name("invoke_agent a").events == ()


def _attrs_of_last_event(spans: Spans) -> dict[str, Any]:
    events = spans.by_name("invoke_agent a").events
    return dict(events[-1].attributes or {})


@pytest.mark.parametrize("ms", [0, 999, 998.6])
def test_accepted_router_values_validate_as_envelope_payloads(spans: Spans, ms: float) -> None:
    """What the core accepts, the exporter's payload models (and so the tables) accept too."""
    with agent_execution("a", correlation_id=CID):
        router_metrics("q", ms, candidates_evaluated=0)
    event = _attrs_of_last_event(spans)
    RouterPerformancePayload(
        correlation_id=uuid.UUID(CID),
        query_text=event[c.ATTR_QUERY_TEXT],
        routing_duration_ms=event[c.ATTR_ROUTING_DURATION_MS],
        candidates_evaluated=event[c.ATTR_CANDIDATES_EVALUATED],
    )


def test_boundary_values_validate_as_envelope_payloads(spans: Spans) -> None:
    with agent_execution("a", correlation_id=CID):
        routing_decision("x", 0, "s", 0)
        routing_decision("x", 1, "s", 0.4)
        transformation("a", "b", duration_ms=0, confidence_score=1.0, success=False)
        detection_failure("u", "r", best_confidence=0.0, detection_duration_ms=0)
    events: list[dict[str, Any]] = [dict(e.attributes or {}) for e in spans.by_name("invoke_agent a").events]
    for ev in events[:2]:
        RoutingDecisionPayload(
            correlation_id=uuid.UUID(CID),
            selected_agent=ev[c.ATTR_SELECTED_AGENT],
            confidence_score=ev[c.ATTR_CONFIDENCE_SCORE],
            routing_strategy=ev[c.ATTR_ROUTING_STRATEGY],
            routing_time_ms=ev[c.ATTR_ROUTING_TIME_MS],
            alternatives=json.loads(ev[c.ATTR_ALTERNATIVES]),
            context=json.loads(ev[c.ATTR_ROUTING_CONTEXT]),
        )
    ev = events[2]
    TransformationPayload(
        correlation_id=uuid.UUID(CID),
        source_agent=ev[c.ATTR_SOURCE_AGENT],
        target_agent=ev[c.ATTR_TARGET_AGENT],
        transformation_duration_ms=ev[c.ATTR_TRANSFORMATION_DURATION_MS],
        confidence_score=ev[c.ATTR_TRANSFORMATION_CONFIDENCE],
        success=ev[c.ATTR_TRANSFORMATION_SUCCESS],
    )
    ev = events[3]
    DetectionFailurePayload(
        correlation_id=uuid.UUID(CID),
        user_request=ev[c.ATTR_DETECTION_USER_REQUEST],
        failure_reason=ev[c.ATTR_DETECTION_FAILURE_REASON],
        best_confidence=ev[c.ATTR_DETECTION_CONFIDENCE],
        detection_duration_ms=ev[c.ATTR_DETECTION_DURATION_MS],
        candidates=json.loads(ev[c.ATTR_DETECTION_CANDIDATES]),
    )
