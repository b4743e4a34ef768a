"""Kafka -> collector -> PostgreSQL with real services: every event type, every column."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from onex_collector.consumer import Collector
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
from tests.collector.conftest import options, produce, query, running, wait_for
from tests.services.kafka import Broker
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

T0 = datetime(2025, 11, 6, 10, 0, 0, 123456, tzinfo=UTC)


def full_run(corr: uuid.UUID, execution: uuid.UUID) -> list[OnexEnvelopeV1]:
    """One envelope of every event type, every field set."""
    session = uuid.uuid4()
    return [
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=corr,
                selected_agent="agent-performance",
                confidence_score=0.92,
                routing_strategy="enhanced_fuzzy_matching",
                routing_time_ms=45,
                user_request="optimize my database queries",
                alternatives=["agent-api", "agent-debug"],
                reasoning="High confidence match",
                context={"domain": "db"},
                timestamp=T0,
            )
        ),
        OnexEnvelopeV1.create(
            TransformationPayload(
                correlation_id=corr,
                source_agent="polymorphic-agent",
                target_agent="agent-performance",
                transformation_reason="match",
                confidence_score=0.92,
                transformation_duration_ms=85,
                success=True,
                timestamp=T0 + timedelta(milliseconds=1),
            )
        ),
        OnexEnvelopeV1.create(
            RouterPerformancePayload(
                correlation_id=corr,
                query_text="optimize my database queries",
                routing_duration_ms=45,
                cache_hit=False,
                trigger_match_strategy="enhanced_fuzzy_matching",
                confidence_components={"trigger": 0.5, "context": 0.42},
                candidates_evaluated=5,
                timestamp=T0 + timedelta(milliseconds=2),
            )
        ),
        OnexEnvelopeV1.create(
            DetectionFailurePayload(
                correlation_id=corr,
                user_request="do the thing",
                failure_reason="no_match",
                detection_strategy="fuzzy",
                candidates_evaluated=3,
                candidates=["a", "b"],
                best_confidence=0.31,
                detection_duration_ms=12,
                context={"k": "v"},
                timestamp=T0 + timedelta(milliseconds=3),
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-performance",
                user_request="optimize my database queries",
                session_id=str(session),
                started_at=T0 + timedelta(milliseconds=4),
                context={"domain": "db"},
                project_path="/p",
                project_name="proj",
                working_directory="/p/w",
                claude_session_id="claude-1",
                terminal_id="tty-1",
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionProgressPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-performance",
                stage="routing_analysis",
                percent=25,
                metadata={"n": 1},
                reported_at=T0 + timedelta(milliseconds=5),
            )
        ),
        OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr,
                agent_name="agent-performance",
                action_type="tool_call",
                action_name="Read",
                action_details={"file_path": "/x.py", "line_count": 100},
                debug_mode=True,
                duration_ms=45,
                project_path="/p",
                project_name="proj",
                working_directory="/p/w",
                timestamp=T0 + timedelta(milliseconds=6),
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionCompletedPayload(
                correlation_id=corr,
                execution_id=execution,
                agent_name="agent-performance",
                session_id=str(session),
                completed_at=T0 + timedelta(milliseconds=1004),
                duration_ms=1000,
                quality_score=0.9,
                output_summary="done",
                metrics={"files": 3},
            )
        ),
    ]


def test_every_event_type_lands_with_every_column(
    broker: Broker, topics: list[str], migrated: Database
) -> None:
    corr, execution = uuid.uuid4(), uuid.uuid4()
    envelopes = full_run(corr, execution)
    ids = [e.event_id for e in envelopes]
    produce(broker, envelopes)
    with running(Collector(options(broker, migrated))) as collector:
        wait_for(
            lambda: (
                query(
                    migrated,
                    "SELECT 1 FROM agent_execution_logs WHERE execution_id = %s AND status = 'success'",
                    (execution,),
                )
                and query(migrated, "SELECT 1 FROM agent_actions WHERE id = %s", (ids[6],))
            ),
            what="the run's rows",
        )
        wait_for(lambda: collector.metrics.snapshot()["messages_inserted"] >= len(envelopes))

    assert query(migrated, "SELECT * FROM agent_routing_decisions WHERE correlation_id = %s", (corr,)) == [
        (
            ids[0],
            corr,
            "optimize my database queries",
            "agent-performance",
            Decimal("0.9200"),
            ["agent-api", "agent-debug"],
            "High confidence match",
            "enhanced_fuzzy_matching",
            {"domain": "db", "correlation_id": str(corr)},
            45,
            T0,
        )
    ]
    assert query(
        migrated, "SELECT * FROM agent_transformation_events WHERE correlation_id = %s", (corr,)
    ) == [
        (
            ids[1],
            corr,
            "polymorphic-agent",
            "agent-performance",
            "match",
            Decimal("0.9200"),
            85,
            True,
            T0 + timedelta(milliseconds=1),
            {"correlation_id": str(corr)},
        )
    ]
    assert query(migrated, "SELECT * FROM router_performance_metrics WHERE correlation_id = %s", (corr,)) == [
        (
            ids[2],
            corr,
            "optimize my database queries",
            45,
            False,
            "enhanced_fuzzy_matching",
            {"trigger": 0.5, "context": 0.42},
            5,
            T0 + timedelta(milliseconds=2),
            {"correlation_id": str(corr)},
        )
    ]
    assert query(migrated, "SELECT * FROM agent_detection_failures WHERE correlation_id = %s", (corr,)) == [
        (
            ids[3],
            corr,
            "do the thing",
            "no_match",
            "fuzzy",
            3,
            ["a", "b"],
            Decimal("0.3100"),
            12,
            {"k": "v", "correlation_id": str(corr)},
            T0 + timedelta(milliseconds=3),
        )
    ]
    assert query(migrated, "SELECT * FROM agent_actions WHERE correlation_id = %s", (corr,)) == [
        (
            ids[6],
            corr,
            "agent-performance",
            "tool_call",
            "Read",
            {"file_path": "/x.py", "line_count": 100},
            True,
            45,
            "/p",
            "proj",
            "/p/w",
            T0 + timedelta(milliseconds=6),
        )
    ]
    started = envelopes[4].payload
    assert isinstance(started, ExecutionStartedPayload)
    (log,) = query(
        migrated,
        "SELECT execution_id, correlation_id, session_id::text, agent_name,"
        " user_prompt, status, started_at, completed_at, duration_ms, quality_score,"
        " error_message, error_type, metadata, project_path, project_name,"
        " claude_session_id, terminal_id FROM agent_execution_logs"
        " WHERE execution_id = %s",
        (execution,),
    )
    assert log == (
        execution,
        corr,
        started.session_id,
        "agent-performance",
        "optimize my database queries",
        "success",
        T0 + timedelta(milliseconds=4),
        T0 + timedelta(milliseconds=1004),
        1000,
        0.9,
        None,
        None,
        {
            "context": {"domain": "db"},
            "working_directory": "/p/w",
            "started_event_id": str(ids[4]),
            "metrics": {"files": 3},
            "output_summary": "done",
            "progress": [
                {
                    "event_id": str(ids[5]),
                    "stage": "routing_analysis",
                    "percent": 25.0,
                    "metadata": {"n": 1},
                    "reported_at": (T0 + timedelta(milliseconds=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                }
            ],
        },
        "/p",
        "proj",
        "claude-1",
        "tty-1",
    )


def test_failed_execution_and_legacy_records(broker: Broker, topics: list[str], migrated: Database) -> None:
    corr, execution = uuid.uuid4(), uuid.uuid4()
    failed = OnexEnvelopeV1.create(
        ExecutionFailedPayload(
            correlation_id=corr,
            execution_id=execution,
            agent_name="agent-x",
            status="cancelled",
            failed_at=T0,
            duration_ms=7,
            error_message="boom",
            error_type="ValueError",
            error_stack_trace="Traceback...",
            partial_results={"done": 1},
        )
    )
    legacy_action = {
        "correlation_id": "abc-123-legacy-" + corr.hex[:6],
        "agent_name": "polymorphic-agent",
        "action_type": "decision",
        "action_name": "route",
        "action_details": {"x": 1},
        "debug_mode": True,
        "duration_ms": 5,
        "timestamp": "2025-11-06T10:00:00Z",
    }
    legacy_route = {
        "correlation_id": str(corr),
        "selected_agent": "agent-x",
        "confidence_score": 0.5,
        "routing_strategy": "s",
        "routing_time_ms": 3,
        "timestamp": "2025-11-06T10:00:00Z",
    }
    legacy_log: dict[str, Any] = {
        "execution_id": str(uuid.uuid4()),
        "correlation_id": str(corr),
        "agent_name": "agent-y",
        "status": "completed",
        "quality_score": 0.5,
        "timestamp": "2025-11-06T10:00:01Z",
    }
    produce(broker, [failed])
    produce(
        broker,
        [
            ("agent-actions", json.dumps(legacy_action).encode()),
            ("agent-actions", json.dumps(legacy_action).encode()),  # a duplicate: one row
            ("agent-routing-decisions", json.dumps(legacy_route).encode()),
            ("agent-execution-logs", json.dumps(legacy_log).encode()),
        ],
    )
    legacy_corr = query(migrated, "SELECT onex_correlation_id(%s)", (legacy_action["correlation_id"],))[0][0]
    with running(Collector(options(broker, migrated))):
        wait_for(
            lambda: (
                query(
                    migrated,
                    "SELECT 1 FROM agent_execution_logs WHERE execution_id = %s",
                    (uuid.UUID(legacy_log["execution_id"]),),
                )
                and query(
                    migrated, "SELECT 1 FROM agent_execution_logs WHERE execution_id = %s", (execution,)
                )
                and query(migrated, "SELECT 1 FROM agent_actions WHERE correlation_id = %s", (legacy_corr,))
                and query(
                    migrated, "SELECT 1 FROM agent_routing_decisions WHERE correlation_id = %s", (corr,)
                )
            ),
            what="all rows",
        )
    assert query(
        migrated,
        "SELECT status, error_message, error_type, duration_ms, completed_at,"
        " started_at, metadata FROM agent_execution_logs WHERE execution_id = %s",
        (execution,),
    ) == [
        (
            "cancelled",
            "boom",
            "ValueError",
            7,
            T0,
            T0 - timedelta(milliseconds=7),
            {"error_stack_trace": "Traceback...", "partial_results": {"done": 1}},
        )
    ]
    rows = query(
        migrated,
        "SELECT agent_name, action_type, action_details, created_at"
        " FROM agent_actions WHERE correlation_id = %s",
        (legacy_corr,),
    )
    assert rows == [
        (
            "polymorphic-agent",
            "decision",
            {"x": 1, "correlation_id_original": legacy_action["correlation_id"]},
            datetime(2025, 11, 6, 10, 0, tzinfo=UTC),
        )
    ]
    assert query(
        migrated,
        "SELECT status, quality_score, agent_name FROM agent_execution_logs WHERE execution_id = %s",
        (uuid.UUID(legacy_log["execution_id"]),),
    ) == [("success", 0.5, "agent-y")]
