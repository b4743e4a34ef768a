"""Every SQL query printed in the seeds runs unchanged against the schema and returns its rows.

Placeholders ('<correlation_id>', 'abc-123', the seed 004 example UUID) are substituted by the
ids of the rows written here; nothing else in the query text is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from onex_collector.migrate import migrate
from onex_collector.rows import decode_message
from onex_collector.writer import Writer
from onex_otel.envelope import (
    AgentActionPayload,
    ExecutionCompletedPayload,
    ExecutionStartedPayload,
    OnexEnvelopeV1,
    RouterPerformancePayload,
    RoutingDecisionPayload,
    TransformationPayload,
)
from tests.services.postgres import Database, fresh_database

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
CORR = uuid.UUID("ad12146a-b7d0-4a47-86bf-7ec298ce2c81")  # seed 004's example id
OTHER = uuid.uuid4()
EXECUTION = uuid.uuid4()


def at(ms: int) -> datetime:
    return NOW + timedelta(milliseconds=ms)


def events() -> list[OnexEnvelopeV1]:
    def action(
        corr: uuid.UUID,
        agent: str,
        kind: str,
        name: str,
        ms: int,
        dur: int | None,
        details: dict[str, Any] | None = None,
        debug: bool = True,
    ) -> OnexEnvelopeV1:
        return OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=corr,
                agent_name=agent,
                action_type=kind,
                action_name=name,
                action_details=details or {},
                duration_ms=dur,
                debug_mode=debug,
                timestamp=at(ms),
            )
        )

    return [
        OnexEnvelopeV1.create(
            RoutingDecisionPayload(
                correlation_id=CORR,
                selected_agent="agent-performance",
                confidence_score=0.92,
                routing_strategy="enhanced_fuzzy_matching",
                routing_time_ms=45,
                timestamp=at(0),
            )
        ),
        OnexEnvelopeV1.create(
            TransformationPayload(
                correlation_id=CORR,
                source_agent="polymorphic-agent",
                target_agent="agent-performance",
                confidence_score=0.92,
                transformation_duration_ms=85,
                timestamp=at(1),
            )
        ),
        OnexEnvelopeV1.create(
            RouterPerformancePayload(
                correlation_id=CORR,
                query_text="optimize",
                routing_duration_ms=45,
                cache_hit=False,
                candidates_evaluated=5,
                timestamp=at(2),
            )
        ),
        OnexEnvelopeV1.create(
            ExecutionStartedPayload(
                correlation_id=CORR,
                execution_id=EXECUTION,
                agent_name="agent-performance",
                user_request="optimize",
                started_at=at(3),
            )
        ),
        action(CORR, "agent-performance", "decision", "agent_execution_started", 3, None),
        action(CORR, "agent-performance", "tool_call", "Read", 4, 10),
        action(CORR, "agent-performance", "tool_call", "Read", 5, 30),
        action(CORR, "agent-performance", "tool_call", "Write", 6, 20),
        action(
            CORR,
            "agent-performance",
            "error",
            "file_read_failed",
            7,
            None,
            {"error_message": "Module 'foo' not found"},
        ),
        action(
            OTHER,
            "agent-researcher",
            "error",
            "file_read_failed",
            8,
            None,
            {"error_message": "Module 'foo' not found"},
        ),
        action(OTHER, "agent-researcher", "success", "task_completed", 9, 1234, debug=False),
        OnexEnvelopeV1.create(
            ExecutionCompletedPayload(
                correlation_id=CORR,
                execution_id=EXECUTION,
                agent_name="agent-performance",
                completed_at=at(1003),
                quality_score=0.92,
            )
        ),
    ]


#: The layouts every query runs on: time-partitioned (every migration) and the unpartitioned
#: one before migration 0008; the same rows are expected from both.
LAYOUTS = {"partitioned": None, "unpartitioned": "0007"}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def seeded(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A database of its own (queries read whole tables), migrated, with known rows."""
    with fresh_database("onex_seedq") as db:
        migrate(db.url, target=LAYOUTS[request.param])
        writer = Writer(db.url)
        decoded = [decode_message(e.event_type.value, e.to_json()) for e in events()]
        writer.write(decoded)
        writer.close()
        yield db


