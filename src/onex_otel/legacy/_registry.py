"""Executions opened by legacy calls, kept open between the calls that start and end them.

The legacy lifecycle APIs start an execution in one call (``publish_execution_started``,
``log_agent_execution``) and end it in another, possibly in another task or thread. Each such
execution is a core :class:`~onex_otel._execution.Execution` entered inside a private copy of the
caller's :mod:`contextvars` context: its span and its place in the OpenTelemetry context live there,
never in the caller's context, and the end runs in the same private context, so nothing is left
attached anywhere. Calls for the same correlation id (legacy ``ActionLogger`` actions, progress)
find the execution here and record into it.

The registry is process-wide and bounded (:data:`MAX_OPEN_EXECUTIONS`): beyond the bound the
oldest open execution is ended as cancelled, with a warning; at interpreter exit every execution
still open is ended as cancelled, so its span is exported and its trace is complete.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import logging
import threading
from typing import Any

from opentelemetry import context as _context_api

from onex_otel._execution import Execution
from onex_otel._internal import internal_error

__all__ = ["MAX_OPEN_EXECUTIONS", "OpenExecution", "close_all", "find", "open_execution", "take"]

_log = logging.getLogger("onex_otel.legacy")

#: Most executions kept open at once by legacy calls (beyond it the oldest is ended, cancelled).
MAX_OPEN_EXECUTIONS = 10_000

#: Why executions still open are ended (the message of their cancellation).
EXIT_REASON = "process exited before the execution's end was published"
EVICT_REASON = "too many executions open; the oldest was ended before its end was published"


class OpenExecution:
    """One execution opened by a legacy call and not yet ended."""

    __slots__ = ("_closed", "_context", "_lock", "execution", "key", "otel_context", "owner", "percent")

    def __init__(self, execution: Execution, key: str, owner: str) -> None:
        self.execution = execution
        self.key = key
        self.owner = owner
        self.percent = 0.0
        self._lock = threading.Lock()
        self._closed = False
        self._context = contextvars.copy_context()
        self._context.run(execution.__enter__)
        self.otel_context: _context_api.Context = self._context.run(_context_api.get_current)

    @property
    def closed(self) -> bool:
        """Whether the execution has ended."""
        return self._closed

    def close(self, exc: BaseException | None = None) -> bool:
        """End the execution (``exc``: the exception it ended with); False if already ended."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._context.run(self.execution.__exit__, None if exc is None else type(exc), exc, None)
        _forget(self)
        return True


_lock = threading.Lock()
_by_key: dict[str, list[OpenExecution]] = {}
_order: dict[OpenExecution, None] = {}  # insertion-ordered: oldest first
_atexit_registered = False


def open_execution(key: str, owner: str, **kwargs: Any) -> OpenExecution:
    """Start an execution (``Execution(**kwargs)``) and keep it open under ``key``.

    Raises ``ValueError`` for invalid execution arguments.
    """
    global _atexit_registered
    execution = Execution(**kwargs)
    opened = OpenExecution(execution, key, owner)
    evicted: OpenExecution | None = None
    with _lock:
        if len(_order) >= MAX_OPEN_EXECUTIONS:
            evicted = next(iter(_order))
            _remove(evicted)
        _by_key.setdefault(key, []).append(opened)
        _order[opened] = None
        if not _atexit_registered:
            atexit.register(close_all)
            _atexit_registered = True
    if evicted is not None:
        _log.warning(
            "onex-otel: more than %d executions opened by legacy calls are open; the "
            "oldest (correlation id %s) is ended as cancelled",
            MAX_OPEN_EXECUTIONS,
            evicted.key,
        )
        evicted.close(asyncio.CancelledError(EVICT_REASON))
    return opened


def find(key: str, *, owner: str | None = None, agent_name: str | None = None) -> OpenExecution | None:
    """The most recent open execution under ``key`` (preferring ``agent_name``), or ``None``."""
    with _lock:
        return _pick(key, owner, agent_name)


def take(key: str, *, owner: str | None = None, agent_name: str | None = None) -> OpenExecution | None:
    """Like :func:`find`, and remove it from the registry (the caller ends it)."""
    with _lock:
        found = _pick(key, owner, agent_name)
        if found is not None:
            _remove(found)
        return found


def open_count() -> int:
    """How many executions are open."""
    with _lock:
        return len(_order)


def close_all(reason: str = EXIT_REASON) -> int:
    """End every open execution as cancelled (run at interpreter exit); returns how many."""
    with _lock:
        pending = list(_order)
        _by_key.clear()
        _order.clear()
    for opened in pending:
        try:
            opened.close(asyncio.CancelledError(reason))
        except Exception:
            internal_error("legacy.registry.close_all")
    if pending:
        _log.warning(
            "onex-otel: %d execution(s) opened by legacy calls were still open and are "
            "ended as cancelled: %s",
            len(pending),
            reason,
        )
    return len(pending)


def _pick(key: str, owner: str | None, agent_name: str | None) -> OpenExecution | None:
    candidates = [o for o in _by_key.get(key, ()) if owner is None or o.owner == owner]
    if not candidates:
        return None
    if agent_name is not None:
        for opened in reversed(candidates):
            if opened.execution.agent_name == agent_name:
                return opened
    return candidates[-1]


def _remove(opened: OpenExecution) -> None:
    _order.pop(opened, None)
    entries = _by_key.get(opened.key)
    if entries is not None:
        with contextlib.suppress(ValueError):
            entries.remove(opened)
        if not entries:
            del _by_key[opened.key]


def _forget(opened: OpenExecution) -> None:
    with _lock:
        _remove(opened)
