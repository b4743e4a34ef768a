"""The invocation model: one unit of traced work, from the start of its span to its end.

An :class:`Invocation` owns a span that is current while the work runs; it ends the span exactly
once, records a failure the same way for every kind of work (``error.type``, the exception event,
an ERROR status), counts the work in the action metrics and restores the caller's context.

* :class:`ActionInvocation` is a tool call (``execute_tool {tool}``) or a timed decision
  (``decision {name}``): :meth:`~ActionInvocation.begin` (the decorators) or
  :meth:`~ActionInvocation.start` (``tool_call()`` and the legacy API) starts it from an
  :class:`~onex_otel._action_spec.ActionSpec`; :meth:`~ActionInvocation.stop`,
  :meth:`~ActionInvocation.fail` or :meth:`~ActionInvocation.close` ends it.
* :class:`~onex_otel._execution.Execution` (an agent execution) is the other kind.

This is the hot path of the package (every decorated call goes through it once), so the current
context is set through the OpenTelemetry context variable directly when the runtime context is the
default one, and a result is put on an SDK span the way ``set_attribute`` would put it, without its
generic checks, when nothing but the plain insert would happen (see :func:`put_attribute`). The
attributes an action starts with are put the same way right after a bare start when no sampler or
span processor could read them at the start (see :mod:`onex_otel._span_start`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.context.context import Context
from opentelemetry.trace import Status, StatusCode

from onex_otel import _context, _payload
from onex_otel._action_spec import ActionSpec
from onex_otel._call_id import new_call_id
from onex_otel._fast_json import json_text as _json_text
from onex_otel._internal import internal_error
from onex_otel._metrics import Instruments
from onex_otel._metrics import instruments as _instruments
from onex_otel._span_start import attributes_unread as _attributes_unread
from onex_otel.conventions import ERROR_TYPE, GEN_AI_TOOL_CALL_ID, ORIGINAL_SIZE_SUFFIX, ActionType

__all__ = [
    "ActionInvocation",
    "Invocation",
    "error_type_name",
    "put_attribute",
    "put_fresh_attributes",
    "record_failure",
    "restore",
    "set_current",
]

_log = logging.getLogger(__name__)
_perf_ns = time.perf_counter_ns
_new = object.__new__
_current_execution = _context.current_execution
_stamp_follows = _context.stamp_follows
_tracer = _context.tracer
_INTERNAL = _trace_api.SpanKind.INTERNAL


# ------------------------------------------------------------------------------------------------
# Setting and restoring the current context
# ------------------------------------------------------------------------------------------------
def _context_var() -> Any:
    """The context variable behind the OpenTelemetry context, when it is the default runtime."""
    try:
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

        runtime = getattr(_context_api, "_RUNTIME_CONTEXT", None)
        if type(runtime) is ContextVarsRuntimeContext:
            return runtime._current_context
    except Exception:  # another runtime, or the API's layout changed: the public functions
        pass
    return None


def _span_key() -> str | None:
    try:
        from opentelemetry.trace.propagation import _SPAN_KEY

        return _SPAN_KEY if isinstance(_SPAN_KEY, str) else None
    except Exception:
        return None


_VAR = _context_var()
_SPAN_KEY = _span_key()


def _set_current_api(ctx: Context) -> object:
    return _context_api.attach(ctx)


def _restore_api(token: object) -> None:
    _context_api.detach(token)  # type: ignore[arg-type]


def _with_span_api(span: _trace_api.Span) -> Context:
    return _trace_api.set_span_in_context(span)


if _VAR is not None and _SPAN_KEY is not None:
    _var_get, _var_set, _var_reset = _VAR.get, _VAR.set, _VAR.reset
    _key: str = _SPAN_KEY

    def set_current(ctx: Context) -> object:
        """Make ``ctx`` the current context; returns the token for :func:`restore`."""
        return _var_set(ctx)

    def restore(token: object) -> None:
        """Restore the context that was current before :func:`set_current` returned ``token``."""
        try:
            _var_reset(token)
        except Exception:  # as the API's detach: said, never raised
            _log.exception("Failed to detach context")

    def with_span(span: _trace_api.Span) -> Context:
        """The current context with ``span`` as its current span."""
        values = _var_get().copy()
        values[_key] = span
        return Context(values)

    def enter_span(span: _trace_api.Span) -> object:
        """``set_current(with_span(span))`` in one call."""
        values = _var_get().copy()
        values[_key] = span
        return _var_set(Context(values))

else:  # pragma: no cover - another runtime context
    set_current, restore, with_span = _set_current_api, _restore_api, _with_span_api

    def enter_span(span: _trace_api.Span) -> object:
        """``set_current(with_span(span))`` in one call."""
        return _context_api.attach(_trace_api.set_span_in_context(span))


# ------------------------------------------------------------------------------------------------
# Recording on a span
# ------------------------------------------------------------------------------------------------
def _sdk_layout() -> type | None:
    """The SDK's span class when its attributes have the layout :func:`put_attribute` relies on."""
    try:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import _Span

        probe = BoundedAttributes(1, {"k": "v"}, immutable=False, max_value_len=None)
        if (
            probe._dict == {"k": "v"}
            and probe.maxlen == 1
            and probe.max_value_len is None
            and probe._immutable is False
        ):
            return _Span
    except Exception:
        pass
    return None


