"""Recording one legacy action on the core, synchronously (the async legacy calls wrap this).

A tool call is an ``execute_tool {tool}`` span started from the core's invocation model
(:class:`~onex_otel._invocation.ActionInvocation`); a decision, error or success is the core's
``record_decision`` / ``record_error`` / ``record_success`` event. Where they are recorded is
decided by :func:`onex_otel.legacy._support.scope`. The ``*_action`` functions check a legacy
call's arguments (``ValueError`` naming the call) and record it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api

from onex_otel import _payload
from onex_otel._action_spec import ActionSpec
from onex_otel._events import SEVERITIES, record_decision, record_error, record_success
from onex_otel._invocation import ActionInvocation
from onex_otel.conventions import (
    EVENT_DECISION,
    EVENT_ERROR,
    EVENT_SUCCESS,
    GEN_AI_TOOL_CALL_RESULT,
    ORIGINAL_SIZE_SUFFIX,
    ActionType,
)
from onex_otel.errors import OnexError
from onex_otel.legacy._support import (
    Identity,
    ProxyTracer,
    back_dated,
    check_correlation_id,
    check_mapping,
    check_millis,
    check_name,
    check_optional_text,
    ensure_tracer,
    kafka_logging_enabled,
    scope,
    show,
)

__all__ = [
    "ToolCallFailed",
    "decision_action",
    "done",
    "error_action",
    "identity_of",
    "record_event",
    "record_tool_call",
    "success_action",
    "tool_action",
]


class ToolCallFailed(OnexError):
    """A tool call reported as failed by a legacy call (``success=False, error_message=...``).

    Legacy calls report a failed tool with a message, not an exception; the tool span records this
    exception in its place (span status ERROR, ``error.type``, ``exception`` event), as it would
    record the exception of a tool that raised.
    """


ToolCallFailed.__module__ = "onex_otel.legacy"


def identity_of(
    fn: str,
    agent_name: object,
    correlation_id: object,
    project_path: object,
    project_name: object,
    working_directory: object,
    debug_mode: object,
) -> Identity:
    return Identity(
        check_name(fn, "agent_name", agent_name),
        check_correlation_id(fn, correlation_id),
        project_path=check_optional_text(fn, "project_path", project_path),
        project_name=check_optional_text(fn, "project_name", project_name),
        working_directory=check_optional_text(fn, "working_directory", working_directory),
        debug_mode=bool(debug_mode) if isinstance(debug_mode, bool) else True,
    )


def done(tracer: _trace_api.Tracer | None) -> bool:
    """The legacy return value once the action is recorded (or not, without a tracer)."""
    return tracer is not None and kafka_logging_enabled()


def record_tool_call(
    identity: Identity,
    tool_name: str,
    parameters: dict[str, Any] | None,
    result: Any,
    duration_ms: float | None,
    error_message: str | None,
) -> bool:
    tracer = ensure_tracer()
    if tracer is None:
        return False
    spec = ActionSpec(tool_name, action_type=ActionType.TOOL_CALL)
    with scope(identity) as standalone:
        proxy = ProxyTracer(
            tracer,
            start_time=back_dated(duration_ms),
            attributes=identity.attributes if standalone else None,
            trace_id=identity.trace_id if standalone else 0,
        )
        inv = ActionInvocation.start(
            proxy, spec, parameters, attach=False, has_arguments=parameters is not None
        )
        if error_message is None:
            inv.stop(result, has_result=result is not None)
        else:
            if result is not None:
                _set_result(inv.span, result)
            inv.fail(ToolCallFailed(error_message))
    return done(tracer)


def _set_result(span: _trace_api.Span, result: Any) -> None:
    pol = _payload.policy()
    if not pol.capture:
        return
    text, original = _payload.encode(result, pol)
    span.set_attribute(GEN_AI_TOOL_CALL_RESULT, text)
    if original is not None:
        span.set_attribute(GEN_AI_TOOL_CALL_RESULT + ORIGINAL_SIZE_SUFFIX, original)


def record_event(identity: Identity, event_name: str, record: Callable[[], None]) -> bool:
    """Record an event with the core (``record``) in the scope of ``identity``."""
    tracer = ensure_tracer()
    if tracer is None:
        return False
    with scope(identity) as standalone:
        if not standalone:
            record()
        else:  # a short span named after the event carries it (as the core does), with identity
            proxy = ProxyTracer(tracer, attributes=identity.attributes, trace_id=identity.trace_id)
            span = proxy.start_span(event_name)
            token = _context_api.attach(_trace_api.set_span_in_context(span))
            try:
                record()
            finally:
                _context_api.detach(token)
                span.end()
    return done(tracer)


def tool_action(
    fn: str,
    identity: Identity,
    tool_name: object,
    tool_parameters: object,
    tool_result: Any,
    duration_ms: object,
    success: object,
    error_message: object,
) -> bool:
    name = check_name(fn, "tool_name", tool_name)
    params = check_mapping(fn, "tool_parameters", tool_parameters)
    millis = check_millis(fn, "duration_ms", duration_ms)
    message = check_optional_text(fn, "error_message", error_message)
    failed = success is False or bool(message)
    return record_tool_call(
        identity, name, params, tool_result, millis, (message or "tool call failed") if failed else None
    )


def decision_action(
    fn: str,
    identity: Identity,
    decision_name: object,
    decision_context: Any,
    decision_result: Any,
    duration_ms: object,
) -> bool:
    name = check_name(fn, "decision_name", decision_name)
    millis = check_millis(fn, "duration_ms", duration_ms)
    return record_event(
        identity, EVENT_DECISION, lambda: record_decision(name, decision_context, decision_result, millis)
    )


def error_action(
    fn: str,
    identity: Identity,
    error_type: object,
    error_message: object,
    error_context: Any,
    severity: object,
) -> bool:
    kind = check_name(fn, "error_type", error_type)
    message = check_optional_text(fn, "error_message", error_message) or ""
    level = check_name(fn, "severity", severity).lower()
    if level not in SEVERITIES:
        raise ValueError(f"{fn}: severity must be one of {', '.join(SEVERITIES)}, got {show(severity)}")
    return record_event(identity, EVENT_ERROR, lambda: record_error(kind, message, error_context, level))


def success_action(
    fn: str, identity: Identity, success_name: object, success_details: Any, duration_ms: object
) -> bool:
    name = check_name(fn, "success_name", success_name)
    millis = check_millis(fn, "duration_ms", duration_ms)
    return record_event(identity, EVENT_SUCCESS, lambda: record_success(name, success_details, millis))
