"""The legacy ``AgentExecutionPublisher`` (seeds 000 and 003), on top of execution spans.

``publish_execution_started`` opens an execution (the core's ``agent_execution``) kept open in the
registry under its correlation id; ``publish_execution_progress`` reports progress on it;
``publish_execution_completed`` / ``publish_execution_failed`` end it. A progress or end without a
started opens the execution itself, so the events are those of a whole execution.

The seed 000 "dual layer" (an agent_action decision at start, success or error at the end) is
produced by the exporter from the execution span itself, as for the new API; the legacy calls do
not log those actions a second time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from onex_otel.conventions import (
    EventType,
)
from onex_otel.legacy import _registry
from onex_otel.legacy._execution_steps import (
    OWNER_PUBLISHER,
    check_percent,
    check_session,
    mark_failed,
    open_execution,
    recorded,
    registry_key,
    report_progress,
)
from onex_otel.legacy._support import (
    check_correlation_id,
    check_mapping,
    check_millis,
    check_name,
    check_optional_text,
    check_score,
    ensure_tracer,
    never_raises,
    reject,
)

__all__ = [
    "AgentExecutionPublisher",
    "AgentExecutionPublisherContext",
    "publish_execution_completed",
    "publish_execution_failed",
    "publish_execution_started",
]

_log = logging.getLogger("onex_otel.legacy")


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
        session = check_session(fn, session_id)
        ctx = check_mapping(fn, "context", context)
        if not self._ready():
            return False
        open_execution(OWNER_PUBLISHER, name, cid, user_request=request, session_id=session, context=ctx)
        return recorded()

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
        value = check_percent(
            fn, percent if percent is not None else progress_percent, steps_completed, steps_total
        )
        for field, count in (("steps_completed", steps_completed), ("steps_total", steps_total)):
            if count is not None:
                meta[field] = count
        if not self._ready():
            return False
        opened = _registry.find(registry_key(cid), owner=OWNER_PUBLISHER, agent_name=name)
        if opened is None:
            opened = open_execution(OWNER_PUBLISHER, name, cid)
        report_progress(opened, step, value, meta)
        return recorded()

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
            fn, "output_summary", output_summary if output_summary is not None else result_summary
        )
        if artifacts is not None:
            metrics = {**(check_mapping(fn, "metrics", metrics) or {}), "artifacts": artifacts}
        if not self._ready():
            return False
        opened = _registry.take(registry_key(cid), owner=OWNER_PUBLISHER, agent_name=name) or open_execution(
            OWNER_PUBLISHER, name, cid
        )
        try:
            opened.execution.complete(score, summary, metrics)
        finally:
            opened.close()
        return recorded()

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
        kind = check_optional_text(fn, "error_type", error_type if error_type is not None else error_code)
        stack = check_optional_text(
            fn, "error_stack_trace", error_stack_trace if error_stack_trace is not None else stack_trace
        )
        if not self._ready():
            return False
        opened = _registry.take(registry_key(cid), owner=OWNER_PUBLISHER, agent_name=name) or open_execution(
            OWNER_PUBLISHER, name, cid
        )
        try:
            mark_failed(opened, message, kind, stack, partial_results)
        finally:
            opened.close()
        return recorded()


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
            agent_name, user_request, correlation_id, session_id, context
        )


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
            agent_name, correlation_id, duration_ms, quality_score, output_summary, metrics
        )


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
            agent_name, correlation_id, error_message, error_type, error_stack_trace, partial_results
        )
