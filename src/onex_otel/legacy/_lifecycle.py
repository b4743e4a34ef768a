"""The legacy execution lifecycle APIs, on top of execution spans.

- ``AgentExecutionPublisher`` (seeds 000 and 003): ``publish_execution_started`` opens an
  execution (the core's ``agent_execution``) kept open in the registry under its correlation id;
  ``publish_execution_progress`` reports progress on it; ``publish_execution_completed`` /
  ``publish_execution_failed`` end it. A progress or end without a started opens the execution
  itself, so the events are those of a whole execution.
- ``log_agent_execution`` / ``AgentExecutionLogger`` (seed 002): ``start``, ``progress``,
  ``complete(status=...)`` on one execution.

The seed 000 "dual layer" (an agent_action decision at start, success or error at the end) is
produced by the exporter from the execution span itself, as for the new API; the legacy calls do
not log those actions a second time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from onex_otel._internal import internal_error
from onex_otel.conventions import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    EventType,
    ExecutionStatus,
)
from onex_otel.ids import correlation_uuid
from onex_otel.legacy import _registry
from onex_otel.legacy._support import (
    check_correlation_id,
    check_mapping,
    check_millis,
    check_name,
    check_optional_text,
    check_score,
    ensure_tracer,
    kafka_logging_enabled,
    never_raises,
    reject,
    show,
)

__all__ = [
    "AgentExecutionLogger",
    "AgentExecutionPublisher",
    "AgentExecutionPublisherContext",
    "EnumOperationStatus",
    "log_agent_execution",
    "publish_execution_completed",
    "publish_execution_failed",
    "publish_execution_started",
]

_log = logging.getLogger("onex_otel.legacy")

#: The legacy ``EnumOperationStatus``: ``SUCCESS``, ``FAILED``, ``CANCELLED`` (and
#: ``IN_PROGRESS``, which is not an end status).
EnumOperationStatus = ExecutionStatus

_OWNER_PUBLISHER = "publisher"
_OWNER_LOGGER = "logger"
_STATUS_ALIASES = {"error": ExecutionStatus.FAILED, "failure": ExecutionStatus.FAILED,
                   "canceled": ExecutionStatus.CANCELLED, "completed": ExecutionStatus.SUCCESS}


def _key(correlation_id: str | uuid.UUID | None) -> str:
    return str(correlation_uuid(correlation_id)[0])


def _recorded() -> bool:
    """The legacy return value of a lifecycle call that recorded its span work."""
    return kafka_logging_enabled()


def _open(owner: str, agent_name: str, correlation_id: str | uuid.UUID | None, *,
          user_request: str | None = None, session_id: str | None = None,
          context: Mapping[str, Any] | None = None, project_path: str | None = None,
          project_name: str | None = None) -> _registry.OpenExecution:
    return _registry.open_execution(
        _key(correlation_id), owner, agent_name=agent_name, user_request=user_request,
        correlation_id=correlation_id, session_id=session_id, context=context,
        project_path=project_path, project_name=project_name,
    )


def _progress(opened: _registry.OpenExecution, stage: str, percent: float | None,
              metadata: Mapping[str, Any] | None) -> None:
    """Report progress; a missing percent repeats the last one reported (0 at first)."""
    value = opened.percent if percent is None else percent
    opened.execution.progress(stage, value, metadata)
    opened.percent = float(value)


def _fail(opened: _registry.OpenExecution, error_message: str, error_type: str | None,
          stack_trace: str | None, partial_results: Any) -> None:
    """Mark ``opened`` failed (it ends when closed), with the caller's stack trace if given."""
    opened.execution.fail(error_message, error_type, partial_results)
    if stack_trace:
        span = opened.execution.span
        if span.is_recording():
            span.add_event("exception", {EXCEPTION_TYPE: error_type or "UnknownError",
                                         EXCEPTION_MESSAGE: error_message,
                                         EXCEPTION_STACKTRACE: stack_trace})


