"""onex-otel: OpenTelemetry instrumentation for AI agents.

An agent execution becomes a span whose **trace id is the run's correlation id**; tool calls and
decisions become child spans and span events, named and attributed after the OpenTelemetry GenAI
semantic conventions (``invoke_agent {agent}``, ``execute_tool {tool}``).

Usage
-----

Set up tracing once per process (it adds to a TracerProvider that ``opentelemetry-instrument``
already installed, or installs one)::

    import onex_otel

    onex_otel.configure(service_name="agent-researcher")   # OTLP too if OTEL_EXPORTER_OTLP_ENDPOINT

``OTEL_TRACES_EXPORTER`` chooses exporters as under ``opentelemetry-instrument`` (``console``,
``otlp``, ``onex_kafka``, lists, ``none``); with none configured, ``configure()`` says so once on
stderr. Set up logfire or Traceloop first: ``configure()`` adds to the SDK provider behind them.

Trace an execution, its tool calls and decisions::

    from onex_otel import agent_execution, traced_tool_call, record_decision

    @traced_tool_call
    def read_file(path: str) -> str:
        ...

    with agent_execution("agent-researcher", user_request="Research async patterns",
                         correlation_id="ad12146a-b7d0-4a47-86bf-7ec298ce2c81") as run:
        run.progress("reading", 25)
        text = read_file("notes.md")
        record_decision("select_strategy", context={"files": 1}, result={"strategy": "fast"})
        run.complete(quality_score=0.92, output_summary="Found 5 patterns")

The same in async code (``async with agent_execution(...)``), or as a decorator:

    >>> from onex_otel import traced_agent_execution, current_correlation_id
    >>> @traced_agent_execution(agent_name="agent-demo")
    ... def run_agent() -> str | None:
    ...     return current_correlation_id()
    >>> run_agent() is not None
    True
    >>> current_correlation_id() is None
    True

The seeds' tool-call block::

    async with tool_call("Read", {"file_path": "/path/to/file.py"}) as action:
        result = await read_file("/path/to/file.py")
        action.set_result({"line_count": len(result)})

The polymorphic router's records (validated like the legacy tables' CHECK constraints)::

    routing_decision("agent-performance", 0.92, "enhanced_fuzzy_matching", 45,
                     user_request="optimize my database queries", alternatives=["agent-api"])
    transformation("polymorphic-agent", "agent-performance", duration_ms=85, confidence_score=0.92)
    router_metrics("optimize my database queries", 45, candidates_evaluated=5, cache_hit=False)
    detection_failure("do the thing", "no agent matched", candidates=["agent-a"])

Behaviour
---------

- Correlation id = trace id: ``format(span.context.trace_id, "032x") == uuid.hex``. No id given:
  a new UUID. A non-UUID id maps to ``uuid5(CORRELATION_ID_NAMESPACE, text)`` (see
  :mod:`onex_otel.conventions`); the original text is kept as ``onex.correlation_id.original``.
  Inside an existing span the execution is its child and inherits its trace.
- :func:`current_correlation_id` works across ``await``, in asyncio tasks and in threads started
  with ``contextvars.copy_context()``; it is ``None`` outside an execution.
- Every span started inside an execution, also other libraries' spans, carries the correlation id,
  session id, agent name and execution id.
- Payloads (arguments, results, contexts) are recorded as bounded, redacted JSON; set
  ``ONEX_CAPTURE_CONTENT=false`` to record no arguments, results or user requests at all.
- With no SDK configured everything is a cheap no-op; onex-otel's own failures are contained,
  counted and logged once per kind; user exceptions pass through unchanged.

API
---

:func:`configure`, :func:`agent_execution` / :func:`traced_agent_execution` (handle:
:class:`Execution`), :func:`traced_tool_call`, :func:`tool_call` (:class:`ToolCall`),
:func:`traced_decision`, :func:`record_decision`, :func:`record_error`, :func:`record_success`,
:func:`routing_decision`, :func:`transformation`, :func:`router_metrics`,
:func:`detection_failure`, :func:`current_correlation_id`, :func:`current_execution`;
:class:`OnexError`, the base of every exception onex-otel raises (:mod:`onex_otel.errors`).

Legacy APIs (drop-in, loaded on first use; see :mod:`onex_otel.legacy`): :class:`ActionLogger`,
:func:`log_action`, :func:`publish_action_event`, :func:`publish_tool_call`,
:func:`publish_decision`, :func:`publish_error`, :func:`publish_success`,
:class:`AgentExecutionPublisher`, :class:`AgentExecutionPublisherContext`,
:func:`publish_execution_started`, :func:`publish_execution_completed`,
:func:`publish_execution_failed`, :func:`log_agent_execution`, :class:`AgentExecutionLogger`,
:class:`EnumOperationStatus`.
"""

