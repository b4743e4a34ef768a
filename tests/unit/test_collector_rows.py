"""The pure message -> rows mapping of the collector (no I/O)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onex_collector.rows import (
    TABLE_COLUMNS,
    InvalidEvent,
    NotJson,
    decode_message,
    default_topic_types,
    legacy_event_id,
)
from onex_otel import conventions as c
from onex_otel.conventions import EventType
from onex_otel.envelope import (
    AgentActionPayload,
    DetectionFailurePayload,
    ExecutionCompletedPayload,
    ExecutionFailedPayload,
    ExecutionProgressPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
)
from onex_otel.ids import correlation_uuid

T0 = datetime(2025, 11, 6, 10, 0, tzinfo=UTC)
CORR = uuid.UUID("ad12146a-b7d0-4a47-86bf-7ec298ce2c81")
EXE = uuid.UUID("0199a8a4-6f00-7000-8000-000000000001")
EID = uuid.UUID("0199a8a4-6f00-7000-8000-0000000000ee")


#: Columns of UUIDs and of timestamps: where a message carried one as canonical text, the row holds
#: that text (tests/unit/test_collector_fastpath.py checks it gives the same batch document).
UUID_COLUMNS = frozenset({"id", "event_id", "correlation_id", "execution_id"})
TIME_COLUMNS = frozenset({"created_at", "occurred_at"})


def typed(column: str, value: Any) -> Any:
    """A row's value with a UUID or timestamp kept as text read back as the object."""
    if isinstance(value, str) and column in UUID_COLUMNS:
        return uuid.UUID(value)
    if isinstance(value, str) and column in TIME_COLUMNS:
        return datetime.fromisoformat(value)
    return value


def decode_env(payload: Any) -> dict[str, Any]:
    env = OnexEnvelopeV1.create(payload, event_id=EID)
    decoded = decode_message("any-topic", env.to_json())
    assert typed("id", decoded.event_id) == EID and decoded.event_type == payload.event_type
    assert typed("id", decoded.correlation_id) == CORR and not decoded.legacy
    (row,) = decoded.rows
    return {"table": row.table, **{k: typed(k, v) for k, v in row.as_dict().items()}}


def test_agent_action_row() -> None:
    assert decode_env(
        AgentActionPayload(
            correlation_id=CORR,
            agent_name="a",
            action_type="tool_call",
            action_name="Read",
            action_details={"k": [1, 2]},
            debug_mode=False,
            duration_ms=4,
            project_path="/p",
            project_name="n",
            working_directory="/w",
            timestamp=T0,
        )
    ) == {
        "table": c.TABLE_AGENT_ACTIONS,
        "id": EID,
        "correlation_id": CORR,
        "agent_name": "a",
        "action_type": "tool_call",
        "action_name": "Read",
        "action_details": {"k": [1, 2]},
        "debug_mode": False,
        "duration_ms": 4,
        "project_path": "/p",
        "project_name": "n",
        "working_directory": "/w",
        "created_at": T0,
    }


def test_routing_decision_row_puts_correlation_id_in_context() -> None:
    assert decode_env(
        RoutingDecisionPayload(
            correlation_id=CORR,
            selected_agent="x",
            confidence_score=0.5,
            routing_strategy="s",
            routing_time_ms=3,
            user_request="u",
            alternatives=["y"],
            reasoning="r",
            context={"correlation_id": "spoofed", "d": 1},
            timestamp=T0,
        )
    ) == {
        "table": c.TABLE_ROUTING_DECISIONS,
        "id": EID,
        "correlation_id": CORR,
        "user_request": "u",
        "selected_agent": "x",
        "confidence_score": 0.5,
        "alternatives": ["y"],
        "reasoning": "r",
        "routing_strategy": "s",
        "context": {"correlation_id": str(CORR), "d": 1},
        "routing_time_ms": 3,
        "created_at": T0,
    }


