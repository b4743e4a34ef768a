"""AgentExecutionPublisher (seeds 000, 003) and log_agent_execution (seed 002): span structures."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest

from onex_otel import (
    ActionLogger,
    AgentExecutionPublisher,
    AgentExecutionPublisherContext,
    EnumOperationStatus,
    log_agent_execution,
    publish_execution_completed,
    publish_execution_failed,
    publish_execution_started,
)
from onex_otel.legacy import _registry
from tests.core.conftest import Spans, hexid
from tests.legacy.conftest import tree

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"
AGENT = "agent-api-architect"
START = {
    "gen_ai.operation.name": "invoke_agent",
    "gen_ai.agent.name": AGENT,
    "gen_ai.agent.id": "<any>",
    "onex.correlation_id": CID,
    "onex.agent_name": AGENT,
    "onex.execution_id": "<any>",
    "onex.started_event_id": "<any>",
    "onex.working_directory": os.getcwd(),
}


async def test_started_progress_completed_is_one_execution_span(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        assert (
            await publisher.publish_execution_started(
                AGENT, "Design a REST API", CID, "session-789", {"domain": "api_design"}
            )
            is True
        )
        assert _registry.open_count() == 1
        assert legacy.finished() == []  # the span stays open until the end is published
        assert (
            await publisher.publish_execution_progress(
                AGENT,
                CID,
                progress_percent=50,
                current_step="Generating endpoints",
                steps_completed=3,
                steps_total=6,
            )
            is True
        )
        assert (
            await publisher.publish_execution_progress(
                AGENT, CID, stage="validating", percent=75, metadata={"k": 1}
            )
            is True
        )
        assert (
            await publisher.publish_execution_progress(
                AGENT, CID, steps_completed=5, steps_total=8, stage="x"
            )
            is True
        )
        assert (
            await publisher.publish_execution_completed(
                AGENT,
                CID,
                duration_ms=1500,
                quality_score=0.92,
                output_summary="API design completed",
                metrics={"tool_calls": 12},
            )
            is True
        )
    assert _registry.open_count() == 0
    [span] = tree(legacy.finished())
    assert span == {
        "name": f"invoke_agent {AGENT}",
        "kind": "INTERNAL",
        "parent": None,
        "trace_is_correlation": True,
        "status": ("UNSET", None),
        "attributes": {
            **START,
            "gen_ai.conversation.id": "session-789",
            "onex.session_id": "session-789",
            "onex.user_request": "Design a REST API",
            "onex.context": '{"domain":"api_design"}',
            "onex.quality_score": 0.92,
            "onex.output_summary": "API design completed",
            "onex.metrics": '{"tool_calls":12}',
            "onex.execution.status": "success",
        },
        "events": [
            (
                "onex.execution.progress",
                {
                    "onex.stage": "Generating endpoints",
                    "onex.percent": 50.0,
                    "onex.metadata": '{"steps_completed":3,"steps_total":6}',
                },
            ),
            (
                "onex.execution.progress",
                {
                    "onex.stage": "validating",
                    "onex.percent": 75.0,
                    "onex.metadata": '{"k":1}',
                },
            ),
            (
                "onex.execution.progress",
                {
                    "onex.stage": "x",
                    "onex.percent": 62.5,
                    "onex.metadata": '{"steps_completed":5,"steps_total":8}',
                },
            ),
        ],
    }


async def test_failed_with_stack_trace(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_started(AGENT, "r", CID, "s")
        assert (
            await publisher.publish_execution_failed(
                AGENT,
                CID,
                "Invalid API specification",
                "ValidationError",
                "Traceback (most recent call last): ...",
                {"endpoints_designed": 3},
            )
            is True
        )
    [span] = tree(legacy.finished())
    assert span["status"] == ("ERROR", "Invalid API specification")
    assert {k: v for k, v in span["attributes"].items() if k not in START} == {
        "gen_ai.conversation.id": "s",
        "onex.session_id": "s",
        "onex.user_request": "r",
        "onex.error_message": "Invalid API specification",
        "onex.error_type": "ValidationError",
        "error.type": "ValidationError",
        "onex.partial_results": '{"endpoints_designed":3}',
        "onex.execution.status": "failed",
    }
    assert span["events"] == [
        (
            "exception",
            {
                "exception.type": "ValidationError",
                "exception.message": "Invalid API specification",
                "exception.stacktrace": "<any>",
            },
        )
    ]
    assert legacy.finished()[0].events[0].attributes == {
        "exception.type": "ValidationError",
        "exception.message": "Invalid API specification",
        "exception.stacktrace": "Traceback (most recent call last): ...",
    }


@pytest.mark.parametrize("end", ["completed", "failed"])
async def test_end_without_started_is_a_whole_execution(legacy: Spans, end: str) -> None:
    if end == "completed":
        assert await publish_execution_completed(AGENT, "abc-123", 10, 0.5) is True
    else:
        assert await publish_execution_failed(AGENT, "abc-123", "boom", "E") is True
    [span] = legacy.finished()
    attrs = span.attributes or {}
    assert attrs["onex.correlation_id.original"] == "abc-123"
    assert attrs["onex.execution.status"] == ("success" if end == "completed" else "failed")
    assert hexid(span.context.trace_id) == uuid.UUID(str(attrs["onex.correlation_id"])).hex
    assert _registry.open_count() == 0


async def test_progress_without_started_opens_the_execution(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        assert await publisher.publish_execution_progress(AGENT, CID, 10, "step") is True
        assert _registry.open_count() == 1
        assert await publisher.publish_execution_completed(AGENT, CID, 5) is True
    [span] = tree(legacy.finished())
    assert span["events"] == [
        ("onex.execution.progress", {"onex.stage": "step", "onex.percent": 10.0, "onex.metadata": "{}"})
    ]


async def test_convenience_start_then_end_in_another_task_and_thread(legacy: Spans) -> None:
    assert await publish_execution_started(AGENT, "r", CID, "s") is True

    def end_in_thread() -> None:
        assert asyncio.run(publish_execution_completed(AGENT, CID, 1)) is True

    async def end_in_task() -> None:
        thread = threading.Thread(target=end_in_thread)
        thread.start()
        thread.join(timeout=30)

    await asyncio.create_task(end_in_task())
    [span] = legacy.finished()
    assert (span.attributes or {})["onex.execution.status"] == "success"


async def test_actions_land_in_the_execution_opened_by_the_publisher(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_started(AGENT, "r", CID, "s")
        log = ActionLogger(AGENT, correlation_id=CID)
        async with log.tool_call("Read", {"f": 1}) as action:
            action.set_result(2)
        assert await log.log_tool_call("Write", duration_ms=3) is True
        assert await log.log_error("E", "m") is True
        await publisher.publish_execution_completed(AGENT, CID, 1)
    shapes = {s["name"]: s for s in tree(legacy.finished())}
    assert set(shapes) == {f"invoke_agent {AGENT}", "execute_tool Read", "execute_tool Write"}
    for name in ("execute_tool Read", "execute_tool Write"):
        assert shapes[name]["parent"] == f"invoke_agent {AGENT}"
        assert shapes[name]["attributes"]["onex.session_id"] == "s"
        assert "onex.project_path" not in shapes[name]["attributes"]
    assert [e[0] for e in shapes[f"invoke_agent {AGENT}"]["events"]] == ["onex.error"]


async def test_two_agents_under_one_correlation_end_their_own(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_started("agent-a", "r", CID)
        await publisher.publish_execution_started("agent-b", "r", CID)
        await publisher.publish_execution_failed("agent-a", CID, "boom")
        await publisher.publish_execution_completed("agent-b", CID, 1)
    status = {s.name: (s.attributes or {})["onex.execution.status"] for s in legacy.finished()}
    assert status == {"invoke_agent agent-a": "failed", "invoke_agent agent-b": "success"}


async def test_disabled_or_not_started_records_nothing(legacy: Spans) -> None:
    off = AgentExecutionPublisher(enable_events=False)
    await off.start()
    assert await off.publish_execution_started(AGENT, "r", CID) is False
    idle = AgentExecutionPublisher()
    assert await idle.publish_execution_started(AGENT, "r", CID) is False
    await idle.start()
    await idle.stop()
    assert await idle.publish_execution_completed(AGENT, CID, 1) is False
    assert legacy.finished() == [] and _registry.open_count() == 0


async def test_kafka_logging_off_returns_false_but_traces(
    legacy: Spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_ENABLE_LOGGING", "false")
    async with AgentExecutionPublisherContext() as publisher:
        assert await publisher.publish_execution_started(AGENT, "r", CID) is False
        assert await publisher.publish_execution_completed(AGENT, CID, 1) is False
    assert await ActionLogger(AGENT, CID).log_decision("d") is False
    assert sorted(s.name for s in legacy.finished()) == [f"invoke_agent {AGENT}", "onex.decision"]


async def test_open_executions_end_cancelled_when_closed_at_exit(legacy: Spans) -> None:
    await publish_execution_started(AGENT, "r", CID)
    assert _registry.close_all() == 1
    [span] = tree(legacy.finished())
    assert span["attributes"]["onex.execution.status"] == "cancelled"
    assert span["attributes"]["onex.error_message"] == _registry.EXIT_REASON


async def test_registry_is_bounded(legacy: Spans, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "MAX_OPEN_EXECUTIONS", 2)
    for n in range(3):
        await publish_execution_started(AGENT, "r", f"run-{n}")
    assert _registry.open_count() == 2
    [evicted] = legacy.finished()
    assert (evicted.attributes or {})["onex.correlation_id.original"] == "run-0"
    assert (evicted.attributes or {})["onex.execution.status"] == "cancelled"
    assert _registry.close_all() == 2


# ------------------------------------------------------------------------------------------------
# log_agent_execution (seed 002)
# ------------------------------------------------------------------------------------------------
async def test_log_agent_execution_success(legacy: Spans) -> None:
    logger = await log_agent_execution(
        "agent-router-service",
        "optimize my queries",
        correlation_id=CID,
        session_id="s",
        project_path="/srv/p",
        project_name="p",
    )
    assert logger.execution_id is not None and logger.correlation_id == CID
    assert await logger.progress("routing_analysis", 25, {"max_recommendations": 5}) is True
    assert await logger.progress("routing_completed") is True  # percent: the last one
    assert (
        await logger.complete(
            status=EnumOperationStatus.SUCCESS,
            quality_score=0.9,
            metadata={"selected_agent": "agent-performance"},
        )
        is True
    )
    assert await logger.complete() is False  # only once
    assert await logger.progress("late", 99) is False
    [span] = tree(legacy.finished())
    assert span["attributes"]["onex.execution_id"] == "<any>"
    assert (legacy.finished()[0].attributes or {})["onex.execution_id"] == logger.execution_id
    assert {k: v for k, v in span["attributes"].items() if not k.startswith("gen_ai")} == {
        "onex.correlation_id": CID,
        "onex.agent_name": "agent-router-service",
        "onex.execution_id": "<any>",
        "onex.started_event_id": "<any>",
        "onex.session_id": "s",
        "onex.user_request": "optimize my queries",
        "onex.project_path": "/srv/p",
        "onex.project_name": "p",
        "onex.working_directory": os.getcwd(),
        "onex.quality_score": 0.9,
        "onex.metrics": '{"selected_agent":"agent-performance"}',
        "onex.execution.status": "success",
    }
    assert span["events"] == [
        (
            "onex.execution.progress",
            {
                "onex.stage": "routing_analysis",
                "onex.percent": 25.0,
                "onex.metadata": '{"max_recommendations":5}',
            },
        ),
        (
            "onex.execution.progress",
            {"onex.stage": "routing_completed", "onex.percent": 25.0, "onex.metadata": "{}"},
        ),
    ]


@pytest.mark.parametrize("status", [EnumOperationStatus.FAILED, "failed", "error", "FAILED"])
async def test_log_agent_execution_failed(legacy: Spans, status: object) -> None:
    logger = await log_agent_execution("agent-x", "p")
    assert (
        await logger.complete(
            status=status,  # type: ignore[arg-type]
            error_message="Timeout",
            error_type="TimeoutError",
            metadata={"step": 2},
        )
        is True
    )
    [span] = tree(legacy.finished())
    assert span["status"] == ("ERROR", "Timeout")
    assert span["attributes"]["onex.execution.status"] == "failed"
    assert span["attributes"]["onex.error_type"] == "TimeoutError"
    assert span["attributes"]["onex.partial_results"] == '{"step":2}'


@pytest.mark.parametrize("status", [EnumOperationStatus.CANCELLED, "canceled"])
async def test_log_agent_execution_cancelled(legacy: Spans, status: object) -> None:
    logger = await log_agent_execution("agent-x", "p")
    assert await logger.complete(status=status, error_message="user stopped it") is True  # type: ignore[arg-type]
    [span] = tree(legacy.finished())
    assert span["attributes"]["onex.execution.status"] == "cancelled"
    assert span["attributes"]["onex.error_message"] == "user stopped it"
    assert span["status"] == ("ERROR", "CancelledError: cancelled")
    assert [e[0] for e in span["events"]] == ["exception"]


@pytest.mark.parametrize("status", ["in_progress", "done", 3, None])
async def test_log_agent_execution_bad_status_keeps_it_open(legacy: Spans, status: object) -> None:
    logger = await log_agent_execution("agent-x", "p")
    assert await logger.complete(status=status) is False  # type: ignore[arg-type]
    assert legacy.finished() == []
    assert await logger.complete() is True


async def test_seed_003_planned_shapes(legacy: Spans) -> None:
    async with AgentExecutionPublisherContext() as publisher:
        await publisher.publish_execution_started(AGENT, "r", CID)
        assert (
            await publisher.publish_execution_completed(
                AGENT,
                CID,
                completed_at="2025-11-13T14:35:00Z",
                result_summary="Generated REST API design",
                artifacts=["api_spec.yaml", "endpoints.md"],
            )
            is True
        )
        assert (
            await publisher.publish_execution_failed(
                "agent-b",
                "run-2",
                failed_at="2025-11-13T14:33:00Z",
                error_code="VALIDATION_ERROR",
                error_message="Invalid API specification",
                stack_trace="...",
            )
            is True
        )
    shapes = {s["name"]: s for s in tree(legacy.finished())}
    done = shapes[f"invoke_agent {AGENT}"]["attributes"]
    assert done["onex.output_summary"] == "Generated REST API design"
    assert done["onex.metrics"] == '{"artifacts":["api_spec.yaml","endpoints.md"]}'
    failed = shapes["invoke_agent agent-b"]
    assert failed["attributes"]["onex.error_type"] == "VALIDATION_ERROR"
    assert failed["events"] == [
        (
            "exception",
            {
                "exception.type": "VALIDATION_ERROR",
                "exception.message": "Invalid API specification",
                "exception.stacktrace": "<any>",
            },
        )
    ]
