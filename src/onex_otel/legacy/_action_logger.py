"""The legacy ``ActionLogger`` (seed 001) and its ``tool_call`` block, on top of spans.

The block is a tool call of the core's invocation model
(:class:`~onex_otel._invocation.ActionInvocation`); the ``log_*`` methods record through
:mod:`onex_otel.legacy._action_recording`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Literal

from onex_otel import _context
from onex_otel._action_spec import ActionSpec
from onex_otel._internal import internal_error
from onex_otel._invocation import ActionInvocation
from onex_otel.conventions import (
    ActionType,
)
from onex_otel.legacy._action_publishers import publish_action_event
from onex_otel.legacy._action_recording import (
    decision_action,
    error_action,
    identity_of,
    success_action,
    tool_action,
)
from onex_otel.legacy._support import (
    Identity,
    ProxyTracer,
    check_mapping,
    check_name,
    ensure_tracer,
    never_raises,
    reject,
    scope,
)

__all__ = ["ActionLogger", "ToolCallContext"]


class ToolCallContext:
    """A tool call as a ``with`` / ``async with`` block; call :meth:`set_result` inside it.

    The block is an ``execute_tool {tool}`` span, current while the block runs (spans started in
    it are its children). An exception leaving the block marks the span failed and passes through
    unchanged.
    """

    __slots__ = (
        "_inv",
        "_scope",
        "action_logger",
        "error_message",
        "success",
        "tool_name",
        "tool_parameters",
        "tool_result",
    )

    def __init__(
        self, action_logger: ActionLogger, tool_name: str, tool_parameters: Mapping[str, Any] | None = None
    ) -> None:
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
            proxy = ProxyTracer(
                tracer,
                attributes=identity.attributes if standalone else None,
                trace_id=identity.trace_id if standalone else 0,
            )
            self._inv = ActionInvocation.start(
                proxy,
                ActionSpec(name, action_type=ActionType.TOOL_CALL),
                params,
                has_arguments=params is not None,
            )
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
        fields = (
            self.agent_name,
            self.correlation_id,
            self.project_path,
            self.project_name,
            self.working_directory,
            self.debug_mode,
        )
        cached = self._identity
        if cached is None or any(a is not b for a, b in zip(cached[0], fields, strict=True)):
            identity = identity_of("ActionLogger", *fields)
            self._identity = cached = (fields, identity)
        return cached[1]

    def tool_call(self, tool_name: str, tool_parameters: Mapping[str, Any] | None = None) -> ToolCallContext:
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
        return tool_action(
            "ActionLogger.log_tool_call",
            self.identity,
            tool_name,
            tool_parameters,
            tool_result,
            duration_ms,
            success,
            error_message,
        )

    @never_raises("ActionLogger.log_decision")
    async def log_decision(
        self,
        decision_name: str,
        decision_context: Any = None,
        decision_result: Any = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log a decision (see :func:`publish_decision`)."""
        return decision_action(
            "ActionLogger.log_decision",
            self.identity,
            decision_name,
            decision_context,
            decision_result,
            duration_ms,
        )

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
        return error_action(
            "ActionLogger.log_error", self.identity, error_type, error_message, error_context, severity
        )

    @never_raises("ActionLogger.log_success")
    async def log_success(
        self,
        success_name: str,
        success_details: Any = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log a success milestone (see :func:`publish_success`)."""
        return success_action(
            "ActionLogger.log_success", self.identity, success_name, success_details, duration_ms
        )

    async def log_raw_action(
        self,
        action_type: str,
        action_name: str,
        action_details: Mapping[str, Any] | None = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Log an action of any of the four types (see :func:`publish_action_event`)."""
        return await publish_action_event(
            self.agent_name,
            action_type,
            action_name,
            action_details,
            self.correlation_id,
            duration_ms,
            self.debug_mode,
            self.project_path,
            self.project_name,
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
