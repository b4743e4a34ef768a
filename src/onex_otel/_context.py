"""What is current: the active execution (in the OpenTelemetry context) and our tracer.

The active execution travels in the OpenTelemetry context, itself a :mod:`contextvars` variable, so
it follows ``await``, asyncio tasks and ``contextvars.copy_context()`` threads, and it disappears
when the execution's context is detached: nothing is left behind after the execution ends.

The tracer is looked up once per TracerProvider: a new global provider (tests, a late
``configure()``) is noticed by identity on the next call, and our id generator and execution
attribute processor are installed onto it.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import context as _context_api
from opentelemetry import trace as _trace_api
from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER

from onex_otel.conventions import INSTRUMENTATION_NAME

if TYPE_CHECKING:
    from onex_otel._execution import Execution

__all__ = [
    "EXECUTION_KEY",
    "current_correlation_id",
    "current_execution",
    "reset_pending",
    "set_pending",
    "tracer",
]

#: Context key of the active :class:`~onex_otel._execution.Execution`.
EXECUTION_KEY = _context_api.create_key("onex_otel.execution")

_get_value = _context_api.get_value


def current_execution(ctx: _context_api.Context | None = None) -> Execution | None:
    """The execution active in ``ctx`` (default: the current context), or ``None``."""
    return cast("Execution | None", _get_value(EXECUTION_KEY, ctx))


def current_correlation_id() -> str | None:
    """The correlation id (UUID string) of the active execution, or ``None`` outside one."""
    execution = cast("Execution | None", _get_value(EXECUTION_KEY))
    return None if execution is None else execution.correlation_id


# ------------------------------------------------------------------------------------------------
# How many executions are open in this process (any thread): a cheap "none at all" test for the
# hot path, which then skips the context lookup.
# ------------------------------------------------------------------------------------------------
_open_lock = threading.Lock()
open_executions = 0


def execution_opened() -> None:
    """Count one more open execution."""
    global open_executions
    with _open_lock:
        open_executions += 1


def execution_closed() -> None:
    """Count one less open execution."""
    global open_executions
    with _open_lock:
        open_executions -= 1


# ------------------------------------------------------------------------------------------------
# The pending trace id (read by onex_otel._idgen.OnexIdGenerator)
# ------------------------------------------------------------------------------------------------
_pending: ContextVar[int] = ContextVar("onex_otel_pending_trace_id", default=0)


def set_pending(trace_id: int) -> Token[int]:
    """Make ``trace_id`` the trace id of the next root span started here (0: none).

    Returns the token for :func:`reset_pending`; set it right before ``start_span`` and reset it
    right after.
    """
    return _pending.set(trace_id)


def reset_pending(token: Token[int]) -> None:
    """Undo :func:`set_pending`."""
    _pending.reset(token)


#: True while an action's span starts bare inside an execution: the execution's attributes are put
#: on it right after the start, so the processor leaves them to that (see onex_otel._span_start).
stamp_follows: ContextVar[bool] = ContextVar("onex_otel_stamp_follows", default=False)


# ------------------------------------------------------------------------------------------------
# Tracer lookup
# ------------------------------------------------------------------------------------------------
_ENV_PROVIDER = OTEL_PYTHON_TRACER_PROVIDER in os.environ
# Reading the API's global directly saves a call per traced function call; fall back to the
# public getter should the attribute ever move.
_DIRECT = hasattr(_trace_api, "_TRACER_PROVIDER")
_PROXY = getattr(_trace_api, "_PROXY_TRACER_PROVIDER", None)
_cached_provider: Any = object()
_cached_tracer: _trace_api.Tracer | None = None


def tracer() -> _trace_api.Tracer | None:
    """Our tracer from the global TracerProvider, or ``None`` when no SDK is configured."""
    provider = _trace_api._TRACER_PROVIDER if _DIRECT else _trace_api.get_tracer_provider()
    if provider is None or provider is _PROXY:
        if not _ENV_PROVIDER:
            return None
        provider = _trace_api.get_tracer_provider()
    if provider is _cached_provider:
        return _cached_tracer
    return _refresh(provider)


def _refresh(provider: Any) -> _trace_api.Tracer | None:
    global _cached_provider, _cached_tracer
    found: _trace_api.Tracer | None = None
    if not isinstance(provider, (_trace_api.NoOpTracerProvider, _trace_api.ProxyTracerProvider)):
        try:
            from onex_otel._configure import install_core

            install_core(provider)
            found = provider.get_tracer(INSTRUMENTATION_NAME, _version())
            if isinstance(found, _trace_api.NoOpTracer):
                found = None
            else:
                from onex_otel._idgen import install_id_generator

                install_id_generator(found)
        except Exception:
            from onex_otel._internal import internal_error

            found = None
            internal_error("tracer.lookup")
    _cached_provider, _cached_tracer = provider, found
    return found


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("onex-otel")
    except Exception:
        return "0"
