"""The normalizer on real framework spans, without onex-otel's span processor.

This is what a span that reaches the mapping without the processor's stamps gives (e.g. through
the OTLP bridge, or a TracerProvider without ``onex_otel.configure()``): the dialect alone decides.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from onex_exporters.mapping import is_execution_span, span_to_records
from onex_exporters.normalize import normalize
from onex_otel import _payload
from onex_otel._extract import first_user_text, unwrap
from onex_otel.conventions import EventType
from tests.frameworks.runners import ANSWER, CALL_ID, RUNNERS, USER_REQUEST

REDACTED_ARGS = {"city": "Paris", "api_key": "[REDACTED]"}


def record(dialect: str) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    assert RUNNERS[dialect](provider) == ANSWER
    return list(memory.get_finished_spans())


def events(spans: list[ReadableSpan]) -> list[dict[str, Any]]:
    return [{"type": r.event_type, **r.envelope["payload"]} for s in spans for r in span_to_records(s)]


def tool_calls(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in found if e["type"] == EventType.AGENT_ACTION and e["action_type"] == "tool_call"]


def started(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in found if e["type"] == EventType.EXECUTION_STARTED]


@pytest.fixture(autouse=True)
def _fresh(clean_tracing: None) -> None:
    """Fresh tracing state and policy per test."""


def test_pydantic_ai_genai_spans() -> None:
    found = events(record("pydantic_ai"))
    (execution,) = started(found)
    assert execution["agent_name"] == "weather_agent"
    assert execution["user_request"] == USER_REQUEST
    (done,) = [e for e in found if e["type"] == EventType.EXECUTION_COMPLETED]
    assert done["output_summary"] == ANSWER
    (call,) = tool_calls(found)
    assert call["agent_name"] == "weather_agent"
    details = call["action_details"]
    assert details["parameters"] == REDACTED_ARGS
    assert details["result"] == "sunny in Paris" and details["tool_call_id"] == CALL_ID


def test_openinference_langchain_spans() -> None:
    found = events(record("openinference_langchain"))
    (execution,) = started(found)  # the AGENT span; the LLM spans map to nothing
    assert execution["agent_name"] == "weather_agent"
    assert execution["user_request"] == USER_REQUEST
    (call,) = tool_calls(found)
    details = call["action_details"]
    assert details["parameters"] == REDACTED_ARGS
    assert details["result"] == "sunny in Paris"  # the ToolMessage's content, unwrapped
    assert details["tool_call_id"] == CALL_ID  # found inside the ToolMessage


def test_openllmetry_langchain_spans() -> None:
    spans = record("openllmetry_langchain")
    workflow = next(s for s in spans if s.name == "weather_agent.workflow")
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_agent"  # type: ignore[index]
    assert not is_execution_span(workflow)  # a root runnable is no agent by itself
    found = events(spans)
    assert started(found) == []
    (call,) = tool_calls(found)
    details = call["action_details"]
    assert details["parameters"] == REDACTED_ARGS  # not the wrapper, no Python repr
    assert details["result"] == "sunny in Paris"  # not a serialized ToolMessage
    assert details["tool_call_id"] == CALL_ID


def test_openinference_openai_agents_spans() -> None:
    spans = record("openinference_openai_agents")
    found = events(spans)
    (execution,) = started(found)  # the agent, not the Runner's "Agent workflow" trace root
    assert execution["agent_name"] == "weather_agent"
    (call,) = tool_calls(found)
    assert call["action_details"]["parameters"] == REDACTED_ARGS
    assert call["action_details"]["result"] == "sunny in Paris"


def test_capture_off_applies_to_foreign_content() -> None:
    spans = record("openllmetry_langchain")
    _payload.set_policy(_payload.Policy(capture=False))
    (call,) = tool_calls(events(spans))
    assert call["action_details"]["parameters"] is None
    assert call["action_details"]["result"] is None


def test_size_bound_applies_to_foreign_content() -> None:
    spans = record("openinference_langchain")
    _payload.set_policy(_payload.Policy(max_bytes=64))
    tool = next(s for s in spans if s.name == "get_weather")
    view = normalize(tool)
    text = view.attributes["gen_ai.tool.call.arguments"]
    assert len(text.encode()) <= 64 or "gen_ai.tool.call.arguments.original_size" in view.attributes


def test_own_and_unknown_spans_pass_through_untouched() -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("onex_otel").start_as_current_span("execute_tool t", attributes={"x": 1}):
        pass
    with provider.get_tracer("somebody.else").start_as_current_span("GET /"):
        pass
    own, other = memory.get_finished_spans()
    assert normalize(own) is own and normalize(other) is other
    assert span_to_records(other) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '{"inputs": {"city": "Paris"}, "tags": [], "kwargs": {"tool_call_id": "c1"}}',
            ({"city": "Paris"}, "c1"),
        ),
        ({"input_str": "{'city': 'Paris', 'n': None}", "tags": []}, ({"city": "Paris", "n": None}, None)),
        (
            '{"output": {"lc": 1, "type": "constructor", "id": ["ToolMessage"], "kwargs": '
            '{"content": "ok", "tool_call_id": "c2"}}, "kwargs": {}}',
            ({"input": "ok"}, "c2"),
        ),
        ("print('not a literal')", ({"input": "print('not a literal')"}, None)),
    ],
)
def test_unwrap_arguments(value: Any, expected: tuple[Any, str | None]) -> None:
    assert unwrap(value, arguments=True) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]', "hi"),
        (
            {
                "messages": [
                    [
                        {
                            "lc": 1,
                            "type": "constructor",
                            "id": ["HumanMessage"],
                            "kwargs": {"content": "hello", "type": "human"},
                        }
                    ]
                ]
            },
            "hello",
        ),
        ({"inputs": {"input": "question?"}, "tags": []}, "question?"),
        ([{"role": "system", "content": "be nice"}, {"role": "user", "content": "q"}], "q"),
    ],
)
def test_first_user_text(value: Any, expected: str) -> None:
    assert first_user_text(value) == expected


def test_openinference_session_and_user() -> None:
    from openinference.instrumentation import using_attributes

    with using_attributes(session_id="session-42", user_id="user-7"):
        found = events(record("openinference_langchain"))
    (execution,) = started(found)
    assert execution["session_id"] == "session-42"
    assert execution["context"] == {"user_id": "user-7"}
