"""ActionLogger and the action event publishers (seed 001): whole span structures."""

from __future__ import annotations

import os
import uuid

import pytest

from onex_otel import (
    ActionLogger,
    agent_execution,
    current_correlation_id,
    log_action,
    publish_action_event,
    publish_decision,
    publish_error,
    publish_success,
    publish_tool_call,
)
from onex_otel.conventions import CORRELATION_ID_NAMESPACE
from tests.core.conftest import Spans, hexid
from tests.legacy.conftest import tree

CID = "ad12146a-b7d0-4a47-86bf-7ec298ce2c81"
LEGACY_CID = "abc-123-def-456"
MAPPED = str(uuid.uuid5(CORRELATION_ID_NAMESPACE, LEGACY_CID))
IDENTITY = {
    "onex.correlation_id": MAPPED,
    "onex.correlation_id.original": LEGACY_CID,
    "onex.agent_name": "agent-researcher",
    "onex.debug_mode": True,
    "onex.project_path": "/srv/project",
    "onex.project_name": "project",
    "onex.working_directory": "/srv",
}
TOOL = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.type": "function",
    "gen_ai.tool.call.id": "<any>",
}


def logger(**kwargs: object) -> ActionLogger:
    return ActionLogger(
        "agent-researcher",
        correlation_id=LEGACY_CID,
        project_name="project",
        project_path="/srv/project",
        working_directory="/srv",
        **kwargs,  # type: ignore[arg-type]
    )


async def test_standalone_actions_carry_the_legacy_identity(legacy: Spans) -> None:
    log = logger()
    assert (
        await log.log_tool_call("Read", {"file_path": "/x.py"}, {"line_count": 100}, duration_ms=45) is True
    )
    assert (
        await log.log_decision("select_agent", {"candidates": ["a", "b"]}, {"selected": "a"}, duration_ms=3)
        is True
    )
    assert (
        await log.log_error(
            "ImportError",
            "Module 'foo' not found",
            {"line": 15},
            severity="critical",
            send_slack_notification=True,
        )
        is True
    )
    assert await log.log_success("task_completed", {"files_processed": 5}) is True
    finished = legacy.finished()
    assert tree(finished) == [
        {
            "name": "execute_tool Read",
            "kind": "INTERNAL",
            "parent": None,
            "trace_is_correlation": True,
            "status": ("UNSET", None),
            "events": [],
            "attributes": {
                **IDENTITY,
                **TOOL,
                "gen_ai.tool.name": "Read",
                "gen_ai.tool.call.arguments": '{"file_path":"/x.py"}',
                "gen_ai.tool.call.result": '{"line_count":100}',
            },
        },
        {
            "name": "onex.decision",
            "kind": "INTERNAL",
            "parent": None,
            "trace_is_correlation": True,
            "status": ("UNSET", None),
            "attributes": IDENTITY,
            "events": [
                (
                    "onex.decision",
                    {
                        "onex.name": "select_agent",
                        "onex.decision.context": '{"candidates":["a","b"]}',
                        "onex.decision.result": '{"selected":"a"}',
                        "onex.duration_ms": 3,
                    },
                )
            ],
        },
        {
            "name": "onex.error",
            "kind": "INTERNAL",
            "parent": None,
            "trace_is_correlation": True,
            "status": ("UNSET", None),
            "attributes": IDENTITY,
            "events": [
                (
                    "onex.error",
                    {
                        "onex.error.type": "ImportError",
                        "onex.error.message": "Module 'foo' not found",
                        "onex.error.severity": "critical",
                        "onex.error.context": '{"line":15}',
                    },
                )
            ],
        },
        {
            "name": "onex.success",
            "kind": "INTERNAL",
            "parent": None,
            "trace_is_correlation": True,
            "status": ("UNSET", None),
            "attributes": IDENTITY,
            "events": [
                (
                    "onex.success",
                    {
                        "onex.name": "task_completed",
                        "onex.details": '{"files_processed":5}',
                    },
                )
            ],
        },
    ]
    assert {hexid(s.context.trace_id) for s in finished} == {uuid.UUID(MAPPED).hex}


