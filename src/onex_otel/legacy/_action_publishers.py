"""The legacy module-level action publishers (seed 001 ``action_event_publisher``).

``publish_action_event``, ``publish_tool_call``, ``publish_decision``, ``publish_error``,
``publish_success`` and ``log_action``: each checks its arguments and records the action through
:mod:`onex_otel.legacy._action_recording`; each returns ``True``/``False`` and never raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from onex_otel._events import record_decision, record_error, record_success
from onex_otel.conventions import (
    EVENT_DECISION,
    EVENT_ERROR,
    EVENT_SUCCESS,
    ActionType,
)
from onex_otel.legacy._action_recording import (
    decision_action,
    error_action,
    identity_of,
    record_event,
    record_tool_call,
    success_action,
    tool_action,
)
from onex_otel.legacy._support import (
    check_mapping,
    check_millis,
    check_name,
    never_raises,
    reject,
    show,
)

__all__ = [
    "log_action",
    "publish_action_event",
    "publish_decision",
    "publish_error",
    "publish_success",
    "publish_tool_call",
]

_ACTION_TYPES = frozenset(t.value for t in ActionType)
_TOOL_DETAIL_KEYS = frozenset({"tool_parameters", "tool_result", "success", "error_message"})
_DECISION_DETAIL_KEYS = frozenset({"decision_context", "decision_result"})


@never_raises("publish_action_event")
async def publish_action_event(
    agent_name: str,
    action_type: str,
    action_name: str,
    action_details: Mapping[str, Any] | None = None,
    correlation_id: str | uuid.UUID | None = None,
    duration_ms: float | None = None,
    debug_mode: bool = True,
    project_path: str | None = None,
    project_name: str | None = None,
    working_directory: str | None = None,
) -> bool:
    """Publish one agent action (``tool_call``, ``decision``, ``error`` or ``success``).

    ``action_details`` in the shape the typed publishers build (``tool_parameters`` /
    ``tool_result`` / ``success`` / ``error_message`` for a tool call, ``decision_context`` /
    ``decision_result`` for a decision, ``error_message`` / ``error_context`` for an error) maps
    onto the same fields; other details become the tool's parameters, the decision's context or
    the error's context. Returns ``True`` when recorded (see the package docs), never raises.
    """
    fn = "publish_action_event"
    identity = identity_of(
        fn, agent_name, correlation_id, project_path, project_name, working_directory, debug_mode
    )
    if not isinstance(action_type, str) or action_type not in _ACTION_TYPES:
        raise ValueError(
            f"{fn}: action_type must be one of {', '.join(sorted(_ACTION_TYPES))}, got {show(action_type)}"
        )
    name = check_name(fn, "action_name", action_name)
    details = check_mapping(fn, "action_details", action_details) or {}
    millis = check_millis(fn, "duration_ms", duration_ms)
    if action_type == ActionType.TOOL_CALL:
        if details and set(details) <= _TOOL_DETAIL_KEYS:
            ok = details.get("success", True) is not False
            message = details.get("error_message")
            return record_tool_call(
                identity,
                name,
                check_mapping(fn, "tool_parameters", details.get("tool_parameters")),
                details.get("tool_result"),
                millis,
                None if ok and not message else str(message or "tool call failed"),
            )
        return record_tool_call(identity, name, details, None, millis, None)
    if action_type == ActionType.DECISION:
        if details and set(details) <= _DECISION_DETAIL_KEYS:
            ctx, res = details.get("decision_context"), details.get("decision_result")
        else:
            ctx, res = details, None
        return record_event(identity, EVENT_DECISION, lambda: record_decision(name, ctx, res, millis))
    if action_type == ActionType.ERROR:
        message = details.get("error_message", "")
        error_ctx = details.get("error_context", details)
        return record_event(
            identity, EVENT_ERROR, lambda: record_error(name, str(message), error_ctx, "error")
        )
    return record_event(identity, EVENT_SUCCESS, lambda: record_success(name, details, millis))


@never_raises("publish_tool_call")
async def publish_tool_call(
    agent_name: str,
    tool_name: str,
    tool_parameters: Mapping[str, Any] | None = None,
    tool_result: Any = None,
    correlation_id: str | uuid.UUID | None = None,
    duration_ms: float | None = None,
    success: bool = True,
    error_message: str | None = None,
    **kwargs: Any,
) -> bool:
    """Publish a tool call: an ``execute_tool {tool_name}`` span lasting ``duration_ms``.

    ``success=False`` (or an ``error_message``) marks the span failed with a
    :class:`ToolCallFailed`. ``kwargs``: ``debug_mode``, ``project_path``, ``project_name``,
    ``working_directory``.
    """
    fn = "publish_tool_call"
    identity = identity_of(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return tool_action(
        fn, identity, tool_name, tool_parameters, tool_result, duration_ms, success, error_message
    )


@never_raises("publish_decision")
async def publish_decision(
    agent_name: str,
    decision_name: str,
    decision_context: Any = None,
    decision_result: Any = None,
    correlation_id: str | uuid.UUID | None = None,
    duration_ms: float | None = None,
    **kwargs: Any,
) -> bool:
    """Publish a decision: the core's ``record_decision`` event."""
    fn = "publish_decision"
    identity = identity_of(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return decision_action(fn, identity, decision_name, decision_context, decision_result, duration_ms)


@never_raises("publish_error")
async def publish_error(
    agent_name: str,
    error_type: str,
    error_message: str,
    error_context: Any = None,
    correlation_id: str | uuid.UUID | None = None,
    severity: str = "error",
    **kwargs: Any,
) -> bool:
    """Publish an error: the core's ``record_error`` event (severity debug..critical)."""
    fn = "publish_error"
    identity = identity_of(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return error_action(fn, identity, error_type, error_message, error_context, severity)


@never_raises("publish_success")
async def publish_success(
    agent_name: str,
    success_name: str,
    success_details: Any = None,
    correlation_id: str | uuid.UUID | None = None,
    duration_ms: float | None = None,
    **kwargs: Any,
) -> bool:
    """Publish a success milestone: the core's ``record_success`` event."""
    fn = "publish_success"
    identity = identity_of(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return success_action(fn, identity, success_name, success_details, duration_ms)


_COMMON = ("project_path", "project_name", "working_directory", "debug_mode")


def _common(fn: str, kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """The legacy ``**kwargs`` fields (unknown ones are reported as invalid, then ignored)."""
    unknown = set(kwargs) - set(_COMMON)
    if unknown:
        try:
            raise ValueError(f"{fn}: unknown argument(s) ignored: {', '.join(sorted(unknown))}")
        except ValueError:
            reject(f"legacy.{fn}.unknown_argument")
    return (
        kwargs.get("project_path"),
        kwargs.get("project_name"),
        kwargs.get("working_directory"),
        kwargs.get("debug_mode", True),
    )


@never_raises("log_action")
async def log_action(
    agent_name: str,
    action_type: str,
    action_name: str,
    action_details: Mapping[str, Any] | None = None,
    correlation_id: str | uuid.UUID | None = None,
    duration_ms: float | None = None,
    **kwargs: Any,
) -> bool:
    """Log one action without an :class:`ActionLogger` (see :func:`publish_action_event`)."""
    path, name, cwd, debug = _common("log_action", kwargs)
    return await publish_action_event(
        agent_name,
        action_type,
        action_name,
        action_details,
        correlation_id,
        duration_ms,
        debug,
        path,
        name,
        cwd,
    )
