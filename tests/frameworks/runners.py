"""Agents on real frameworks with fake models (nothing goes to the network), one per dialect.

Each ``run_*`` function instruments its framework with ``provider``, runs one agent invocation
that calls the tool ``get_weather(city, api_key)`` once and answers, and removes the
instrumentation again. Options: ``decorated`` (the tool's body is also ``@traced_tool_call``),
``fail`` (the tool raises).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from onex_otel import traced_tool_call

USER_REQUEST = "What is the weather in Paris?"
ANSWER = "It is sunny in Paris."
ARGS = {"city": "Paris", "api_key": "sk-secret-123"}
CALL_ID = "call_1"
DIALECTS = ("pydantic_ai", "openinference_langchain", "openllmetry_langchain", "openinference_openai_agents")


class ToolFailed(RuntimeError):
    """The tool's own error."""


def weather_body(decorated: bool, fail: bool) -> Callable[[str, str], str]:
    def get_weather(city: str, api_key: str) -> str:
        if fail:
            raise ToolFailed(f"no weather for {city}")
        return f"sunny in {city}"

    return traced_tool_call(name="get_weather")(get_weather) if decorated else get_weather


# ------------------------------------------------------------------------------------------------
# pydantic-ai, its own instrumentation (GenAI conventions)
# ------------------------------------------------------------------------------------------------
def run_pydantic_ai(provider: Any, *, decorated: bool = False, fail: bool = False) -> Any:
    from pydantic_ai import Agent, InstrumentationSettings
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    body = weather_body(decorated, fail)

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("get_weather", dict(ARGS), CALL_ID)])
        return ModelResponse(parts=[TextPart(ANSWER)])

    agent = Agent(
        FunctionModel(model),
        name="weather_agent",
        capabilities=[Instrumentation(InstrumentationSettings(tracer_provider=provider))],
    )

    @agent.tool_plain
    def get_weather(city: str, api_key: str) -> str:
        """Weather of a city."""
        return body(city, api_key)

    return agent.run_sync(USER_REQUEST).output


# ------------------------------------------------------------------------------------------------
# LangChain (langchain-core only): a small tool-calling agent loop with a fake chat model
# ------------------------------------------------------------------------------------------------
def _langchain_agent(decorated: bool, fail: bool) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool

    body = weather_body(decorated, fail)

    @tool
    def get_weather(city: str, api_key: str) -> str:
        """Weather of a city."""
        return body(city, api_key)

    def loop(inputs: dict[str, Any]) -> dict[str, Any]:
        model = GenericFakeChatModel(
            messages=iter(
                [
                    AIMessage(
                        content="", tool_calls=[{"name": "get_weather", "args": dict(ARGS), "id": CALL_ID}]
                    ),
                    AIMessage(content=ANSWER),
                ]
            )
        )
        messages: list[BaseMessage] = [HumanMessage(inputs["input"])]
        for _ in range(4):
            reply = model.invoke(messages)
            messages.append(reply)
            if not isinstance(reply, AIMessage) or not reply.tool_calls:
                return {"output": reply.content}
            for call in reply.tool_calls:
                messages.append(get_weather.invoke(call))
        raise RuntimeError("no answer")

    return RunnableLambda(loop).with_config(run_name="weather_agent")


def run_openinference_langchain(provider: Any, *, decorated: bool = False, fail: bool = False) -> Any:
    from openinference.instrumentation.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        return _langchain_agent(decorated, fail).invoke({"input": USER_REQUEST})["output"]
    finally:
        instrumentor.uninstrument()