def test_transformation_performance_detection_rows() -> None:
    assert decode_env(
        TransformationPayload(
            correlation_id=CORR,
            source_agent="s",
            target_agent="t",
            transformation_reason="r",
            confidence_score=None,
            transformation_duration_ms=0,
            success=False,
            timestamp=T0,
        )
    ) == {
        "table": c.TABLE_TRANSFORMATION_EVENTS,
        "id": EID,
        "correlation_id": CORR,
        "source_agent": "s",
        "target_agent": "t",
        "transformation_reason": "r",
        "confidence_score": None,
        "transformation_duration_ms": 0,
        "success": False,
        "created_at": T0,
    }
    assert decode_env(
        RouterPerformancePayload(
            correlation_id=CORR,
            query_text="q",
            routing_duration_ms=999,
            cache_hit=True,
            trigger_match_strategy=None,
            confidence_components={"a": 1},
            candidates_evaluated=0,
            timestamp=T0,
        )
    ) == {
        "table": c.TABLE_ROUTER_PERFORMANCE,
        "id": EID,
        "correlation_id": CORR,
        "query_text": "q",
        "routing_duration_ms": 999,
        "cache_hit": True,
        "trigger_match_strategy": None,
        "confidence_components": {"a": 1},
        "candidates_evaluated": 0,
        "created_at": T0,
    }
    assert decode_env(
        DetectionFailurePayload(
            correlation_id=CORR,
            user_request="u",
            failure_reason="f",
            detection_strategy="d",
            candidates_evaluated=2,
            candidates=[{"a": 1}],
            best_confidence=1.0,
            detection_duration_ms=5,
            context={},
            timestamp=T0,
        )
    ) == {
        "table": c.TABLE_DETECTION_FAILURES,
        "id": EID,
        "correlation_id": CORR,
        "user_request": "u",
        "failure_reason": "f",
        "detection_strategy": "d",
        "candidates_evaluated": 2,
        "candidates": [{"a": 1}],
        "best_confidence": 1.0,
        "detection_duration_ms": 5,
        "context": {"correlation_id": str(CORR)},
        "created_at": T0,
    }


def test_lifecycle_rows() -> None:
    started = decode_env(
        ExecutionStartedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            user_request="u",
            session_id="session-789",
            started_at=T0,
            context={"d": 1},
            project_path="/p",
            project_name="n",
            working_directory="/w",
            claude_session_id="c",
            terminal_id="t",
            correlation_id_original="abc-123",
        )
    )
    session, original = correlation_uuid("session-789")
    assert original == "session-789"
    assert started == {
        "table": c.TABLE_EXECUTION_EVENTS,
        "event_id": EID,
        "execution_id": EXE,
        "correlation_id": CORR,
        "kind": "started",
        "agent_name": "a",
        "occurred_at": T0,
        "body": {
            "session_id": str(session),
            "user_request": "u",
            "project_path": "/p",
            "project_name": "n",
            "claude_session_id": "c",
            "terminal_id": "t",
            "meta": {
                "context": {"d": 1},
                "session_id_original": "session-789",
                "working_directory": "/w",
                "correlation_id_original": "abc-123",
                "started_event_id": str(EID),
            },
        },
    }
    progress = decode_env(
        ExecutionProgressPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            stage="s",
            percent=50.5,
            metadata={"m": 1},
            reported_at=T0,
        )
    )
    assert progress["kind"] == "progress" and progress["occurred_at"] == T0
    assert progress["body"] == {
        "event_id": str(EID),
        "stage": "s",
        "percent": 50.5,
        "metadata": {"m": 1},
        "reported_at": "2025-11-06T10:00:00.000000Z",
    }
    completed = decode_env(
        ExecutionCompletedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            completed_at=T0,
            duration_ms=3,
            quality_score=0.5,
            output_summary="o",
            metrics={"x": 1},
        )
    )
    assert completed["kind"] == "completed"
    assert completed["body"] == {
        "status": "success",
        "duration_ms": 3,
        "quality_score": 0.5,
        "meta": {"metrics": {"x": 1}, "output_summary": "o"},
    }
    failed = decode_env(
        ExecutionFailedPayload(
            correlation_id=CORR,
            execution_id=EXE,
            agent_name="a",
            status="cancelled",
            failed_at=T0,
            error_message="e",
            error_type="T",
            session_id=str(CORR),
        )
    )
    assert failed["kind"] == "failed"
    assert failed["body"] == {
        "status": "cancelled",
        "session_id": str(CORR),
        "error_message": "e",
        "error_type": "T",
        "meta": {},
    }


