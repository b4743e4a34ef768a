"""The run timeline built from table rows: tree shape, text, JSON and Jaeger upload format."""

import uuid
from datetime import UTC, datetime, timedelta

from onex_otel import timeline

CID = str(uuid.uuid4())
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rows(status: str = "success") -> dict[str, list[dict[str, object]]]:
    return {
        "agent_routing_decisions": [
            {
                "selected_agent": "agent-performance",
                "confidence_score": 0.92,
                "routing_strategy": "fuzzy",
                "routing_time_ms": 4,
                "reasoning": "r",
                "created_at": T0,
            }
        ],
        "router_performance_metrics": [
            {
                "routing_duration_ms": 4,
                "cache_hit": False,
                "candidates_evaluated": 3,
                "created_at": T0 + timedelta(milliseconds=1),
            }
        ],
        "agent_transformation_events": [
            {
                "source_agent": "polymorphic-agent",
                "target_agent": "agent-performance",
                "transformation_duration_ms": 4,
                "success": True,
                "confidence_score": 0.92,
                "transformation_reason": "m",
                "created_at": T0 + timedelta(milliseconds=2),
            }
        ],
        "agent_execution_logs": [
            {
                "execution_id": uuid.uuid4(),
                "agent_name": "agent-performance",
                "status": status,
                "started_at": T0 + timedelta(milliseconds=5),
                "duration_ms": 100,
                "quality_score": 0.9,
                "error_message": "boom" if status == "failed" else None,
                "error_type": "ValueError" if status == "failed" else None,
                "created_at": T0 + timedelta(milliseconds=5),
            }
        ],
        "agent_actions": [
            {
                "action_type": "tool_call",
                "action_name": "read_file",
                "duration_ms": 10,
                "agent_name": "agent-performance",
                "action_details": {"path": "x"},
                "created_at": T0 + timedelta(milliseconds=20),
            },
            {
                "action_type": "error",
                "action_name": "TimeoutError",
                "duration_ms": None,
                "agent_name": "agent-performance",
                "action_details": {},
                "created_at": T0 + timedelta(milliseconds=30),
            },
        ],
    }


def test_tree_shape_and_order() -> None:
    root = timeline.build_timeline(CID, _rows())
    assert root is not None
    assert [(c.kind, c.name) for c in root.children] == [
        ("routing", "route -> agent-performance"),
        ("performance", "router metrics"),
        ("transformation", "polymorphic-agent -> agent-performance"),
        ("execution", "agent-performance"),
    ]
    execution = root.children[-1]
    assert [(a.name, a.status) for a in execution.children] == [
        ("tool_call read_file", "ok"),
        ("error TimeoutError", "error"),
    ]
    assert root.duration_ms == 105.0
    assert root.status == "ok"


def test_failed_execution_shows_its_error() -> None:
    root = timeline.build_timeline(CID, _rows("failed"))
    assert root is not None and root.status == "error"
    text = timeline.render_text(root)
    assert "FAILED" in text and "ValueError: boom" in text
    assert text.splitlines()[0].startswith("+     0.0ms run")


def test_empty_is_none() -> None:
    assert timeline.build_timeline(CID, {"agent_actions": []}) is None


def test_jaeger_upload_format() -> None:
    root = timeline.build_timeline(CID, _rows())
    assert root is not None
    doc = timeline.to_jaeger(root)
    (trace,) = doc["data"]
    assert trace["traceID"] == uuid.UUID(CID).hex
    spans = {s["spanID"]: s for s in trace["spans"]}
    assert len(spans) == 7
    roots = [s for s in spans.values() if not s["references"]]
    assert len(roots) == 1
    for span in spans.values():
        for ref in span["references"]:
            assert ref["spanID"] in spans and ref["refType"] == "CHILD_OF"
        assert span["processID"] in trace["processes"]
        assert isinstance(span["startTime"], int) and isinstance(span["duration"], int)


def test_json_is_serializable() -> None:
    import json

    root = timeline.build_timeline(CID, _rows())
    assert root is not None
    data = json.loads(json.dumps(timeline.to_json(root)))
    assert data["children"][3]["children"][0]["attributes"]["details"] == {"path": "x"}


def _run_with_failed_tool() -> dict[str, list[dict[str, object]]]:
    """Rows as the mapping writes them: a tool call that raised, then the execution's outcome."""
    rows = _rows()
    rows["agent_actions"] = [
        {
            "action_type": "tool_call",
            "action_name": "flaky_search",
            "duration_ms": 3,
            "agent_name": "agent-performance",
            "action_details": {
                "parameters": {"q": "x"},
                "result": None,
                "success": False,
                "error": {"type": "TimeoutError", "message": "timed out"},
            },
            "created_at": T0 + timedelta(milliseconds=20),
        },
        {
            "action_type": "tool_call",
            "action_name": "flaky_search",
            "duration_ms": 2,
            "agent_name": "agent-performance",
            "action_details": {"parameters": {"q": "x"}, "result": [1], "success": True, "error": None},
            "created_at": T0 + timedelta(milliseconds=40),
        },
        # The execution's outcome row: written at its end, its duration is the execution's.
        {
            "action_type": "success",
            "action_name": "agent_execution_completed",
            "duration_ms": 100,
            "agent_name": "agent-performance",
            "action_details": {"execution_duration_ms": 100},
            "created_at": T0 + timedelta(milliseconds=105),
        },
    ]
    return rows


def test_failed_tool_call_is_failed_in_every_view() -> None:
    import json

    root = timeline.build_timeline(CID, _run_with_failed_tool())
    assert root is not None
    execution = root.children[-1]
    assert [(a.name, a.status) for a in execution.children] == [
        ("tool_call flaky_search", "error"),
        ("tool_call flaky_search", "ok"),
        ("success agent_execution_completed", "ok"),
    ]
    lines = timeline.render_text(root).splitlines()
    assert lines[5].endswith("tool_call flaky_search  [3ms, FAILED]  TimeoutError: timed out")
    assert lines[6].endswith("[2ms, ok]")
    doc = json.loads(json.dumps(timeline.to_json(root)))
    assert [a["status"] for a in doc["children"][3]["children"]] == ["error", "ok", "ok"]
    spans = timeline.to_jaeger(root)["data"][0]["spans"]
    failed = [
        s
        for s in spans
        if s["operationName"] == "action tool_call flaky_search"
        and {"key": "error", "type": "bool", "value": True} in s["tags"]
    ]
    assert len(failed) == 1


def test_outcome_action_is_listed_at_the_execution_end() -> None:
    root = timeline.build_timeline(CID, _run_with_failed_tool())
    assert root is not None
    success = root.children[-1].children[-1]
    assert success.start == T0 + timedelta(milliseconds=105)
    assert "+   105.0ms" in timeline.render_text(root).splitlines()[-1]