async def test_manual_tool_call_lasts_its_duration(legacy: Spans) -> None:
    assert await logger().log_tool_call("Write", duration_ms=250) is True
    span = legacy.by_name("execute_tool Write")
    assert span.end_time is not None and span.start_time is not None
    assert span.end_time - span.start_time >= 250_000_000
    assert "gen_ai.tool.call.arguments" not in (span.attributes or {})
    assert "gen_ai.tool.call.result" not in (span.attributes or {})


async def test_failed_tool_call_is_an_error_span(legacy: Spans) -> None:
    assert (
        await logger().log_tool_call(
            "Bash", {"cmd": "false"}, {"exit": 1}, duration_ms=5, success=False, error_message="exit status 1"
        )
        is True
    )
    [span] = tree(legacy.finished())
    assert span["status"] == ("ERROR", "ToolCallFailed: exit status 1")
    assert span["attributes"]["error.type"] == "onex_otel.legacy.ToolCallFailed"
    assert span["attributes"]["gen_ai.tool.call.result"] == '{"exit":1}'
    assert span["events"] == [
        (
            "exception",
            {
                "exception.type": "onex_otel.legacy.ToolCallFailed",
                "exception.message": "exit status 1",
                "exception.stacktrace": "<any>",
                "exception.escaped": "True",
            },
        )
    ]


async def test_failed_without_message(legacy: Spans) -> None:
    assert await publish_tool_call("a", "Grep", success=False, correlation_id=CID) is True
    span = legacy.by_name("execute_tool Grep")
    assert span.status.description == "ToolCallFailed: tool call failed"


async def test_tool_call_block_inside_an_execution(legacy: Spans) -> None:
    tracer = legacy.provider.get_tracer("test")
    async with agent_execution("agent-researcher", correlation_id=CID) as run:
        log = ActionLogger("agent-researcher")  # no correlation id: the execution's
        assert log.correlation_id == CID
        async with log.tool_call("Read", {"file_path": "/x.py"}) as action:
            assert current_correlation_id() == CID
            with tracer.start_as_current_span("db query"):
                pass
            action.set_result({"line_count": 3})
        assert await log.log_decision("pick", {"n": 1}, {"r": 2}) is True
        run.complete(quality_score=0.5)
    shapes = {s["name"]: s for s in tree(legacy.finished())}
    assert shapes["execute_tool Read"]["parent"] == "invoke_agent agent-researcher"
    assert shapes["db query"]["parent"] == "execute_tool Read"
    assert shapes["db query"]["attributes"]["onex.correlation_id"] == CID
    assert shapes["execute_tool Read"]["attributes"] == {
        **TOOL,
        "gen_ai.tool.name": "Read",
        "gen_ai.tool.call.arguments": '{"file_path":"/x.py"}',
        "gen_ai.tool.call.result": '{"line_count":3}',
        "onex.correlation_id": CID,
        "onex.agent_name": "agent-researcher",
        "onex.execution_id": "<any>",
        "onex.started_event_id": "<any>",
    }
    assert shapes["invoke_agent agent-researcher"]["events"] == [
        (
            "onex.decision",
            {
                "onex.name": "pick",
                "onex.decision.context": '{"n":1}',
                "onex.decision.result": '{"r":2}',
            },
        )
    ]
    assert set(shapes) == {"invoke_agent agent-researcher", "execute_tool Read", "db query"}


def test_tool_call_block_sync_and_exceptions_pass_through(legacy: Spans) -> None:
    log = logger()
    error = KeyError("missing")
    with pytest.raises(KeyError) as caught, log.tool_call("Read", {"f": 1}) as action:
        action.set_result({"ignored": True})
        raise error
    assert caught.value is error
    assert action.success is False and action.error_message == "'missing'"
    [span] = tree(legacy.finished())
    assert span["status"] == ("ERROR", "KeyError: 'missing'")
    assert span["attributes"]["error.type"] == "KeyError"
    assert "gen_ai.tool.call.result" not in span["attributes"]
    assert span["parent"] is None and span["trace_is_correlation"]


async def test_other_correlation_inside_an_execution_stays_its_own(legacy: Spans) -> None:
    async with agent_execution("agent-a", correlation_id=CID):
        assert await logger().log_decision("d") is True
        async with logger().tool_call("Read") as action:
            assert current_correlation_id() is None
            action.set_result(1)
    shapes = {s["name"]: s for s in tree(legacy.finished())}
    for name in ("onex.decision", "execute_tool Read"):
        assert shapes[name]["parent"] == "invoke_agent agent-a"
        assert shapes[name]["attributes"]["onex.correlation_id"] == MAPPED
        assert "onex.execution_id" not in shapes[name]["attributes"]
    assert shapes["invoke_agent agent-a"]["events"] == []