def test_every_event_type_has_a_table() -> None:
    tables = {
        c.TABLE_AGENT_ACTIONS,
        c.TABLE_ROUTING_DECISIONS,
        c.TABLE_TRANSFORMATION_EVENTS,
        c.TABLE_ROUTER_PERFORMANCE,
        c.TABLE_DETECTION_FAILURES,
        c.TABLE_EXECUTION_EVENTS,
    }
    assert set(TABLE_COLUMNS) == tables


@pytest.mark.parametrize("value", [None, b"", b"not json", b"[1, 2]", b"\xff\xfe", b"42"])
def test_not_json_is_poison_at_decode(value: bytes | None) -> None:
    with pytest.raises(NotJson) as info:
        decode_message(c.LEGACY_TOPIC_AGENT_ACTIONS, value)
    assert info.value.stage == c.DLQ_STAGE_DECODE


def test_invalid_envelopes_are_poison_at_validate() -> None:
    env = json.loads(
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=CORR,
                selected_agent="x",
                confidence_score=0.5,
                routing_strategy="s",
                routing_time_ms=3,
            )
        ).to_json()
    )
    bad_confidence = {**env, "payload": {**env["payload"], "confidence_score": 1.5}}
    unknown_type = {**env, "event_type": "no.such.event.v1"}
    for obj in (bad_confidence, unknown_type, {**env, "payload": "x"}):
        with pytest.raises(InvalidEvent) as info:
            decode_message("t", json.dumps(obj).encode())
        assert info.value.stage == c.DLQ_STAGE_VALIDATE


def test_flat_record_on_an_unknown_topic_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="carries no legacy records"):
        decode_message("some-other-topic", b'{"a": 1}')


LEGACY_ACTION = {
    "correlation_id": "abc-123",
    "agent_name": "polymorphic-agent",
    "action_type": "decision",
    "action_name": "route",
    "action_details": {"x": 1},
    "debug_mode": True,
    "duration_ms": 45,
    "timestamp": "2025-11-06T10:00:00Z",
}


def test_legacy_action_record() -> None:
    decoded = decode_message("agent-actions", json.dumps(LEGACY_ACTION).encode())
    corr, _ = correlation_uuid("abc-123")
    assert decoded.legacy and decoded.correlation_id == corr
    row = decoded.rows[0].as_dict()
    assert row["id"] == decoded.event_id == legacy_event_id(EventType.AGENT_ACTION, LEGACY_ACTION)
    assert row["action_details"] == {"x": 1, "correlation_id_original": "abc-123"}
    assert row["created_at"] == T0 and row["duration_ms"] == 45


def test_legacy_event_id_is_deterministic_and_key_order_free() -> None:
    reordered = dict(reversed(list(LEGACY_ACTION.items())))
    a = decode_message("agent-actions", json.dumps(LEGACY_ACTION).encode()).event_id
    b = decode_message("agent-actions", json.dumps(reordered).encode()).event_id
    assert a == b
    changed = {**LEGACY_ACTION, "duration_ms": 46}
    assert decode_message("agent-actions", json.dumps(changed).encode()).event_id != a
    own = {**LEGACY_ACTION, "event_id": str(EID)}
    assert decode_message("agent-actions", json.dumps(own).encode()).event_id == EID


