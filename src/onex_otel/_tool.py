"""Timed actions: tool calls (``execute_tool {tool}``) and timed decisions (``decision {name}``).

An :class:`ActionInvocation` is the small object behind every timed action: it starts the span and
makes it current, then :meth:`~ActionInvocation.stop` or :meth:`~ActionInvocation.fail` records the
outcome, ends the span and restores the caller's context. The decorators stay thin: they choose one
of four branches (sync, async, generator, async generator) once, at decoration time, together with
everything else that can be computed before the first call (names, static attributes, parameter
names).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from random import getrandbits
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, cast, overload

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.trace import Status, StatusCode

from onex_otel import _context, _payload
from onex_otel._execution import error_type_name
from onex_otel._internal import internal_error
from onex_otel._metrics import instruments as _instruments
from onex_otel._metrics import is_on as _metrics_on
from onex_otel.conventions import (
    ATTR_DECISION_CONTEXT,
    ATTR_DECISION_RESULT,
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    ONEX_ACTION_NAME,
    ONEX_ACTION_TYPE,
    OP_DECISION,
    OP_EXECUTE_TOOL,
    ORIGINAL_SIZE_SUFFIX,
    REDACTED_MARKER,
    ActionType,
    decision_span_name,
    tool_span_name,
)

__all__ = ["ActionInvocation", "ActionSpec", "ToolCall", "tool_call", "traced_decision",
           "traced_tool_call"]

P = ParamSpec("P")
R = TypeVar("R")

_attach = _context_api.attach
_detach = _context_api.detach
_set_span_in_context = _trace_api.set_span_in_context
_current_execution = _context.current_execution
_tracer = _context.tracer
_perf_ns = time.perf_counter_ns
_FLAT = frozenset({str, int, bool, type(None)})
_encode_str = json.encoder.encode_basestring  # the C version when available
_c_encoder = _payload.c_encoder
_TOOL_TYPE_FUNCTION = "function"


def _new_call_id_prefix() -> str:
    h = os.urandom(8).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-"


_call_id_prefix = _new_call_id_prefix()


def _refresh_call_id_prefix() -> None:
    global _call_id_prefix
    _call_id_prefix = _new_call_id_prefix()


os.register_at_fork(after_in_child=_refresh_call_id_prefix)


def new_call_id() -> str:
    """A tool call id in UUID version 4 form, cheaply.

    The first 60 random bits are drawn once per process (and again after ``fork``), the last 62
    per call, so ids are unique without paying for ``str(uuid.uuid4())`` on the hot path.
    """
    r = getrandbits(64)
    return "%s%04x-%012x" % (  # noqa: UP031 - the fastest formatting here
        _call_id_prefix, r >> 48 & 0x3FFF | 0x8000, r & 0xFFFFFFFFFFFF
    )


def _json_text(
    value: Any, pol: _payload.Policy, redacted: bool = False
) -> tuple[str, int | None]:
    """``value`` as bounded, redacted JSON (fast for scalars and flat mappings of scalars).

    ``redacted``: the top-level keys of a mapping were already checked for secrets.
    """
    kind = type(value)
    if kind is dict:
        if _c_encoder is not None:
            # Strings longer in all than the limit never fit: bounded while converted instead.
            chars = pol.max_bytes
            for key, item in value.items():
                item_kind = type(item)
                if item_kind is str:
                    chars -= len(item)
                    if chars < 0:
                        break
                elif item_kind not in _FLAT:
                    break
                if not redacted and pol.is_secret(key):
                    break
            else:
                try:
                    text = "".join(_c_encoder(value, 0))
                except Exception:
                    return _payload.encode(value, pol)
                if len(text) * 4 <= pol.max_bytes:
                    return text, None
                return _payload.fit(text, value, pol.max_bytes)
    elif kind is str:
        if len(value) * 6 + 2 <= pol.max_bytes:  # fits even if every character is escaped
            return _encode_str(value), None
    elif kind is int:
        text = int.__repr__(value)
        if len(text) <= pol.max_bytes:
            return text, None
    elif kind is float:
        if math.isfinite(value):
            return float.__repr__(value), None
    elif value is None:
        return "null", None
    elif kind is bool:
        return ("true" if value else "false"), None
    return _payload.encode(value, pol)


def _set_json(
    attrs: dict[str, Any], key: str, value: Any, pol: _payload.Policy, redacted: bool = False
) -> None:
    """Put ``value`` as JSON under ``key`` (and its original size when it had to be cut)."""
    text, original = _json_text(value, pol, redacted)
    attrs[key] = text
    if original is not None:
        attrs[key + ORIGINAL_SIZE_SUFFIX] = original


class ActionSpec:
    """Everything about a timed action that is known before it is called."""

    __slots__ = (
        "action_type",
        "args_key",
        "capture_args",
        "capture_result",
        "exclude",
        "is_tool",
        "json_keys",
        "name",
        "named",
        "positional",
        "redact",
        "result_key",
        "secret_cache",
        "skip",
        "span_name",
        "static",
        "var_positional",
    )

    def __init__(
        self,
        name: str,
        *,
        action_type: ActionType,
        capture_args: bool = True,
        capture_result: bool = True,
        redact: Iterable[str] = (),
        exclude: Iterable[str] = (),
        func: Callable[..., Any] | None = None,
        skip_first: bool = False,
    ) -> None:
        self.name = name
        self.action_type = action_type
        self.is_tool = action_type is ActionType.TOOL_CALL
        self.capture_args = capture_args
        self.capture_result = capture_result
        self.redact = frozenset(redact)
        self.exclude = frozenset(exclude)
        if action_type is ActionType.TOOL_CALL:
            self.span_name = tool_span_name(name)
            self.args_key, self.result_key = GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT
            self.static: dict[str, Any] = {
                GEN_AI_OPERATION_NAME: OP_EXECUTE_TOOL,
                GEN_AI_TOOL_NAME: name,
                GEN_AI_TOOL_TYPE: _TOOL_TYPE_FUNCTION,
                # No onex.action_type/action_name here: gen_ai.operation.name and gen_ai.tool.name
                # say the same, and every attribute costs on the hot path.
            }
        else:
            self.span_name = decision_span_name(name)
            self.args_key, self.result_key = ATTR_DECISION_CONTEXT, ATTR_DECISION_RESULT
            self.static = {
                GEN_AI_OPERATION_NAME: OP_DECISION,
                ONEX_ACTION_TYPE: action_type.value,
                ONEX_ACTION_NAME: name,
            }
        self.positional: tuple[str, ...] = ()
        self.var_positional: str | None = None
        self.skip = 0
        if func is not None:
            self._read_signature(func, skip_first)
        # the recorded positional parameters
        self.named: tuple[str, ...] = self.positional[self.skip:]
        # (policy, names among ``named`` whose values are redacted under it)
        self.secret_cache: tuple[_payload.Policy, tuple[str, ...]] | None = None
        # '{"a":', ',"b":', ...: the recorded parameters as the start of their JSON members
        named: tuple[str, ...] = self.named
        self.json_keys: tuple[str, ...] = tuple(
            ("," if i else "{") + str(_encode_str(n)) + ":" for i, n in enumerate(named)
        )

    def _read_signature(self, func: Callable[..., Any], skip_first: bool) -> None:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            return
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.positional = tuple(p.name for p in params if p.kind in kinds)
        for p in params:
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                self.var_positional = p.name
        qualname = getattr(func, "__qualname__", "")
        in_class = "." in qualname and not qualname.endswith(">") and \
            qualname.rsplit(".", 2)[-2] != "<locals>"
        if self.positional and (skip_first or (in_class and self.positional[0] in ("self", "cls"))):
            self.skip = 1

    def arguments_json(self, args: tuple[Any, ...], pol: _payload.Policy) -> str | None:
        """The JSON text of positional-only ``args`` when it is quick to make, else ``None``.

        Quick: every value a str, int, bool or None, no parameter redacted or excluded, nothing
        to cut. The text is exactly what ``_json_text(self.arguments(args, {}, pol), pol)`` gives
        for such arguments; any other call takes that way.
        """
        cache = self.secret_cache
        if cache is None or cache[0] is not pol:
            secret = tuple(name for name in self.named if pol.is_secret(name))
            cache = self.secret_cache = (pol, secret)
        if cache[1] or self.exclude or self.redact:
            return None
        if self.skip:
            args = args[self.skip:]
        if len(args) > len(self.json_keys):
            return None
        if not args:
            return "{}"
        budget = pol.max_bytes
        parts: list[str] = []
        append = parts.append
        for key, value in zip(self.json_keys, args):  # noqa: B905 - args is the shorter
            kind = type(value)
            append(key)
            if kind is str:
                budget -= len(value)
                if budget < 0:
                    return None
                append(_encode_str(value))
            elif kind is int:
                append(int.__repr__(value))
            elif value is None:
                append("null")
            elif kind is bool:
                append("true" if value else "false")
            else:
                return None
        append("}")
        text = "".join(parts)
        return text if len(text) * 4 <= pol.max_bytes else None

    def arguments(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], pol: _payload.Policy
    ) -> dict[str, Any]:
        """The call's arguments by parameter name, secrets redacted (defaults not filled in)."""
        if self.skip:
            args = args[self.skip:]
        names = self.named
        out = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            out[self.var_positional or "args"] = list(args[len(names):])
        cache = self.secret_cache
        if cache is None or cache[0] is not pol:
            secret = tuple(name for name in names if pol.is_secret(name))
            cache = self.secret_cache = (pol, secret)
        for key in cache[1]:
            if key in out:
                out[key] = REDACTED_MARKER
        if kwargs:
            for key, value in kwargs.items():
                out[key] = REDACTED_MARKER if pol.is_secret(key) else value
        if self.exclude or self.redact:
            for key in self.exclude:
                out.pop(key, None)
            for key in self.redact:
                if key in out:
                    out[key] = REDACTED_MARKER
        return out


