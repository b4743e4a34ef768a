"""The agent_action of a tool call span and of a timed decision span."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from onex_exporters.mapping_span import (
    _Builder,
    _exception_event,
    _is_error,
)
from onex_exporters.mapping_values import (
    _loads,
    _ms,
    _required,
    _text,
)
from onex_otel.conventions import (
    ATTR_DECISION_CONTEXT,
    ATTR_DECISION_RESULT,
    ERROR_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_TYPE,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    ONEX_ACTION_NAME,
    OP_EXECUTE_TOOL,
    ORIGINAL_SIZE_SUFFIX,
    ActionType,
)


# ----------------------------------------------------------------------------------------------
# actions
# ----------------------------------------------------------------------------------------------
def _with_sizes(
    details: dict[str, Any], attrs: Mapping[str, Any], pairs: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    for key, field in pairs:
        size = attrs.get(key + ORIGINAL_SIZE_SUFFIX)
        if size is not None:
            details[field + "_original_size"] = size
    return details


def _tool_call(b: _Builder) -> None:
    facts = b.facts
    span = facts.span
    attrs = facts.attrs
    start = span.start_time or 0
    end = span.end_time or start
    tool = attrs.get(ONEX_ACTION_NAME) or attrs.get(GEN_AI_TOOL_NAME)
    if not tool:
        name = span.name or ""
        prefix = OP_EXECUTE_TOOL + " "
        tool = name[len(prefix) :] if name.startswith(prefix) else name
    details: dict[str, Any] = {
        "tool_call_id": _text(attrs.get(GEN_AI_TOOL_CALL_ID)),
        "tool_type": _text(attrs.get(GEN_AI_TOOL_TYPE)),
        "parameters": _loads(attrs.get(GEN_AI_TOOL_CALL_ARGUMENTS)),
        "result": _loads(attrs.get(GEN_AI_TOOL_CALL_RESULT)),
        "success": not _is_error(span),
        "error": None,
    }
    if not details["success"]:
        exc = _exception_event(span)
        details["error"] = {
            "type": _text(attrs.get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
            "message": _text(exc.get(EXCEPTION_MESSAGE) or span.status.description),
        }
    _with_sizes(
        details, attrs, ((GEN_AI_TOOL_CALL_ARGUMENTS, "parameters"), (GEN_AI_TOOL_CALL_RESULT, "result"))
    )
    b.action(
        facts.event_id(end, "action"),
        end,
        facts.started_event_id,
        ActionType.TOOL_CALL,
        _required(tool, "tool name"),
        details,
        _ms(start, end),
    )


def _decision_span(b: _Builder) -> None:
    facts = b.facts
    span = facts.span
    attrs = facts.attrs
    start = span.start_time or 0
    end = span.end_time or start
    details: dict[str, Any] = {
        "decision_context": _loads(attrs.get(ATTR_DECISION_CONTEXT)),
        "decision_result": _loads(attrs.get(ATTR_DECISION_RESULT)),
    }
    if _is_error(span):
        exc = _exception_event(span)
        details["error"] = {
            "type": _text(attrs.get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
            "message": _text(exc.get(EXCEPTION_MESSAGE)),
        }
    _with_sizes(
        details,
        attrs,
        ((ATTR_DECISION_CONTEXT, "decision_context"), (ATTR_DECISION_RESULT, "decision_result")),
    )
    name = attrs.get(ONEX_ACTION_NAME) or (span.name or "").removeprefix("decision ")
    b.action(
        facts.event_id(end, "action"),
        end,
        facts.started_event_id,
        ActionType.DECISION,
        _required(name, "decision name"),
        details,
        _ms(start, end),
    )
