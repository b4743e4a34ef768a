"""Claude Code's telemetry in onex terms: identities, neutral attributes, records of both signals.

Claude Code reports one prompt's work twice when both signals are on: as log events
(``user_prompt``, ``tool_decision``, ``tool_result``, ``api_request``...) and as beta spans
(``claude_code.interaction`` with ``claude_code.tool`` / ``claude_code.llm_request`` under it).
Both paths reach the same pure mapping (:mod:`onex_exporters.mapping`) through neutral spans whose
attributes are built here, so they yield the same events with the same ids:

==============================  ===============================================================
identity                        rule (``NS`` = ``CORRELATION_ID_NAMESPACE``)
==============================  ===============================================================
correlation id                  the records' trace id when they carry one, else the
                                ``prompt.id`` (a UUID as it is; other text as ``uuid5(NS, text)``,
                                the text kept as ``correlation_id_original``)
execution (one per prompt)      seed ``claude_code.execution|<correlation id>``; execution id
                                ``uuid5(NS, seed)``
tool use                        seed ``claude_code.tool|<tool_use_id>``
subagent run (Agent/Task tool)  seed ``claude_code.subagent|<tool_use_id>``: a nested execution
model request                   seed ``claude_code.model_request|<request_id>``
==============================  ===============================================================

A neutral span with a seed (``onex.event_id.seed``) gets name-based event ids,
``uuid5(NS, "<seed>|<what>")`` (:func:`~onex_exporters.mapping.seeded_event_id`): the interaction
span and the ``user_prompt`` event both yield the execution's started event and its decision
action with the same ids; the ``claude_code.tool`` span and the ``tool_result`` event both yield
the one ``tool_call`` action. Facts that only one path reports (tool decisions, API errors) keep
time-ordered UUID v7 ids derived from the record (session, event name, sequence, time, ids), so a
redelivered record yields the same ids too. When both paths report a fact, the collector keeps
the first to arrive (``ON CONFLICT DO NOTHING``); the payloads differ only in what each path knows
(e.g. the span's duration includes the permission wait).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from onex_otel import _payload
from onex_otel import dialects as d
from onex_otel.conventions import (
    CORRELATION_ID_NAMESPACE,
    ERROR_TYPE,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    INSTRUMENTATION_NAME,
    ONEX_AGENT_NAME,
    ONEX_CONTEXT,
    ONEX_CORRELATION_ID,
    ONEX_CORRELATION_ID_ORIGINAL,
    ONEX_EVENT_ID_SEED,
    ONEX_EXECUTION_ID,
    ONEX_METRICS,
    ONEX_SESSION_ID,
    ONEX_SPAN_ROLE,
    ONEX_STARTED_EVENT_ID,
    ONEX_USER_REQUEST,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
    ORIGINAL_SIZE_SUFFIX,
    SEVERITY_ERROR,
    ActionType,
)
from onex_otel.ids import correlation_uuid

if TYPE_CHECKING:  # mapping imports this module lazily: no import cycle at run time
    from onex_exporters.mapping import EventRecord, MappingOptions

__all__ = [
    "Synthetic",
    "correlation",
    "execution_attrs",
    "execution_seed",
    "flag",
    "number",
    "span_extras",
    "tool_attrs",
    "view_attributes",
]

_SCOPE = InstrumentationScope(INSTRUMENTATION_NAME)
_UNSET = Status(StatusCode.UNSET)


# ------------------------------------------------------------------------------------------------
# values: Claude Code sends numbers and booleans as strings or as typed values
# ------------------------------------------------------------------------------------------------
def number(value: Any) -> int | float | None:
    """``214``, ``"214"``, ``"0.25"`` -> a number; anything else -> ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if value == value else None
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return None


def flag(value: Any) -> bool | None:
    """``true``, ``"true"``, ``1``, ``"1"`` -> ``True``; the false spellings -> ``False``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def text(value: Any) -> str | None:
    """A non-empty string, or ``None``."""
    if value is None:
        return None
    out = value if isinstance(value, str) else str(value)
    return out or None


def json_value(value: Any) -> Any:
    """A JSON-text attribute decoded (``tool_parameters``, ``tool_input``); other values as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# ------------------------------------------------------------------------------------------------
