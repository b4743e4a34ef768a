"""The agent_action of a tool call span and of a timed decision span."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from onex_exporters.mapping_span import (
    _Builder,
    _exception_event,
)
from onex_exporters.mapping_values import (
    DECISION,
    TOOL_CALL,
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
)


# ----------------------------------------------------------------------------------------------
# actions
# ----------------------------------------------------------------------------------------------
def _with_sizes(
    details: dict[str, Any], get: Callable[[str], Any], pairs: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """Add each JSON field's original size, for those the content policy cut."""
    for key, field in pairs:
        size = get(key)
        if size is not None:
            details[field] = size
    return details


#: (the attribute of a cut JSON field's original size, the detail that reports it)
_TOOL_SIZES = (
    (GEN_AI_TOOL_CALL_ARGUMENTS + ORIGINAL_SIZE_SUFFIX, "parameters_original_size"),
    (GEN_AI_TOOL_CALL_RESULT + ORIGINAL_SIZE_SUFFIX, "result_original_size"),
)
_DECISION_SIZES = (
    (ATTR_DECISION_CONTEXT + ORIGINAL_SIZE_SUFFIX, "decision_context_original_size"),
    (ATTR_DECISION_RESULT + ORIGINAL_SIZE_SUFFIX, "decision_result_original_size"),
)


def _tool_call(b: _Builder) -> None:
    facts = b.facts
    get = facts.attrs.get
    start = facts.start or 0
    end = facts.end or start
    tool = get(ONEX_ACTION_NAME) or get(GEN_AI_TOOL_NAME)
    if not tool:
        name = facts.name
        prefix = OP_EXECUTE_TOOL + " "
        tool = name[len(prefix) :] if name.startswith(prefix) else name
    arguments = get(GEN_AI_TOOL_CALL_ARGUMENTS)
    result = get(GEN_AI_TOOL_CALL_RESULT)
    details: dict[str, Any] = {
        "tool_call_id": _text(get(GEN_AI_TOOL_CALL_ID)),
        "tool_type": _text(get(GEN_AI_TOOL_TYPE)),
        "parameters": _loads(arguments) if arguments is not None else None,
        "result": _loads(result) if result is not None else None,
        "success": not facts.error,
        "error": None,
    }
    if facts.error:
        exc = _exception_event(facts)
        details["error"] = {
            "type": _text(get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
            "message": _text(exc.get(EXCEPTION_MESSAGE) or facts.status.description),
        }
    _with_sizes(details, get, _TOOL_SIZES)
    b.action(
        facts.event_id(end, "action"),
        end,
        facts.started_event_id,
        TOOL_CALL,
        _required(tool, "tool name"),
        details,
        _ms(start, end),
    )


def _decision_span(b: _Builder) -> None:
    facts = b.facts
    get = facts.attrs.get
    start = facts.start or 0
    end = facts.end or start
    details: dict[str, Any] = {
        "decision_context": _loads(get(ATTR_DECISION_CONTEXT)),
        "decision_result": _loads(get(ATTR_DECISION_RESULT)),
    }
    if facts.error:
        exc = _exception_event(facts)
        details["error"] = {
            "type": _text(get(ERROR_TYPE) or exc.get(EXCEPTION_TYPE)),
            "message": _text(exc.get(EXCEPTION_MESSAGE)),
        }
    _with_sizes(details, get, _DECISION_SIZES)
    name = get(ONEX_ACTION_NAME) or facts.name.removeprefix("decision ")
    b.action(
        facts.event_id(end, "action"),
        end,
        facts.started_event_id,
        DECISION,
        _required(name, "decision name"),
        details,
        _ms(start, end),
    )