from __future__ import annotations

# Not ``from typing import TYPE_CHECKING``: importing ``typing`` alone costs about what an empty
# interpreter's start does, and the shell hooks import this package.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from onex_otel._configure import configure
    from onex_otel._context import current_correlation_id, current_execution
    from onex_otel._decorators import traced_decision, traced_tool_call
    from onex_otel._events import (
        detection_failure,
        record_decision,
        record_error,
        record_success,
        router_metrics,
        routing_decision,
        transformation,
    )
    from onex_otel._execution import Execution, agent_execution, traced_agent_execution
    from onex_otel._tool_call import ToolCall, tool_call
    from onex_otel.config import ConfigError, Settings, load_settings
    from onex_otel.errors import OnexError
    from onex_otel.legacy import (
        ActionLogger,
        AgentExecutionLogger,
        AgentExecutionPublisher,
        AgentExecutionPublisherContext,
        EnumOperationStatus,
        log_action,
        log_agent_execution,
        publish_action_event,
        publish_decision,
        publish_error,
        publish_execution_completed,
        publish_execution_failed,
        publish_execution_started,
        publish_success,
        publish_tool_call,
    )

#: Where each public name lives. Names are imported on first use, so ``import onex_otel`` (and the
#: ``onex-otel`` shell hooks, which import only the light modules) do not pay for the OpenTelemetry
#: SDK until tracing is actually used.
_LAZY: dict[str, str] = {
    "configure": "onex_otel._configure",
    "current_correlation_id": "onex_otel._context",
    "current_execution": "onex_otel._context",
    **dict.fromkeys(("ConfigError", "Settings", "load_settings"), "onex_otel.config"),
    "OnexError": "onex_otel.errors",
    **dict.fromkeys(
        (
            "detection_failure",
            "record_decision",
            "record_error",
            "record_success",
            "router_metrics",
            "routing_decision",
            "transformation",
        ),
        "onex_otel._events",
    ),
    **dict.fromkeys(("Execution", "agent_execution", "traced_agent_execution"), "onex_otel._execution"),
    **dict.fromkeys(("ToolCall", "tool_call"), "onex_otel._tool_call"),
    **dict.fromkeys(("traced_decision", "traced_tool_call"), "onex_otel._decorators"),
    **dict.fromkeys(
        (
            "ActionLogger",
            "AgentExecutionLogger",
            "AgentExecutionPublisher",
            "AgentExecutionPublisherContext",
            "EnumOperationStatus",
            "log_action",
            "log_agent_execution",
            "publish_action_event",
            "publish_decision",
            "publish_error",
            "publish_execution_completed",
            "publish_execution_failed",
            "publish_execution_started",
            "publish_success",
            "publish_tool_call",
        ),
        "onex_otel.legacy",
    ),
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (then it is a plain global)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'onex_otel' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported ones included."""
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ActionLogger",
    "AgentExecutionLogger",
    "AgentExecutionPublisher",
    "AgentExecutionPublisherContext",
    "ConfigError",
    "EnumOperationStatus",
    "Execution",
    "OnexError",
    "Settings",
    "ToolCall",
    "agent_execution",
    "configure",
    "current_correlation_id",
    "current_execution",
    "detection_failure",
    "load_settings",
    "log_action",
    "log_agent_execution",
    "publish_action_event",
    "publish_decision",
    "publish_error",
    "publish_execution_completed",
    "publish_execution_failed",
    "publish_execution_started",
    "publish_success",
    "publish_tool_call",
    "record_decision",
    "record_error",
    "record_success",
    "router_metrics",
    "routing_decision",
    "tool_call",
    "traced_agent_execution",
    "traced_decision",
    "traced_tool_call",
    "transformation",
]