# identities
# ------------------------------------------------------------------------------------------------
def correlation(trace_id: int, prompt_id: Any) -> tuple[str, str | None] | None:
    """The correlation id of a prompt's records and the original text it was mapped from."""
    if trace_id:
        return str(uuid.UUID(int=trace_id)), None
    prompt = text(prompt_id)
    if prompt is None:
        return None
    value, original = correlation_uuid(prompt)
    return str(value), original


def execution_seed(correlation_id: str) -> str:
    """The id seed of a prompt's execution."""
    return f"claude_code.execution|{correlation_id}"


def tool_seed(tool_use_id: str) -> str:
    """The id seed of one tool use."""
    return f"claude_code.tool|{tool_use_id}"


def subagent_seed(tool_use_id: str) -> str:
    """The id seed of the subagent run of an Agent/Task tool use."""
    return f"claude_code.subagent|{tool_use_id}"


def model_request_seed(request_id: str) -> str:
    """The id seed of one model request."""
    return f"claude_code.model_request|{request_id}"


def seed_uuid(seed: str) -> str:
    """The execution id of an execution seed."""
    return str(uuid.uuid5(CORRELATION_ID_NAMESPACE, seed))


def started_event_id(seed: str) -> str:
    """The started event id of the execution with ``seed`` (what the mapping derives)."""
    from onex_exporters.mapping import seeded_event_id

    return seeded_event_id(seed, "started")


# ------------------------------------------------------------------------------------------------
# neutral attributes (what the mapping reads), shared by both signals
# ------------------------------------------------------------------------------------------------
def user_request(raw: Any, pol: _payload.Policy) -> str | None:
    """The prompt text under the content policy; ``None`` when Claude Code redacted it."""
    prompt = text(raw)
    if prompt is None or prompt == d.CC_REDACTED:
        return None
    return _payload.foreign_text(prompt, pol)


