"""The same sequence of calls through the legacy API and the new API: the same spans and events.

Each scenario runs twice against the in-memory exporter, once with the legacy calls and once with
their onex-otel equivalents (docs/migration.md's table), and compares the whole span trees
(ids aside) and the OnexEnvelopeV1 events the exporter's pure mapping makes of them (ids and
timestamps aside; every envelope is also validated against its model).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from onex_exporters.mapping import span_to_records, to_envelopes
from onex_otel import (
    ActionLogger,
    AgentExecutionPublisherContext,
    EnumOperationStatus,
    agent_execution,
    log_agent_execution,
    record_decision,
    record_error,
    record_success,
    tool_call,
)
from tests.core.conftest import Spans
from tests.legacy.conftest import tree

CID = "5f0c2a8e-3d41-4b7a-9c55-0e8f4b1d2a77"
AGENT = "agent-researcher"
VOLATILE_PAYLOAD = frozenset(
    {
        "execution_id",
        "tool_call_id",
        "started_at",
        "completed_at",
        "failed_at",
        "reported_at",
        "timestamp",
        "duration_ms",
        "execution_duration_ms",
        "error_stack_trace",
    }
)

Scenario = Callable[[], Awaitable[None]]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<any>" if k in VOLATILE_PAYLOAD and v is not None else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def envelopes(spans: Spans) -> list[dict[str, Any]]:
    """Every event of the finished spans, validated, ids and timestamps aside, in stable order."""
    out = []
    for span in spans.finished():
        records = span_to_records(span)
        to_envelopes(records)  # each validates against its model
        for record in records:
            env = dict(record.envelope)
            for key in ("event_id", "timestamp"):
                assert env.pop(key)
            env["causation_id"] = env["causation_id"] is not None
            env["payload"] = _scrub(env["payload"])
            out.append(env)
    return sorted(out, key=lambda e: (e["event_type"], str(e["payload"])))


async def run_both(
    spans: Spans, legacy_calls: Scenario, new_calls: Scenario
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    await legacy_calls()
    legacy_tree, legacy_events = tree(spans.finished()), envelopes(spans)
    spans.clear()
    await new_calls()
    new_tree, new_events = tree(spans.finished()), envelopes(spans)
    assert legacy_tree == new_tree
    assert legacy_events == new_events
    return legacy_tree, legacy_events


async def test_publisher_lifecycle_with_actions(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        async with AgentExecutionPublisherContext() as publisher:
            await publisher.publish_execution_started(
                AGENT, "Research async patterns", CID, "session-1", {"domain": "research"}
            )
            log = ActionLogger(AGENT, correlation_id=CID)
            async with log.tool_call("Read", {"file_path": "/x.py"}) as action:
                action.set_result({"line_count": 100})
            await log.log_decision("select_strategy", {"files": 1}, {"strategy": "fast"}, 4)
            await publisher.publish_execution_progress(
                AGENT, CID, stage="analysing", percent=50, metadata={"files": 1}
            )
            await log.log_error("ParseError", "bad syntax", {"line": 3}, severity="warning")
            await log.log_success("patterns_found", {"count": 5})
            await publisher.publish_execution_completed(AGENT, CID, 1500, 0.92, "Found 5", {"tool_calls": 1})

    async def new_calls() -> None:
        async with agent_execution(
            AGENT,
            user_request="Research async patterns",
            correlation_id=CID,
            session_id="session-1",
            context={"domain": "research"},
        ) as run:
            async with tool_call("Read", {"file_path": "/x.py"}) as action:
                action.set_result({"line_count": 100})
            record_decision("select_strategy", {"files": 1}, {"strategy": "fast"}, 4)
            run.progress("analysing", 50, {"files": 1})
            record_error("ParseError", "bad syntax", {"line": 3}, severity="warning")
            record_success("patterns_found", {"count": 5})
            run.complete(quality_score=0.92, output_summary="Found 5", metrics={"tool_calls": 1})

    shapes, events = await run_both(legacy, legacy_calls, new_calls)
    assert [s["name"] for s in shapes] == ["execute_tool Read", f"invoke_agent {AGENT}"]
    assert sorted(e["event_type"] for e in events) == sorted(
        [
            "omninode.agent.execution.started.v1",
            "omninode.agent.execution.progress.v1",
            "omninode.agent.execution.completed.v1",
            *["onex.evt.omniclaude.agent-actions.v1"] * 6,
        ]
    )
    assert {e["correlation_id"] for e in events} == {CID}
    actions = {
        e["payload"]["action_name"]: e["payload"]
        for e in events
        if e["event_type"] == "onex.evt.omniclaude.agent-actions.v1"
    }
    assert set(actions) == {
        "agent_execution_started",
        "Read",
        "select_strategy",
        "ParseError",
        "patterns_found",
        "agent_execution_completed",
    }
    assert {p["agent_name"] for p in actions.values()} == {AGENT}


async def test_publisher_failure(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        async with AgentExecutionPublisherContext() as publisher:
            await publisher.publish_execution_started(AGENT, "r", CID, "s")
            await publisher.publish_execution_failed(
                AGENT, CID, "Invalid spec", "ValidationError", partial_results={"done": 3}
            )

    async def new_calls() -> None:
        async with agent_execution(AGENT, user_request="r", correlation_id=CID, session_id="s") as run:
            run.fail("Invalid spec", "ValidationError", {"done": 3})

    _, events = await run_both(legacy, legacy_calls, new_calls)
    [failed] = [e for e in events if e["event_type"] == "omninode.agent.execution.failed.v1"]
    assert failed["payload"]["error_message"] == "Invalid spec"
    assert failed["payload"]["partial_results"] == {"done": 3}


async def test_execution_logger_success(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        logger = await log_agent_execution(
            "agent-router-service",
            "optimize my queries",
            correlation_id=CID,
            project_path="/srv/p",
            project_name="p",
        )
        await logger.progress("routing_analysis", 25, {"max_recommendations": 5})
        await ActionLogger("agent-router-service", CID).log_tool_call("route", {"q": 1}, {"a": 1})
        await logger.progress("routing_completed", 75)
        await logger.complete(
            EnumOperationStatus.SUCCESS, quality_score=0.9, metadata={"selected_agent": "agent-performance"}
        )

    async def new_calls() -> None:
        async with agent_execution(
            "agent-router-service",
            user_request="optimize my queries",
            correlation_id=CID,
            project_path="/srv/p",
            project_name="p",
        ) as run:
            run.progress("routing_analysis", 25, {"max_recommendations": 5})
            with tool_call("route", {"q": 1}) as action:
                action.set_result({"a": 1})
            run.progress("routing_completed", 75)
            run.complete(quality_score=0.9, metrics={"selected_agent": "agent-performance"})

    await run_both(legacy, legacy_calls, new_calls)


async def test_execution_logger_failed(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        logger = await log_agent_execution(AGENT, "p", correlation_id=CID)
        await logger.complete(EnumOperationStatus.FAILED, error_message="Timeout", error_type="TimeoutError")

    async def new_calls() -> None:
        async with agent_execution(AGENT, user_request="p", correlation_id=CID) as run:
            run.fail("Timeout", "TimeoutError")

    await run_both(legacy, legacy_calls, new_calls)


async def test_execution_logger_cancelled(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        logger = await log_agent_execution(AGENT, "p", correlation_id=CID)
        await logger.complete(EnumOperationStatus.CANCELLED)

    async def new_calls() -> None:
        with pytest.raises(asyncio.CancelledError):
            async with agent_execution(AGENT, user_request="p", correlation_id=CID):
                raise asyncio.CancelledError

    _, events = await run_both(legacy, legacy_calls, new_calls)
    [failed] = [e for e in events if e["event_type"] == "omninode.agent.execution.failed.v1"]
    assert failed["payload"]["status"] == "cancelled"


async def test_action_logger_inside_a_new_execution(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        async with agent_execution(AGENT, correlation_id=CID):
            log = ActionLogger(AGENT)
            with log.tool_call("Grep", {"pattern": "TODO"}) as action:
                action.set_result({"matches": 42})
            await log.log_decision("next", None, {"go": True})

    async def new_calls() -> None:
        async with agent_execution(AGENT, correlation_id=CID):
            with tool_call("Grep", {"pattern": "TODO"}) as action:
                action.set_result({"matches": 42})
            record_decision("next", None, {"go": True})

    await run_both(legacy, legacy_calls, new_calls)


async def test_manual_tool_call_equals_a_tool_block(legacy: Spans) -> None:
    async def legacy_calls() -> None:
        await publish_started()
        await ActionLogger(AGENT, CID).log_tool_call("Write", {"path": "o.py"}, {"ok": True}, duration_ms=30)
        await ActionLogger(AGENT, CID).log_tool_call("Bash", {"cmd": "x"}, None, 5, False, "exit 1")
        await publish_completed()

    async def new_calls() -> None:
        async with agent_execution(AGENT, user_request="r", correlation_id=CID):
            with tool_call("Write", {"path": "o.py"}) as action:
                action.set_result({"ok": True})
            with pytest.raises(Exception, match="exit 1"), tool_call("Bash", {"cmd": "x"}):
                from onex_otel.legacy import ToolCallFailed

                raise ToolCallFailed("exit 1")

    await run_both(legacy, legacy_calls, new_calls)


async def publish_started() -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_started(AGENT, "r", CID)


async def publish_completed() -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_completed(AGENT, CID, 1)


def test_uuid_is_a_valid_trace_id() -> None:
    assert uuid.UUID(CID).int != 0