class ActionInvocation:
    """One running timed action: its span is current until :meth:`stop` or :meth:`fail`."""

    __slots__ = ("agent", "metrics", "pol", "span", "spec", "start_ns", "token")

    def __init__(self, spec: ActionSpec, span: _trace_api.Span, pol: _payload.Policy) -> None:
        self.spec = spec
        self.span = span
        self.pol = pol
        self.token: object | None = None
        metrics = self.metrics = _instruments()
        if metrics is None:
            self.agent: str | None = None
            self.start_ns = 0
        else:
            execution = _current_execution()
            self.agent = execution.agent_name if execution is not None else None
            self.start_ns = _perf_ns()

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
        attrs = spec.static.copy()
        if spec.is_tool:
            attrs[GEN_AI_TOOL_CALL_ID] = new_call_id()
        if _context.open_executions:
            execution = _current_execution()
            if execution is not None:
                attrs.update(execution.stamp)
        if spec.capture_args and has_arguments and policy.capture:
            _set_json(attrs, spec.args_key, arguments, policy, redacted=pol is not None)
        span = tracer.start_span(spec.span_name, attributes=attrs)
        inv = cls(spec, span, policy)
        if attach:
            inv.token = _attach(_set_span_in_context(span))
        return inv

    def stop(self, result: Any = None, *, has_result: bool = True) -> None:
        """The action succeeded with ``result``: record it, end the span, restore the context."""
        span = self.span
        spec = self.spec
        try:
            if has_result and spec.capture_result and self.pol.capture:
                text, original = _json_text(result, self.pol)
                span.set_attribute(spec.result_key, text)
                if original is not None:
                    span.set_attribute(spec.result_key + ORIGINAL_SIZE_SUFFIX, original)
        except Exception:
            self._end()
            internal_error("action.result")
        else:
            self._end()

    def _end(self) -> None:
        try:
            self.span.end()
            metrics = self.metrics
            if metrics is not None:
                spec = self.spec
                metrics.action(self.agent, spec.action_type, spec.name,
                               (_perf_ns() - self.start_ns) / 1e6)
        except Exception:
            internal_error("action.stop")
        finally:
            token = self.token
            if token is not None:
                self.token = None
                _detach(token)  # type: ignore[arg-type]

    def fail(self, exc: BaseException) -> None:
        """The action raised ``exc``: record it on the span, end the span, restore the context."""
        try:
            span = self.span
            kind = error_type_name(exc)
            span.set_attribute(ERROR_TYPE, kind)
            span.record_exception(exc, escaped=True)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {_safe_str(exc)}"))
            span.end()
            metrics = self.metrics
            if metrics is not None:
                metrics.action(self.agent, self.spec.action_type, self.spec.name,
                               (_perf_ns() - self.start_ns) / 1e6)
                metrics.error(self.agent, kind)
        except Exception:
            internal_error("action.fail")
        finally:
            self._restore()

    def close(self) -> None:
        """End the span without a result (a generator closed early)."""
        try:
            self.span.end()
        except Exception:
            internal_error("action.close")
        finally:
            self._restore()

    def _restore(self) -> None:
        token, self.token = self.token, None
        if token is not None:
            _detach(token)  # type: ignore[arg-type]


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return ""


