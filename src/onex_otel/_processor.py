"""The span processor that puts the execution's attributes on every span started inside it.

Spans made by other instrumentations (psycopg, HTTP clients, ...) inside an execution carry the
correlation id, session id, agent name, execution id and started-event id too, so any span found in
a trace viewer can be searched by them. The values come from the execution in the span's parent
context, so they never outlive the execution.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from onex_otel import _context
from onex_otel._context import current_execution
from onex_otel._frameworks import FrameworkRuns
from onex_otel._internal import internal_error
from onex_otel.conventions import ONEX_EXECUTION_ID

_stamp_follows = _context.stamp_follows.get

__all__ = ["ExecutionAttributesProcessor"]


class ExecutionAttributesProcessor(SpanProcessor):
    """Stamps the active execution's attributes onto each span at start.

    Framework runs (pydantic-ai, LangChain, OpenAI Agents SDK... traced by their
    instrumentations) are followed by :class:`~onex_otel._frameworks.FrameworkRuns`: a framework
    agent inside an onex execution is a nested execution with its own identity, and its spans
    carry that identity rather than the outer execution's.
    """

    def __init__(self) -> None:
        """A processor with its framework-run tracker."""
        self.runs = FrameworkRuns()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Copy the execution attributes onto ``span`` (unless it carries them or they follow)."""
        if _context.open_executions:  # else no execution open anywhere: nothing to stamp
            try:
                execution = current_execution(parent_context)
                if execution is not None and not _stamp_follows():
                    attributes = span.attributes
                    if attributes is None or ONEX_EXECUTION_ID not in attributes:
                        span.set_attributes(execution.stamp)
            except Exception:
                internal_error("processor.on_start")
        runs = self.runs
        try:
            last = runs.last
            if not runs.nodes and span._instrumentation_scope is last[0] and not last[1]:
                return  # the common case: no framework run open, a span of a known tracer
            if runs.wants(span):
                runs.on_start(span, parent_context)
        except Exception:
            internal_error("processor.frameworks.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        """Decide what a finished framework span is (see :class:`FrameworkRuns`)."""
        if self.runs.nodes:
            try:
                self.runs.on_end(span)
            except Exception:
                internal_error("processor.frameworks.on_end")

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing buffered."""
        return True
