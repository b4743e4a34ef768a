"""Which framework spans become executions, with onex-otel's span processor in place."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import onex_otel
from onex_exporters.mapping import span_to_records
from onex_otel.conventions import EventType
from tests.frameworks.runners import ANSWER, USER_REQUEST, run_langchain_chain


def mapped(instrumentation: str, *, name: str, call_tool: bool) -> list[dict[str, Any]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    onex_otel.configure(tracer_provider=provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    assert run_langchain_chain(instrumentation, provider, name=name, call_tool=call_tool) == ANSWER
    provider.shutdown()
    return [
        {"type": r.event_type, **r.envelope["payload"]}
        for s in memory.get_finished_spans()
        for r in span_to_records(s)
    ]


@pytest.mark.parametrize("instrumentation", ["openinference", "openllmetry"])
def test_a_chain_that_only_calls_the_model_is_no_execution(instrumentation: str, clean_tracing: None) -> None:
    assert mapped(instrumentation, name="summarize", call_tool=False) == []


@pytest.mark.parametrize("instrumentation", ["openinference", "openllmetry"])
def test_a_top_level_chain_that_calls_a_tool_is_an_execution(
    instrumentation: str, clean_tracing: None
) -> None:
    found = mapped(instrumentation, name="planner", call_tool=True)
    (started,) = [e for e in found if e["type"] == EventType.EXECUTION_STARTED]
    assert started["agent_name"] == "planner"
    assert started["user_request"] == USER_REQUEST
    (call,) = [e for e in found if e["type"] == EventType.AGENT_ACTION and e["action_type"] == "tool_call"]
    assert call["agent_name"] == "planner"
    assert [e["type"] for e in found].count(EventType.EXECUTION_COMPLETED) == 1


def test_an_onex_execution_inside_a_framework_tool_keeps_its_identity(clean_tracing: None) -> None:
    from pydantic_ai import Agent, InstrumentationSettings
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    onex_otel.configure(tracer_provider=provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))

    @onex_otel.traced_tool_call
    def lookup(city: str) -> str:
        return f"facts about {city}"

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("research", {"city": "Paris"}, "c9")])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(
        FunctionModel(model),
        name="travel_agent",
        capabilities=[Instrumentation(InstrumentationSettings(tracer_provider=provider))],
    )

    @agent.tool_plain
    def research(city: str) -> str:
        """Research a city with a sub-agent of our own."""
        with onex_otel.agent_execution("researcher", user_request=f"research {city}"):
            return lookup(city)

    assert agent.run_sync("Plan Paris").output == "done"
    provider.shutdown()
    found = [
        {
            "type": r.event_type,
            "causation": r.envelope["causation_id"],
            "event_id": r.event_id,
            **r.envelope["payload"],
        }
        for s in memory.get_finished_spans()
        for r in span_to_records(s)
    ]
    starts = {e["agent_name"]: e for e in found if e["type"] == EventType.EXECUTION_STARTED}
    assert set(starts) == {"travel_agent", "researcher"}
    assert starts["researcher"]["execution_id"] != starts["travel_agent"]["execution_id"]
    calls = {
        e["action_name"]: e
        for e in found
        if e["type"] == EventType.AGENT_ACTION and e["action_type"] == "tool_call"
    }
    assert set(calls) == {"research", "lookup"}
    assert calls["lookup"]["agent_name"] == "researcher"
    assert calls["lookup"]["causation"] == starts["researcher"]["event_id"]
    assert calls["research"]["agent_name"] == "travel_agent"
    assert calls["research"]["causation"] == starts["travel_agent"]["event_id"]


def test_openinference_async_langchain_tool_closes_the_context_gap(clean_tracing: None) -> None:
    import asyncio

    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool
    from openinference.instrumentation.langchain import LangChainInstrumentor

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    onex_otel.configure(tracer_provider=provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))

    @onex_otel.traced_tool_call(name="fetch")
    async def fetch(city: str) -> str:
        await asyncio.sleep(0)
        return f"sunny in {city}"

    @tool
    async def fetch_weather(city: str) -> str:
        """Weather of a city."""
        return await fetch(city)

    async def loop(inputs: dict[str, Any]) -> dict[str, Any]:
        reply = await fetch_weather.ainvoke(
            {"name": "fetch_weather", "args": {"city": "Paris"}, "id": "c7", "type": "tool_call"}
        )
        return {"output": reply.content}

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        agent = RunnableLambda(loop).with_config(run_name="async_agent")
        assert asyncio.run(agent.ainvoke({"input": "weather?"})) == {"output": "sunny in Paris"}
    finally:
        instrumentor.uninstrument()
    provider.shutdown()
    spans = memory.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1  # ours joined the run's trace
    found = [r.envelope["payload"] for s in spans for r in span_to_records(s)]
    (call,) = [p for p in found if p.get("action_type") == "tool_call"]
    assert (call["action_name"], call["agent_name"]) == ("fetch_weather", "async_agent")
    assert call["action_details"]["tool_call_id"] == "c7"
    assert call["action_details"]["parameters"] == {"city": "Paris"}
    assert call["action_details"]["result"] == "sunny in Paris"
