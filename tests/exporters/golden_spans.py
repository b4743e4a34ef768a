"""Fixed spans (every id, time and value given) whose mapped bytes are pinned in a data file.

``data/mapping_golden.json`` holds what each maps to (JSON value, key, headers' inputs), written
by the mapping as it was before its fast paths; ``test_mapping_golden`` checks today's output
against it byte for byte. Regenerate only for an intended change of the wire format:
``python -m tests.exporters.golden_spans > tests/exporters/data/mapping_golden.json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags, TraceState

from onex_exporters.mapping import MappingOptions, span_to_records
from onex_otel import conventions as c

T0 = 1_764_000_000_123_456_789
CID = "4db8278c-74db-484a-b88f-31231f314d64"
STARTED = "01a241cb-26ca-710f-8275-005666438f8c"
OPTIONS = (MappingOptions(), MappingOptions(tenant_id='t"1', source="ünit"))


def _span(
    i: int,
    name: str,
    attrs: dict[str, Any],
    *,
    trace: int = 0x0123456789ABCDEF0123456789ABCDEF,
    events: list[Event] | None = None,
    error: str | None = None,
    state: TraceState | None = None,
    start: int = T0,
    end: int | None = T0 + 12_345_678,
) -> ReadableSpan:
    return ReadableSpan(
        name,
        context=SpanContext(trace, 0x1000 + i, False, TraceFlags(i % 2), state),
        attributes=attrs,
        events=events or [],
        status=Status(StatusCode.ERROR, error) if error is not None else Status(StatusCode.UNSET),
        start_time=start,
        end_time=end,
        instrumentation_scope=InstrumentationScope(c.INSTRUMENTATION_NAME),
    )


def _all_events(ts: int) -> list[Event]:
    return [
        Event(
            c.EVENT_PROGRESS, {c.ATTR_STAGE: "routing", c.ATTR_PERCENT: 25.0, c.ATTR_METADATA: '{"n": 3}'}, ts
        ),
        Event(
            c.EVENT_DECISION,
            {c.ATTR_NAME: "pick", c.ATTR_DECISION_CONTEXT: "[1]", c.ATTR_EVENT_DURATION_MS: 5},
            ts + 1,
        ),
        Event(
            c.EVENT_ERROR, {c.ATTR_ERROR_TYPE: "ImportError", c.ATTR_ERROR_MESSAGE: 'no "foo"'}, ts + 2_000
        ),
        Event(c.EVENT_SUCCESS, {c.ATTR_NAME: "done", c.ATTR_DETAILS: '{"files": 5}'}, ts + 1_000_000_000),
        Event(
            c.EVENT_ROUTING_DECISION,
            {
                c.ATTR_SELECTED_AGENT: "agent-performance",
                c.ATTR_CONFIDENCE_SCORE: 0.92,
                c.ATTR_ROUTING_STRATEGY: "fuzzy",
                c.ATTR_ROUTING_TIME_MS: 45,
                c.ATTR_ALTERNATIVES: '["a", "b"]',
            },
            ts + 3,
        ),
        Event(
            c.EVENT_ROUTER_METRICS,
            {c.ATTR_QUERY_TEXT: "q", c.ATTR_ROUTING_DURATION_MS: 45, c.ATTR_CANDIDATES_EVALUATED: 5},
            ts + 4,
        ),
        Event(c.EVENT_TRANSFORMATION, {c.ATTR_SOURCE_AGENT: "a", c.ATTR_TARGET_AGENT: "b"}, ts + 5),
        Event(
            c.EVENT_DETECTION_FAILURE,
            {c.ATTR_DETECTION_USER_REQUEST: "do", c.ATTR_DETECTION_FAILURE_REASON: "none"},
            ts + 6,
        ),
        Event("exception", {"exception.type": "ValueError", "exception.message": "bad"}, ts + 7),
    ]


def golden_spans() -> list[ReadableSpan]:
    """Tool, decision and execution spans: ok, failed, cancelled, with and without the optional fields."""
    execution = {
        c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT,
        c.ONEX_AGENT_NAME: "agent-researcher",
        c.ONEX_CORRELATION_ID: CID,
        c.ONEX_EXECUTION_ID: "d77443b2-8bd6-4724-ac42-6e31be1ad903",
        c.ONEX_CONTEXT: '{"domain": "research"}',
        c.ONEX_SESSION_ID: "session-789",
        c.ONEX_USER_REQUEST: "Research ✓ async",
    }
    tool = {
        c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL,
        c.GEN_AI_TOOL_NAME: "Read",
        c.GEN_AI_TOOL_CALL_ID: "call_1",
        c.GEN_AI_TOOL_CALL_ARGUMENTS: '{"path": "a.py", "line": 0}',
        c.GEN_AI_TOOL_CALL_RESULT: '{"lines": 120}',
        c.ONEX_CORRELATION_ID: CID,
        c.ONEX_AGENT_NAME: "agent-researcher",
    }
    project = {
        c.ONEX_PROJECT_PATH: "/srv/project",
        c.ONEX_PROJECT_NAME: '"quoted"',
        c.ONEX_WORKING_DIRECTORY: "/srv",
        c.ONEX_DEBUG_MODE: "false",
    }
    decision = {
        c.GEN_AI_OPERATION_NAME: c.OP_DECISION,
        c.ATTR_DECISION_CONTEXT: '{"candidates": ["a"]}',
        c.ATTR_DECISION_RESULT: '"a"',
        c.ONEX_CORRELATION_ID: CID,
        c.ONEX_STARTED_EVENT_ID: STARTED,
    }
    other_trace = 0xFEDCBA9876543210FEDCBA9876543210
    return [
        _span(0, "execute_tool Read", tool),
        _span(1, "execute_tool Read", {**tool, **project, c.ONEX_STARTED_EVENT_ID: STARTED}),
        _span(2, "execute_tool Read", tool, error="boom", trace=other_trace, events=_all_events(T0)[-1:]),
        _span(
            3, "execute_tool Read", {**tool, c.GEN_AI_TOOL_CALL_ARGUMENTS + c.ORIGINAL_SIZE_SUFFIX: 99_999}
        ),
        _span(4, "decision select", decision),
        _span(5, "decision select", {**decision, **project}, error="no", end=None),
        _span(6, "invoke_agent agent-researcher", execution, events=_all_events(T0 + 5_000)),
        _span(7, "invoke_agent agent-researcher", {**execution, **project, c.ONEX_QUALITY_SCORE: 0.5}),
        _span(
            8,
            "invoke_agent x",
            {**execution, c.ONEX_STARTED_EVENT_ID: STARTED},
            error="failed",
            events=_all_events(T0 + 999_999_999),
        ),
        _span(9, "invoke_agent x", {**execution, c.ONEX_EXECUTION_STATUS: "cancelled"}, trace=other_trace),
        _span(10, "invoke_agent y", {c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT}, trace=5, start=0, end=999),
        _span(11, "execute_tool Read", tool, state=TraceState([("vendor", "abc")])),
        _span(12, "execute_tool Read", {**tool, c.ONEX_EVENT_ID_SEED: "seed-1"}),
        _span(
            13, "invoke_agent z", {**execution, c.ONEX_EVENT_ID_SEED: "seed-2"}, events=_all_events(T0)[:2]
        ),
    ]


def mapped() -> list[list[Any]]:
    """What each golden span maps to, under both options, with and without the lifecycle events."""
    out: list[list[Any]] = []
    for i, span in enumerate(golden_spans()):
        for o, options in enumerate(OPTIONS):
            for lifecycle in (True, False):
                for r in span_to_records(span, options, include_lifecycle=lifecycle):
                    out.append(
                        [
                            i,
                            o,
                            lifecycle,
                            r.event_type.value,
                            r.to_json().decode(),
                            r.traceparent,
                            r.tracestate,
                        ]
                    )
    return out


if __name__ == "__main__":
    json.dump(mapped(), sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")
