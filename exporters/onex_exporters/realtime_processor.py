"""The lifecycle span processor: execution events published in real time.

(Formerly ``onex_exporters.lifecycle``, still importable under that name.)

A ``BatchSpanProcessor`` exports a span seconds after it ends, and never while it runs. The
legacy stack published ``started`` when an execution started and ``progress`` when it was
reported, so :class:`OnexLifecycleProcessor` publishes, through its exporter:

- on the start of an execution span: execution started + agent_action decision
  ``agent_execution_started`` (a framework agent recognized only later, at its first model or
  tool call, when :func:`onex_otel.execution_listeners.notify_started` says so; at its end at the latest);
- on each :func:`onex_otel.execution_listeners.notify_progress`: execution progress;
- on the end of the span: execution completed (+ success ``agent_execution_completed``) or
  failed (+ error ``agent_execution_failed``).

The exporter then leaves these events out at export time and maps everything else.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from onex_exporters.mapping import (
    EventRecord,
    ended_records,
    is_execution_span,
    progress_records,
    started_records,
)
from onex_otel import execution_listeners
from onex_otel.conventions import DROP_UNSERIALIZABLE

if TYPE_CHECKING:
    from onex_exporters.kafka import OnexKafkaSpanExporter

__all__ = ["OnexLifecycleProcessor"]

_log = logging.getLogger(__name__)
_MAX_OPEN = 100_000


class OnexLifecycleProcessor(SpanProcessor):
    """Publishes execution started/progress/completed/failed events as they happen."""

    #: on_start looks for executions only, and an action's span is none with or without its
    #: attributes: onex-otel may start action spans bare (see onex_otel._span_start)
    onex_action_attributes_unread = True

    def __init__(self, exporter: OnexKafkaSpanExporter) -> None:
        """Publish through ``exporter`` (which is told to skip these events at export time)."""
        self.exporter = exporter
        exporter.bind_lifecycle()
        self._open: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()
        execution_listeners.add_listener(self)

    def _publish(self, make: Any, *args: Any) -> None:
        try:
            records: list[EventRecord] = make(*args, self.exporter.options)
        except Exception as exc:  # a value no event can hold: counted, never raised
            self.exporter._drop(DROP_UNSERIALIZABLE)
            _log.debug("onex-otel lifecycle event not mapped: %s", exc)
            return
        self.exporter.publish(records, sync=False)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Publish started (+ decision action) for an execution span."""
        try:
            if not is_execution_span(span):
                return
            with self._lock:
                self._open[span.context.span_id] = None
                while len(self._open) > _MAX_OPEN:
                    self._open.popitem(last=False)
            self._publish(started_records, span)
        except Exception:
            self.exporter._warn.warning("lifecycle", "onex-otel lifecycle on_start failed", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        """Publish completed or failed (+ action); started too if it was not seen at start."""
        try:
            if not is_execution_span(span):
                return
            with self._lock:
                seen = self._open.pop(span.context.span_id, 0) is None  # type: ignore[union-attr]
            if not seen:  # e.g. gen_ai.operation.name set after start by another library
                self._publish(started_records, span)
            self._publish(ended_records, span)
        except Exception:
            self.exporter._warn.warning("lifecycle", "onex-otel lifecycle on_end failed", exc_info=True)

    def on_started(self, span: Any) -> None:
        """Publish started for a running span recognized as an execution after its start."""
        try:
            if not is_execution_span(span):
                return
            with self._lock:
                if span.context.span_id in self._open:
                    return
                self._open[span.context.span_id] = None
                while len(self._open) > _MAX_OPEN:
                    self._open.popitem(last=False)
            self._publish(started_records, span)
        except Exception:
            self.exporter._warn.warning("lifecycle", "onex-otel lifecycle on_started failed", exc_info=True)

    def on_progress(self, report: execution_listeners.ProgressReport) -> None:
        """Publish a progress event (called by :func:`onex_otel.execution_listeners.notify_progress`)."""
        span = report.span
        if not is_execution_span(span):
            return
        try:
            records = progress_records(
                span, report.stage, report.percent, report.metadata, report.timestamp, self.exporter.options
            )
        except Exception as exc:
            self.exporter._drop(DROP_UNSERIALIZABLE)
            _log.debug("onex-otel progress event not mapped: %s", exc)
            return
        self.exporter.publish(records, sync=False)

    def shutdown(self) -> None:
        """Stop listening for progress reports."""
        execution_listeners.remove_listener(self)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver the exporter's pending events within ``timeout_millis``."""
        return self.exporter.force_flush(timeout_millis)