async def test_defaults_follow_the_legacy_logger(legacy: Spans) -> None:
    log = ActionLogger("agent-x")
    uuid.UUID(log.correlation_id)
    assert log.project_path == os.getcwd() == log.working_directory
    assert log.project_name == os.path.basename(os.getcwd())
    assert await log.log_success("done") is True
    attrs = legacy.by_name("onex.success").attributes or {}
    assert attrs["onex.correlation_id"] == log.correlation_id
    assert attrs["onex.project_path"] == os.getcwd()


async def test_debug_mode_false_is_recorded(legacy: Spans) -> None:
    assert await logger(debug_mode=False).log_tool_call("Read") is True
    assert (legacy.by_name("execute_tool Read").attributes or {})["onex.debug_mode"] is False


async def test_module_publishers(legacy: Spans) -> None:
    assert (
        await publish_decision(
            "agent-router", "select_agent", {"c": 1}, {"s": "a"}, correlation_id=CID, project_path="/p"
        )
        is True
    )
    assert await publish_error("agent-router", "E", "m", correlation_id=CID) is True
    assert await publish_success("agent-router", "ok", None, CID, 7) is True
    shapes = {s["name"]: s for s in tree(legacy.finished())}
    assert shapes["onex.decision"]["attributes"] == {
        "onex.correlation_id": CID,
        "onex.agent_name": "agent-router",
        "onex.debug_mode": True,
        "onex.project_path": "/p",
    }
    assert shapes["onex.error"]["events"] == [
        (
            "onex.error",
            {
                "onex.error.type": "E",
                "onex.error.message": "m",
                "onex.error.severity": "error",
                "onex.error.context": "{}",
            },
        )
    ]
    assert shapes["onex.success"]["events"] == [
        (
            "onex.success",
            {
                "onex.name": "ok",
                "onex.details": "{}",
                "onex.duration_ms": 7,
            },
        )
    ]


@pytest.mark.parametrize(
    ("action_type", "details", "expected"),
    [
        (
            "tool_call",
            {"tool_parameters": {"p": 1}, "tool_result": {"r": 2}, "success": True},
            {"gen_ai.tool.call.arguments": '{"p":1}', "gen_ai.tool.call.result": '{"r":2}'},
        ),
        (
            "tool_call",
            {"pattern": "TODO", "matches": 42},
            {"gen_ai.tool.call.arguments": '{"pattern":"TODO","matches":42}'},
        ),
        (
            "decision",
            {"decision_context": {"c": 1}, "decision_result": {"r": 1}},
            {"onex.decision.context": '{"c":1}', "onex.decision.result": '{"r":1}'},
        ),
        ("decision", {"why": "x"}, {"onex.decision.context": '{"why":"x"}', "onex.decision.result": "{}"}),
        (
            "error",
            {"error_message": "boom", "error_context": {"f": 1}},
            {"onex.error.message": "boom", "onex.error.context": '{"f":1}'},
        ),
        ("success", {"n": 1}, {"onex.details": '{"n":1}'}),
    ],
)
async def test_log_action_maps_each_type(
    legacy: Spans, action_type: str, details: dict[str, object], expected: dict[str, str]
) -> None:
    assert await log_action("agent-q", action_type, "Thing", details, CID, 12) is True
    [span] = legacy.finished()
    found = dict(span.attributes or {})
    for event in span.events:
        found.update(event.attributes or {})
    assert {k: found.get(k) for k in expected} == expected
    assert found["onex.agent_name"] == "agent-q"


async def test_unknown_action_type_is_rejected(legacy: Spans) -> None:
    assert await publish_action_event("a", "thinking", "x") is False
    assert legacy.finished() == []


async def test_reassigned_correlation_id_is_used(legacy: Spans) -> None:
    log = ActionLogger("agent-x", correlation_id=CID)
    assert await log.log_decision("first") is True
    log.correlation_id = LEGACY_CID
    assert await log.log_decision("second") is True
    cids = [(s.attributes or {})["onex.correlation_id"] for s in legacy.finished()]
    assert cids == [CID, MAPPED]