def run(db: Database, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url, autocommit=True) as conn:
        return conn.execute(text.encode()).fetchall()


# ---------------------------------------------------------------------------- seed 000
def test_seed000_execution_started_actions(seeded: Database) -> None:
    rows = run(
        seeded,
        "SELECT * FROM agent_actions WHERE action_type = 'decision' AND "
        "action_name = 'agent_execution_started' ORDER BY created_at DESC LIMIT 5;",
    )
    assert [(r[1], r[2], r[4]) for r in rows] == [(CORR, "agent-performance", "agent_execution_started")]


# ---------------------------------------------------------------------------- seed 001
def test_seed001_recent_actions(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT * FROM agent_actions
ORDER BY created_at DESC
LIMIT 20;""",
    )
    assert [r[4] for r in rows] == [
        "task_completed",
        "file_read_failed",
        "file_read_failed",
        "Write",
        "Read",
        "Read",
        "agent_execution_started",
    ]


def test_seed001_actions_by_correlation_id(seeded: Database) -> None:
    query = """
SELECT
    action_type, action_name, duration_ms,
    action_details, created_at
FROM agent_actions
WHERE correlation_id = 'abc-123'
ORDER BY created_at ASC;"""
    # As printed, 'abc-123' is not a UUID: PostgreSQL refuses the literal (docs/collector.md, D10).
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        run(seeded, query)
    rows = run(seeded, query.replace("abc-123", str(CORR)))
    assert rows == [
        ("decision", "agent_execution_started", None, {}, at(3)),
        ("tool_call", "Read", 10, {}, at(4)),
        ("tool_call", "Read", 30, {}, at(5)),
        ("tool_call", "Write", 20, {}, at(6)),
        ("error", "file_read_failed", None, {"error_message": "Module 'foo' not found"}, at(7)),
    ]


def test_seed001_tool_call_statistics(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    action_name,
    COUNT(*) as call_count,
    AVG(duration_ms) as avg_duration_ms,
    MAX(duration_ms) as max_duration_ms
FROM agent_actions
WHERE action_type = 'tool_call'
GROUP BY action_name
ORDER BY call_count DESC;""",
    )
    assert rows == [("Read", 2, Decimal("20"), 30), ("Write", 1, Decimal("20"), 20)]


def test_seed001_error_analysis(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    agent_name,
    action_name,
    action_details->>'error_message' as error_message,
    COUNT(*) as error_count
FROM agent_actions
WHERE action_type = 'error'
GROUP BY agent_name, action_name, error_message
ORDER BY error_count DESC;""",
    )
    assert sorted(rows) == [
        ("agent-performance", "file_read_failed", "Module 'foo' not found", 1),
        ("agent-researcher", "file_read_failed", "Module 'foo' not found", 1),
    ]


def test_seed001_agent_activity_summary(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    agent_name,
    COUNT(*) as total_actions,
    COUNT(*) FILTER (WHERE action_type = 'tool_call') as tool_calls,
    COUNT(*) FILTER (WHERE action_type = 'decision') as decisions,
    COUNT(*) FILTER (WHERE action_type = 'error') as errors,
    AVG(duration_ms) as avg_duration_ms
FROM agent_actions
GROUP BY agent_name
ORDER BY total_actions DESC;""",
    )
    assert rows == [
        ("agent-performance", 5, 3, 1, 1, Decimal("20")),
        ("agent-researcher", 2, 0, 0, 1, Decimal("1234")),
    ]