# ------------------------------------------------------------------------------------------------
# AgentExecutionPublisher
# ------------------------------------------------------------------------------------------------
class AgentExecutionPublisher:
    """Publishes agent execution lifecycle events, as execution spans (seeds 000 and 003).

    ``bootstrap_servers`` is used when onex-otel configures itself on :meth:`start` (no
    TracerProvider installed yet); ``enable_events=False`` turns the publisher off: every call
    returns ``False`` and records nothing. Publishing before :meth:`start` returns ``False``.
    """

    TOPIC_EXECUTION_STARTED = EventType.EXECUTION_STARTED.value
    TOPIC_EXECUTION_PROGRESS = EventType.EXECUTION_PROGRESS.value
    TOPIC_EXECUTION_COMPLETED = EventType.EXECUTION_COMPLETED.value
    TOPIC_EXECUTION_FAILED = EventType.EXECUTION_FAILED.value

    def __init__(self, bootstrap_servers: str | None = None, enable_events: bool = True) -> None:
        self.bootstrap_servers = bootstrap_servers if isinstance(bootstrap_servers, str) else None
        self.enable_events = enable_events is True
        self._started = False

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has run (and :meth:`stop` not since)."""
        return self._started

    async def start(self) -> None:
        """Get ready to publish (configures onex-otel if nothing is configured); never raises."""
        if self._started or not self.enable_events:
            return
        try:
            ensure_tracer(self.bootstrap_servers)
        except Exception:
            reject("legacy.publisher.start")
        self._started = True

    async def stop(self) -> None:
        """Stop publishing.

        Executions started and not yet ended stay open: their end may still be published, by
        this or another publisher.
        """
        self._started = False

    def _ready(self) -> bool:
        if not (self._started and self.enable_events):
            _log.debug("execution publisher not started or events disabled; event skipped")
            return False
        return ensure_tracer(self.bootstrap_servers) is not None

    @never_raises("publish_execution_started")
    async def publish_execution_started(
        self,
        agent_name: str,
        user_request: str | None,
        correlation_id: str | uuid.UUID | None,
        session_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Start an execution: its span opens now and stays open until its end is published."""
        fn = "publish_execution_started"
        name = check_name(fn, "agent_name", agent_name)
        request = check_optional_text(fn, "user_request", user_request)
        cid = check_correlation_id(fn, correlation_id)
        session = _session(fn, session_id)
        ctx = check_mapping(fn, "context", context)
        if not self._ready():
            return False
        _open(_OWNER_PUBLISHER, name, cid, user_request=request, session_id=session, context=ctx)
        return _recorded()

    @never_raises("publish_execution_progress")
    async def publish_execution_progress(
        self,
        agent_name: str,
        correlation_id: str | uuid.UUID | None,
        progress_percent: float | None = None,
        current_step: str | None = None,
        steps_completed: int | None = None,
        steps_total: int | None = None,
        *,
        stage: str | None = None,
        percent: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Report progress of an execution.

        Two shapes: seed 003's (``progress_percent``, ``current_step``, ``steps_completed``,
        ``steps_total``) and the execution logger's (``stage``, ``percent``, ``metadata``). The
        stage is ``stage`` or ``current_step``; the percent is ``percent``, else
        ``progress_percent``, else ``steps_completed / steps_total``, else the last one reported;
        step counts go into the metadata. With no execution open under the correlation id, one
        is started first.
        """
        fn = "publish_execution_progress"
        name = check_name(fn, "agent_name", agent_name)
        cid = check_correlation_id(fn, correlation_id)
        step = check_name(fn, "stage", stage if stage is not None else current_step)
        meta = check_mapping(fn, "metadata", metadata) or {}
        value = _percent(fn, percent if percent is not None else progress_percent,
                         steps_completed, steps_total)
        for field, count in (("steps_completed", steps_completed), ("steps_total", steps_total)):
            if count is not None:
                meta[field] = count
        if not self._ready():
            return False
        opened = _registry.find(_key(cid), owner=_OWNER_PUBLISHER, agent_name=name)
        if opened is None:
            opened = _open(_OWNER_PUBLISHER, name, cid)
        _progress(opened, step, value, meta)
        return _recorded()

    @never_raises("publish_execution_completed")
    async def publish_execution_completed(
        self,
        agent_name: str,
        correlation_id: str | uuid.UUID | None,
        duration_ms: float | None = None,
        quality_score: float | None = None,
        output_summary: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        *,
        completed_at: Any = None,
        result_summary: str | None = None,
        artifacts: Any = None,
    ) -> bool:
        """End an execution successfully.

        The execution's duration is its span's (start to this call); ``duration_ms`` (and seed
        003's planned ``completed_at``) are checked or accepted and otherwise unused. Seed 003's
        planned ``result_summary`` is the output summary and ``artifacts`` go into the metrics.
        Without a started execution, one is started and ended now.
        """
        fn = "publish_execution_completed"
        name = check_name(fn, "agent_name", agent_name)
        cid = check_correlation_id(fn, correlation_id)
        check_millis(fn, "duration_ms", duration_ms)
        score = check_score(fn, "quality_score", quality_score)
        summary = check_optional_text(
            fn, "output_summary", output_summary if output_summary is not None else result_summary)
        if artifacts is not None:
            metrics = {**(check_mapping(fn, "metrics", metrics) or {}), "artifacts": artifacts}
        if not self._ready():
            return False
        opened = _registry.take(_key(cid), owner=_OWNER_PUBLISHER, agent_name=name) or \
            _open(_OWNER_PUBLISHER, name, cid)
        try:
            opened.execution.complete(score, summary, metrics)
        finally:
            opened.close()
        return _recorded()

    @never_raises("publish_execution_failed")
    async def publish_execution_failed(
        self,
        agent_name: str,
        correlation_id: str | uuid.UUID | None,
        error_message: str,
        error_type: str | None = None,
        error_stack_trace: str | None = None,
        partial_results: Any = None,
        *,
        failed_at: Any = None,
        error_code: str | None = None,
        stack_trace: str | None = None,
    ) -> bool:
        """End an execution as failed (status ``failed``, span status ERROR).

        ``error_stack_trace`` becomes the span's ``exception`` event. Seed 003's planned
        ``error_code`` and ``stack_trace`` stand for ``error_type`` and ``error_stack_trace``;
        ``failed_at`` is accepted and unused (the span ends now). Without a started execution,
        one is started and ended now.
        """
        fn = "publish_execution_failed"
        name = check_name(fn, "agent_name", agent_name)
        cid = check_correlation_id(fn, correlation_id)
        message = check_optional_text(fn, "error_message", error_message) or ""
        kind = check_optional_text(fn, "error_type",
                                   error_type if error_type is not None else error_code)
        stack = check_optional_text(
            fn, "error_stack_trace",
            error_stack_trace if error_stack_trace is not None else stack_trace)
        if not self._ready():
            return False
        opened = _registry.take(_key(cid), owner=_OWNER_PUBLISHER, agent_name=name) or \
            _open(_OWNER_PUBLISHER, name, cid)
        try:
            _fail(opened, message, kind, stack, partial_results)
        finally:
            opened.close()
        return _recorded()


def _session(fn: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    raise ValueError(f"{fn}: session_id must be a string or UUID, got {type(value).__name__}")


def _percent(fn: str, percent: object, done: object, total: object) -> float | None:
    for field, count in (("steps_completed", done), ("steps_total", total)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            raise ValueError(f"{fn}: {field} must be a non-negative integer, got {show(count)}")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            raise ValueError(
                f"{fn}: percent must be a number between 0 and 100, got {show(percent)}")
        return float(percent)
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        return min(100.0, 100.0 * done / total)
    return None


class AgentExecutionPublisherContext:
    """``async with AgentExecutionPublisherContext() as publisher``: start, then stop."""

    def __init__(self, bootstrap_servers: str | None = None, enable_events: bool = True) -> None:
        self.publisher = AgentExecutionPublisher(bootstrap_servers, enable_events)

    async def __aenter__(self) -> AgentExecutionPublisher:
        await self.publisher.start()
        return self.publisher

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        await self.publisher.stop()
        return False


async def publish_execution_started(
    agent_name: str,
    user_request: str | None,
    correlation_id: str | uuid.UUID | None,
    session_id: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> bool:
    """One-off :meth:`AgentExecutionPublisher.publish_execution_started` (never raises)."""
    async with AgentExecutionPublisherContext() as publisher:
        return await publisher.publish_execution_started(
            agent_name, user_request, correlation_id, session_id, context)


async def publish_execution_completed(
    agent_name: str,
    correlation_id: str | uuid.UUID | None,
    duration_ms: float | None = None,
    quality_score: float | None = None,
    output_summary: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> bool:
    """One-off :meth:`AgentExecutionPublisher.publish_execution_completed` (never raises)."""
    async with AgentExecutionPublisherContext() as publisher:
        return await publisher.publish_execution_completed(
            agent_name, correlation_id, duration_ms, quality_score, output_summary, metrics)


async def publish_execution_failed(
    agent_name: str,
    correlation_id: str | uuid.UUID | None,
    error_message: str,
    error_type: str | None = None,
    error_stack_trace: str | None = None,
    partial_results: Any = None,
) -> bool:
    """One-off :meth:`AgentExecutionPublisher.publish_execution_failed` (never raises)."""
    async with AgentExecutionPublisherContext() as publisher:
        return await publisher.publish_execution_failed(
            agent_name, correlation_id, error_message, error_type, error_stack_trace,
            partial_results)


# ------------------------------------------------------------------------------------------------
# AgentExecutionLogger (seed 002)
# ------------------------------------------------------------------------------------------------
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
        self.correlation_id: Any = str(correlation_id) if isinstance(correlation_id, uuid.UUID) \
            else correlation_id
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
        session = _session(fn, self.session_id)
        meta = check_mapping(fn, "metadata", self.metadata)
        path = check_optional_text(fn, "project_path", self.project_path)
        project = check_optional_text(fn, "project_name", self.project_name)
        if ensure_tracer() is None:
            return
        opened = _open(_OWNER_LOGGER, name, cid, user_request=prompt, session_id=session,
                       context=meta, project_path=path, project_name=project)
        self._opened = opened
        self.execution_id = opened.execution.execution_id
        if self.correlation_id is None:
            self.correlation_id = opened.execution.correlation_id

    @never_raises("AgentExecutionLogger.progress")
    async def progress(self, stage: str, percent: float | None = None,
                       metadata: Mapping[str, Any] | None = None) -> bool:
        """Report progress (``percent`` 0..100; omitted: the last one reported)."""
        fn = "AgentExecutionLogger.progress"
        name = check_name(fn, "stage", stage)
        value = _percent(fn, percent, None, None)
        meta = check_mapping(fn, "metadata", metadata)
        opened = self._opened
        if opened is None or opened.closed:
            _log.debug("execution progress reported before start() or after complete()")
            return False
        _progress(opened, name, value, meta)
        return _recorded()

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
        _registry.take(opened.key, owner=_OWNER_LOGGER, agent_name=opened.execution.agent_name)
        try:
            if end is ExecutionStatus.SUCCESS:
                opened.execution.complete(score, None, meta)
            elif end is ExecutionStatus.FAILED:
                _fail(opened, message or "", kind, None, meta)
                if score is not None:
                    opened.execution.complete(score)
        finally:
            if end is ExecutionStatus.CANCELLED:
                opened.close(asyncio.CancelledError(message) if message else
                             asyncio.CancelledError())
            else:
                opened.close()
        return _recorded()


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
    logger = AgentExecutionLogger(agent_name, user_prompt, correlation_id, session_id,
                                  project_path=project_path, project_name=project_name,
                                  claude_session_id=claude_session_id, terminal_id=terminal_id)
    await logger.start()
    return logger
