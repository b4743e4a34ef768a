"""Agent executions: the ``invoke_agent {agent}`` root span whose trace id is the correlation id."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.trace import SpanKind, Status, StatusCode

from onex_otel import _context, _payload
from onex_otel._internal import internal_error
from onex_otel._invocation import Invocation, error_type_name, record_failure, safe_str
from onex_otel._metrics import instruments
from onex_otel.conventions import (
    ATTR_METADATA,
    ATTR_PERCENT,
    ATTR_STAGE,
    CANCELLED_DESCRIPTION,
    ERROR_TYPE,
    EVENT_PROGRESS,
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    ONEX_AGENT_NAME,
    ONEX_CONTEXT,
    ONEX_CORRELATION_ID,
    ONEX_CORRELATION_ID_ORIGINAL,
    ONEX_ERROR_MESSAGE,
    ONEX_ERROR_TYPE,
    ONEX_EXECUTION_ID,
    ONEX_EXECUTION_STATUS,
    ONEX_METRICS,
    ONEX_OUTPUT_SUMMARY,
    ONEX_PARTIAL_RESULTS,
    ONEX_PROJECT_NAME,
    ONEX_PROJECT_PATH,
    ONEX_QUALITY_SCORE,
    ONEX_SESSION_ID,
    ONEX_STARTED_EVENT_ID,
    ONEX_USER_REQUEST,
    ONEX_WORKING_DIRECTORY,
    OP_INVOKE_AGENT,
    ORIGINAL_SIZE_SUFFIX,
    ActionType,
    ExecutionStatus,
    agent_span_name,
)
from onex_otel.execution_listeners import ProgressReport, notify_progress
from onex_otel.ids import correlation_uuid, uuid7
from onex_otel.limits import SCORE_MAX, SCORE_MIN

__all__ = ["Execution", "agent_execution", "error_type_name", "traced_agent_execution"]

P = ParamSpec("P")
R = TypeVar("R")

_CANCELLING: tuple[type[BaseException], ...] = (asyncio.CancelledError, KeyboardInterrupt)


def _check_number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return number


def _json_attr(attrs: dict[str, Any], key: str, value: Any) -> None:
    text, original = _payload.encode(value)
    attrs[key] = text
    if original is not None:
        attrs[key + ORIGINAL_SIZE_SUFFIX] = original


class Execution(Invocation):
    """One agent execution: a context manager (sync and async) and the handle it yields.

    Attributes ``correlation_id`` (UUID string; the trace id of every span of the execution) and
    ``execution_id`` (UUID string) are known from construction. Use :meth:`progress`,
    :meth:`complete` and :meth:`fail` while it runs.
    """

    __slots__ = (
        "_context",
        "_end_attrs",
        "_failed",
        "_original",
        "_project_name",
        "_project_path",
        "_started",
        "_user_request",
        "_uuid",
        "agent_name",
        "correlation_id",
        "execution_id",
        "session_id",
        "stamp",
        "started_event_id",
        "status",
    )

    def __init__(
        self,
        agent_name: str,
        *,
        user_request: str | None = None,
        correlation_id: str | uuid.UUID | None = None,
        session_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        project_path: str | None = None,
        project_name: str | None = None,
    ) -> None:
        if not isinstance(agent_name, str) or not agent_name.strip():
            raise ValueError(f"agent_name must be a non-empty string, got {agent_name!r}")
        self.agent_name = agent_name
        self._uuid, self._original = correlation_uuid(correlation_id)
        self.correlation_id = str(self._uuid)
        self.execution_id = str(uuid.uuid4())
        self.session_id = None if session_id is None else str(session_id)
        self.started_event_id = str(uuid7())
        self.status: ExecutionStatus | None = None
        self.stamp: dict[str, str] = {}
        self._user_request = user_request
        self._context = context
        self._project_path = project_path
        self._project_name = project_name
        self._span: _trace_api.Span | None = None
        self._token: object | None = None
        self._start_ns = 0
        self._started = False
        self._failed = False
        self._end_attrs: dict[str, Any] = {}

    # -- the handle -----------------------------------------------------------------------------
    @property
    def span(self) -> _trace_api.Span:
        """The execution's span (a non-recording span when no SDK is configured)."""
        return self._span or _trace_api.INVALID_SPAN

    def progress(self, stage: str, percent: float, metadata: Mapping[str, Any] | None = None) -> None:
        """Report progress: ``stage`` reached, ``percent`` (0..100) done.

        Raises ``ValueError`` for an empty stage or a percent outside 0..100, before recording.
        """
        if not isinstance(stage, str) or not stage:
            raise ValueError(f"stage must be a non-empty string, got {stage!r}")
        value = _check_number("percent", percent, 0, 100)
        span = self._span
        if span is None or not span.is_recording():
            return
        try:
            # bounded while it is converted, like a tool's arguments; listeners get what was kept
            text, original = _payload.encode(metadata if metadata is not None else {})
            meta = json.loads(text)
            if not isinstance(meta, dict):
                meta = {"value": meta}
                text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
            attrs: dict[str, Any] = {ATTR_STAGE: stage, ATTR_PERCENT: value, ATTR_METADATA: text}
            if original is not None:
                attrs[ATTR_METADATA + ORIGINAL_SIZE_SUFFIX] = original
            # one time, to the microsecond, for the span event and the real-time report: the
            # progress event gets the same id whether it is mapped from either
            now_us = time.time_ns() // 1000
            span.add_event(EVENT_PROGRESS, attrs, timestamp=now_us * 1000)
            at = datetime.fromtimestamp(now_us // 1_000_000, UTC).replace(microsecond=now_us % 1_000_000)
            notify_progress(ProgressReport(span, stage, value, meta, at))
        except Exception:
            internal_error("execution.progress")

    def complete(
        self,
        quality_score: float | None = None,
        output_summary: str | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the outcome of a successful execution (status is set when the block exits).

        Raises ``ValueError`` for a quality score outside 0..1, before recording.
        """
        score = None
        if quality_score is not None:
            score = _check_number("quality_score", quality_score, SCORE_MIN, SCORE_MAX)
        try:
            if score is not None:
                self._end_attrs[ONEX_QUALITY_SCORE] = score
            if output_summary is not None:
                self._end_attrs[ONEX_OUTPUT_SUMMARY] = str(output_summary)
            if metrics is not None:
                _json_attr(self._end_attrs, ONEX_METRICS, metrics)
        except Exception:
            internal_error("execution.complete")

    def fail(self, error_message: str, error_type: str | None = None, partial_results: Any = None) -> None:
        """Mark the execution failed without raising (status is set when the block exits)."""
        try:
            self._failed = True
            self._end_attrs[ONEX_ERROR_MESSAGE] = str(error_message)
            if error_type:
                self._end_attrs[ONEX_ERROR_TYPE] = str(error_type)
            if partial_results is not None:
                _json_attr(self._end_attrs, ONEX_PARTIAL_RESULTS, partial_results)
        except Exception:
            internal_error("execution.fail")

    # -- the context manager --------------------------------------------------------------------
    def __enter__(self) -> Execution:
        if self._started:
            raise RuntimeError("an agent execution can be entered only once")
        self._started = True
        self._start_ns = time.perf_counter_ns()
        _context.execution_opened()
        try:
            self._start()
        except Exception:
            internal_error("execution.start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        try:
            self._end(exc)
        except Exception:
            internal_error("execution.end")
        finally:
            self._restore()
            _context.execution_closed()
        return False

    async def __aenter__(self) -> Execution:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def _start(self) -> None:
        parent = _trace_api.get_current_span().get_span_context()
        if parent.is_valid:  # inside an existing span: its trace, and so its correlation id
            inherited = uuid.UUID(int=parent.trace_id)
            if inherited != self._uuid:
                self._original = self._original or self.correlation_id
                self._uuid = inherited
                self.correlation_id = str(inherited)
        stamp = {
            ONEX_CORRELATION_ID: self.correlation_id,
            ONEX_AGENT_NAME: self.agent_name,
            ONEX_EXECUTION_ID: self.execution_id,
            ONEX_STARTED_EVENT_ID: self.started_event_id,
        }
        if self.session_id is not None:
            stamp[ONEX_SESSION_ID] = self.session_id
        self.stamp = stamp
        tracer = _context.tracer()
        if tracer is None:
            self._make_current(_context_api.set_value(_context.EXECUTION_KEY, self))
            return
        attrs: dict[str, Any] = {
            GEN_AI_OPERATION_NAME: OP_INVOKE_AGENT,
            GEN_AI_AGENT_NAME: self.agent_name,
            GEN_AI_AGENT_ID: self.execution_id,
            **stamp,
        }
        if self.session_id is not None:
            attrs[GEN_AI_CONVERSATION_ID] = self.session_id
        if self._original is not None:
            attrs[ONEX_CORRELATION_ID_ORIGINAL] = self._original
        pol = _payload.policy()
        if self._user_request is not None and pol.capture:
            text, original = _payload.truncate_text(str(self._user_request), pol.max_bytes)
            attrs[ONEX_USER_REQUEST] = text
            if original is not None:
                attrs[ONEX_USER_REQUEST + ORIGINAL_SIZE_SUFFIX] = original
        if self._context is not None:
            _json_attr(attrs, ONEX_CONTEXT, self._context)
        if self._project_path is not None:
            attrs[ONEX_PROJECT_PATH] = str(self._project_path)
        if self._project_name is not None:
            attrs[ONEX_PROJECT_NAME] = str(self._project_name)
        with contextlib.suppress(OSError):
            attrs[ONEX_WORKING_DIRECTORY] = os.getcwd()
        token = _context.set_pending(0 if parent.is_valid else self._uuid.int)
        try:
            span = tracer.start_span(
                agent_span_name(self.agent_name), kind=SpanKind.INTERNAL, attributes=attrs
            )
        finally:
            _context.reset_pending(token)
        self._span = span
        ctx = _trace_api.set_span_in_context(span)
        self._make_current(_context_api.set_value(_context.EXECUTION_KEY, self, ctx))

    def _end(self, exc: BaseException | None) -> None:
        if exc is None:
            status = ExecutionStatus.FAILED if self._failed else ExecutionStatus.SUCCESS
        elif isinstance(exc, _CANCELLING):
            status = ExecutionStatus.CANCELLED
        else:
            status = ExecutionStatus.FAILED
        self.status = status
        metrics = instruments()
        if metrics is not None:
            metrics.execution(self.agent_name, status.value)
            if status is ExecutionStatus.SUCCESS:
                self._count(metrics, self.agent_name, ActionType.SUCCESS, None)
            else:
                error_type = (
                    error_type_name(exc)
                    if exc is not None
                    else str(self._end_attrs.get(ONEX_ERROR_TYPE, "UnknownError"))
                )
                self._count(metrics, self.agent_name, ActionType.ERROR, None, error_type)
        span = self._span
        if span is None:
            return
        attrs = self._end_attrs
        attrs[ONEX_EXECUTION_STATUS] = status.value
        if exc is not None:
            cancelled = status is ExecutionStatus.CANCELLED
            message = safe_str(exc) or (CANCELLED_DESCRIPTION if cancelled else type(exc).__name__)
            attrs[ONEX_ERROR_MESSAGE] = message
            attrs[ONEX_ERROR_TYPE] = type(exc).__name__
            record_failure(span, exc, CANCELLED_DESCRIPTION if cancelled else message)
        elif self._failed:
            attrs[ERROR_TYPE] = str(attrs.get(ONEX_ERROR_TYPE) or "_OTHER")
            span.set_status(Status(StatusCode.ERROR, str(attrs.get(ONEX_ERROR_MESSAGE, ""))))
        span.set_attributes(attrs)
        span.end()


def agent_execution(
    agent_name: str,
    *,
    user_request: str | None = None,
    correlation_id: str | uuid.UUID | None = None,
    session_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    project_path: str | None = None,
    project_name: str | None = None,
) -> Execution:
    """Trace one agent execution; use as ``with`` or ``async with`` (see the package docs)."""
    return Execution(
        agent_name,
        user_request=user_request,
        correlation_id=correlation_id,
        session_id=session_id,
        context=context,
        project_path=project_path,
        project_name=project_name,
    )


@overload
def traced_agent_execution(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced_agent_execution(
    *,
    agent_name: str | None = None,
    user_request_arg: str | None = None,
    correlation_id_arg: str | None = None,
    session_id_arg: str | None = None,
    project_path: str | None = None,
    project_name: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced_agent_execution(
    func: Callable[P, R] | None = None,
    /,
    *,
    agent_name: str | None = None,
    user_request_arg: str | None = None,
    correlation_id_arg: str | None = None,
    session_id_arg: str | None = None,
    project_path: str | None = None,
    project_name: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Run each call of the decorated function (sync or async) as an agent execution.

    ``agent_name`` defaults to the function's name. ``user_request_arg``, ``correlation_id_arg``
    and ``session_id_arg`` name parameters whose values become the execution's user request,
    correlation id and session id.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"@traced_agent_execution cannot wrap the generator {fn.__qualname__}: "
                "use `with agent_execution(...)` inside it"
            )
        name = agent_name or str(getattr(fn, "__name__", "agent"))
        wanted = {
            k: v
            for k, v in (
                ("user_request", user_request_arg),
                ("correlation_id", correlation_id_arg),
                ("session_id", session_id_arg),
            )
            if v
        }
        signature = inspect.signature(fn) if wanted else None
        for param in wanted.values():
            if signature is not None and param not in signature.parameters:
                raise TypeError(f"{fn.__qualname__} has no parameter {param!r}")

        def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Execution:
            values: dict[str, Any] = {}
            if signature is not None:
                try:
                    bound = signature.bind_partial(*args, **kwargs)
                    for field_name, param in wanted.items():
                        if param in bound.arguments:
                            values[field_name] = bound.arguments[param]
                except TypeError:
                    pass
            return Execution(name, project_path=project_path, project_name=project_name, **values)

        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with make(args, kwargs):
                    return await afn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with make(args, kwargs):
                return fn(*args, **kwargs)

        return wrapper

    if func is not None:
        return decorate(func)
    return decorate
