"""One normalizing step: any span -> the neutral view the mapping reads.

The mapping (:mod:`onex_exporters.mapping`) reads onex-otel's own span contract (``onex.*`` and
``gen_ai.*`` keys, ``gen_ai.operation.name`` = ``invoke_agent`` / ``execute_tool``). Spans of
framework instrumentations speak other dialects (GenAI conventions in pydantic-ai's shapes,
OpenInference, OpenLLMetry; the names are data in :mod:`onex_otel.dialects`). :func:`normalize`
returns, for such a span, a :class:`SpanView` whose attributes say the same in onex's terms:

- the role: ``onex.span.role`` as onex-otel's span processor stamped it (it sees the whole run:
  nesting, duplicates), else the dialect's own kind (:func:`onex_otel.dialects.role_of`);
- an execution: agent name, execution id (the framework's run id when it is a UUID), session,
  ``onex.user_request`` (the first user message of the run's input) and a bounded
  ``onex.output_summary``;
- a tool call: tool name, arguments as a JSON object (wrappers unwrapped, JSON strings parsed,
  Python reprs read as literals), result, the model's tool call id;
- every argument, result, input and output goes through the content policy
  (:func:`onex_otel._payload.foreign_json` / ``foreign_text``): capture switch, per-key redaction,
  size bounds, whoever produced the span.

onex-otel's own spans and spans of no known dialect are returned untouched (the cheap path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from onex_exporters import claude_code
from onex_otel import _payload
from onex_otel import dialects as d
from onex_otel._extract import (
    agent_name_from_span_name,
    first_user_text,
    first_user_text_of,
    output_text,
    unwrap,
)
from onex_otel.conventions import (
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    INSTRUMENTATION_NAME,
    ONEX_AGENT_NAME,
    ONEX_CONTEXT,
    ONEX_OUTPUT_SUMMARY,
    ONEX_SPAN_ROLE,
    ONEX_TOOL_ARGUMENTS,
    ONEX_TOOL_CALL_ID,
    ONEX_TOOL_RESULT,
    ONEX_USER_REQUEST,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
    ORIGINAL_SIZE_SUFFIX,
)

__all__ = [
    "SpanView",
    "first_user_text",
    "normalize",
    "output_text",
    "span_role",
    "unwrap",
]

_ONEX_OP = {
    d.ROLE_EXECUTION: OP_INVOKE_AGENT,
    d.ROLE_PENDING: OP_INVOKE_AGENT,
    d.ROLE_TOOL_CALL: OP_EXECUTE_TOOL,
}
_DIALECT_OP = {d.AGENT: OP_INVOKE_AGENT, d.TOOL: OP_EXECUTE_TOOL}
#: keys of the foreign content the view replaces (so that no raw copy reaches the mapping)
_CONTENT_KEYS = frozenset((*d.TOOL_ARGUMENTS_KEYS, *d.TOOL_RESULT_KEYS, *d.INPUT_KEYS, *d.OUTPUT_KEYS))


class SpanView:
    """A span's neutral view: the original span with translated attributes."""

    __slots__ = (
        "attributes",
        "context",
        "end_time",
        "events",
        "instrumentation_scope",
        "kind",
        "name",
        "parent",
        "start_time",
        "status",
    )

    def __init__(self, span: Any, attributes: dict[str, Any]) -> None:
        """Wrap ``span`` with ``attributes`` in place of its own."""
        self.name = span.name
        self.context = span.context
        self.parent = getattr(span, "parent", None)
        self.kind = getattr(span, "kind", None)
        self.status = span.status
        self.events = span.events
        self.start_time = span.start_time
        self.end_time = span.end_time
        self.instrumentation_scope = getattr(span, "instrumentation_scope", None)
        self.attributes = attributes


#: The SDK's span classes, whose fields are read directly rather than through their properties.
SDK_SPANS = frozenset({ReadableSpan, SdkSpan})


