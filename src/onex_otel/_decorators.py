"""The decorators ``@traced_tool_call`` and ``@traced_decision``: thin branches over the invocation.

Everything that can be known before the first call (the four branches: sync, async, generator,
async generator; names, static attributes, parameter names) is chosen once, at decoration time,
into an :class:`~onex_otel._action_spec.ActionSpec`. Each call then only begins an
:class:`~onex_otel._invocation.ActionInvocation`, runs the function and stops or fails it.

Generators: the span covers the whole iteration and is current only while the generator body
runs; ``send``, ``throw`` and ``close`` are forwarded.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, ParamSpec, TypeVar, cast, overload

from onex_otel._action_spec import ActionSpec
from onex_otel._invocation import begin, restore, set_current, with_span
from onex_otel.conventions import ActionType

__all__ = ["traced_decision", "traced_tool_call"]

P = ParamSpec("P")
R = TypeVar("R")


def _wrap_sync(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inv = begin(spec, args, kwargs)
        if inv is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        inv.stop(result)
        return result

    return wrapper


def _wrap_async(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        inv = begin(spec, args, kwargs)
        if inv is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            inv.fail(exc)
            raise
        inv.stop(result)
        return result

    return wrapper


def _wrap_generator(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    """The span covers the whole iteration; it is current only while the generator runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inv = begin(spec, args, kwargs, False)
        if inv is None:
            return (yield from func(*args, **kwargs))
        span_ctx = with_span(inv.span)
        try:
            token = set_current(span_ctx)
            try:
                gen = func(*args, **kwargs)
            finally:
                restore(token)
        except BaseException as exc:
            inv.fail(exc)
            raise
        send_value: Any = None
        throw: BaseException | None = None
        while True:
            token = set_current(span_ctx)
            try:
                if throw is not None:
                    thrown, throw = throw, None
                    item = gen.throw(thrown)
                else:
                    item = gen.send(send_value)
            except StopIteration as stop:
                restore(token)
                inv.stop(stop.value, has_result=stop.value is not None)
                return stop.value
            except BaseException as exc:
                restore(token)
                inv.fail(exc)
                raise
            restore(token)
            try:
                send_value = yield item
            except GeneratorExit:
                token = set_current(span_ctx)
                try:
                    gen.close()
                except BaseException as exc:
                    restore(token)
                    inv.fail(exc)
                    raise
                restore(token)
                inv.close()
                raise
            except BaseException as exc:
                throw = exc

    return wrapper


def _wrap_async_generator(func: Callable[..., Any], spec: ActionSpec) -> Callable[..., Any]:
    """Async generator form of :func:`_wrap_generator`."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        inv = begin(spec, args, kwargs, False)
        if inv is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        span_ctx = with_span(inv.span)
        try:
            token = set_current(span_ctx)
            try:
                agen = func(*args, **kwargs)
            finally:
                restore(token)
        except BaseException as exc:
            inv.fail(exc)
            raise
        send_value: Any = None
        throw: BaseException | None = None
        while True:
            token = set_current(span_ctx)
            try:
                if throw is not None:
                    thrown, throw = throw, None
                    item = await agen.athrow(thrown)
                else:
                    item = await agen.asend(send_value)
            except StopAsyncIteration:
                restore(token)
                inv.stop(None, has_result=False)
                return
            except BaseException as exc:
                restore(token)
                inv.fail(exc)
                raise
            restore(token)
            try:
                send_value = yield item
            except GeneratorExit:
                token = set_current(span_ctx)
                try:
                    await agen.aclose()
                except BaseException as exc:
                    restore(token)
                    inv.fail(exc)
                    raise
                restore(token)
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


def _action_decorator(
    func: Callable[P, R] | None,
    action_type: ActionType,
    fallback_name: str,
    name: str | None,
    capture_args: bool,
    capture_result: bool,
    redact: Iterable[str],
    exclude: Iterable[str],
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """The one body of :func:`traced_tool_call` and :func:`traced_decision`."""
    redact_names, exclude_names = tuple(redact), tuple(exclude)

    def spec_for(fn: Callable[..., Any], skip_first: bool) -> ActionSpec:
        return ActionSpec(
            name or str(getattr(fn, "__name__", fallback_name)),
            action_type=action_type,
            capture_args=capture_args,
            capture_result=capture_result,
            redact=redact_names,
            exclude=exclude_names,
            func=fn,
            skip_first=skip_first,
        )

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        return cast(Callable[P, R], _decorate(fn, spec_for))

    if func is not None:
        return decorate(func)
    return decorate


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
    return _action_decorator(
        func, ActionType.TOOL_CALL, "tool", name, capture_args, capture_result, redact, exclude
    )


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
    return _action_decorator(
        func, ActionType.DECISION, "decision", name, capture_args, capture_result, redact, exclude
    )
