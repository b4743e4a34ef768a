"""The legacy ``ActionLogger`` and action event publisher (seed 001), on top of spans.

Each call maps onto the new API: a tool call is an ``execute_tool {tool}`` span (the core's
:class:`~onex_otel._tool.ActionInvocation`), a decision, error or success is the core's
``record_decision`` / ``record_error`` / ``record_success`` event; where they are recorded is
decided by :func:`onex_otel.legacy._support.scope`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Literal

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api

from onex_otel import _context, _payload
from onex_otel._events import SEVERITIES, record_decision, record_error, record_success
from onex_otel._internal import internal_error
from onex_otel._tool import ActionInvocation, ActionSpec
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
    never_raises,
    reject,
    scope,
    show,
)

__all__ = [
    "ActionLogger",
    "ToolCallContext",
    "ToolCallFailed",
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


class ToolCallFailed(OnexError):
    """A tool call reported as failed by a legacy call (``success=False, error_message=...``).

    Legacy calls report a failed tool with a message, not an exception; the tool span records this
    exception in its place (span status ERROR, ``error.type``, ``exception`` event), as it would
    record the exception of a tool that raised.
    """


ToolCallFailed.__module__ = "onex_otel.legacy"


def _identity(fn: str, agent_name: object, correlation_id: object, project_path: object,
              project_name: object, working_directory: object, debug_mode: object) -> Identity:
    return Identity(
        check_name(fn, "agent_name", agent_name),
        check_correlation_id(fn, correlation_id),
        project_path=check_optional_text(fn, "project_path", project_path),
        project_name=check_optional_text(fn, "project_name", project_name),
        working_directory=check_optional_text(fn, "working_directory", working_directory),
        debug_mode=bool(debug_mode) if isinstance(debug_mode, bool) else True,
    )


def _done(tracer: _trace_api.Tracer | None) -> bool:
    """The legacy return value once the action is recorded (or not, without a tracer)."""
    return tracer is not None and kafka_logging_enabled()


# ------------------------------------------------------------------------------------------------
# Recording (synchronous; the async legacy calls wrap these)
# ------------------------------------------------------------------------------------------------
def _tool_call(identity: Identity, tool_name: str, parameters: dict[str, Any] | None,
               result: Any, duration_ms: float | None, error_message: str | None) -> bool:
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
        inv = ActionInvocation.start(proxy, spec, parameters, attach=False,
                                     has_arguments=parameters is not None)
        if error_message is None:
            inv.stop(result, has_result=result is not None)
        else:
            if result is not None:
                _set_result(inv.span, result)
            inv.fail(ToolCallFailed(error_message))
    return _done(tracer)


def _set_result(span: _trace_api.Span, result: Any) -> None:
    pol = _payload.policy()
    if not pol.capture:
        return
    text, original = _payload.encode(result, pol)
    span.set_attribute(GEN_AI_TOOL_CALL_RESULT, text)
    if original is not None:
        span.set_attribute(GEN_AI_TOOL_CALL_RESULT + ORIGINAL_SIZE_SUFFIX, original)


def _event(identity: Identity, event_name: str, record: Callable[[], None]) -> bool:
    """Record an event with the core (``record``) in the scope of ``identity``."""
    tracer = ensure_tracer()
    if tracer is None:
        return False
    with scope(identity) as standalone:
        if not standalone:
            record()
        else:  # a short span named after the event carries it (as the core does), with identity
            proxy = ProxyTracer(tracer, attributes=identity.attributes,
                                trace_id=identity.trace_id)
            span = proxy.start_span(event_name)
            token = _context_api.attach(_trace_api.set_span_in_context(span))
            try:
                record()
            finally:
                _context_api.detach(token)
                span.end()
    return _done(tracer)


# ------------------------------------------------------------------------------------------------
# Module-level publishers (seed 001 action_event_publisher)
# ------------------------------------------------------------------------------------------------
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
    identity = _identity(fn, agent_name, correlation_id, project_path, project_name,
                         working_directory, debug_mode)
    if not isinstance(action_type, str) or action_type not in _ACTION_TYPES:
        raise ValueError(f"{fn}: action_type must be one of {', '.join(sorted(_ACTION_TYPES))}, "
                         f"got {show(action_type)}")
    name = check_name(fn, "action_name", action_name)
    details = check_mapping(fn, "action_details", action_details) or {}
    millis = check_millis(fn, "duration_ms", duration_ms)
    if action_type == ActionType.TOOL_CALL:
        if details and set(details) <= _TOOL_DETAIL_KEYS:
            ok = details.get("success", True) is not False
            message = details.get("error_message")
            return _tool_call(identity, name, check_mapping(fn, "tool_parameters",
                                                            details.get("tool_parameters")),
                              details.get("tool_result"), millis,
                              None if ok and not message else str(message or "tool call failed"))
        return _tool_call(identity, name, details, None, millis, None)
    if action_type == ActionType.DECISION:
        if details and set(details) <= _DECISION_DETAIL_KEYS:
            ctx, res = details.get("decision_context"), details.get("decision_result")
        else:
            ctx, res = details, None
        return _event(identity, EVENT_DECISION,
                      lambda: record_decision(name, ctx, res, millis))
    if action_type == ActionType.ERROR:
        message = details.get("error_message", "")
        error_ctx = details.get("error_context", details)
        return _event(identity, EVENT_ERROR,
                      lambda: record_error(name, str(message), error_ctx, "error"))
    return _event(identity, EVENT_SUCCESS, lambda: record_success(name, details, millis))


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
    identity = _identity(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return _tool(fn, identity, tool_name, tool_parameters, tool_result, duration_ms, success,
                 error_message)


def _tool(fn: str, identity: Identity, tool_name: object, tool_parameters: object,
          tool_result: Any, duration_ms: object, success: object, error_message: object) -> bool:
    name = check_name(fn, "tool_name", tool_name)
    params = check_mapping(fn, "tool_parameters", tool_parameters)
    millis = check_millis(fn, "duration_ms", duration_ms)
    message = check_optional_text(fn, "error_message", error_message)
    failed = success is False or bool(message)
    return _tool_call(identity, name, params, tool_result, millis,
                      (message or "tool call failed") if failed else None)


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
    identity = _identity(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return _decision(fn, identity, decision_name, decision_context, decision_result, duration_ms)


def _decision(fn: str, identity: Identity, decision_name: object, decision_context: Any,
              decision_result: Any, duration_ms: object) -> bool:
    name = check_name(fn, "decision_name", decision_name)
    millis = check_millis(fn, "duration_ms", duration_ms)
    return _event(identity, EVENT_DECISION,
                  lambda: record_decision(name, decision_context, decision_result, millis))


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
    identity = _identity(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return _error(fn, identity, error_type, error_message, error_context, severity)


def _error(fn: str, identity: Identity, error_type: object, error_message: object,
           error_context: Any, severity: object) -> bool:
    kind = check_name(fn, "error_type", error_type)
    message = check_optional_text(fn, "error_message", error_message) or ""
    level = check_name(fn, "severity", severity).lower()
    if level not in SEVERITIES:
        raise ValueError(
            f"{fn}: severity must be one of {', '.join(SEVERITIES)}, got {show(severity)}")
    return _event(identity, EVENT_ERROR,
                  lambda: record_error(kind, message, error_context, level))


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
    identity = _identity(fn, agent_name, correlation_id, *_common(fn, kwargs))
    return _success(fn, identity, success_name, success_details, duration_ms)


def _success(fn: str, identity: Identity, success_name: object, success_details: Any,
             duration_ms: object) -> bool:
    name = check_name(fn, "success_name", success_name)
    millis = check_millis(fn, "duration_ms", duration_ms)
    return _event(identity, EVENT_SUCCESS,
                  lambda: record_success(name, success_details, millis))


_COMMON = ("project_path", "project_name", "working_directory", "debug_mode")


def _common(fn: str, kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """The legacy ``**kwargs`` fields (unknown ones are reported as invalid, then ignored)."""
    unknown = set(kwargs) - set(_COMMON)
    if unknown:
        try:
            raise ValueError(f"{fn}: unknown argument(s) ignored: {', '.join(sorted(unknown))}")
        except ValueError:
            reject(f"legacy.{fn}.unknown_argument")
    return (kwargs.get("project_path"), kwargs.get("project_name"),
            kwargs.get("working_directory"), kwargs.get("debug_mode", True))


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
    return await publish_action_event(agent_name, action_type, action_name, action_details,
                                      correlation_id, duration_ms, debug, path, name, cwd)


# ------------------------------------------------------------------------------------------------
# ActionLogger
# ------------------------------------------------------------------------------------------------
class ToolCallContext:
    """A tool call as a ``with`` / ``async with`` block; call :meth:`set_result` inside it.

    The block is an ``execute_tool {tool}`` span, current while the block runs (spans started in
    it are its children). An exception leaving the block marks the span failed and passes through
    unchanged.
    """

    __slots__ = ("_inv", "_scope", "action_logger", "error_message", "success", "tool_name",
                 "tool_parameters", "tool_result")

    def __init__(self, action_logger: ActionLogger, tool_name: str,
                 tool_parameters: Mapping[str, Any] | None = None) -> None:
        self.action_logger = action_logger
        self.tool_name = tool_name
        self.tool_parameters = tool_parameters
        self.tool_result: Any = None
        self.success = True
        self.error_message: str | None = None
        self._inv: ActionInvocation | None = None
        self._scope: AbstractContextManager[bool] | None = None

    def set_result(self, result: Any) -> None:
        """Record the tool's result (recorded when the block exits)."""
        self.tool_result = result

    def __enter__(self) -> ToolCallContext:
        try:
            self._start()
        except ValueError:
            reject("legacy.tool_call.invalid")
        except Exception:
            internal_error("legacy.tool_call.start")
        return self

    def _start(self) -> None:
        fn = "ActionLogger.tool_call"
        name = check_name(fn, "tool_name", self.tool_name)
        params = check_mapping(fn, "tool_parameters", self.tool_parameters)
        tracer = ensure_tracer()
        if tracer is None:
            return
        identity = self.action_logger.identity
        manager = scope(identity)
        standalone = manager.__enter__()  # left in __exit__, after the tool span ends
        try:
            proxy = ProxyTracer(tracer, attributes=identity.attributes if standalone else None,
                                trace_id=identity.trace_id if standalone else 0)
            self._inv = ActionInvocation.start(proxy, ActionSpec(name,
                                               action_type=ActionType.TOOL_CALL),
                                               params, has_arguments=params is not None)
        except BaseException:
            manager.__exit__(None, None, None)
            raise
        self._scope = manager

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        inv, self._inv = self._inv, None
        manager, self._scope = self._scope, None
        try:
            if exc is not None:
                self.success = False
                self.error_message = _safe_str(exc)
            if inv is not None:
                if exc is not None:
                    inv.fail(exc)
                else:
                    inv.stop(self.tool_result, has_result=self.tool_result is not None)
        except Exception:
            internal_error("legacy.tool_call.end")
        finally:
            if manager is not None:
                manager.__exit__(None, None, None)
        return False

    async def __aenter__(self) -> ToolCallContext:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