class _SwitchTracer(trace.Tracer):
    """A tracer of whichever provider :data:`_SWITCH` points at (no-op when none)."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._args, self._kwargs = args, kwargs

    def _target(self) -> trace.Tracer:
        provider = _SWITCH.target
        if provider is None:
            return trace.NoOpTracer()
        return provider.get_tracer(*self._args, **self._kwargs)  # type: ignore[no-any-return]

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._target().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._target().start_as_current_span(*args, **kwargs)


class _Switch(trace.TracerProvider):
    """OpenLLMetry's LangChain instrumentation cannot be instrumented again once removed (its
    callback handler stays bound to the first provider), so it is instrumented once per process
    with this provider, which each run points at its own."""

    target: Any = None

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _SwitchTracer(args, kwargs)


_SWITCH = _Switch()


def run_openllmetry_langchain(provider: Any, *, decorated: bool = False, fail: bool = False) -> Any:
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor

    instrumentor = LangchainInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_SWITCH)
    _SWITCH.target = provider
    try:
        return _langchain_agent(decorated, fail).invoke({"input": USER_REQUEST})["output"]
    finally:
        _SWITCH.target = None


# ------------------------------------------------------------------------------------------------
# OpenAI Agents SDK + OpenInference: a Model implementation with canned responses
# ------------------------------------------------------------------------------------------------
def _openai_agent(decorated: bool, fail: bool) -> Any:
    from agents import Agent, function_tool
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.tracing import generation_span
    from agents.usage import Usage
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    body = weather_body(decorated, fail)

    class FakeModel(Model):
        """Answers with one tool call, then with text; records a generation span as models do."""

        def __init__(self) -> None:
            self.turn = 0

        async def get_response(
            self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
        ) -> ModelResponse:
            self.turn += 1
            messages = [{"role": "user", "content": input}] if isinstance(input, str) else input
            with generation_span(model="fake", input=list(messages)) as span:
                if self.turn == 1:
                    out: list[Any] = [
                        ResponseFunctionToolCall(
                            type="function_call",
                            call_id=CALL_ID,
                            name="get_weather",
                            arguments='{"city": "Paris", "api_key": "sk-secret-123"}',
                            id="fc_1",
                            status="completed",
                        )
                    ]
                    span.span_data.output = [
                        {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "id": CALL_ID,
                                    "type": "function",
                                    "function": {"name": "get_weather", "arguments": out[0].arguments},
                                }
                            ],
                        }
                    ]
                else:
                    out = [
                        ResponseOutputMessage(
                            id="msg_1",
                            type="message",
                            role="assistant",
                            status="completed",
                            content=[ResponseOutputText(type="output_text", text=ANSWER, annotations=[])],
                        )
                    ]
                    span.span_data.output = [{"role": "assistant", "content": ANSWER}]
            return ModelResponse(output=out, usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    @function_tool(failure_error_function=None)
    def get_weather(city: str, api_key: str) -> str:
        """Weather of a city."""
        return body(city, api_key)

    return Agent(name="weather_agent", instructions="Answer.", model=FakeModel(), tools=[get_weather])


def run_openinference_openai_agents(provider: Any, *, decorated: bool = False, fail: bool = False) -> Any:
    from agents import Runner
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider, exclusive_processor=True)
    try:
        result = asyncio.run(Runner.run(_openai_agent(decorated, fail), USER_REQUEST))
        return result.final_output
    finally:
        instrumentor.uninstrument()


RUNNERS: dict[str, Callable[..., Any]] = {
    "pydantic_ai": run_pydantic_ai,
    "openinference_langchain": run_openinference_langchain,
    "openllmetry_langchain": run_openllmetry_langchain,
    "openinference_openai_agents": run_openinference_openai_agents,
}


# ------------------------------------------------------------------------------------------------
# LangChain chains that are no agents (rule: a chain is an execution only when it calls a tool)
# ------------------------------------------------------------------------------------------------
def run_langchain_chain(instrumentation: str, provider: Any, *, name: str, call_tool: bool) -> Any:
    """A root chain named ``name`` that calls the model once and, if ``call_tool``, the tool."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str, api_key: str) -> str:
        """Weather of a city."""
        return f"sunny in {city}"

    def chain(inputs: dict[str, Any]) -> dict[str, Any]:
        model = GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER)]))
        reply = model.invoke([HumanMessage(inputs["input"])])
        if call_tool:
            get_weather.invoke(
                {"name": "get_weather", "args": dict(ARGS), "id": CALL_ID, "type": "tool_call"}
            )
        return {"output": reply.content}

    runnable = RunnableLambda(chain).with_config(run_name=name)
    if instrumentation == "openllmetry":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        instrumentor = LangchainInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=_SWITCH)
        _SWITCH.target = provider
        try:
            return runnable.invoke({"input": USER_REQUEST})["output"]
        finally:
            _SWITCH.target = None
    from openinference.instrumentation.langchain import LangChainInstrumentor

    oi = LangChainInstrumentor()
    oi.instrument(tracer_provider=provider)
    try:
        return runnable.invoke({"input": USER_REQUEST})["output"]
    finally:
        oi.uninstrument()
