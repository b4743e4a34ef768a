"""Closing a context gap: OpenInference's LangChain tracer does not make its spans current.

OpenInference's LangChain tracer starts a span per LangChain run but never attaches it (its
callbacks cannot guarantee a detach). A span started inside a tool's body (a
``@traced_tool_call`` function, a database or HTTP client span) then does not see the tool's span
as its parent: it starts a new trace, and its correlation id is lost.

:func:`ensure_installed` registers, through ``langchain_core``'s public configure hook, one
callback handler on every LangChain callback manager. While a tool runs it makes the tool's
OpenInference span current (``on_tool_start`` attaches a span that resolves to it when asked,
``on_tool_end`` / ``on_tool_error`` detach it, in the same context: LangChain calls both from the
caller's context around the tool's body, sync or async), so spans started inside the tool join
the run's trace. The span processor calls it the
first time it sees a span of that tracer; nothing happens when ``langchain_core`` or the
OpenInference instrumentation is not installed.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api

from onex_otel._internal import internal_error

__all__ = ["ensure_installed", "is_tool_run_span"]

_lock = threading.Lock()
_installed = False


def ensure_installed() -> None:
    """Register the handler once per process (a no-op without ``langchain_core``)."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        _installed = True
        try:
            _install()
        except ImportError:
            return
        except Exception:
            internal_error("langchain_context.install")


def _install() -> None:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers.context import register_configure_hook

    class ToolSpanCurrent(BaseCallbackHandler):
        """Makes OpenInference's span of a running tool the current span."""

        run_inline = True  # called in the caller's context, also by the async manager
        raise_error = False

        def __init__(self) -> None:
            self._tokens: dict[UUID, object] = {}

        def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, **kwargs: Any) -> None:
            if not _openinference_active():
                return
            span = _RunSpan(run_id, _trace_api.get_current_span())
            self._tokens[run_id] = _context_api.attach(_trace_api.set_span_in_context(span))

        def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self._exit(run_id)

        def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            self._exit(run_id)

        def _exit(self, run_id: UUID) -> None:
            token = self._tokens.pop(run_id, None)
            if token is not None:
                _context_api.detach(token)  # type: ignore[arg-type]

    handler_var: ContextVar[Any] = ContextVar("onex_otel_langchain_tool_span", default=ToolSpanCurrent())  # noqa: B039 - every context
    register_configure_hook(handler_var, True)


class _RunSpan(_trace_api.NonRecordingSpan):
    """The current span while a tool runs: OpenInference's span of the run, looked up late.

    LangChain's async callback manager calls inline handlers (this one) before the others (the
    OpenInference tracer runs in an executor afterwards), so the run's span may not exist yet
    when the tool starts; it does when a span is started inside the tool's body, which is when
    the SDK asks for the parent's span context.
    """

    def __init__(self, run_id: UUID, previous: _trace_api.Span) -> None:
        super().__init__(_trace_api.INVALID_SPAN_CONTEXT)
        self._run_id = run_id
        self._previous = previous  # the span current before: the parent if no run span exists

    def get_span_context(self) -> _trace_api.SpanContext:
        span = _openinference_span(self._run_id)
        if span is None:
            return self._previous.get_span_context()
        context: _trace_api.SpanContext = span.get_span_context()
        return context


def is_tool_run_span(span: Any) -> bool:
    """Whether ``span`` is the current span of a running LangChain tool (see :class:`_RunSpan`)."""
    return isinstance(span, _RunSpan)


def _openinference_active() -> bool:
    try:
        from openinference.instrumentation.langchain import LangChainInstrumentor
    except ImportError:
        return False
    instrumentor = LangChainInstrumentor()
    return bool(
        instrumentor.is_instrumented_by_opentelemetry and getattr(instrumentor, "_tracer", None) is not None
    )


def _openinference_span(run_id: UUID) -> Any:
    try:
        from openinference.instrumentation.langchain import LangChainInstrumentor
    except ImportError:
        return None
    instrumentor = LangChainInstrumentor()  # a singleton
    tracer = getattr(instrumentor, "_tracer", None)
    if tracer is None:
        return None
    span = instrumentor.get_span(run_id)
    return span if span is not None and span.is_recording() else None