_SdkSpan = _sdk_layout()


def put_attribute(span: _trace_api.Span, key: str, value: str | int) -> None:
    """``span.set_attribute(key, value)`` for a str or int value, cheaply on an SDK span.

    When the span is an SDK span still open, ``key`` is new, the attribute count limit leaves
    room and the value is within the value length limit, all ``set_attribute`` would do is the
    insert: that is done directly. Anything else (an ended span, a limit reached, another span
    class) goes through ``set_attribute``.
    """
    if type(span) is _SdkSpan:
        attrs = span._attributes  # type: ignore[attr-defined]
        values = attrs._dict
        # not immutable: the span has not ended (end() makes its attributes immutable)
        if key not in values and not attrs._immutable:
            maxlen, max_len = attrs.maxlen, attrs.max_value_len
            if (maxlen is None or len(values) < maxlen) and (
                max_len is None or type(value) is not str or len(value) <= max_len
            ):
                values[key] = value
                return
    span.set_attribute(key, value)


def put_fresh_attributes(span: _trace_api.Span, attrs: dict[str, str | int]) -> None:
    """``span.set_attributes(attrs)`` on a span just started without attributes, cheaply.

    On an SDK span, when the limits neither cut strings nor leave room for fewer attributes, all
    ``set_attributes`` would do is insert them in order: that is done directly. Anything else goes
    through ``set_attributes`` (which drops and cuts as a start with these attributes would).
    """
    if type(span) is _SdkSpan:
        attrs_of = span._attributes  # type: ignore[attr-defined]
        maxlen = attrs_of.maxlen
        if attrs_of.max_value_len is None and (maxlen is None or len(attrs) <= maxlen):
            attrs_of._dict.update(attrs)
            return
    span.set_attributes(attrs)