def _scope(span: Any) -> str:
    if type(span) in SDK_SPANS:  # the SDK's properties are Python calls: read the fields
        scope = span._instrumentation_scope
        return str(scope._name or "") if type(scope) is InstrumentationScope else _scope_name(scope)
    return _scope_name(getattr(span, "instrumentation_scope", None))


def _scope_name(scope: Any) -> str:
    return str(getattr(scope, "name", "") or "")


def _name(span: Any) -> str:
    """The span's name (``""`` for none)."""
    return (span._name if type(span) in SDK_SPANS else span.name) or ""


def _top_level(span: Any) -> bool:
    """Whether the span has no parent."""
    return (span._parent if type(span) in SDK_SPANS else getattr(span, "parent", None)) is None


def _attrs(span: Any) -> Mapping[str, Any]:
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(raw, dict):
        return raw
    return span.attributes or {}


def span_role(span: Any, attrs: Mapping[str, Any] | None = None) -> str | None:
    """The neutral role of any span: ``execution``, ``tool_call``, ``merged``... or ``None``.

    The processor's stamp wins; else the dialect's kind (an AGENT is an execution, a TOOL a tool
    call; chains and model calls map to nothing on their own).
    """
    attrs = _attrs(span) if attrs is None else attrs
    stamped = attrs.get(ONEX_SPAN_ROLE)
    if stamped is not None:
        return str(stamped)
    scope = _scope(span)
    role = d.claude_code_role(_name(span), scope)
    if role is None:
        role = d.role_of(attrs, scope, top_level=_top_level(span))
    if role == d.AGENT:
        return d.ROLE_EXECUTION
    if role == d.TOOL:
        return d.ROLE_TOOL_CALL
    return None


def normalize(span: Any) -> Any:
    """``span`` itself when it is onex-otel's or of no known dialect, else its :class:`SpanView`."""
    if type(span) in SDK_SPANS:  # onex-otel's own span, the usual case, told from the SDK's fields
        scope_of = span._instrumentation_scope
        if getattr(scope_of, "_name", None) == INSTRUMENTATION_NAME:
            own = span._attributes
            if type(own) is BoundedAttributes:
                own = own._dict
            if not own or ONEX_SPAN_ROLE not in own:
                return span
    attrs = _attrs(span)
    scope = _scope(span)
    if scope == INSTRUMENTATION_NAME and ONEX_SPAN_ROLE not in attrs:
        return span
    if d.is_claude_code_span(_name(span), scope):
        return SpanView(span, claude_code.view_attributes(span))
    role = span_role(span, attrs)
    if role is None:
        if ONEX_SPAN_ROLE in attrs or d.role_of(attrs, scope) is not None:
            return SpanView(span, _neutral_base(attrs, None))  # a chain, a model call...
        return span
    if scope == INSTRUMENTATION_NAME and role in (d.ROLE_EXECUTION, d.ROLE_TOOL_CALL):
        return span  # ours, confirmed by the processor
    out = _neutral_base(attrs, _ONEX_OP.get(role))
    pol = _payload.policy()
    if role in (d.ROLE_EXECUTION, d.ROLE_PENDING):
        _execution(span, attrs, out, pol)
    elif role == d.ROLE_TOOL_CALL:
        _tool(span, attrs, out, pol)
    return SpanView(span, out)


def _neutral_base(attrs: Mapping[str, Any], op: str | None) -> dict[str, Any]:
    out = {
        k: v
        for k, v in attrs.items()
        if k not in _CONTENT_KEYS and not k.startswith(d.OI_INPUT_MESSAGES_PREFIX)
    }
    out.pop(GEN_AI_OPERATION_NAME, None)
    if op is not None:
        out[GEN_AI_OPERATION_NAME] = op
    return out