class ActionLogger:
    """The legacy action logger of one agent (and one correlation id), recording spans.

    ``correlation_id`` defaults to the current execution's (inside ``agent_execution``), else a
    new UUID; ``project_path`` and ``working_directory`` default to the current directory and
    ``project_name`` to the project path's last component, as in the legacy logger. Every
    ``log_*`` call returns ``True``/``False`` and never raises.
    """

    def __init__(
        self,
        agent_name: str,
        correlation_id: str | uuid.UUID | None = None,
        project_name: str | None = None,
        project_path: str | None = None,
        working_directory: str | None = None,
        debug_mode: bool = True,
    ) -> None:
        self.agent_name = agent_name
        if correlation_id is None:
            correlation_id = _context.current_correlation_id() or str(uuid.uuid4())
        elif isinstance(correlation_id, uuid.UUID):
            correlation_id = str(correlation_id)
        # Invalid values are kept as given: every call then returns False (never raising here).
        self.correlation_id: Any = correlation_id
        cwd = _cwd()
        self.project_path: Any = _or_default(project_path, cwd)
        self.project_name: Any = _or_default(
            project_name,
            os.path.basename(self.project_path) if isinstance(self.project_path, str) else None,
        )
        self.working_directory: Any = _or_default(working_directory, cwd)
        self.debug_mode = debug_mode
        self._identity: tuple[tuple[Any, ...], Identity] | None = None

    @property
    def identity(self) -> Identity:
        """The identity of this logger's actions (raises ``ValueError`` for invalid fields).

        Rebuilt when an attribute (``correlation_id``, ...) was reassigned since the last call.
        """
        fields = (self.agent_name, self.correlation_id, self.project_path, self.project_name,
                  self.working_directory, self.debug_mode)
        cached = self._identity
        if cached is None or any(a is not b for a, b in zip(cached[0], fields, strict=True)):
            identity = _identity("ActionLogger", *fields)
            self._identity = cached = (fields, identity)
        return cached[1]

    def tool_call(self, tool_name: str,
                  tool_parameters: Mapping[str, Any] | None = None) -> ToolCallContext:
        """A tool call block (``async with`` or ``with``) timed by the block itself."""
        return ToolCallContext(self, tool_name, tool_parameters)

    @never_raises("ActionLogger.log_tool_call")
    async def log_tool_call(
        self,
        tool_name: str,
        tool_parameters: Mapping[str, Any] | None = None,
        tool_result: Any = None,
        duration_ms: float | None = None,
        success: bool = True,
        error_message: str | None = None,
    ) -> bool:
        """Log a tool call that already ran (see :func:`publish_tool_call`)."""
        return _tool("ActionLogger.log_tool_call", self.identity, tool_name, tool_parameters,
                     tool_result, duration_ms, success, error_message)

    @never_raises("ActionLogger.log_decision")
    async def log_decision(
        self,
        decision_name: str,
        decision_context: Any = None,
        decision_result: Any = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log a decision (see :func:`publish_decision`)."""
        return _decision("ActionLogger.log_decision", self.identity, decision_name,
                         decision_context, decision_result, duration_ms)

    @never_raises("ActionLogger.log_error")
    async def log_error(
        self,
        error_type: str,
        error_message: str,
        error_context: Any = None,
        severity: str = "error",
        send_slack_notification: bool = True,
    ) -> bool:
        """Log an error (see :func:`publish_error`).

        ``send_slack_notification`` is accepted for compatibility; onex-otel sends no Slack
        notifications (alert on the ``onex.agent.action.errors`` metric instead).
        """
        return _error("ActionLogger.log_error", self.identity, error_type, error_message,
                      error_context, severity)

    @never_raises("ActionLogger.log_success")
    async def log_success(
        self,
        success_name: str,
        success_details: Any = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log a success milestone (see :func:`publish_success`)."""
        return _success("ActionLogger.log_success", self.identity, success_name, success_details,
                        duration_ms)

    async def log_raw_action(
        self,
        action_type: str,
        action_name: str,
        action_details: Mapping[str, Any] | None = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log an action of any of the four types (see :func:`publish_action_event`)."""
        return await publish_action_event(
            self.agent_name, action_type, action_name, action_details, self.correlation_id,
            duration_ms, self.debug_mode, self.project_path, self.project_name,
            self.working_directory,
        )


def _or_default(value: Any, default: str | None) -> Any:
    """``value``, or ``default`` when it is ``None`` or empty (like the legacy ``value or x``)."""
    return default if value is None or (isinstance(value, str) and not value) else value


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None