# ------------------------------------------------------------------------------------------------
# The decorator branches
# ------------------------------------------------------------------------------------------------
def _start(spec: ActionSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
           attach: bool = True) -> ActionInvocation | None:
    tracer = _tracer()
    if tracer is None:
        return None
    try:
        pol = _payload.policy()
        arguments = spec.arguments(args, kwargs, pol) if spec.capture_args and pol.capture \
            else None
        return ActionInvocation.start(tracer, spec, arguments, attach=attach, pol=pol)
    except Exception:
        internal_error("action.start")
        return None


def _record_failure(
    span: _trace_api.Span, token: object, spec: ActionSpec, exc: BaseException
) -> None:
    """The decorated call raised ``exc``: record it, end the span, restore the context."""
    try:
        kind = error_type_name(exc)
        span.set_attribute(ERROR_TYPE, kind)
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {_safe_str(exc)}"))
        span.end()
        metrics = _instruments()
        if metrics is not None:
            agent = _agent_name()
            metrics.action(agent, spec.action_type, spec.name, _duration_ms(span))
            metrics.error(agent, kind)
    except Exception:
        internal_error("action.fail")
    finally:
        _detach(token)  # type: ignore[arg-type]


def _record_success(
    span: _trace_api.Span, token: object, spec: ActionSpec, result: Any, pol: _payload.Policy
) -> None:
    """The decorated call returned ``result``: record it, end the span, restore the context."""
    try:
        try:
            if spec.capture_result and pol.capture:
                text, original = _json_text(result, pol)
                span.set_attribute(spec.result_key, text)
                if original is not None:
                    span.set_attribute(spec.result_key + ORIGINAL_SIZE_SUFFIX, original)
        finally:
            span.end()
            if _metrics_on():
                _count_action(span, spec)
    except Exception:
        internal_error("action.stop")
    finally:
        _detach(token)  # type: ignore[arg-type]