def error_type_name(exc: BaseException) -> str:
    """``error.type`` of an exception: its qualified class name (module-less for builtins)."""
    cls = type(exc)
    module = getattr(cls, "__module__", "builtins")
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or ``""`` when that fails."""
    try:
        return str(exc)
    except Exception:
        return ""


def record_failure(span: _trace_api.Span, exc: BaseException, description: str | None = None) -> str:
    """Mark ``span`` failed by ``exc``: ``error.type``, the exception event, an ERROR status.

    The status description is ``"{exception class}: {description}"`` (default: ``str(exc)``).
    Returns the ``error.type``.
    """
    kind = error_type_name(exc)
    span.set_attribute(ERROR_TYPE, kind)
    span.record_exception(exc, escaped=True)
    text = safe_str(exc) if description is None else description
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {text}"))
    return kind


# ------------------------------------------------------------------------------------------------
# The invocations
# ------------------------------------------------------------------------------------------------
class Invocation:
    """One unit of traced work: its span, the context it replaced, when it started."""

    __slots__ = ("_span", "_start_ns", "_token")

    _span: _trace_api.Span | None
    _start_ns: int
    _token: object | None

    def _make_current(self, ctx: Context) -> None:
        self._token = set_current(ctx)

    def _restore(self) -> None:
        token = self._token
        if token is not None:
            self._token = None
            restore(token)

    def _count(
        self,
        metrics: Instruments,
        agent: str | None,
        action_type: ActionType,
        name: str | None,
        error_kind: str | None = None,
    ) -> None:
        """Count the work in the action metrics (and its error, when it failed)."""
        metrics.action(agent, action_type, name, (_perf_ns() - self._start_ns) / 1e6)
        if error_kind is not None:
            metrics.error(agent, error_kind)


class ActionInvocation(Invocation):
    """One running tool call or timed decision: its span is current until it ends."""

    __slots__ = ("agent", "metrics", "pol", "spec")

    agent: str | None
    metrics: Instruments | None
    pol: _payload.Policy
    spec: ActionSpec

    @property
    def span(self) -> _trace_api.Span:
        """The action's span."""
        return self._span or _trace_api.INVALID_SPAN

    @classmethod
    def begin(
        cls, spec: ActionSpec, args: tuple[Any, ...], kwargs: dict[str, Any], attach: bool = True
    ) -> ActionInvocation | None:
        """Start a decorated call with ``args`` and ``kwargs``; ``None`` when nothing is traced.

        ``None`` too when starting failed (counted as the internal error ``action.start``): the
        call then runs untraced.
        """
        tracer = _tracer()
        if tracer is None:
            return None
        try:
            pol = _payload._policy or _payload.policy()
            text: str | None = None
            original: int | None = None
            if spec.capture_args and pol.capture:
                text = None if kwargs else spec.arguments_json(args, pol)
                if text is None:
                    text, original = _json_text(spec.arguments(args, kwargs, pol), pol, True)
            return _open(cls, tracer, spec, pol, text, original, attach)
        except Exception:
            internal_error("action.start")
            return None

    @classmethod
    def start(
        cls,
        tracer: _trace_api.Tracer,
        spec: ActionSpec,
        arguments: Any = None,
        *,
        attach: bool = True,
        has_arguments: bool = True,
        pol: _payload.Policy | None = None,
    ) -> ActionInvocation:
        """Start the action's span (current unless ``attach`` is false).

        ``arguments`` are recorded (when capture is on); a mapping built by
        :meth:`ActionSpec.arguments` arrives redacted, pass ``pol`` to say so.
        """
        policy = pol or _payload.policy()
        text: str | None = None
        original: int | None = None
        if spec.capture_args and has_arguments and policy.capture:
            text, original = _json_text(arguments, policy, pol is not None)
        return _open(cls, tracer, spec, policy, text, original, attach)

    def stop(self, result: Any = None, *, has_result: bool = True) -> None:
        """The action succeeded with ``result``: record it, end the span, restore the context."""
        span = self._span
        try:
            try:
                if has_result:
                    spec = self.spec
                    if spec.capture_result:
                        pol = self.pol
                        if pol.capture:
                            text, original = _json_text(result, pol)
                            put_attribute(span, spec.result_key, text)  # type: ignore[arg-type]
                            if original is not None:
                                put_attribute(
                                    span,  # type: ignore[arg-type]
                                    spec.result_key + ORIGINAL_SIZE_SUFFIX,
                                    original,
                                )
            finally:  # the span ends even when its result could not be recorded
                span.end()  # type: ignore[union-attr]
                metrics = self.metrics
                if metrics is not None:
                    self._count(metrics, self.agent, self.spec.action_type, self.spec.name)
        except Exception:
            internal_error("action.stop")
        finally:
            token = self._token
            if token is not None:
                self._token = None
                restore(token)

    def fail(self, exc: BaseException) -> None:
        """The action raised ``exc``: record it on the span, end the span, restore the context."""
        try:
            span = self._span
            kind = record_failure(span, exc)  # type: ignore[arg-type]
            span.end()  # type: ignore[union-attr]
            metrics = self.metrics
            if metrics is not None:
                self._count(metrics, self.agent, self.spec.action_type, self.spec.name, kind)
        except Exception:
            internal_error("action.fail")
        finally:
            self._restore()

    def close(self) -> None:
        """End the span without a result (a generator closed early)."""
        try:
            self._span.end()  # type: ignore[union-attr]
        except Exception:
            internal_error("action.close")
        finally:
            self._restore()


def _open(
    cls: type[ActionInvocation],
    tracer: _trace_api.Tracer,
    spec: ActionSpec,
    pol: _payload.Policy,
    arguments: str | None,
    original: int | None,
    attach: bool,
) -> ActionInvocation:
    """Start the action's span with its attributes (``arguments``: its arguments' JSON)."""
    attrs = spec.static.copy()
    if spec.is_tool:
        attrs[GEN_AI_TOOL_CALL_ID] = new_call_id()
    stamped = False
    if _context.open_executions:  # stamped here: cheaper than the processor's update
        execution = _current_execution()
        if execution is not None:
            attrs.update(execution.stamp)
            stamped = True
    if arguments is not None:
        attrs[spec.args_key] = arguments
        if original is not None:
            attrs[spec.args_key + ORIGINAL_SIZE_SUFFIX] = original
    if _SdkSpan is not None and _attributes_unread(tracer):
        # nobody reads them at the start: inserted right after it, without the SDK's checks
        if stamped:  # the processor would look for the stamp: told it follows
            follows = _stamp_follows.set(True)
            try:
                span = tracer.start_span(spec.span_name, None, _INTERNAL)
            finally:
                _stamp_follows.reset(follows)
        else:
            span = tracer.start_span(spec.span_name, None, _INTERNAL)
        put_fresh_attributes(span, attrs)
    else:
        span = tracer.start_span(spec.span_name, None, _INTERNAL, attrs)  # positional: cheaper
    inv: ActionInvocation = _new(cls)
    inv._span = span
    inv.spec = spec
    inv.pol = pol
    metrics = inv.metrics = _instruments()
    if metrics is not None:  # agent and start time are read only when counting
        execution = _current_execution()
        inv.agent = execution.agent_name if execution is not None else None
        inv._start_ns = _perf_ns()
    inv._token = enter_span(span) if attach else None
    return inv


#: ``begin`` as the decorators call it.
begin: Callable[..., ActionInvocation | None] = ActionInvocation.begin
