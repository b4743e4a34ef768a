"""What each instrumentation family calls things: the dialect tables, as data.

Agents built on a framework are traced by the framework's or a third party's instrumentation, in
one of three conventions besides onex-otel's own spans:

- **GenAI**: the OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name`` =
  ``invoke_agent`` / ``execute_tool`` / ``chat``, ``gen_ai.tool.call.arguments``,
  ``gen_ai.input.messages``...), e.g. pydantic-ai's own instrumentation;
- **OpenInference** (``openinference.span.kind`` = ``AGENT`` / ``TOOL`` / ``LLM`` / ``CHAIN``...,
  ``input.value``, ``output.value``, ``tool.name``, ``agent.name``, ``session.id``, ``user.id``);
- **OpenLLMetry** (``traceloop.span.kind`` = ``workflow`` / ``agent`` / ``tool`` / ``task``,
  ``traceloop.entity.input`` / ``output`` wrappers, plus ``gen_ai.*`` in its own shapes).

Everything here is data (key names, value tables, wrapper shapes) plus :func:`role_of`, the one
place that says what a span *is* from those tables. The span processor
(:mod:`onex_otel._frameworks`) uses it at span start and end; the exporter's normalizer
(``onex_exporters.normalize``) uses it to turn any span into the neutral view the mapping reads.
Wire names of onex's own spans stay in :mod:`onex_otel.conventions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from onex_otel.conventions import (
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
)

__all__ = [
    "AGENT",
    "CHAIN",
    "MODEL",
    "OTHER",
    "TOOL",
    "role_of",
]

# ------------------------------------------------------------------------------------------------
# Neutral roles: what a span is, whoever made it
# ------------------------------------------------------------------------------------------------
AGENT: Final = "agent"  # one agent invocation: an execution
TOOL: Final = "tool"  # one tool invocation: a tool_call action
MODEL: Final = "model"  # one model call (carries the run's input messages)
CHAIN: Final = "chain"  # a chain / workflow / graph: an execution only if it is a framework's
#                         top-level run and calls a tool (see README, "Framework agents")
OTHER: Final = "other"  # retriever, embedding, task...: maps to nothing

# ------------------------------------------------------------------------------------------------
# GenAI semantic conventions (besides the keys in conventions.py)
# ------------------------------------------------------------------------------------------------
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_AGENT_CALL_ID: Final = "gen_ai.agent.call.id"  # pydantic-ai: one id per agent run
GEN_AI_TASK_INPUT: Final = "gen_ai.task.input"  # OpenLLMetry's chains
GEN_AI_TASK_OUTPUT: Final = "gen_ai.task.output"
GEN_AI_OPERATION_ROLES: Final[Mapping[str, str]] = {
    "invoke_agent": AGENT,
    "execute_tool": TOOL,
    "chat": MODEL,
    "text_completion": MODEL,
    "generate_content": MODEL,
}
# pydantic-ai's own names for the run's messages and result
PYDANTIC_AI_ALL_MESSAGES: Final = "pydantic_ai.all_messages"
PYDANTIC_AI_FINAL_RESULT: Final = "final_result"

# ------------------------------------------------------------------------------------------------
# OpenInference
# ------------------------------------------------------------------------------------------------
OI_SPAN_KIND: Final = "openinference.span.kind"
OI_INPUT_VALUE: Final = "input.value"
OI_OUTPUT_VALUE: Final = "output.value"
OI_TOOL_NAME: Final = "tool.name"
OI_TOOL_CALL_ID: Final = "tool_call.id"
OI_AGENT_NAME: Final = "agent.name"
OI_SESSION_ID: Final = "session.id"
OI_USER_ID: Final = "user.id"
#: ``llm.input_messages.<i>.message.role`` / ``.content``: a model call's input, flattened.
OI_INPUT_MESSAGES_PREFIX: Final = "llm.input_messages."
OI_MESSAGE_ROLE_SUFFIX: Final = ".message.role"
OI_MESSAGE_CONTENT_SUFFIX: Final = ".message.content"
OI_KIND_ROLES: Final[Mapping[str, str]] = {
    "AGENT": AGENT,
    "TOOL": TOOL,
    "LLM": MODEL,
    "CHAIN": CHAIN,
    "RETRIEVER": OTHER,
    "EMBEDDING": OTHER,
    "RERANKER": OTHER,
    "GUARDRAIL": OTHER,
    "EVALUATOR": OTHER,
    "PROMPT": OTHER,
}

# ------------------------------------------------------------------------------------------------
# OpenLLMetry (traceloop)
# ------------------------------------------------------------------------------------------------
TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
TRACELOOP_ENTITY_INPUT: Final = "traceloop.entity.input"
TRACELOOP_ENTITY_OUTPUT: Final = "traceloop.entity.output"
TRACELOOP_WORKFLOW_NAME: Final = "traceloop.workflow.name"
#: OpenLLMetry marks every root runnable ``workflow`` (and ``invoke_agent``): a chain here.
TRACELOOP_KIND_ROLES: Final[Mapping[str, str]] = {
    "workflow": CHAIN,
    "agent": AGENT,
    "tool": TOOL,
    "task": OTHER,
}
#: Span-name suffixes OpenLLMetry adds to a workflow/agent name.
TRACELOOP_NAME_SUFFIXES: Final = (".workflow", ".agent")

# ------------------------------------------------------------------------------------------------
# Instrumentation scopes
# ------------------------------------------------------------------------------------------------
#: Scopes (name prefixes) of framework instrumentations: their spans are followed by the span
#: processor even when they carry no attribute yet at start (OpenInference's LangChain tracer
#: sets every attribute at the end).
FRAMEWORK_SCOPE_PREFIXES: Final = (
    "openinference.instrumentation",
    "opentelemetry.instrumentation.langchain",
    "opentelemetry.instrumentation.openai_agents",
    "pydantic-ai",
    "pydantic_ai",
)
#: Scopes whose spans are never made current (OpenInference's LangChain tracer): spans started
#: inside their tools need the context gap closed (see onex_otel._langchain_context).
CONTEXTLESS_SCOPES: Final = frozenset({"openinference.instrumentation.langchain"})
#: Scopes whose top-level AGENT span is the SDK's trace of a whole ``Runner`` run (named after
#: the workflow), not an agent: the agents run inside it, each with its own AGENT span.
WORKFLOW_ROOT_SCOPES: Final = frozenset({"openinference.instrumentation.openai_agents"})

# ------------------------------------------------------------------------------------------------
# Where each neutral fact is found, in order of preference (first present wins)
# ------------------------------------------------------------------------------------------------
AGENT_NAME_KEYS: Final = (GEN_AI_AGENT_NAME, OI_AGENT_NAME)
#: The framework's own id of one agent run (used as execution id when it is a UUID).
RUN_ID_KEYS: Final = (GEN_AI_AGENT_CALL_ID, GEN_AI_AGENT_ID)
SESSION_ID_KEYS: Final = (GEN_AI_CONVERSATION_ID, OI_SESSION_ID)
#: The end user: kept in the execution's context under :data:`CONTEXT_USER_ID`.
ENDUSER_ID: Final = "enduser.id"  # OpenTelemetry general attribute
USER_ID_KEYS: Final = (OI_USER_ID, ENDUSER_ID)
CONTEXT_USER_ID: Final = "user_id"
TOOL_NAME_KEYS: Final = (GEN_AI_TOOL_NAME, OI_TOOL_NAME, TRACELOOP_ENTITY_NAME)
TOOL_CALL_ID_KEYS: Final = (GEN_AI_TOOL_CALL_ID, OI_TOOL_CALL_ID)
TOOL_ARGUMENTS_KEYS: Final = (GEN_AI_TOOL_CALL_ARGUMENTS, OI_INPUT_VALUE, TRACELOOP_ENTITY_INPUT)
TOOL_RESULT_KEYS: Final = (GEN_AI_TOOL_CALL_RESULT, OI_OUTPUT_VALUE, TRACELOOP_ENTITY_OUTPUT)
#: The run's input: the first user message found in one of these is the user request.
INPUT_KEYS: Final = (
    GEN_AI_INPUT_MESSAGES,
    PYDANTIC_AI_ALL_MESSAGES,
    OI_INPUT_VALUE,
    TRACELOOP_ENTITY_INPUT,
    GEN_AI_TASK_INPUT,
)
OUTPUT_KEYS: Final = (
    PYDANTIC_AI_FINAL_RESULT,
    GEN_AI_OUTPUT_MESSAGES,
    OI_OUTPUT_VALUE,
    TRACELOOP_ENTITY_OUTPUT,
    GEN_AI_TASK_OUTPUT,
)

# ------------------------------------------------------------------------------------------------
# Wrapper shapes around the real values
# ------------------------------------------------------------------------------------------------
#: Keys of OpenLLMetry's entity wrapper (``{"inputs": ..., "tags": ..., "kwargs": ...}``) and
#: where the real value sits in it.
WRAPPER_VALUE_KEYS: Final = ("inputs", "outputs", "output")
WRAPPER_MARKER_KEYS: Final = frozenset({"tags", "kwargs", "metadata", "input_str"})
#: LangChain's serialized message (``{"lc": 1, "type": "constructor", "kwargs": {...}}``) and
#: OpenInference's message dump (``{"type": "tool", "data": {...}}``): content + tool call id.
MESSAGE_CONTENT_KEY: Final = "content"
MESSAGE_TOOL_CALL_ID_KEY: Final = "tool_call_id"
#: Keys of a plain input mapping that hold the user's request, in order of preference.
REQUEST_KEYS: Final = ("input", "query", "question", "prompt", "request", "text", "messages")
#: Message roles that are the user's.
USER_ROLES: Final = frozenset({"user", "human"})
ASSISTANT_ROLES: Final = frozenset({"assistant", "ai"})
#: Longest ``output_summary``, in characters.
OUTPUT_SUMMARY_MAX_CHARS: Final = 1000


def is_framework_scope(scope_name: str) -> bool:
    """Whether spans of instrumentation scope ``scope_name`` come from a framework dialect."""
    return scope_name.startswith(FRAMEWORK_SCOPE_PREFIXES)


def role_of(attrs: Mapping[str, Any], scope_name: str = "", *, top_level: bool = False) -> str | None:
    """The neutral role of a span from its attributes, or ``None`` when nothing says.

    Precedence: a role onex-otel's span processor stamped (``onex.span.role``) is not read here
    (see the normalizer); then OpenLLMetry's kind (it also writes ``invoke_agent`` on every root
    runnable), then OpenInference's kind, then the GenAI operation. ``top_level``: the span has no
    parent of the same scope (a top-level AGENT of :data:`WORKFLOW_ROOT_SCOPES` is a chain).
    """
    kind = attrs.get(TRACELOOP_SPAN_KIND)
    if kind is not None:
        return TRACELOOP_KIND_ROLES.get(str(kind), OTHER)
    kind = attrs.get(OI_SPAN_KIND)
    if kind is not None:
        role = OI_KIND_ROLES.get(str(kind).upper(), OTHER)
        if role == AGENT and top_level and scope_name in WORKFLOW_ROOT_SCOPES:
            return CHAIN
        return role
    op = attrs.get(GEN_AI_OPERATION_NAME)
    if op is not None:
        return GEN_AI_OPERATION_ROLES.get(str(op), OTHER)
    return None


def first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` present in ``attrs`` (``None`` if none is)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


#: Role values of ``onex.span.role`` (stamped by the span processor, read by the mapping).
ROLE_EXECUTION: Final = "execution"  # an agent invocation: started/completed/failed
ROLE_PENDING: Final = "pending"  # an execution whose started event is not published yet
ROLE_TOOL_CALL: Final = "tool_call"  # one tool invocation: one tool_call action
ROLE_MERGED: Final = "merged"  # a second span of a tool invocation another span reports
ROLE_NONE: Final = "none"  # a framework span that maps to nothing (values of ONEX_SPAN_ROLE)


# ================================================================================================
# Claude Code (log events and beta trace spans), as data
# ================================================================================================
# Claude Code exports its own OpenTelemetry: log events on the logs signal (one LogRecord per
# event, body ``claude_code.<name>``, attribute ``event.name`` = ``<name>``) and, in beta, spans
# (``claude_code.interaction`` per user prompt, ``claude_code.llm_request`` / ``claude_code.tool``
# under it). Attribute values of log events arrive as strings or numbers (``"214"`` or ``214``,
# ``"true"`` or ``true``): readers coerce both. The mapping of both signals is
# ``onex_exporters.claude_code`` (shared ids and payloads) and ``onex_exporters.bridge.logs``.

#: Instrumentation scopes: log events, spans (and an older spelling reported for spans).
CC_LOGS_SCOPE: Final = "com.anthropic.claude_code.events"
CC_TRACES_SCOPES: Final = frozenset({"com.anthropic.claude_code.tracing", "com.anthropic.claude_code.traces"})
#: The resource attribute naming the producer, and its values for Claude Code (terminal, desktop).
CC_RESOURCE_SERVICE_NAME: Final = "service.name"
CC_SERVICE_NAMES: Final = frozenset({"claude-code", "claude-code-desktop"})
CC_PREFIX: Final = "claude_code."
#: Agent name of a prompt's execution (Claude Code names no agent).
CC_AGENT_NAME: Final = "claude-code"
#: Agent name of a subagent run whose type is not sent (``subagent_type`` needs tool details).
CC_SUBAGENT_NAME: Final = "claude-code-subagent"
#: The literal Claude Code sends in place of prompt text unless ``OTEL_LOG_USER_PROMPTS=1``.
CC_REDACTED: Final = "<REDACTED>"
#: Tools that run a subagent (``Task`` is the legacy name of ``Agent``).
CC_SUBAGENT_TOOLS: Final = frozenset({"Agent", "Task"})

# span names (``span.type`` = the name without the prefix)
CC_SPAN_INTERACTION: Final = "claude_code.interaction"
CC_SPAN_LLM_REQUEST: Final = "claude_code.llm_request"
CC_SPAN_TOOL: Final = "claude_code.tool"
CC_SPAN_TOOL_BLOCKED: Final = "claude_code.tool.blocked_on_user"
CC_SPAN_TOOL_EXECUTION: Final = "claude_code.tool.execution"
CC_SPAN_HOOK: Final = "claude_code.hook"
CC_SPAN_TYPE: Final = "span.type"
#: Span name -> neutral role (everything else of Claude Code maps to nothing on its own).
CC_SPAN_ROLES: Final[Mapping[str, str]] = {
    CC_SPAN_INTERACTION: AGENT,
    CC_SPAN_TOOL: TOOL,
    CC_SPAN_LLM_REQUEST: MODEL,
    CC_SPAN_TOOL_EXECUTION: OTHER,
    CC_SPAN_TOOL_BLOCKED: OTHER,
    CC_SPAN_HOOK: OTHER,
}

# log event names (``event.name``; the body is CC_PREFIX + name)
CC_EVENT_USER_PROMPT: Final = "user_prompt"
CC_EVENT_TOOL_RESULT: Final = "tool_result"
CC_EVENT_TOOL_DECISION: Final = "tool_decision"
CC_EVENT_API_REQUEST: Final = "api_request"
CC_EVENT_API_ERROR: Final = "api_error"
CC_EVENT_SUBAGENT_COMPLETED: Final = "subagent_completed"

# standard attributes (events and spans)
CC_SESSION_ID: Final = "session.id"
CC_PROMPT_ID: Final = "prompt.id"
CC_EVENT_NAME: Final = "event.name"
CC_EVENT_SEQUENCE: Final = "event.sequence"
CC_EVENT_TIMESTAMP: Final = "event.timestamp"
CC_APP_VERSION: Final = "app.version"
CC_TERMINAL_TYPE: Final = "terminal.type"
CC_USER_ID: Final = "user.id"
# user_prompt / interaction span
CC_PROMPT: Final = "prompt"
CC_PROMPT_LENGTH: Final = "prompt_length"
CC_COMMAND_NAME: Final = "command_name"
CC_COMMAND_SOURCE: Final = "command_source"
CC_MESSAGE_UUID: Final = "message.uuid"
CC_SPAN_USER_PROMPT: Final = "user_prompt"
CC_SPAN_USER_PROMPT_LENGTH: Final = "user_prompt_length"
CC_INTERACTION_SEQUENCE: Final = "interaction.sequence"
CC_INTERACTION_DURATION_MS: Final = "interaction.duration_ms"
# tools (tool_result, tool_decision, claude_code.tool, claude_code.tool.execution)
CC_TOOL_NAME: Final = "tool_name"
CC_TOOL_USE_ID: Final = "tool_use_id"
CC_SUCCESS: Final = "success"
CC_DURATION_MS: Final = "duration_ms"
CC_ERROR: Final = "error"
CC_ERROR_TYPE: Final = "error_type"
CC_ERROR_CLASS: Final = "error_class"
CC_DECISION: Final = "decision"
CC_SOURCE: Final = "source"
CC_DECISION_TYPE: Final = "decision_type"
CC_DECISION_SOURCE: Final = "decision_source"
CC_TOOL_SOURCE: Final = "tool_source"
CC_TOOL_PARAMETERS: Final = "tool_parameters"  # JSON text (OTEL_LOG_TOOL_DETAILS)
CC_TOOL_INPUT: Final = "tool_input"  # JSON text (OTEL_LOG_TOOL_DETAILS)
CC_TOOL_INPUT_SIZE: Final = "tool_input_size_bytes"
CC_TOOL_RESULT_SIZE: Final = "tool_result_size_bytes"
CC_MCP_SERVER_SCOPE: Final = "mcp_server_scope"
CC_RESULT_TOKENS: Final = "result_tokens"
CC_SUBAGENT_TYPE: Final = "subagent_type"
CC_AGENT_ID: Final = "agent_id"
CC_PARENT_AGENT_ID: Final = "parent_agent_id"
#: Input-derived attributes of a ``claude_code.tool`` span (OTEL_LOG_TOOL_DETAILS): its arguments.
CC_SPAN_TOOL_INPUT_KEYS: Final = ("file_path", "full_command", "skill_name", CC_SUBAGENT_TYPE)
# model requests (api_request, api_error, llm_request span)
CC_MODEL: Final = "model"
CC_REQUEST_ID: Final = "request_id"
CC_CLIENT_REQUEST_ID: Final = "client_request_id"
CC_STATUS_CODE: Final = "status_code"
CC_ATTEMPT: Final = "attempt"
CC_QUERY_SOURCE: Final = "query_source"
#: Numeric facts of a model request copied into the execution's metrics (progress metadata).
CC_REQUEST_METRIC_KEYS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
    "cost_usd_micros",
    "duration_ms",
    "ttft_ms",
)
#: Text facts of a model request kept beside them.
CC_REQUEST_TEXT_KEYS: Final = (CC_MODEL, CC_REQUEST_ID, CC_QUERY_SOURCE, "speed", "effort", "agent.name")
#: Facts of a subagent_completed event kept in the prompt execution's progress.
CC_SUBAGENT_METRIC_KEYS: Final = ("total_tokens", "total_tool_uses", "duration_ms")
CC_SUBAGENT_TEXT_KEYS: Final = ("agent_type", "model", "final_model", "is_built_in", "is_async")
#: Progress stages of the records above.
CC_STAGE_MODEL_REQUEST: Final = "model_request"
CC_STAGE_SUBAGENT_COMPLETED: Final = "subagent_completed"


def is_claude_code_span(span_name: str, scope_name: str) -> bool:
    """Whether a span is one of Claude Code's beta trace spans."""
    return scope_name in CC_TRACES_SCOPES or span_name in CC_SPAN_ROLES


def claude_code_role(span_name: str, scope_name: str) -> str | None:
    """The neutral role of a Claude Code span (``None``: not Claude Code's)."""
    if not is_claude_code_span(span_name, scope_name):
        return None
    return CC_SPAN_ROLES.get(span_name, OTHER)