def _count_action(span: _trace_api.Span, spec: ActionSpec) -> None:
    metrics = _instruments()
    if metrics is not None:
        metrics.action(_agent_name(), spec.action_type, spec.name, _duration_ms(span))


def _agent_name() -> str | None:
    execution = _current_execution()
    return None if execution is None else execution.agent_name


def _duration_ms(span: Any) -> float | None:
    start, end = getattr(span, "start_time", None), getattr(span, "end_time", None)
    if isinstance(start, int) and isinstance(end, int):
        return (end - start) / 1e6
    return None


def _wrap_sync(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    static, span_name, is_tool = spec.static, spec.span_name, spec.is_tool
    capture_args, args_key, arguments = spec.capture_args, spec.args_key, spec.arguments
    arguments_json = spec.arguments_json
    capture_result, result_key = spec.capture_result, spec.result_key

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer = _tracer()
        if tracer is None:
            return func(*args, **kwargs)
        try:
            pol = _payload._policy or _payload.policy()
            attrs = static.copy()
            if is_tool:
                attrs[GEN_AI_TOOL_CALL_ID] = new_call_id()
            if _context.open_executions:  # stamp here: cheaper than the processor's update
                execution = _current_execution()
                if execution is not None:
                    attrs.update(execution.stamp)
            if capture_args and pol.capture:
                text = None if kwargs else arguments_json(args, pol)
                if text is None:
                    text, original = _json_text(arguments(args, kwargs, pol), pol, True)
                    if original is not None:
                        attrs[args_key + ORIGINAL_SIZE_SUFFIX] = original
                attrs[args_key] = text
            span = tracer.start_span(span_name, attributes=attrs)
            token = _attach(_set_span_in_context(span))
        except Exception:
            internal_error("action.start")
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _record_failure(span, token, spec, exc)
            raise
        try:  # _record_success, inlined: this is the hottest path of the package
            try:
                if capture_result and pol.capture:
                    text, original = _json_text(result, pol)
                    span.set_attribute(result_key, text)
                    if original is not None:
                        span.set_attribute(result_key + ORIGINAL_SIZE_SUFFIX, original)
            finally:
                span.end()
                if _metrics_on():
                    _count_action(span, spec)
        except Exception:
            internal_error("action.stop")
        finally:
            _detach(token)
        return result

    return wrapper


def _wrap_async(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    static, span_name, is_tool = spec.static, spec.span_name, spec.is_tool
    capture_args, args_key, arguments = spec.capture_args, spec.args_key, spec.arguments

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer = _tracer()
        if tracer is None:
            return await func(*args, **kwargs)
        try:
            pol = _payload._policy or _payload.policy()
            attrs = static.copy()
            if is_tool:
                attrs[GEN_AI_TOOL_CALL_ID] = new_call_id()
            if _context.open_executions:  # stamp here: cheaper than the processor's update
                execution = _current_execution()
                if execution is not None:
                    attrs.update(execution.stamp)
            if capture_args and pol.capture:
                text, original = _json_text(arguments(args, kwargs, pol), pol, True)
                attrs[args_key] = text
                if original is not None:
                    attrs[args_key + ORIGINAL_SIZE_SUFFIX] = original
            span = tracer.start_span(span_name, attributes=attrs)
            token = _attach(_set_span_in_context(span))
        except Exception:
            internal_error("action.start")
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _record_failure(span, token, spec, exc)
            raise
        _record_success(span, token, spec, result, pol)
        return result

    return wrapper


def _wrap_generator(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    """The span covers the whole iteration; it is current only while the generator runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inv = _start(spec, args, kwargs, attach=False)
        if inv is None:
            return (yield from func(*args, **kwargs))
        span_ctx = _set_span_in_context(inv.span)
        try:
            token = _attach(span_ctx)
            try:
                gen = func(*args, **kwargs)
            finally:
                _detach(token)
        except BaseException as exc:
            inv.fail(exc)
            raise
        send_value: Any = None
        throw: BaseException | None = None
        while True:
            token = _attach(span_ctx)
            try:
                if throw is not None:
                    thrown, throw = throw, None
                    item = gen.throw(thrown)
                else:
                    item = gen.send(send_value)
            except StopIteration as stop:
                _detach(token)
                inv.stop(stop.value, has_result=stop.value is not None)
                return stop.value
            except BaseException as exc:
                _detach(token)
                inv.fail(exc)
                raise
            _detach(token)
            try:
                send_value = yield item
            except GeneratorExit:
                token = _attach(span_ctx)
                try:
                    gen.close()
                except BaseException as exc:
                    _detach(token)
                    inv.fail(exc)
                    raise
                _detach(token)
                inv.close()
                raise
            except BaseException as exc:
                throw = exc

    return wrapper


def _wrap_async_generator(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    """Async generator form of :func:`_wrap_generator`."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        inv = _start(spec, args, kwargs, attach=False)
        if inv is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        span_ctx = _set_span_in_context(inv.span)
        try:
            token = _attach(span_ctx)
            try:
                agen = func(*args, **kwargs)
            finally:
                _detach(token)
        except BaseException as exc:
            inv.fail(exc)
            raise
        send_value: Any = None
        throw: BaseException | None = None
        while True:
            token = _attach(span_ctx)
            try:
                if throw is not None:
                    thrown, throw = throw, None
                    item = await agen.athrow(thrown)
                else:
                    item = await agen.asend(send_value)
            except StopAsyncIteration:
                _detach(token)
                inv.stop(None, has_result=False)
                return
            except BaseException as exc:
                _detach(token)
                inv.fail(exc)
                raise
            _detach(token)
            try:
                send_value = yield item
            except GeneratorExit:
                token = _attach(span_ctx)
                try:
                    await agen.aclose()
                except BaseException as exc:
                    _detach(token)
                    inv.fail(exc)
                    raise
                _detach(token)
                inv.close()
                raise
            except BaseException as exc:
                throw = exc

    return wrapper


def _decorate(func: Any, spec_for: Callable[[Callable[..., Any], bool], ActionSpec]) -> Any:
    if isinstance(func, (classmethod, staticmethod)):
        inner = func.__func__
        spec = spec_for(inner, isinstance(func, classmethod))
        return type(func)(_decorate_function(inner, spec))
    return _decorate_function(func, spec_for(func, False))


def _decorate_function(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(func, spec)
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, spec)
    if inspect.iscoroutinefunction(func):
        return _wrap_async(func, spec)
    return _wrap_sync(func, spec)


@overload
def traced_tool_call(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced_tool_call(
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    redact: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced_tool_call(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    redact: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of the decorated function as a tool call (``execute_tool {name}``).

    Works on functions, coroutine functions, generators, async generators and methods (also
    above ``@classmethod``/``@staticmethod``). ``name`` defaults to the function's ``__name__``;
    ``redact`` names parameters whose values are recorded as ``[REDACTED]``, ``exclude`` names
    parameters left out of the recorded arguments.
    """
    redact_names, exclude_names = tuple(redact), tuple(exclude)

    def spec_for(fn: Callable[..., Any], skip_first: bool) -> ActionSpec:
        return ActionSpec(name or str(getattr(fn, "__name__", "tool")),
                          action_type=ActionType.TOOL_CALL,
                          capture_args=capture_args, capture_result=capture_result,
                          redact=redact_names, exclude=exclude_names, func=fn,
                          skip_first=skip_first)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        return cast(Callable[P, R], _decorate(fn, spec_for))

    if func is not None:
        return decorate(func)
    return decorate


@overload
def traced_decision(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced_decision(
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    redact: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced_decision(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    redact: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of the decorated function as a timed decision (``decision {name}``).

    The arguments become the decision context and the return value the decision result.
    """
    redact_names, exclude_names = tuple(redact), tuple(exclude)

    def spec_for(fn: Callable[..., Any], skip_first: bool) -> ActionSpec:
        return ActionSpec(name or str(getattr(fn, "__name__", "decision")),
                          action_type=ActionType.DECISION, capture_args=capture_args,
                          capture_result=capture_result, redact=redact_names,
                          exclude=exclude_names, func=fn, skip_first=skip_first)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        return cast(Callable[P, R], _decorate(fn, spec_for))

    if func is not None:
        return decorate(func)
    return decorate


# ------------------------------------------------------------------------------------------------
# tool_call(): the context manager form
# ------------------------------------------------------------------------------------------------
class ToolCall:
    """A tool call as a ``with``/``async with`` block; call :meth:`set_result` inside it."""

    __slots__ = ("_has_result", "_inv", "_result", "name", "parameters")

    def __init__(self, name: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.parameters = parameters
        self._inv: ActionInvocation | None = None
        self._result: Any = None
        self._has_result = False

    def set_result(self, result: Any) -> None:
        """Record the tool's result (recorded when the block exits)."""
        self._result = result
        self._has_result = True

    @property
    def span(self) -> _trace_api.Span:
        """The tool call's span (non-recording when no SDK is configured)."""
        return self._inv.span if self._inv is not None else _trace_api.INVALID_SPAN

    def __enter__(self) -> ToolCall:
        tracer = _tracer()
        if tracer is not None:
            try:
                spec = ActionSpec(self.name, action_type=ActionType.TOOL_CALL)
                params = dict(self.parameters) if self.parameters is not None else None
                self._inv = ActionInvocation.start(tracer, spec, params,
                                                   has_arguments=params is not None)
            except Exception:
                internal_error("tool_call.start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        inv, self._inv = self._inv, None
        if inv is not None:
            if exc is not None:
                inv.fail(exc)
            else:
                inv.stop(self._result, has_result=self._has_result)
        return False

    async def __aenter__(self) -> ToolCall:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)


def tool_call(name: str, parameters: Mapping[str, Any] | None = None) -> ToolCall:
    """Trace a block as a tool call named ``name`` with ``parameters`` (see the package docs)."""
    return ToolCall(name, parameters)