def execution_attrs(
    correlation_id: str,
    original: str | None,
    seed: str,
    agent_name: str,
    session_id: str | None,
    request: str | None,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The neutral attributes of an execution (a prompt, or a subagent run)."""
    out: dict[str, Any] = {
        GEN_AI_OPERATION_NAME: OP_INVOKE_AGENT,
        ONEX_SPAN_ROLE: d.ROLE_EXECUTION,
        ONEX_EVENT_ID_SEED: seed,
        ONEX_CORRELATION_ID: correlation_id,
        ONEX_EXECUTION_ID: seed_uuid(seed),
        ONEX_STARTED_EVENT_ID: started_event_id(seed),
        ONEX_AGENT_NAME: agent_name,
        ONEX_CONTEXT: {k: v for k, v in context.items() if v is not None},
    }
    if original is not None:
        out[ONEX_CORRELATION_ID_ORIGINAL] = original
    if session_id is not None:
        out[ONEX_SESSION_ID] = out[GEN_AI_CONVERSATION_ID] = session_id
    if request is not None:
        out[ONEX_USER_REQUEST] = json.dumps(request, ensure_ascii=False)
    return out


def tool_attrs(
    correlation_id: str,
    tool_name: str,
    tool_use_id: str | None,
    arguments: Any,
    pol: _payload.Policy,
    error_type: str | None,
) -> dict[str, Any]:
    """The neutral attributes of one tool use (the prompt's execution is its cause)."""
    exec_seed = execution_seed(correlation_id)
    out: dict[str, Any] = {
        GEN_AI_OPERATION_NAME: OP_EXECUTE_TOOL,
        ONEX_SPAN_ROLE: d.ROLE_TOOL_CALL,
        ONEX_CORRELATION_ID: correlation_id,
        ONEX_STARTED_EVENT_ID: started_event_id(exec_seed),
        ONEX_EXECUTION_ID: seed_uuid(exec_seed),
        ONEX_AGENT_NAME: d.CC_AGENT_NAME,
        GEN_AI_TOOL_NAME: tool_name,
    }
    if tool_use_id is not None:
        out[GEN_AI_TOOL_CALL_ID] = tool_use_id
        out[ONEX_EVENT_ID_SEED] = tool_seed(tool_use_id)
    if arguments is not None:
        encoded, original = _payload.foreign_json(arguments, pol)
        if encoded is not None:
            out[GEN_AI_TOOL_CALL_ARGUMENTS] = encoded
            if original is not None:
                out[GEN_AI_TOOL_CALL_ARGUMENTS + ORIGINAL_SIZE_SUFFIX] = original
    if error_type is not None:
        out[ERROR_TYPE] = error_type
    return out


# ------------------------------------------------------------------------------------------------
# a neutral span built from facts (log records, extra facts of a span)
# ------------------------------------------------------------------------------------------------
@dataclass
class Synthetic:
    """A finished span as the mapping reads it, built from facts rather than recorded."""

    name: str
    context: SpanContext
    start_time: int
    end_time: int
    attributes: dict[str, Any]
    status: Status = _UNSET
    events: tuple[Any, ...] = ()
    parent: Any = None
    kind: SpanKind = SpanKind.INTERNAL
    instrumentation_scope: InstrumentationScope = field(default=_SCOPE)


def span_context(trace_id: int, span_id: int, flags: int = 0) -> SpanContext:
    """A span context for a synthetic span (the ``traceparent`` its events carry)."""
    return SpanContext(trace_id, span_id, False, TraceFlags(flags & 0xFF))


# ------------------------------------------------------------------------------------------------
# the span path: Claude Code's beta spans
# ------------------------------------------------------------------------------------------------
def _attrs(span: Any) -> Mapping[str, Any]:
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(raw, dict):
        return raw
    return span.attributes or {}


def _span_tool_input(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    found = {k: attrs[k] for k in d.CC_SPAN_TOOL_INPUT_KEYS if attrs.get(k) not in (None, "")}
    return found or None


#: Content attributes of Claude Code spans: replaced by their policy-checked neutral form (the
#: subagent type stays: it names the nested execution's agent, as on the log path).
_SPAN_CONTENT_KEYS = frozenset((d.CC_SPAN_USER_PROMPT, *d.CC_SPAN_TOOL_INPUT_KEYS)) - {d.CC_SUBAGENT_TYPE}


def view_attributes(span: Any) -> dict[str, Any]:
    """The neutral attributes of a Claude Code span (see the module's table)."""
    attrs = _attrs(span)
    name = span.name or ""
    base = {k: v for k, v in attrs.items() if k not in _SPAN_CONTENT_KEYS}
    cid = correlation(span.context.trace_id, None)
    if cid is None:
        return base
    correlation_id = cid[0]
    session = text(attrs.get(d.CC_SESSION_ID))
    pol = _payload.policy()
    if name == d.CC_SPAN_INTERACTION:
        context = {
            "interaction_sequence": number(attrs.get(d.CC_INTERACTION_SEQUENCE)),
            "prompt_length": number(attrs.get(d.CC_SPAN_USER_PROMPT_LENGTH)),
        }
        base.update(
            execution_attrs(
                correlation_id,
                None,
                execution_seed(correlation_id),
                d.CC_AGENT_NAME,
                session,
                user_request(attrs.get(d.CC_SPAN_USER_PROMPT), pol),
                context,
            )
        )
        duration = number(attrs.get(d.CC_INTERACTION_DURATION_MS))
        if duration is not None:
            base[ONEX_METRICS] = {"interaction_duration_ms": duration}
    elif name == d.CC_SPAN_TOOL:
        tool = text(attrs.get(d.CC_TOOL_NAME)) or "unknown"
        call_id = text(attrs.get(d.CC_TOOL_USE_ID)) or text(attrs.get(GEN_AI_TOOL_CALL_ID))
        base.update(tool_attrs(correlation_id, tool, call_id, _span_tool_input(attrs), pol, None))
    else:
        base[ONEX_SPAN_ROLE] = d.ROLE_NONE
    return base


def span_extras(view: Any, options: MappingOptions) -> list[EventRecord]:
    """Records of a Claude Code span besides its own role: subagent run, failed tool body."""
    attrs = view.attributes
    name = view.name or ""
    tool_use_id = text(attrs.get(d.CC_TOOL_USE_ID)) or text(attrs.get(GEN_AI_TOOL_CALL_ID))
    cid = correlation(view.context.trace_id, None)
    if cid is None or tool_use_id is None:
        return []
    if name == d.CC_SPAN_TOOL and text(attrs.get(d.CC_TOOL_NAME)) in d.CC_SUBAGENT_TOOLS:
        return subagent_records(
            view.context,
            cid[0],
            tool_use_id,
            text(attrs.get(d.CC_SESSION_ID)),
            text(attrs.get(d.CC_SUBAGENT_TYPE)),
            view.start_time or 0,
            view.end_time or 0,
            None,
            None,
            options,
        )
    if name == d.CC_SPAN_TOOL_EXECUTION and (
        flag(attrs.get(d.CC_SUCCESS)) is False or view.status.status_code == StatusCode.ERROR
    ):
        error_type = (
            text(attrs.get(d.CC_ERROR_CLASS))
            or text(attrs.get(d.CC_ERROR))
            or text(view.status.description)
            or "ToolError"
        )
        return tool_error_records(
            view.context,
            cid[0],
            tool_use_id,
            error_type,
            text(attrs.get(d.CC_ERROR)),
            view.end_time or 0,
            options,
        )
    return []


# ------------------------------------------------------------------------------------------------
# records both paths produce (same ids, same shapes)
# ------------------------------------------------------------------------------------------------
def subagent_records(
    ctx: SpanContext,
    correlation_id: str,
    tool_use_id: str,
    session_id: str | None,
    subagent_type: str | None,
    start_ns: int,
    end_ns: int,
    success: bool | None,
    error: str | None,
    options: MappingOptions,
) -> list[EventRecord]:
    """The nested execution of a subagent run: started, then completed or failed."""
    from onex_exporters.mapping import span_to_records

    seed = subagent_seed(tool_use_id)
    attrs = execution_attrs(
        correlation_id,
        None,
        seed,
        subagent_type or d.CC_SUBAGENT_NAME,
        session_id,
        None,
        {
            "tool_use_id": tool_use_id,
            "subagent_type": subagent_type,
            "parent_execution_id": seed_uuid(execution_seed(correlation_id)),
        },
    )
    status = Status(StatusCode.ERROR, error or "subagent failed") if success is False else _UNSET
    span = Synthetic("claude-code.subagent", ctx, start_ns, max(start_ns, end_ns), attrs, status)
    return span_to_records(span, options)


def tool_error_records(
    ctx: SpanContext,
    correlation_id: str,
    tool_use_id: str,
    error_type: str,
    message: str | None,
    ts_ns: int,
    options: MappingOptions,
) -> list[EventRecord]:
    """The ``error`` action of a failed tool use (the span path learns it from the tool body)."""
    from onex_exporters.mapping import _Builder, _SpanFacts, seeded_event_id

    exec_seed = execution_seed(correlation_id)
    attrs = {ONEX_CORRELATION_ID: correlation_id, ONEX_AGENT_NAME: d.CC_AGENT_NAME}
    b = _Builder(_SpanFacts(Synthetic("claude-code.tool_error", ctx, ts_ns, ts_ns, attrs)), options)
    details = {
        "error_type": error_type,
        "error_message": message,
        "error_context": {"tool_use_id": tool_use_id},
        "severity": SEVERITY_ERROR,
    }
    b.action(
        seeded_event_id(tool_seed(tool_use_id), "error"),
        ts_ns,
        started_event_id(exec_seed),
        ActionType.ERROR,
        error_type,
        details,
        None,
    )
    return b.records