def test_seed001_recent_debug_traces_view(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT * FROM recent_debug_traces
ORDER BY trace_started DESC
LIMIT 10;""",
    )
    by_corr = {r[0]: r for r in rows}
    assert set(by_corr) == {CORR, OTHER}
    corr_row = by_corr[CORR]
    assert corr_row[1:10] == (["agent-performance"], 5, 3, 1, 1, 0, 60, at(3), at(7))
    assert [t["action_name"] for t in corr_row[10]] == [
        "agent_execution_started",
        "Read",
        "Read",
        "Write",
        "file_read_failed",
    ]
    assert by_corr[OTHER][2] == 1  # the non-debug success is not a debug trace
    assert rows[0][0] == OTHER  # started later


def test_seed001_monitoring_queries(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    COUNT(*) as total_actions,
    MAX(created_at) as last_action,
    COUNT(DISTINCT correlation_id) as unique_executions
FROM agent_actions
WHERE created_at > NOW() - INTERVAL '1 hour';""",
    )
    assert rows == [(7, at(9), 2)]
    rows = run(
        seeded,
        """
SELECT
    action_type,
    COUNT(*) as count
FROM agent_actions
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY action_type;""",
    )
    assert sorted(rows) == [("decision", 1), ("error", 2), ("success", 1), ("tool_call", 3)]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_seed001_cleanup_old_debug_logs(layout: str) -> None:
    with fresh_database("onex_cleanup") as db:
        migrate(db.url, target=LAYOUTS[layout])
        old = OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=CORR,
                agent_name="a",
                action_type="tool_call",
                action_name="old",
                timestamp=datetime.now(UTC) - timedelta(days=31),
            )
        )
        old_kept = OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=CORR,
                agent_name="a",
                action_type="tool_call",
                action_name="old-nodebug",
                debug_mode=False,
                timestamp=datetime.now(UTC) - timedelta(days=31),
            )
        )
        new = OnexEnvelopeV1.create(
            AgentActionPayload(
                correlation_id=CORR, agent_name="a", action_type="tool_call", action_name="new"
            )
        )
        Writer(db.url).write([decode_message(e.event_type.value, e.to_json()) for e in (old, old_kept, new)])
        assert run(db, "SELECT cleanup_old_debug_logs()") == [(1,)]
        assert sorted(r[0] for r in run(db, "SELECT action_name FROM agent_actions")) == [
            "new",
            "old-nodebug",
        ]
        assert run(db, "SELECT cleanup_old_debug_logs(0)") == [(1,)]


# ---------------------------------------------------------------------------- seed 002
def test_seed002_execution_joined_to_routing(seeded: Database) -> None:
    query = """
SELECT
    e.execution_id,
    e.agent_name,
    e.status,
    e.quality_score,
    r.selected_agent,
    r.confidence_score,
    r.routing_time_ms
FROM agent_execution_logs e
JOIN agent_routing_decisions r ON e.correlation_id = r.correlation_id
WHERE e.correlation_id = '<correlation_id>';"""
    rows = run(seeded, query.replace("<correlation_id>", str(CORR)))
    assert rows == [
        (EXECUTION, "agent-performance", "success", 0.92, "agent-performance", Decimal("0.9200"), 45)
    ]


