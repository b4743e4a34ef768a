"""The steps both legacy execution APIs take on an execution kept open in the registry.

``AgentExecutionPublisher`` (seeds 000 and 003) and ``AgentExecutionLogger`` (seed 002) open an
execution (the core's :class:`~onex_otel._execution.Execution`) under its correlation id, report
progress on it and mark it failed the same way; their shared argument checks live here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from onex_otel.conventions import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    ExecutionStatus,
)
from onex_otel.ids import correlation_uuid
from onex_otel.legacy import _registry
from onex_otel.legacy._support import (
    kafka_logging_enabled,
    show,
)

__all__ = [
    "OWNER_LOGGER",
    "OWNER_PUBLISHER",
    "EnumOperationStatus",
    "check_percent",
    "check_session",
    "mark_failed",
    "open_execution",
    "recorded",
    "registry_key",
    "report_progress",
]

#: The legacy ``EnumOperationStatus``: ``SUCCESS``, ``FAILED``, ``CANCELLED`` (and
#: ``IN_PROGRESS``, which is not an end status).
EnumOperationStatus = ExecutionStatus

OWNER_PUBLISHER = "publisher"
OWNER_LOGGER = "logger"


def registry_key(correlation_id: str | uuid.UUID | None) -> str:
    """The registry key of an execution: its correlation id as the core reads it."""
    return str(correlation_uuid(correlation_id)[0])


def recorded() -> bool:
    """The legacy return value of a lifecycle call that recorded its span work."""
    return kafka_logging_enabled()


def open_execution(
    owner: str,
    agent_name: str,
    correlation_id: str | uuid.UUID | None,
    *,
    user_request: str | None = None,
    session_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    project_path: str | None = None,
    project_name: str | None = None,
) -> _registry.OpenExecution:
    """Open an execution in the registry under its correlation id, owned by ``owner``."""
    return _registry.open_execution(
        registry_key(correlation_id),
        owner,
        agent_name=agent_name,
        user_request=user_request,
        correlation_id=correlation_id,
        session_id=session_id,
        context=context,
        project_path=project_path,
        project_name=project_name,
    )


def report_progress(
    opened: _registry.OpenExecution, stage: str, percent: float | None, metadata: Mapping[str, Any] | None
) -> None:
    """Report progress; a missing percent repeats the last one reported (0 at first)."""
    value = opened.percent if percent is None else percent
    opened.execution.progress(stage, value, metadata)
    opened.percent = float(value)


def mark_failed(
    opened: _registry.OpenExecution,
    error_message: str,
    error_type: str | None,
    stack_trace: str | None,
    partial_results: Any,
) -> None:
    """Mark ``opened`` failed (it ends when closed), with the caller's stack trace if given."""
    opened.execution.fail(error_message, error_type, partial_results)
    if stack_trace:
        span = opened.execution.span
        if span.is_recording():
            span.add_event(
                "exception",
                {
                    EXCEPTION_TYPE: error_type or "UnknownError",
                    EXCEPTION_MESSAGE: error_message,
                    EXCEPTION_STACKTRACE: stack_trace,
                },
            )


def check_session(fn: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    raise ValueError(f"{fn}: session_id must be a string or UUID, got {type(value).__name__}")


def check_percent(fn: str, percent: object, done: object, total: object) -> float | None:
    for field, count in (("steps_completed", done), ("steps_total", total)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ValueError(f"{fn}: {field} must be a non-negative integer, got {show(count)}")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            raise ValueError(f"{fn}: percent must be a number between 0 and 100, got {show(percent)}")
        return float(percent)
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return min(100.0, 100.0 * done / total)
    return None