def _execution(span: Any, attrs: Mapping[str, Any], out: dict[str, Any], pol: _payload.Policy) -> None:
    if not out.get(ONEX_AGENT_NAME):
        name = d.first(attrs, d.AGENT_NAME_KEYS) or agent_name_from_span_name(span.name or "")
        out[ONEX_AGENT_NAME] = out[GEN_AI_AGENT_NAME] = str(name)
    run_id = d.first(attrs, d.RUN_ID_KEYS)
    if run_id is not None:
        out[GEN_AI_AGENT_ID] = str(run_id)
    session = d.first(attrs, d.SESSION_ID_KEYS)
    if session is not None and GEN_AI_CONVERSATION_ID not in out:
        out[GEN_AI_CONVERSATION_ID] = str(session)
    user = d.first(attrs, d.USER_ID_KEYS)
    if user is not None and ONEX_CONTEXT not in out:  # the legacy row has no user column
        out[ONEX_CONTEXT] = json.dumps({d.CONTEXT_USER_ID: str(user)})
    if ONEX_USER_REQUEST not in attrs:
        request = first_user_text_of(attrs)
        text = _payload.foreign_text(request, pol)
        if text is not None:
            out[ONEX_USER_REQUEST] = text
    if ONEX_OUTPUT_SUMMARY not in attrs:
        raw = d.first(attrs, d.OUTPUT_KEYS)
        summary = _payload.foreign_text(output_text(raw), pol, d.OUTPUT_SUMMARY_MAX_CHARS)
        if summary is not None:
            out[ONEX_OUTPUT_SUMMARY] = summary


def _tool(span: Any, attrs: Mapping[str, Any], out: dict[str, Any], pol: _payload.Policy) -> None:
    name = d.first(attrs, d.TOOL_NAME_KEYS)
    if not name:
        span_name = span.name or ""
        prefix = OP_EXECUTE_TOOL + " "
        name = span_name[len(prefix) :] if span_name.startswith(prefix) else span_name
    out[GEN_AI_TOOL_NAME] = str(name)
    call_id = attrs.get(ONEX_TOOL_CALL_ID) or d.first(attrs, d.TOOL_CALL_ID_KEYS)
    args_raw = d.first(attrs, d.TOOL_ARGUMENTS_KEYS)
    args, args_call_id = unwrap(args_raw, arguments=True)
    result, result_call_id = unwrap(d.first(attrs, d.TOOL_RESULT_KEYS))
    call_id = call_id or args_call_id or result_call_id
    if call_id is not None:
        out[GEN_AI_TOOL_CALL_ID] = str(call_id)
    own_args = attrs.get(ONEX_TOOL_ARGUMENTS)
    if own_args is not None:  # already under the policy (the processor's merge)
        out[GEN_AI_TOOL_CALL_ARGUMENTS] = own_args
        _copy_size(attrs, out, ONEX_TOOL_ARGUMENTS, GEN_AI_TOOL_CALL_ARGUMENTS)
    elif args_raw is not None:
        _put_json(out, GEN_AI_TOOL_CALL_ARGUMENTS, args, pol)
    own_result = attrs.get(ONEX_TOOL_RESULT)
    if own_result is not None:
        out[GEN_AI_TOOL_CALL_RESULT] = own_result
        _copy_size(attrs, out, ONEX_TOOL_RESULT, GEN_AI_TOOL_CALL_RESULT)
    elif d.first(attrs, d.TOOL_RESULT_KEYS) is not None:
        _put_json(out, GEN_AI_TOOL_CALL_RESULT, result, pol)


def _copy_size(attrs: Mapping[str, Any], out: dict[str, Any], src: str, dst: str) -> None:
    size = attrs.get(src + ORIGINAL_SIZE_SUFFIX)
    if size is not None:
        out[dst + ORIGINAL_SIZE_SUFFIX] = size


def _put_json(out: dict[str, Any], key: str, value: Any, pol: _payload.Policy) -> None:
    text, original = _payload.foreign_json(value, pol)
    if text is not None:
        out[key] = text
        if original is not None:
            out[key + ORIGINAL_SIZE_SUFFIX] = original
