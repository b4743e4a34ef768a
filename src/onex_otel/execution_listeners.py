"""Real-time execution notifications (progress, started) to listeners such as an exporter.

(Formerly ``onex_otel.lifecycle``, still importable under that name.)

A span processor sees a span start and end, but not the progress reports made in between. The
instrumentation core calls :func:`notify_progress` when an execution reports progress; exporters that
publish lifecycle events in real time (the Kafka exporter's lifecycle processor) subscribe with
:func:`add_listener`. Listener failures are contained: they never reach agent code.

Execution start and end are seen by span processors (``on_start`` of the ``invoke_agent`` span, whose
start attributes carry every started-event field, and ``on_end``). A framework's agent is sometimes
recognized, or its user request known, only after its span started (at its first model call or
tool call): :func:`notify_started` then tells listeners that its started event can go out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from opentelemetry.trace import Span

__all__ = [
    "LifecycleListener",
    "ProgressReport",
    "add_listener",
    "notify_progress",
    "notify_started",
    "remove_listener",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressReport:
    """One ``progress(stage, percent, metadata)`` call of an execution."""

    span: Span  # the execution (invoke_agent) span
    stage: str
    percent: float
    metadata: Mapping[str, Any]
    timestamp: datetime


class LifecycleListener(Protocol):
    """Receives lifecycle notifications; must return quickly and never block on the network."""

    def on_progress(self, report: ProgressReport) -> None:
        """An execution reported progress."""

    def on_started(self, span: Span) -> None:
        """A running span was recognized as an execution whose started event can go out."""


_listeners: tuple[LifecycleListener, ...] = ()
_lock = threading.Lock()


def add_listener(listener: LifecycleListener) -> None:
    """Subscribe ``listener`` (idempotent)."""
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = (*_listeners, listener)


def remove_listener(listener: LifecycleListener) -> None:
    """Unsubscribe ``listener`` (no error if it was not subscribed)."""
    global _listeners
    with _lock:
        _listeners = tuple(x for x in _listeners if x is not listener)


def notify_progress(report: ProgressReport) -> None:
    """Tell every listener about a progress report; listener errors are logged, never raised."""
    for listener in _listeners:
        try:
            listener.on_progress(report)
        except Exception:  # telemetry must never break the agent
            _log.debug("lifecycle listener %r failed", listener, exc_info=True)


def notify_started(span: Span) -> None:
    """Tell every listener that running ``span`` is an execution ready to be announced."""
    for listener in _listeners:
        try:
            on_started = getattr(listener, "on_started", None)
            if on_started is not None:
                on_started(span)
        except Exception:  # telemetry must never break the agent
            _log.debug("lifecycle listener %r failed", listener, exc_info=True)
