"""``tool_call()``: a tool call as a ``with`` / ``async with`` block, on the invocation model."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from opentelemetry import trace as _trace_api

from onex_otel._action_spec import ActionSpec
from onex_otel._context import tracer as _tracer
from onex_otel._internal import internal_error
from onex_otel._invocation import ActionInvocation
from onex_otel.conventions import ActionType

__all__ = ["ToolCall", "tool_call"]


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
                self._inv = ActionInvocation.start(tracer, spec, params, has_arguments=params is not None)
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