def test_legacy_record_without_correlation_id_is_invalid() -> None:
    record = {k: v for k, v in LEGACY_ACTION.items() if k != "correlation_id"}
    with pytest.raises(InvalidEvent, match="no correlation_id"):
        decode_message("agent-actions", json.dumps(record).encode())


@pytest.mark.parametrize(
    ("record", "kind", "status"),
    [
        ({"kind": "started"}, "started", None),
        ({"user_prompt": "hello"}, "started", None),
        ({"status": "in_progress"}, "started", None),
        ({"stage": "s", "percent": 10}, "progress", None),
        ({"status": "SUCCESS"}, "completed", "success"),
        ({"status": "EnumOperationStatus.SUCCESS"}, "completed", "success"),
        ({"status": "completed", "metadata": {"m": 1}}, "completed", "success"),
        ({"status": "failed", "error_message": "e"}, "failed", "failed"),
        ({"status": "canceled"}, "failed", "cancelled"),
        ({"event": "fail"}, "failed", "failed"),
    ],
)
def test_legacy_execution_log_records(record: dict[str, Any], kind: str, status: str | None) -> None:
    base = {
        "execution_id": str(EXE),
        "correlation_id": str(CORR),
        "agent_name": "a",
        "timestamp": "2025-11-06T10:00:00Z",
    }
    decoded = decode_message("agent-execution-logs", json.dumps({**base, **record}).encode())
    row = decoded.rows[0].as_dict()
    assert row["kind"] == kind and row["occurred_at"] == T0
    assert row["body"].get("status") == status
    if "user_prompt" in record:
        assert row["body"]["user_request"] == "hello"
    if "metadata" in record and kind == "completed":
        assert row["body"]["meta"]["metrics"] == {"m": 1}


def test_legacy_execution_log_with_unknown_status_is_invalid() -> None:
    record = {"execution_id": str(EXE), "correlation_id": str(CORR), "agent_name": "a", "status": "exploded"}
    with pytest.raises(InvalidEvent, match="unknown execution status"):
        decode_message("agent-execution-logs", json.dumps(record).encode())


def test_default_topic_types() -> None:
    topics = default_topic_types("pre.")
    assert topics["pre.onex.evt.omniclaude.agent-actions.v1"] == EventType.AGENT_ACTION
    assert topics["agent-actions"] == EventType.AGENT_ACTION
    assert topics["agent-routing-decisions"] == EventType.ROUTING_DECISION
    assert "agent-execution-logs" in topics
    assert len(topics) == len(EventType) + 3


texts = st.text(min_size=1, max_size=20)


@given(
    agent=texts,
    name=texts,
    kind=st.sampled_from(list(c.ActionType)),
    details=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
    duration=st.none() | st.integers(min_value=0, max_value=10**6),
    offset=st.integers(min_value=0, max_value=10**9),
    debug=st.booleans(),
)
def test_agent_action_round_trip(
    agent: str,
    name: str,
    kind: c.ActionType,
    details: dict[str, Any],
    duration: int | None,
    offset: int,
    debug: bool,
) -> None:
    ts = T0 + timedelta(microseconds=offset)
    row = decode_env(
        AgentActionPayload(
            correlation_id=CORR,
            agent_name=agent,
            action_type=kind,
            action_name=name,
            action_details=details,
            duration_ms=duration,
            debug_mode=debug,
            timestamp=ts,
        )
    )

    # PostgreSQL cannot store NUL: it becomes U+FFFD (keys and values alike), the rest is exact.
    def nul(v: Any) -> Any:
        return v.replace("\x00", "\ufffd") if isinstance(v, str) else v

    assert (row["agent_name"], row["action_name"], row["action_type"]) == (nul(agent), nul(name), kind.value)
    assert row["action_details"] == {nul(k): nul(v) for k, v in details.items()}
    assert row["duration_ms"] == duration
    assert row["debug_mode"] is debug and row["created_at"] == ts