def test_seed002_recent_execution_logs(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    execution_id,
    correlation_id,
    agent_name,
    status,
    quality_score,
    duration_ms,
    started_at,
    completed_at
FROM agent_execution_logs
ORDER BY started_at DESC
LIMIT 10;""",
    )
    assert rows == [(EXECUTION, CORR, "agent-performance", "success", 0.92, 1000, at(3), at(1003))]


def test_seed002_routing_union_execution(seeded: Database) -> None:
    query = """
-- Replace <correlation_id> with actual ID from logs
SELECT
    'ROUTING' as log_type,
    r.correlation_id,
    r.selected_agent as agent,
    r.confidence_score as score,
    r.routing_time_ms as time_ms,
    r.created_at as timestamp
FROM agent_routing_decisions r
WHERE r.correlation_id = '<correlation_id>'

UNION ALL

SELECT
    'EXECUTION' as log_type,
    e.correlation_id,
    e.agent_name as agent,
    e.quality_score as score,
    e.duration_ms as time_ms,
    e.started_at as timestamp
FROM agent_execution_logs e
WHERE e.correlation_id = '<correlation_id>'
ORDER BY timestamp;"""
    rows = run(seeded, query.replace("<correlation_id>", str(CORR)))
    assert rows == [
        ("ROUTING", CORR, "agent-performance", 0.92, 45, at(0)),  # numeric UNION float: float
        ("EXECUTION", CORR, "agent-performance", 0.92, 1000, at(3)),
    ]


# ---------------------------------------------------------------------------- seed 004
SEED004_TRACE = """
-- Get all events for a specific execution
SELECT
    'routing' as event_type,
    created_at,
    selected_agent,
    confidence_score,
    routing_time_ms
FROM agent_routing_decisions
WHERE context->>'correlation_id' = 'ad12146a-b7d0-4a47-86bf-7ec298ce2c81'

UNION ALL

SELECT
    'transformation' as event_type,
    created_at,
    target_agent,
    confidence_score,
    transformation_duration_ms
FROM agent_transformation_events
WHERE context->>'correlation_id' = 'ad12146a-b7d0-4a47-86bf-7ec298ce2c81'

UNION ALL

SELECT
    'performance' as event_type,
    created_at,
    NULL,
    NULL,
    routing_duration_ms
FROM router_performance_metrics
WHERE context->>'correlation_id' = 'ad12146a-b7d0-4a47-86bf-7ec298ce2c81'

UNION ALL

SELECT
    'action' as event_type,
    created_at,
    agent_name,
    NULL,
    duration_ms
FROM agent_actions
WHERE correlation_id = 'ad12146a-b7d0-4a47-86bf-7ec298ce2c81'

ORDER BY created_at;"""


def test_seed004_trace_reconstruction(seeded: Database) -> None:
    rows = run(seeded, SEED004_TRACE)
    assert rows == [
        ("routing", at(0), "agent-performance", Decimal("0.9200"), 45),
        ("transformation", at(1), "agent-performance", Decimal("0.9200"), 85),
        ("performance", at(2), None, None, 45),
        ("action", at(3), "agent-performance", None, None),
        ("action", at(4), "agent-performance", None, 10),
        ("action", at(5), "agent-performance", None, 30),
        ("action", at(6), "agent-performance", None, 20),
        ("action", at(7), "agent-performance", None, None),
    ]


def test_seed004_monitoring_queries(seeded: Database) -> None:
    rows = run(
        seeded,
        """
SELECT
    COUNT(*) as total_routes,
    AVG(confidence_score) as avg_confidence,
    AVG(routing_time_ms) as avg_routing_time_ms
FROM agent_routing_decisions
WHERE created_at > NOW() - INTERVAL '1 hour';""",
    )
    assert rows == [(1, Decimal("0.92"), Decimal("45"))]
    rows = run(
        seeded,
        """
SELECT
    success,
    COUNT(*) as count,
    AVG(transformation_duration_ms) as avg_duration_ms
FROM agent_transformation_events
WHERE created_at > NOW() - INTERVAL '1 hour'
GROUP BY success;""",
    )
    assert rows == [(True, 1, Decimal("85"))]
    rows = run(
        seeded,
        """
SELECT
    cache_hit,
    COUNT(*) as count,
    AVG(routing_duration_ms) as avg_duration_ms
FROM router_performance_metrics
WHERE created_at > NOW() - INTERVAL '1 hour'
GROUP BY cache_hit;""",
    )
    assert rows == [(False, 1, Decimal("45"))]
    assert run(seeded, "SELECT COUNT(*) FROM agent_routing_decisions") == [(1,)]
