"""Claude Code natively: its log events and beta spans through the pure mapping.

Records are made by the official OpenTelemetry SDK and OTLP encoder, spans by the SDK tracer under
Claude Code's scope (``tests/exporters/claude_code_records.py``). Attributes are the documented
ones, as strings (CLI 2.1.289) or typed values (older builds).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from onex_exporters.bridge.logs import records_from_logs
from onex_exporters.mapping import EventRecord, span_to_records, to_envelopes
from onex_otel import _payload
from onex_otel.conventions import CORRELATION_ID_NAMESPACE, REDACTED_MARKER
from tests.exporters.claude_code_records import (
    CID,
    COMPLETED,
    FAILED,
    MS,
    PROGRESS,
    PROMPT,
    SESSION,
    STARTED,
    T0,
    TRACE,
    ClaudeSpans,
    actions,
    by_type,
    interaction_with_tool,
    logs_request,
    tool_result,
    user_prompt,
)


@pytest.fixture(autouse=True)
def _capture_on() -> Iterator[None]:
    _payload.set_policy(_payload.Policy(capture=True))
    yield
    _payload.set_policy(None)


def mapped(request: ExportLogsServiceRequest) -> list[EventRecord]:
    records = records_from_logs(request)
    to_envelopes(records)  # every event is a valid OnexEnvelopeV1
    return records


def span_records(spans: Sequence[ReadableSpan]) -> list[EventRecord]:
    out: list[EventRecord] = []
    for span in spans:
        out.extend(span_to_records(span))
    to_envelopes(out)
    return out


# ------------------------------------------------------------------------------------------------
# log events, one kind at a time
# ------------------------------------------------------------------------------------------------
def test_user_prompt_starts_one_execution_keyed_by_the_trace_id() -> None:
    records = mapped(logs_request([user_prompt()]))
    [started] = by_type(records, STARTED)
    [decision] = actions(records, "decision")
    assert started["correlation_id"] == CID
    payload = started["payload"]
    assert payload["agent_name"] == "claude-code"
    assert payload["session_id"] == SESSION
    assert payload["user_request"] == "fix the failing test"
    assert payload["context"]["prompt_id"] == PROMPT
    assert payload["context"]["prompt_length"] == 20  # sent as a string, read as a number
    assert payload["correlation_id_original"] is None
    assert decision["payload"]["action_name"] == "agent_execution_started"
    assert decision["causation_id"] == started["event_id"]
    assert len(records) == 2  # no completion from logs alone: the execution stays in progress


def test_prompt_without_trace_id_is_keyed_by_the_prompt_id() -> None:
    records = mapped(logs_request([user_prompt(), tool_result(T0 + 500 * MS, "toolu_1")], trace_id=None))
    assert {r.correlation_id for r in records} == {PROMPT}  # a UUID prompt id is used as is
    # the traceparent header still names the run's trace: the correlation id
    assert {r.traceparent.split("-")[1] for r in records} == {PROMPT.replace("-", "")}


def test_non_uuid_prompt_id_maps_to_uuid5_and_keeps_the_original() -> None:
    import uuid

    name, ts, attrs = user_prompt()
    attrs["prompt.id"] = "p-42"
    records = mapped(logs_request([(name, ts, attrs)], trace_id=None))
    [started] = by_type(records, STARTED)
    assert started["correlation_id"] == str(uuid.uuid5(CORRELATION_ID_NAMESPACE, "p-42"))
    assert started["payload"]["correlation_id_original"] == "p-42"


def test_redacted_prompt_leaves_user_request_empty() -> None:
    records = mapped(logs_request([user_prompt(prompt="<REDACTED>")]))
    [started] = by_type(records, STARTED)
    assert started["payload"]["user_request"] is None


@pytest.mark.parametrize(("success", "duration"), [("true", "214"), (True, 214)])
def test_tool_result_is_one_tool_call_with_its_call_id(success: Any, duration: Any) -> None:
    params = {"bash_command": "pytest", "full_command": "pytest -q tests/"}
    tool_input = {"command": "pytest -q tests/", "timeout": 120000}
    records = mapped(
        logs_request(
            [
                tool_result(
                    T0 + 1000 * MS,
                    "toolu_01HkYv3m9QpR2sXw7TnB4cDe",
                    success=success,
                    duration=duration,
                    tool_parameters=json.dumps(params),
                    tool_input=json.dumps(tool_input),
                )
            ]
        )
    )
    [call] = actions(records, "tool_call")
    p = call["payload"]
    assert p["action_name"] == "Bash"
    assert p["duration_ms"] == 214
    assert p["action_details"]["tool_call_id"] == "toolu_01HkYv3m9QpR2sXw7TnB4cDe"
    assert p["action_details"]["parameters"] == tool_input
    assert p["action_details"]["error"] is None
    assert call["correlation_id"] == CID
    assert not actions(records, "error")


def test_tool_parameters_are_the_parameters_without_tool_input() -> None:
    params = {"mcp_server_name": "github", "mcp_tool_name": "create_issue"}
    records = mapped(
        logs_request([tool_result(T0, "toolu_2", tool="mcp_tool", tool_parameters=json.dumps(params))])
    )
    [call] = actions(records, "tool_call")
    assert call["payload"]["action_details"]["parameters"] == params


def test_failed_tool_is_a_tool_call_with_its_error_and_an_error_action() -> None:
    records = mapped(
        logs_request(
            [
                tool_result(
                    T0,
                    "toolu_3",
                    tool="mcp_tool",
                    success="false",
                    duration="5012",
                    error_type="McpToolCallError",
                    error="server timed out",
                )
            ]
        )
    )
    [call] = actions(records, "tool_call")
    assert call["payload"]["action_details"]["error"] == {
        "type": "McpToolCallError",
        "message": "server timed out",
    }
    [error] = actions(records, "error")
    assert error["payload"]["action_name"] == "McpToolCallError"
    assert error["payload"]["action_details"]["error_context"]["tool_use_id"] == "toolu_3"


@pytest.mark.parametrize(("decision", "source"), [("accept", "user_temporary"), ("reject", "user_reject")])
def test_tool_decision_is_a_decision_action(decision: str, source: str) -> None:
    records = mapped(
        logs_request(
            [
                (
                    "tool_decision",
                    T0,
                    {
                        "tool_name": "Edit",
                        "tool_use_id": "toolu_4",
                        "decision": decision,
                        "source": source,
                        "tool_source": "builtin",
                    },
                )
            ]
        )
    )
    [action] = actions(records, "decision")
    assert action["payload"]["action_name"] == "tool_decision"
    details = action["payload"]["action_details"]
    assert details["decision_result"] == {"decision": decision, "source": source}
    assert details["decision_context"]["tool_use_id"] == "toolu_4"
    assert details["decision_context"]["tool_name"] == "Edit"


@pytest.mark.parametrize(("status", "duration"), [(529, 30000), ("529", "30000")])
def test_api_error_is_an_error_action(status: Any, duration: Any) -> None:
    records = mapped(
        logs_request(
            [
                (
                    "api_error",
                    T0,
                    {
                        "model": "claude-sonnet-4",
                        "error": "Overloaded",
                        "status_code": status,
                        "duration_ms": duration,
                        "attempt": "11",
                        "request_id": "req_011",
                    },
                )
            ]
        )
    )
    [error] = actions(records, "error")
    p = error["payload"]
    assert p["action_name"] == "api_error"
    assert p["duration_ms"] == 30000
    assert p["action_details"]["error_message"] == "Overloaded"
    assert p["action_details"]["error_context"]["status_code"] == 529
    assert p["action_details"]["error_context"]["attempt"] == 11


@pytest.mark.parametrize("as_text", [True, False])
def test_api_request_adds_tokens_cost_and_latency_to_the_execution(as_text: bool) -> None:
    values: dict[str, Any] = {
        "input_tokens": 1200,
        "output_tokens": 340,
        "cache_read_tokens": 5000,
        "cache_creation_tokens": 0,
        "cost_usd": 0.0123,
        "duration_ms": 2300,
    }
    attrs = {k: (str(v) if as_text else v) for k, v in values.items()}
    records = mapped(
        logs_request(
            [
                user_prompt(),
                ("api_request", T0 + 10 * MS, {"model": "claude-sonnet-4", "request_id": "req_011", **attrs}),
            ]
        )
    )
    [started] = by_type(records, STARTED)
    [progress] = by_type(records, PROGRESS)
    p = progress["payload"]
    assert p["execution_id"] == started["payload"]["execution_id"]
    assert p["stage"] == "model_request"
    assert p["metadata"] == {**values, "model": "claude-sonnet-4", "request_id": "req_011"}
    assert progress["causation_id"] == started["event_id"]


def test_records_of_other_producers_and_other_events_map_to_nothing() -> None:
    assert records_from_logs(logs_request([user_prompt()], service="my-service", scope="my.scope")) == []
    assert records_from_logs(logs_request([("mcp_server_connection", T0, {"status": "connected"})])) == []


def test_a_redelivered_request_yields_the_same_event_ids() -> None:
    events = [
        user_prompt(),
        tool_result(T0 + 5 * MS, "toolu_5"),
        (
            "tool_decision",
            T0 + 1 * MS,
            {"tool_name": "Bash", "tool_use_id": "toolu_5", "decision": "accept", "source": "config"},
        ),
        ("api_request", T0 + 9 * MS, {"input_tokens": "3"}),
    ]
    first = [r.event_id for r in mapped(logs_request(events))]
    second = [r.event_id for r in mapped(logs_request(events))]
    assert first == second
    assert len(set(first)) == len(first)


# ------------------------------------------------------------------------------------------------
# the same tool use and prompt, as spans and as log events
# ------------------------------------------------------------------------------------------------
def test_spans_map_to_an_execution_and_a_tool_call() -> None:
    spans = ClaudeSpans()
    interaction_with_tool(spans, "toolu_01HkYv3m9QpR2sXw7TnB4cDe")
    records = span_records(spans.spans())
    [started] = by_type(records, STARTED)
    [completed] = by_type(records, COMPLETED)
    [call] = actions(records, "tool_call")
    assert started["correlation_id"] == CID
    assert started["payload"]["user_request"] == "fix the failing test"
    assert started["payload"]["session_id"] == SESSION
    assert completed["payload"]["execution_id"] == started["payload"]["execution_id"]
    assert completed["payload"]["duration_ms"] == 902
    assert call["payload"]["action_name"] == "Bash"
    assert call["payload"]["action_details"]["tool_call_id"] == "toolu_01HkYv3m9QpR2sXw7TnB4cDe"
    assert call["payload"]["action_details"]["parameters"] == {"full_command": "pytest -q tests/"}
    assert call["payload"]["duration_ms"] == 215
    assert call["causation_id"] == started["event_id"]


def test_a_tool_use_as_span_and_as_log_event_is_one_action() -> None:
    spans = ClaudeSpans()
    _, end = interaction_with_tool(spans, "toolu_01HkYv3m9QpR2sXw7TnB4cDe")
    from_spans = span_records(spans.spans())
    # the log events of the same prompt, with their own clock (a few ms off the spans)
    from_logs = mapped(
        logs_request([user_prompt(T0 + 3 * MS), tool_result(end + 2 * MS, "toolu_01HkYv3m9QpR2sXw7TnB4cDe")])
    )
    span_ids = {e["event_id"] for e in actions(from_spans, "tool_call")}
    log_ids = {e["event_id"] for e in actions(from_logs, "tool_call")}
    assert len(span_ids) == 1 and span_ids == log_ids
    # the prompt: one started event, one started decision action, one execution id
    assert {e["event_id"] for e in by_type(from_spans, STARTED)} == {
        e["event_id"] for e in by_type(from_logs, STARTED)
    }
    assert {e["event_id"] for e in actions(from_spans, "decision")} == {
        e["event_id"] for e in actions(from_logs, "decision")
    }
    assert {e["payload"]["execution_id"] for e in by_type(from_spans, STARTED)} == {
        e["payload"]["execution_id"] for e in by_type(from_logs, STARTED)
    }
    all_ids = [r.event_id for r in (*from_spans, *from_logs)]
    # started, its decision, the tool call; completed and its success action (spans only)
    assert len(set(all_ids)) == 5


def test_a_failed_tool_body_span_and_its_log_event_give_one_error_action() -> None:
    spans = ClaudeSpans()
    ctx = trace.set_span_in_context(NonRecordingSpan(SpanContext(TRACE, 0x2222, False, TraceFlags(1))))
    body = spans.tracer.start_span(
        "claude_code.tool.execution",
        context=ctx,
        start_time=T0,
        attributes={
            "span.type": "tool.execution",
            "tool_use_id": "toolu_9",
            "success": False,
            "error": "Error:ENOENT",
        },
    )
    body.set_status(Status(StatusCode.ERROR, "Error:ENOENT"))
    body.end(end_time=T0 + 5 * MS)
    from_spans = span_records(spans.spans())
    from_logs = mapped(
        logs_request(
            [tool_result(T0 + 7 * MS, "toolu_9", tool="Read", success="false", error_type="Error:ENOENT")]
        )
    )
    [span_error] = actions(from_spans, "error")
    [log_error] = actions(from_logs, "error")
    assert span_error["event_id"] == log_error["event_id"]


# ------------------------------------------------------------------------------------------------
# subagents
# ------------------------------------------------------------------------------------------------
def test_subagent_is_a_nested_execution_from_either_path() -> None:
    spans = ClaudeSpans()
    interaction_with_tool(spans, "toolu_agent", tool="Agent", subagent_type="Explore")
    from_spans = span_records(spans.spans())
    params = json.dumps({"subagent_type": "Explore"})
    from_logs = mapped(
        logs_request(
            [
                user_prompt(),
                tool_result(
                    T0 + 317 * MS, "toolu_agent", tool="Agent", duration="215", tool_parameters=params
                ),
            ]
        )
    )
    for records in (from_spans, from_logs):
        starts = {e["payload"]["agent_name"]: e for e in by_type(records, STARTED)}
        outer = starts["claude-code"]
        nested = next(e for name, e in starts.items() if name != "claude-code")
        assert nested["correlation_id"] == outer["correlation_id"] == CID
        assert nested["payload"]["execution_id"] != outer["payload"]["execution_id"]
        assert nested["payload"]["context"]["parent_execution_id"] == outer["payload"]["execution_id"]
        assert nested["payload"]["context"]["tool_use_id"] == "toolu_agent"
        [done] = [
            e
            for e in by_type(records, COMPLETED)
            if e["payload"]["execution_id"] == nested["payload"]["execution_id"]
        ]
        assert done["causation_id"] == nested["event_id"]
    # both name the subagent type (sent with OTEL_LOG_TOOL_DETAILS)
    for records in (from_spans, from_logs):
        assert {e["payload"]["agent_name"] for e in by_type(records, STARTED)} == {"claude-code", "Explore"}
    nested_ids = [
        {e["event_id"] for e in by_type(r, STARTED) if e["payload"]["agent_name"] != "claude-code"}
        for r in (from_spans, from_logs)
    ]
    assert nested_ids[0] == nested_ids[1]


def test_failed_subagent_run_is_a_failed_nested_execution() -> None:
    records = mapped(
        logs_request(
            [
                tool_result(
                    T0, "toolu_a2", tool="Task", success="false", error_type="AgentError", error="gave up"
                )
            ]
        )
    )
    [failed] = by_type(records, FAILED)
    assert failed["payload"]["agent_name"] == "claude-code-subagent"
    assert failed["payload"]["error_message"] == "gave up"


def test_subagent_completed_adds_its_totals_to_the_execution() -> None:
    records = mapped(
        logs_request(
            [
                (
                    "subagent_completed",
                    T0,
                    {
                        "agent_type": "Explore",
                        "total_tokens": "5300",
                        "total_tool_uses": 7,
                        "duration_ms": "41000",
                    },
                )
            ]
        )
    )
    [progress] = by_type(records, PROGRESS)
    assert progress["payload"]["stage"] == "subagent_completed"
    assert progress["payload"]["metadata"] == {
        "total_tokens": 5300,
        "total_tool_uses": 7,
        "duration_ms": 41000,
        "agent_type": "Explore",
    }


# ------------------------------------------------------------------------------------------------
# content policy
# ------------------------------------------------------------------------------------------------
def test_secret_in_tool_parameters_is_redacted() -> None:
    tool_input = {"command": "curl -H x https://api", "api_key": "sk-live-123"}
    params = {"bash_command": "curl", "token": "ghp_abc"}
    records = mapped(
        logs_request(
            [
                tool_result(T0, "toolu_s", tool_input=json.dumps(tool_input)),
                (
                    "tool_decision",
                    T0,
                    {
                        "tool_name": "Bash",
                        "tool_use_id": "toolu_s",
                        "decision": "accept",
                        "source": "config",
                        "tool_parameters": json.dumps(params),
                    },
                ),
            ]
        )
    )
    [call] = actions(records, "tool_call")
    assert call["payload"]["action_details"]["parameters"] == {
        "command": "curl -H x https://api",
        "api_key": REDACTED_MARKER,
    }
    [decision] = actions(records, "decision")
    assert decision["payload"]["action_details"]["decision_context"]["tool_parameters"] == {
        "bash_command": "curl",
        "token": REDACTED_MARKER,
    }
    assert "sk-live-123" not in json.dumps([r.envelope for r in records])


def test_capture_off_keeps_no_prompt_text_and_no_parameters() -> None:
    _payload.set_policy(_payload.Policy(capture=False))
    records = mapped(
        logs_request(
            [
                user_prompt(prompt="my secret plan"),
                tool_result(T0, "toolu_c", tool_input=json.dumps({"command": "ls"})),
                (
                    "tool_decision",
                    T0,
                    {
                        "tool_name": "Bash",
                        "tool_use_id": "toolu_c",
                        "decision": "accept",
                        "source": "config",
                        "tool_parameters": json.dumps({"bash_command": "ls"}),
                    },
                ),
            ]
        )
    )
    [started] = by_type(records, STARTED)
    assert started["payload"]["user_request"] is None
    [call] = actions(records, "tool_call")
    assert call["payload"]["action_details"]["parameters"] is None
    decisions = [a for a in actions(records, "decision") if a["payload"]["action_name"] == "tool_decision"]
    assert decisions[0]["payload"]["action_details"]["decision_context"]["tool_parameters"] is None
    text = json.dumps([r.envelope for r in records])
    assert "my secret plan" not in text and '"ls"' not in text

    spans = ClaudeSpans()
    interaction_with_tool(spans, "toolu_c2")
    span_text = json.dumps([r.envelope for r in span_records(spans.spans())])
    assert "fix the failing test" not in span_text and "pytest -q" not in span_text


def test_the_normalizer_reads_the_claude_code_dialect() -> None:
    from onex_exporters.mapping import is_execution_span
    from onex_exporters.normalize import normalize, span_role
    from onex_otel.conventions import GEN_AI_TOOL_CALL_ID, GEN_AI_TOOL_NAME

    spans = ClaudeSpans()
    interaction_with_tool(spans, "toolu_n")
    tool, interaction = spans.spans()
    assert span_role(interaction) == "execution" and is_execution_span(interaction)
    assert span_role(tool) == "tool_call"
    view = normalize(tool).attributes
    assert view[GEN_AI_TOOL_NAME] == "Bash" and view[GEN_AI_TOOL_CALL_ID] == "toolu_n"
    assert "full_command" not in view  # content only in its policy-checked form


def test_a_subagents_own_tool_span_is_a_tool_call_of_the_prompt() -> None:
    spans = ClaudeSpans()
    ctx = trace.set_span_in_context(
        NonRecordingSpan(SpanContext(TRACE, 0xB7AD6B7169203331, False, TraceFlags(1)))
    )
    read = spans.tracer.start_span(
        "claude_code.tool",
        context=ctx,
        start_time=T0,
        attributes={
            "span.type": "tool",
            "session.id": SESSION,
            "tool_name": "Read",
            "tool_use_id": "toolu_sub",
            "agent_id": "a1b2c3d4e5f60718",
            "duration_ms": 41,
            "file_path": "/home/dev/project/src/app.py",
        },
    )
    read.end(end_time=T0 + 41 * MS)
    [call] = actions(span_records(spans.spans()), "tool_call")
    assert call["correlation_id"] == CID
    assert call["payload"]["action_details"]["tool_call_id"] == "toolu_sub"
    assert call["payload"]["action_details"]["parameters"] == {"file_path": "/home/dev/project/src/app.py"}


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["true", "false", "214", "-3", "0.5", "{}", "[1]", '{"subagent_type": 3}', "<REDACTED>"]),
)
_KEYS = (
    "prompt",
    "prompt_length",
    "tool_name",
    "tool_use_id",
    "success",
    "duration_ms",
    "error_type",
    "error",
    "decision",
    "source",
    "tool_parameters",
    "tool_input",
    "status_code",
    "attempt",
    "model",
    "request_id",
    "input_tokens",
    "cost_usd",
    "total_tokens",
    "agent_type",
    "event.sequence",
    "prompt.id",
    "session.id",
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(
        ["user_prompt", "tool_result", "tool_decision", "api_error", "api_request", "subagent_completed"]
    ),
    values=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=10),
    traced=st.booleans(),
)
def test_any_attribute_values_map_to_valid_events(name: str, values: dict[str, Any], traced: bool) -> None:
    attrs = {k: v for k, v in values.items() if v is not None}
    request = logs_request([(name, T0, attrs)], trace_id=TRACE if traced else None)
    records = mapped(request)  # never raises; every event validates
    assert [r.event_id for r in records] == [r.event_id for r in records_from_logs(request)]
