"""The legacy ``AgentExecutionLogger`` / ``log_agent_execution`` (seed 002), on execution spans.

``start``, ``progress``, ``complete(status=...)`` on one execution kept open in the registry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from onex_otel._internal import internal_error
from onex_otel.conventions import (
    ExecutionStatus,
)
from onex_otel.legacy import _registry
from onex_otel.legacy._execution_steps import (
    OWNER_LOGGER,
    check_percent,
    check_session,
    mark_failed,
    open_execution,
    recorded,
    report_progress,
)
from onex_otel.legacy._support import (
    check_correlation_id,
    check_mapping,
    check_name,
    check_optional_text,
    check_score,
    ensure_tracer,
    never_raises,
    reject,
    show,
)

__all__ = ["AgentExecutionLogger", "log_agent_execution"]

_log = logging.getLogger("onex_otel.legacy")
_STATUS_ALIASES = {
    "error": ExecutionStatus.FAILED,
    "failure": ExecutionStatus.FAILED,
    "canceled": ExecutionStatus.CANCELLED,
    "completed": ExecutionStatus.SUCCESS,
}


class AgentExecutionLogger:
    """One agent execution: :meth:`start`, :meth:`progress`, :meth:`complete` (seed 002).

    ``metadata`` becomes the execution's context; ``claude_session_id`` and ``terminal_id`` are
    accepted for compatibility and not recorded. Every call returns ``True``/``False`` (``start``:
    the execution id) and never raises.
    """

    def __init__(
        self,
        agent_name: str,
        user_prompt: str | None = None,
        correlation_id: str | uuid.UUID | None = None,
        session_id: str | uuid.UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
        project_path: str | None = None,
        project_name: str | None = None,
        claude_session_id: str | None = None,
        terminal_id: str | None = None,
    ) -> None:
        self.agent_name = agent_name
        self.user_prompt = user_prompt
        self.correlation_id: Any = (
            str(correlation_id) if isinstance(correlation_id, uuid.UUID) else correlation_id
        )
        self.session_id: Any = session_id
        self.metadata = metadata
        self.project_path = project_path
        self.project_name = project_name
        self.claude_session_id = claude_session_id
        self.terminal_id = terminal_id
        self.execution_id: str | None = None
        self._opened: _registry.OpenExecution | None = None

    async def start(self) -> str:
        """Start the execution; returns its execution id (a fresh one if nothing was recorded)."""
        if self._opened is None and self.execution_id is None:
            try:
                self._start()
            except ValueError:
                reject("legacy.AgentExecutionLogger.start.invalid")
            except Exception:
                internal_error("legacy.AgentExecutionLogger.start")
        if self.execution_id is None:
            self.execution_id = str(uuid.uuid4())
        return self.execution_id

    def _start(self) -> None:
        fn = "AgentExecutionLogger.start"
        name = check_name(fn, "agent_name", self.agent_name)
        prompt = check_optional_text(fn, "user_prompt", self.user_prompt)
        cid = check_correlation_id(fn, self.correlation_id)
        session = check_session(fn, self.session_id)
        meta = check_mapping(fn, "metadata", self.metadata)
        path = check_optional_text(fn, "project_path", self.project_path)
        project = check_optional_text(fn, "project_name", self.project_name)
        if ensure_tracer() is None:
            return
        opened = open_execution(
            OWNER_LOGGER,
            name,
            cid,
            user_request=prompt,
            session_id=session,
            context=meta,
            project_path=path,
            project_name=project,
        )
        self._opened = opened
        self.execution_id = opened.execution.execution_id
        if self.correlation_id is None:
            self.correlation_id = opened.execution.correlation_id

    @never_raises("AgentExecutionLogger.progress")
    async def progress(
        self, stage: str, percent: float | None = None, metadata: Mapping[str, Any] | None = None
    ) -> bool:
        """Report progress (``percent`` 0..100; omitted: the last one reported)."""
        fn = "AgentExecutionLogger.progress"
        name = check_name(fn, "stage", stage)
        value = check_percent(fn, percent, None, None)
        meta = check_mapping(fn, "metadata", metadata)
        opened = self._opened
        if opened is None or opened.closed:
            _log.debug("execution progress reported before start() or after complete()")
            return False
        report_progress(opened, name, value, meta)
        return recorded()

    @never_raises("AgentExecutionLogger.complete")
    async def complete(
        self,
        status: ExecutionStatus | str = ExecutionStatus.SUCCESS,
        quality_score: float | None = None,
        error_message: str | None = None,
        error_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """End the execution with ``status`` SUCCESS, FAILED or CANCELLED.

        SUCCESS: ``metadata`` becomes the execution's metrics. FAILED: the error message and type
        are recorded and ``metadata`` becomes the partial results. CANCELLED: the execution ends
        as a cancelled one does in the new API (an ``asyncio.CancelledError``).
        """
        fn = "AgentExecutionLogger.complete"
        end = _status(fn, status)
        score = check_score(fn, "quality_score", quality_score)
        message = check_optional_text(fn, "error_message", error_message)
        kind = check_optional_text(fn, "error_type", error_type)
        meta = check_mapping(fn, "metadata", metadata)
        opened = self._opened
        if opened is None or opened.closed:
            _log.debug("execution completed before start() or twice")
            return False
        self._opened = None
        _registry.take(opened.key, owner=OWNER_LOGGER, agent_name=opened.execution.agent_name)
        try:
            if end is ExecutionStatus.SUCCESS:
                opened.execution.complete(score, None, meta)
            elif end is ExecutionStatus.FAILED:
                mark_failed(opened, message or "", kind, None, meta)
                if score is not None:
                    opened.execution.complete(score)
        finally:
            if end is ExecutionStatus.CANCELLED:
                opened.close(asyncio.CancelledError(message) if message else asyncio.CancelledError())
            else:
                opened.close()
        return recorded()


def _status(fn: str, status: object) -> ExecutionStatus:
    text = status.value if isinstance(status, ExecutionStatus) else status
    if isinstance(text, str):
        value = text.strip().lower()
        found = _STATUS_ALIASES.get(value)
        if found is None and value in (s.value for s in ExecutionStatus):
            found = ExecutionStatus(value)
        if found is not None and found is not ExecutionStatus.IN_PROGRESS:
            return found
    raise ValueError(f"{fn}: status must be SUCCESS, FAILED or CANCELLED, got {show(status)}")


async def log_agent_execution(
    agent_name: str,
    user_prompt: str | None = None,
    correlation_id: str | uuid.UUID | None = None,
    session_id: str | uuid.UUID | None = None,
    project_path: str | None = None,
    project_name: str | None = None,
    claude_session_id: str | None = None,
    terminal_id: str | None = None,
) -> AgentExecutionLogger:
    """Create an :class:`AgentExecutionLogger` and start it (never raises)."""
    logger = AgentExecutionLogger(
        agent_name,
        user_prompt,
        correlation_id,
        session_id,
        project_path=project_path,
        project_name=project_name,
        claude_session_id=claude_session_id,
        terminal_id=terminal_id,
    )
    await logger.start()
    return logger
